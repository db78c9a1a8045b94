"""Writes for users, roles and API tokens. Every change is audited; passwords never reach the log."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from openvend.accounts.errors import AccountErrorCode
from openvend.accounts.models import ApiToken, Role, User
from openvend.accounts.permissions import MERCHANT_PERMISSIONS, PLATFORM_PERMISSIONS
from openvend.accounts.presets import MERCHANT_PRESETS, PLATFORM_PRESETS
from openvend.accounts.selectors import assignable_roles
from openvend.audit.choices import AuditAction
from openvend.audit.services import (
    audit_record,
    audited_create,
    audited_delete,
    audited_update,
    snapshot,
)
from openvend.core.errors import OpenVendError
from openvend.merchants.models import Merchant

TOKEN_PREFIX = "ovt_"


def _check_password(password: str, user: User | None = None) -> None:
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise OpenVendError(
            AccountErrorCode.INVALID_PASSWORD, " ".join(exc.messages), fields={"password": list(exc.messages)}
        ) from exc


def _check_roles(merchant: Merchant | None, roles: Iterable[Role], actor: Any) -> list[Role]:
    roles = list(roles)
    merchant_id = merchant.pk if merchant else None
    assignable = set(assignable_roles(actor).values_list("pk", flat=True))
    for role in roles:
        if role.merchant_id != merchant_id:
            raise OpenVendError(
                AccountErrorCode.OTHER_TENANT_REFERENCE,
                _("The role %(role)s belongs to another merchant.") % {"role": role.display_name},
                fields={"roles": [_("Not found.")]},
            )
        if role.pk not in assignable:
            raise OpenVendError(
                AccountErrorCode.ROLE_NOT_ASSIGNABLE,
                _("You cannot grant the role %(role)s: it holds permissions you do not have.")
                % {"role": role.display_name},
                fields={"roles": [_("Not assignable by you.")]},
            )
    return roles


def _check_org_unit(merchant: Merchant | None, org_unit: Any) -> None:
    if org_unit is not None and (merchant is None or org_unit.merchant_id != merchant.pk):
        raise OpenVendError(
            AccountErrorCode.OTHER_TENANT_REFERENCE,
            _("The org unit belongs to another merchant."),
            fields={"org_unit": [_("Not found.")]},
        )


@transaction.atomic
def user_create(
    *,
    actor: Any,
    merchant: Merchant | None,
    username: str,
    password: str,
    roles: Iterable[Role] = (),
    org_unit: Any = None,
    **fields: Any,
) -> User:
    if User.objects.filter(username=username).exists():
        raise OpenVendError(
            AccountErrorCode.USERNAME_TAKEN,
            _("The username %(username)s is already taken.") % {"username": username},
            fields={"username": [_("Already taken.")]},
        )
    checked_roles = _check_roles(merchant, roles, actor)
    _check_org_unit(merchant, org_unit)
    user = User(merchant=merchant, username=username, org_unit=org_unit, **fields)
    _check_password(password, user)
    user.set_password(password)
    audited_create(actor=actor, instance=user, m2m={"roles": checked_roles})
    return user


@transaction.atomic
def user_update(*, actor: Any, user: User, data: dict[str, Any], roles: Iterable[Role] | None = None) -> User:
    data = {k: v for k, v in data.items() if k not in {"password", "merchant", "is_superuser", "frozen_at"}}
    if "org_unit" in data:
        _check_org_unit(user.merchant, data["org_unit"])
    m2m = None if roles is None else {"roles": _check_roles(user.merchant, roles, actor)}
    audited_update(actor=actor, instance=user, data=data, m2m=m2m)
    return user


@transaction.atomic
def user_freeze(*, actor: Any, user: User, reason: str = "") -> User:
    if actor is not None and actor.pk == user.pk:
        raise OpenVendError(AccountErrorCode.CANNOT_FREEZE_SELF, _("You cannot freeze your own account."))
    if user.is_frozen:
        raise OpenVendError(AccountErrorCode.ALREADY_FROZEN, _("This account is already frozen."))
    before = snapshot(user)
    user.is_active = False
    user.frozen_at = timezone.now()
    user.frozen_reason = reason
    user.save(update_fields=["is_active", "frozen_at", "frozen_reason"])
    ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=timezone.now())
    audit_record(
        actor=actor,
        action=AuditAction.FREEZE,
        instance=user,
        before=before,
        after=snapshot(user),
        message=reason,
    )
    return user


@transaction.atomic
def user_unfreeze(*, actor: Any, user: User) -> User:
    if not user.is_frozen:
        raise OpenVendError(AccountErrorCode.NOT_FROZEN, _("This account is not frozen."))
    before = snapshot(user)
    user.is_active = True
    user.frozen_at = None
    user.frozen_reason = ""
    user.save(update_fields=["is_active", "frozen_at", "frozen_reason"])
    audit_record(actor=actor, action=AuditAction.UNFREEZE, instance=user, before=before, after=snapshot(user))
    return user


@transaction.atomic
def user_reset_password(*, actor: Any, user: User, new_password: str | None = None) -> str:
    """Set a new password (generated when none is given), lift any lockout, revoke API tokens."""
    password = new_password or secrets.token_urlsafe(12)
    _check_password(password, user)
    user.set_password(password)
    user.save(update_fields=["password"])
    ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=timezone.now())
    axes_reset(username=user.username)
    audit_record(
        actor=actor,
        action=AuditAction.RESET_PASSWORD,
        instance=user,
        before={"password": "***"},
        after={"password": "*** (changed)"},
    )
    return password


def user_delete(*, actor: Any, user: User) -> None:
    audited_delete(actor=actor, instance=user)


def check_permissions(merchant: Merchant | None, permissions: Iterable[str], actor: Any = None) -> list[str]:
    """Valid, de-duplicated permission codes for a merchant (or platform) role. An actor may
    only grant what they hold themselves."""
    allowed = MERCHANT_PERMISSIONS if merchant is not None else PLATFORM_PERMISSIONS
    codes = sorted(set(permissions))
    unknown = [code for code in codes if code not in allowed]
    if unknown:
        raise OpenVendError(
            AccountErrorCode.UNKNOWN_PERMISSION,
            _("Unknown permissions for this kind of role: %(codes)s") % {"codes": ", ".join(unknown)},
            fields={"permissions": unknown},
        )
    if actor is not None and not actor.is_superuser:
        held = actor.get_all_permissions()
        beyond = [code for code in codes if code not in held]
        if beyond:
            raise OpenVendError(
                AccountErrorCode.ROLE_NOT_ASSIGNABLE,
                _("You cannot grant permissions you do not hold: %(codes)s") % {"codes": ", ".join(beyond)},
                fields={"permissions": beyond},
            )
    return codes


def _role_m2m(merchant: Merchant | None, m2m: dict[str, Iterable[Any]]) -> dict[str, list[Any]]:
    checked: dict[str, list[Any]] = {}
    for name, objects in m2m.items():
        objects = list(objects)
        for obj in objects:
            if merchant is None or obj.merchant_id != merchant.pk:
                raise OpenVendError(
                    AccountErrorCode.OTHER_TENANT_REFERENCE,
                    _("A selected item belongs to another merchant."),
                    fields={name: [_("Not found.")]},
                )
        checked[name] = objects
    return checked


@transaction.atomic
def role_create(
    *,
    actor: Any,
    merchant: Merchant | None,
    code: str,
    name: str,
    permissions: Iterable[str],
    data_scope: str,
    **m2m: Iterable[Any],
) -> Role:
    role = Role(
        merchant=merchant,
        code=code,
        name=name,
        data_scope=data_scope,
        permissions=check_permissions(merchant, permissions, actor),
    )
    audited_create(actor=actor, instance=role, m2m=_role_m2m(merchant, m2m))
    return role


@transaction.atomic
def role_update(*, actor: Any, role: Role, data: dict[str, Any], **m2m: Iterable[Any]) -> Role:
    data = {k: v for k, v in data.items() if k in {"name", "permissions", "data_scope"}}
    if "permissions" in data:
        data["permissions"] = check_permissions(role.merchant, data["permissions"], actor)
    audited_update(actor=actor, instance=role, data=data, m2m=_role_m2m(role.merchant, m2m))
    return role


@transaction.atomic
def role_delete(*, actor: Any, role: Role) -> None:
    if role.is_preset:
        raise OpenVendError(
            AccountErrorCode.PRESET_ROLE, _("Preset roles cannot be deleted; edit them instead.")
        )
    if role.users.exists():
        raise OpenVendError(
            AccountErrorCode.ROLE_IN_USE, _("Remove this role from its users before deleting it.")
        )
    audited_delete(actor=actor, instance=role)


def preset_roles_install(*, merchant: Merchant | None) -> list[Role]:
    """Create (or leave as they are) the preset roles of a merchant, or of the platform when None."""
    presets = MERCHANT_PRESETS if merchant is not None else PLATFORM_PRESETS
    roles = []
    for preset in presets:
        role, created = Role.objects.get_or_create(
            merchant=merchant,
            code=preset.code,
            defaults={
                "name": str(preset.label),
                "is_preset": True,
                "permissions": sorted(preset.permissions),
                "data_scope": preset.data_scope,
            },
        )
        if created:
            audit_record(actor=None, action=AuditAction.CREATE, instance=role, after=snapshot(role))
        roles.append(role)
    return roles


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def api_token_issue(*, user: User) -> tuple[str, ApiToken]:
    """A new bearer token for `user`: the plain token (returned only here) and its stored record."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = ApiToken.objects.create(
        user=user,
        key_hash=_hash_token(token),
        prefix=token[:10],
        expires_at=timezone.now() + timedelta(hours=settings.API_TOKEN_TTL_HOURS),
    )
    audit_record(actor=user, action=AuditAction.LOGIN, instance=user, message=_("API token issued"))
    return token, record


def api_token_user(token: str) -> User | None:
    """The active user a bearer token belongs to, or None for an unknown, expired or revoked token."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    record = (
        ApiToken.objects.select_related("user", "user__merchant").filter(key_hash=_hash_token(token)).first()
    )
    if record is None or not record.is_usable or not record.user.is_active:
        return None
    if record.user.merchant is not None and not record.user.merchant.is_operating:
        return None
    now = timezone.now()
    if record.last_used_at is None or now - record.last_used_at > timedelta(minutes=5):
        ApiToken.objects.filter(pk=record.pk).update(last_used_at=now)
    return record.user
