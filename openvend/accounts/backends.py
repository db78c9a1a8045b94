from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend

from openvend.accounts.selectors import permissions_for


class RoleBackend(ModelBackend):
    """Passwords as Django checks them; permissions from the user's roles rather than Django's groups."""

    def user_can_authenticate(self, user: Any) -> bool:
        if not super().user_can_authenticate(user):
            return False
        merchant = getattr(user, "merchant", None)
        return merchant is None or merchant.is_operating

    def get_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_openvend_perm_cache"):
            if user_obj.is_superuser and user_obj.merchant_id is None:
                from openvend.accounts.permissions import PLATFORM_PERMISSIONS

                user_obj._openvend_perm_cache = set(PLATFORM_PERMISSIONS)
            else:
                user_obj._openvend_perm_cache = set(permissions_for(user_obj))
        return user_obj._openvend_perm_cache

    def get_user_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        return self.get_all_permissions(user_obj, obj)

    def get_group_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        return set()

    def has_perm(self, user_obj: Any, perm: str, obj: Any = None) -> bool:
        return perm in self.get_all_permissions(user_obj, obj)

    def has_module_perms(self, user_obj: Any, app_label: str) -> bool:
        return any(perm.startswith(f"{app_label}.") for perm in self.get_all_permissions(user_obj))
