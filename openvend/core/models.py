"""Tenancy base: every merchant-owned row carries its merchant and is read through `restrict()`.

Modelled on NetBox's RestrictedQuerySet: the access path that code reaches for first is the
scoped one: `Model.objects.restrict(user, action)`. Plain `objects` queries are for services
and system code that act on behalf of no particular user.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from openvend.core.scope import DataScope

if TYPE_CHECKING:
    from openvend.accounts.models import User


def permission_name(model: type[models.Model], action: str) -> str:
    """Django-style permission string: `merchants.view_site`."""
    return f"{model._meta.app_label}.{action}_{model._meta.model_name}"


class RestrictedQuerySet(models.QuerySet):
    def restrict(self, user: User | Any, action: str = "view") -> RestrictedQuerySet:
        """Rows `user` may perform `action` on: none without the permission, the caller's
        merchant only, narrowed further by the data scope of the caller's roles."""
        if user is None or not user.is_authenticated or not user.is_active:
            return self.none()
        if not user.has_perm(permission_name(self.model, action)):
            return self.none()
        if user.is_platform_user:
            return self
        if user.merchant_id is None:
            return self.none()
        model: Any = self.model  # a TenantModel or a model that declares tenant_q/scope_q
        qs = self.filter(model.tenant_q(user.merchant_id))
        scope: DataScope = user.data_scope
        if scope.everything:
            return qs
        return qs.filter(model.scope_q(scope))


class TenantModel(models.Model):
    """A row owned by one merchant."""

    merchant = models.ForeignKey(
        "merchants.Merchant", on_delete=models.PROTECT, related_name="+", verbose_name=_("merchant")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects: ClassVar[Any] = RestrictedQuerySet.as_manager()

    class Meta:
        abstract = True

    @classmethod
    def tenant_q(cls, merchant_id: int) -> Q:
        return Q(merchant_id=merchant_id)

    @classmethod
    def scope_q(cls, scope: DataScope) -> Q:
        return Q(pk__in=[])
