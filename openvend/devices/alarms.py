"""Raising, repeating, acknowledging and clearing alarms. One live alarm per device and kind
(a database constraint); a repeat bumps its counter instead of opening another.

Conditions that heal by themselves (temperature back in range, camera back, device online again)
clear their alarm automatically; a foreign-object lock stays until staff clear it."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from openvend.audit.choices import AuditAction
from openvend.audit.services import audit_record, snapshot
from openvend.core.errors import OpenVendError
from openvend.devices.choices import AlarmKind, AlarmSeverity, AlarmStatus
from openvend.devices.errors import DeviceErrorCode
from openvend.devices.models import Alarm, AlarmSettings, Device

SEVERITY = {
    AlarmKind.DOOR_OPEN_NO_SESSION: AlarmSeverity.CRITICAL,
    AlarmKind.LOCK_NOT_ENGAGED: AlarmSeverity.CRITICAL,
    AlarmKind.FOREIGN_OBJECT: AlarmSeverity.CRITICAL,
    AlarmKind.TEMPERATURE: AlarmSeverity.MAJOR,
    AlarmKind.OFFLINE: AlarmSeverity.MAJOR,
    AlarmKind.CAMERA_FAULT: AlarmSeverity.MINOR,
}
SELF_HEALING = {AlarmKind.TEMPERATURE, AlarmKind.CAMERA_FAULT, AlarmKind.OFFLINE, AlarmKind.LOCK_NOT_ENGAGED}
LIVE = [AlarmStatus.OPEN, AlarmStatus.ACKNOWLEDGED]


def settings_for(merchant_id: int) -> AlarmSettings:
    found = AlarmSettings.objects.filter(merchant_id=merchant_id).first()
    return found or AlarmSettings(merchant_id=merchant_id)


def alarm_raise(
    *, device: Device, kind: str, detail: dict[str, Any] | None = None, at: datetime | None = None
) -> Alarm:
    """Open an alarm, or count one more occurrence of the live one."""
    at = at or timezone.now()
    live = Alarm.objects.select_for_update().filter(device=device, kind=kind, status__in=LIVE).first()
    if live is not None:
        live.occurrences += 1
        live.last_seen_at = at
        if detail:
            live.detail = {**live.detail, **detail}
        live.save(update_fields=["occurrences", "last_seen_at", "detail", "updated_at"])
        return live
    try:
        with transaction.atomic():
            alarm = Alarm.objects.create(
                merchant_id=device.merchant_id,
                device=device,
                kind=kind,
                severity=SEVERITY[AlarmKind(kind)],
                opened_at=at,
                last_seen_at=at,
                detail=detail or {},
            )
    except IntegrityError:
        # Another gateway opened it a moment ago: count ours on that one.
        return alarm_raise(device=device, kind=kind, detail=detail, at=at)
    transaction.on_commit(lambda: _enqueue_webhook(alarm.pk))
    return alarm


def alarm_resolve(*, device: Device, kind: str, at: datetime | None = None) -> int:
    """The condition is gone: clear the live alarm of a self-healing kind."""
    if kind not in SELF_HEALING:
        return 0
    return Alarm.objects.filter(device=device, kind=kind, status__in=LIVE).update(
        status=AlarmStatus.CLEARED, cleared_at=at or timezone.now(), updated_at=timezone.now()
    )


@transaction.atomic
def alarm_acknowledge(*, actor: Any, alarm: Alarm) -> Alarm:
    locked = Alarm.objects.select_for_update().get(pk=alarm.pk)
    if locked.status != AlarmStatus.OPEN:
        raise OpenVendError(DeviceErrorCode.ALARM_CLEARED, _("Only an open alarm can be acknowledged."))
    before = snapshot(locked)
    locked.status, locked.acknowledged_at, locked.acknowledged_by = (
        AlarmStatus.ACKNOWLEDGED,
        timezone.now(),
        actor,
    )
    locked.save()
    audit_record(
        actor=actor, action=AuditAction.UPDATE, instance=locked, before=before, after=snapshot(locked)
    )
    alarm.refresh_from_db()
    return alarm


@transaction.atomic
def alarm_clear(*, actor: Any, alarm: Alarm, note: str = "") -> Alarm:
    locked = Alarm.objects.select_for_update().get(pk=alarm.pk)
    if locked.status == AlarmStatus.CLEARED:
        raise OpenVendError(DeviceErrorCode.ALARM_CLEARED, _("This alarm is already cleared."))
    before = snapshot(locked)
    locked.status, locked.cleared_at, locked.cleared_by = AlarmStatus.CLEARED, timezone.now(), actor
    if note:
        locked.detail = {**locked.detail, "note": note}
    locked.save()
    if locked.kind == AlarmKind.FOREIGN_OBJECT:
        Device.objects.filter(pk=locked.device_id).update(locked_by_foreign_object=False)
    audit_record(
        actor=actor, action=AuditAction.UPDATE, instance=locked, before=before, after=snapshot(locked)
    )
    alarm.refresh_from_db()
    return alarm


def alarms_clear_all(*, actor: Any, alarms: Any) -> int:
    """The console's "clear all": every live alarm in the (already scoped) queryset."""
    cleared = 0
    for alarm in alarms.filter(status__in=LIVE):
        alarm_clear(actor=actor, alarm=alarm)
        cleared += 1
    return cleared


