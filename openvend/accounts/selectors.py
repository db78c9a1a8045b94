from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import models

from openvend.accounts.choices import DataScope
from openvend.core.scope import EVERYTHING
from openvend.core.scope import DataScope as Scope
from openvend.merchants.models import OrgUnit

if TYPE_CHECKING:
    from openvend.accounts.models import User


def _roles(user: User) -> list[Any]:
    """The user's roles, loaded once per user instance (i.e. once per request)."""
    cached = getattr(user, "_openvend_roles", None)
    if cached is None:
        cached = list(user.roles.only("pk", "permissions", "data_scope"))
        user._openvend_roles = cached  # type: ignore[attr-defined]
    return cached


def permissions_for(user: User) -> frozenset[str]:
    """Union of the permissions of the user's roles; empty for inactive users or non-operating merchants."""
    if not user.is_active:
        return frozenset()
    if user.merchant is not None and not user.merchant.is_operating:
        return frozenset()
    codes: set[str] = set()
    for role in _roles(user):
        codes.update(role.permissions or [])
    return frozenset(codes)


def _listed(through: Any, role_ids: list[int], column: str) -> dict[int, list[Any]]:
    listed: dict[int, list[Any]] = {}
    for role_id, value in through.objects.filter(role_id__in=role_ids).values_list("role_id", column):
        listed.setdefault(role_id, []).append(value)
    return listed


def data_scope_for(user: User) -> Scope:
    """Union of the data scopes of the user's roles, in at most one query per kind of scope."""
    from openvend.accounts.models import Role

    if user.is_platform_user or user.is_superuser:
        return EVERYTHING
    roles = _roles(user)
    if any(role.data_scope == DataScope.ALL for role in roles):
        return EVERYTHING
    by_kind: dict[str, list[int]] = {}
    for role in roles:
        by_kind.setdefault(role.data_scope, []).append(role.pk)

    paths: set[str] = set()
    if unit_roles := by_kind.get(DataScope.ORG_UNITS):
        listed = _listed(Role.org_units.through, unit_roles, "orgunit__path")
        for role_id in unit_roles:
            if listed.get(role_id):
                paths.update(listed[role_id])
            elif user.org_unit_id is not None:
                # A role without listed units means "the user's own unit and below".
                paths.add(OrgUnit.objects.values_list("path", flat=True).get(pk=user.org_unit_id))
    site_ids: set[int] = set()
    if site_roles := by_kind.get(DataScope.SITES):
        for ids in _listed(Role.sites.through, site_roles, "site_id").values():
            site_ids.update(ids)
    group_ids: set[int] = set()
    if group_roles := by_kind.get(DataScope.DEVICE_GROUPS):
        for ids in _listed(Role.device_groups.through, group_roles, "devicegroup_id").values():
            group_ids.update(ids)
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
