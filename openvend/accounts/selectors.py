from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import models

from openvend.accounts.choices import DataScope
from openvend.core.scope import EVERYTHING
from openvend.core.scope import DataScope as Scope
from openvend.merchants.models import OrgUnit

if TYPE_CHECKING:
    from openvend.accounts.models import User


def permissions_for(user: User) -> frozenset[str]:
    """Union of the permissions of the user's roles; empty for inactive users or non-operating merchants."""
    if not user.is_active:
        return frozenset()
    if user.merchant is not None and not user.merchant.is_operating:
        return frozenset()
    codes: set[str] = set()
    for permissions in user.roles.values_list("permissions", flat=True):
        codes.update(permissions or [])
    return frozenset(codes)


def data_scope_for(user: User) -> Scope:
    """Union of the data scopes of the user's roles."""
    if user.is_platform_user or user.is_superuser:
        return EVERYTHING
    paths: set[str] = set()
    site_ids: set[int] = set()
    group_ids: set[int] = set()
    for role in user.roles.prefetch_related("org_units", "sites", "device_groups"):
        if role.data_scope == DataScope.ALL:
            return EVERYTHING
        if role.data_scope == DataScope.ORG_UNITS:
            units = list(role.org_units.all())
            if units:
                paths.update(unit.path for unit in units)
            elif user.org_unit_id is not None:
                # A role without listed units means "the user's own unit and below".
                paths.add(OrgUnit.objects.values_list("path", flat=True).get(pk=user.org_unit_id))
        elif role.data_scope == DataScope.SITES:
            site_ids.update(site.pk for site in role.sites.all())
        elif role.data_scope == DataScope.DEVICE_GROUPS:
            group_ids.update(group.pk for group in role.device_groups.all())
    return Scope(
        org_unit_paths=frozenset(paths),
        site_ids=frozenset(site_ids),
        device_group_ids=frozenset(group_ids),
        user_id=user.pk,
    )


def assignable_roles(actor: User | None) -> models.QuerySet:
    """Roles `actor` may hand to staff: their own merchant's (or the platform's) roles that grant
    nothing beyond what the actor holds, so nobody can escalate through another account."""
    from openvend.accounts.models import Role

    if actor is None:
        return Role.objects.all()
    if not actor.is_authenticated or not actor.is_active:
        return Role.objects.none()
    held = actor.get_all_permissions()
    merchant_id = actor.merchant_id
    candidates = Role.objects.all() if merchant_id is None else Role.objects.filter(merchant_id=merchant_id)
    allowed = [role.pk for role in candidates if actor.is_superuser or set(role.permissions) <= held]
    return Role.objects.filter(pk__in=allowed)