# Outbound webhook -------------------------------------------------------------------------------


def webhook_signature(secret: str, timestamp: int, body: bytes) -> str:
    """`t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">` — receivers recompute and compare, and
    reject timestamps more than five minutes old."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def webhook_payload(alarm: Alarm) -> dict[str, Any]:
    return {
        "event": "alarm.raised",
        "alarm": {
            "id": alarm.pk,
            "kind": alarm.kind,
            "severity": alarm.severity,
            "status": alarm.status,
            "opened_at": alarm.opened_at.isoformat(),
            "detail": alarm.detail,
        },
        "device": {"code": alarm.device.code, "name": alarm.device.name, "site_id": alarm.device.site_id},
        "merchant_id": alarm.merchant_id,
    }


def _enqueue_webhook(alarm_id: int) -> None:
    from openvend.devices.tasks import deliver_alarm_webhook

    deliver_alarm_webhook.enqueue(alarm_id)


def webhook_deliver(alarm_id: int, *, timeout: float = 5.0) -> int | None:
    """POST the alarm to the merchant's webhook, signed. Returns the HTTP status, or None if none is set."""
    import urllib.request

    from openvend.core.crypto import decrypt

    alarm = Alarm.objects.select_related("device").get(pk=alarm_id)
    config = settings_for(alarm.merchant_id)
    if not config.webhook_url:
        return None
    body = json.dumps(webhook_payload(alarm), ensure_ascii=False, separators=(",", ":")).encode()
    request = urllib.request.Request(  # noqa: S310 - the merchant's own https/http endpoint
        config.webhook_url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "X-OpenVend-Signature": webhook_signature(decrypt(config.webhook_secret), int(time.time()), body),
            "X-OpenVend-Event": "alarm.raised",
        },
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        return int(response.status)


@transaction.atomic
def alarm_settings_update(*, actor: Any, merchant_id: int, data: dict[str, Any]) -> AlarmSettings:
    """Thresholds and webhook. The webhook secret is encrypted at rest and never returned or logged."""
    from openvend.audit.services import audited_update
    from openvend.core.crypto import encrypt

    data = dict(data)
    secret = data.pop("webhook_secret", None)
    found = AlarmSettings.objects.filter(merchant_id=merchant_id).first()
    if secret is not None:
        data["webhook_secret"] = encrypt(secret)
    if found is None:
        # A merchant's settings row is created by its first edit: that is a change, not an "add".
        found = AlarmSettings(merchant_id=merchant_id, **data)
        found.full_clean()
        found.save()
        audit_record(actor=actor, action=AuditAction.CREATE, instance=found, after=snapshot(found))
    else:
        audited_update(actor=actor, instance=found, data=data)
    if found.temperature_min_c >= found.temperature_max_c:
        raise OpenVendError(
            DeviceErrorCode.BAD_COMMAND,
            _("The lowest temperature must be below the highest."),
            fields={"temperature_min_c": [_("Must be below the highest temperature.")]},
        )
    return found
