"""Writes for the device registry: registration, activation, credentials, usage time, QR codes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core import signing
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from openvend.audit.choices import AuditAction
from openvend.audit.services import audit_record, audited_create, audited_update, snapshot
from openvend.core.errors import OpenVendError
from openvend.devices import credentials
from openvend.devices.choices import DeviceStatus, ServiceGrantKind, ShoppingFlow
from openvend.devices.errors import DeviceErrorCode
from openvend.devices.models import (
    Device,
    DeviceCredential,
    DeviceKind,
    DeviceRegistration,
    DeviceServiceGrant,
    DeviceState,
)
from openvend.merchants.models import Merchant

QR_SALT = "openvend.device-qr"


def _broker_changed() -> None:
    """Credentials changed: regenerate the broker's password and ACL files after commit."""
    from openvend.gateway.broker import notify_credentials_changed

    # robust: the change is committed; a broker-file hiccup must not fail the request (and lose
    # the one-time secret) after the fact.
    transaction.on_commit(notify_credentials_changed, robust=True)


def device_register(*, actor: Any, code: str, kind: DeviceKind, batch: str = "") -> DeviceRegistration:
    """The platform maintains a device code (设备维护) so it can later be activated."""
    if DeviceRegistration.objects.filter(code=code).exists():
        raise OpenVendError(
            DeviceErrorCode.CODE_TAKEN,
            _("Device code %(code)s is already registered.") % {"code": code},
            fields={"code": [_("Already registered.")]},
        )
    registration = DeviceRegistration(code=code, kind=kind, batch=batch)
    audited_create(actor=actor, instance=registration)
    return registration


@transaction.atomic
def device_activate(
    *, actor: Any, merchant: Merchant, code: str, name: str = "", site: Any = None, group: Any = None
) -> tuple[Device, str]:
    """Bind a registered device to a merchant and issue its broker credentials.

    Returns the device and its secret; the secret is not stored and cannot be shown again."""
    registration = DeviceRegistration.objects.select_for_update().filter(code=code.strip()).first()
    if registration is None:
        raise OpenVendError(
            DeviceErrorCode.NOT_PROVISIONED,
            _("设备未维护: the device code %(code)s is not provisioned by the platform.") % {"code": code},
            fields={"code": [_("Not provisioned.")]},
        )
    if Device.objects.filter(registration=registration).exists():
        raise OpenVendError(
            DeviceErrorCode.ALREADY_ACTIVATED,
            _("Device %(code)s is already activated.") % {"code": code},
            fields={"code": [_("Already activated.")]},
        )
    for field, obj in (("site", site), ("group", group)):
        if obj is not None and obj.merchant_id != merchant.pk:
            raise OpenVendError(
                DeviceErrorCode.OTHER_TENANT_REFERENCE,
                _("A referenced item belongs to another merchant."),
                fields={field: [_("Not found.")]},
            )
    device = Device(
        merchant=merchant,
        registration=registration,
        code=registration.code,
        kind=registration.kind,
        name=name or registration.code,
        site=site,
        group=group,
    )
    audited_create(actor=actor, instance=device)
    DeviceState.objects.create(device=device)
    secret = _issue_credential(device)
    return device, secret


def _issue_credential(device: Device) -> str:
    secret = credentials.new_secret()
    DeviceCredential.objects.filter(device=device, revoked_at__isnull=True).update(revoked_at=timezone.now())
    DeviceCredential.objects.create(
        device=device, username=device.code, secret_hash=credentials.hash_secret(secret)
    )
    _broker_changed()
    return secret


@transaction.atomic
def device_credentials_rotate(*, actor: Any, device: Device) -> str:
    secret = _issue_credential(device)
    audit_record(
        actor=actor, action=AuditAction.UPDATE, instance=device, message="broker credentials rotated"
    )
    return secret


@transaction.atomic
def device_credentials_revoke(*, actor: Any, device: Device) -> None:
    revoked = DeviceCredential.objects.filter(device=device, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    if revoked:
        _broker_changed()
        audit_record(
            actor=actor, action=AuditAction.UPDATE, instance=device, message="broker credentials revoked"
        )


def device_update(*, actor: Any, device: Device, data: dict[str, Any]) -> Device:
    allowed = {"name", "site", "group", "status", "default_flow"}
    data = {k: v for k, v in data.items() if k in allowed}
    for field in ("site", "group"):
        obj = data.get(field)
        if obj is not None and obj.merchant_id != device.merchant_id:
            raise OpenVendError(
                DeviceErrorCode.OTHER_TENANT_REFERENCE,
                _("A referenced item belongs to another merchant."),
                fields={field: [_("Not found.")]},
            )
    audited_update(actor=actor, instance=device, data=data)
    if data.get("status") == DeviceStatus.DISABLED:
        device_credentials_revoke(actor=actor, device=device)
    return device


@transaction.atomic
def device_service_grant(
    *, actor: Any, device: Device, days: int, kind: str = ServiceGrantKind.PURCHASE, note: str = ""
) -> DeviceServiceGrant:
    """Add usage time (设备使用时长). Time runs from now if it had lapsed, else extends the expiry."""
    if days <= 0:
        raise OpenVendError(
            DeviceErrorCode.BAD_COMMAND,
            _("Days must be positive."),
            fields={"days": [_("Must be positive.")]},
        )
    locked = Device.objects.select_for_update().get(pk=device.pk)
    before = snapshot(locked)
    start = max(locked.service_expires_at or timezone.now(), timezone.now())
    grant = DeviceServiceGrant.objects.create(
        merchant_id=locked.merchant_id,
        device=locked,
        kind=kind,
        days=days,
        note=note,
        expires_before=locked.service_expires_at,
        expires_after=start + timedelta(days=days),
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    locked.service_expires_at = grant.expires_after
    locked.save(update_fields=["service_expires_at", "updated_at"])
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        instance=locked,
        before=before,
        after=snapshot(locked),
        message=f"+{days}d {kind}",
    )
    device.refresh_from_db()
    return grant


def device_qr_token(device: Device, flow: str | None = None) -> str:
    """The signed payload behind a device's QR code: a forged or altered code opens nothing."""
    if flow is not None and flow not in ShoppingFlow.values:
        raise OpenVendError(
            DeviceErrorCode.BAD_QR,
            _("Unknown shopping flow %(flow)s.") % {"flow": flow},
            fields={"flow": [_("Choose open_shelf, semi_auto or full_auto.")]},
        )
    return signing.dumps({"d": device.code, "f": flow or device.default_flow}, salt=QR_SALT, compress=True)


def device_qr_verify(token: str) -> tuple[str, str]:
    try:
        data = signing.loads(token, salt=QR_SALT)
        code, flow = str(data["d"]), str(data["f"])
    except (signing.BadSignature, KeyError, TypeError) as exc:
        raise OpenVendError(
            DeviceErrorCode.BAD_QR, _("This QR code is not a valid OpenVend device code.")
        ) from exc
    if flow not in ShoppingFlow.values:
        raise OpenVendError(DeviceErrorCode.BAD_QR, _("This QR code is not a valid OpenVend device code."))
    return code, flow
