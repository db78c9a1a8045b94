"""Remote commands. The row is the truth: created here, published by the gateway's dispatcher
after commit, finished by the device's ACK (idempotent by command id) or by expiry.

A new command also rings the dispatchers' bell so they publish it at once instead of at their next
poll: on PostgreSQL a NOTIFY on COMMANDS_CHANNEL, which the database delivers at commit and drops on
rollback; elsewhere an after-commit wake of the dispatchers running in this process (the embedded
demo serves the web and runs the gateway in one process). The bell carries no truth: a dispatcher
woken for nothing finds nothing due, and one that missed the bell finds the row at its next poll.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.db import connections, router, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from openvend.audit.choices import AuditAction
from openvend.audit.services import audit_record, snapshot
from openvend.core.errors import OpenVendError
from openvend.devices.choices import CommandKind, CommandStatus, DeviceStatus
from openvend.devices.errors import DeviceErrorCode
from openvend.devices.models import Command, Device

DEFAULT_TTL_S = 60
COMMANDS_CHANNEL = "openvend_commands"
UNFINISHED = [CommandStatus.PENDING, CommandStatus.SENT]
RESULT_STATUS = {"ok": CommandStatus.SUCCEEDED, "expired": CommandStatus.EXPIRED}


def required_permission(kind: str) -> str:
    """Opening a door hands out goods: it has its own permission, apart from other commands."""
    return "devices.open_door_device" if kind == CommandKind.OPEN_DOOR else "devices.command_device"


def _validate(device: Device, kind: str, params: dict[str, Any], ttl_s: int) -> None:
    from openvend.gateway import protocol

    if kind not in CommandKind.values:
        raise OpenVendError(
            DeviceErrorCode.BAD_COMMAND, _("Unknown command."), fields={"kind": [_("Unknown command.")]}
        )
    if device.status != DeviceStatus.ACTIVE:
        raise OpenVendError(DeviceErrorCode.DISABLED, _("This device is disabled."))
    if not 5 <= ttl_s <= 24 * 3600:
        raise OpenVendError(
            DeviceErrorCode.BAD_COMMAND, _("The timeout must be between 5 seconds and a day.")
        )
    now_ms = int(time_ms())
    try:
        protocol.encode_command(
            device.code,
            id="00000000-0000-4000-8000-000000000000",
            kind=kind,
            params=params,
            ts=now_ms,
            expires=now_ms + ttl_s * 1000,
        )
    except protocol.ProtocolError as exc:
        raise OpenVendError(
            DeviceErrorCode.BAD_COMMAND,
            _("Invalid parameters: %(detail)s") % {"detail": exc.detail},
            fields={"params": [exc.detail]},
        ) from exc


def time_ms() -> float:
    return timezone.now().timestamp() * 1000


@transaction.atomic
def command_send(
    *, actor: Any, device: Device, kind: str, params: dict[str, Any] | None = None, ttl_s: int = DEFAULT_TTL_S
) -> Command:
    params = params or {}
    _validate(device, kind, params, ttl_s)
    command = Command.objects.create(
        merchant_id=device.merchant_id,
        device=device,
        kind=kind,
        params=params,
        expires_at=timezone.now() + timedelta(seconds=ttl_s),
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    audit_record(actor=actor, action=AuditAction.CREATE, instance=command, after=snapshot(command))
    _ring(command)
    return command


# Dispatchers in this process that want the after-commit wake (databases without NOTIFY).
_local_bells: set[threading.Event] = set()
_local_bells_lock = threading.Lock()


def command_bell_register(bell: threading.Event) -> None:
    with _local_bells_lock:
        _local_bells.add(bell)


def command_bell_unregister(bell: threading.Event) -> None:
    with _local_bells_lock:
        _local_bells.discard(bell)


def _ring_local() -> None:
    with _local_bells_lock:
        bells = list(_local_bells)
    for bell in bells:
        bell.set()


def _ring(command: Command) -> None:
    using = router.db_for_write(Command, instance=command)
    connection = connections[using]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, %s)", [COMMANDS_CHANNEL, str(command.pk)])
    else:
        transaction.on_commit(_ring_local, using=using)


def commands_due(*, limit: int = 200) -> list[Command]:
    """Pending commands to publish now. On PostgreSQL several dispatchers skip each other's rows."""
    qs = Command.objects.select_related("device").filter(
        status=CommandStatus.PENDING, expires_at__gt=timezone.now()
    )
    from django.db import connection

    if connection.features.has_select_for_update_skip_locked:
        qs = qs.select_for_update(skip_locked=True, of=("self",))
    return list(qs.order_by("created_at")[:limit])


def command_mark_sent(command: Command, *, at: datetime | None = None) -> None:
    commands_mark_sent([command.pk], at=at)


def commands_mark_sent(command_ids: Iterable[Any], *, at: datetime | None = None) -> int:
    """One statement for a whole dispatch pass."""
    ids = list(command_ids)
    if not ids:
        return 0
    now = timezone.now()
    return Command.objects.filter(pk__in=ids, status=CommandStatus.PENDING).update(
        status=CommandStatus.SENT, sent_at=at or now, updated_at=now
    )


def command_ack(
    *,
    device_id: int,
    command_id: str,
    result: str,
    code: str = "",
    message: str = "",
    data: Any = None,
    at: datetime | None = None,
) -> bool:
    """Record a device's answer. It is authoritative even after the cloud gave up waiting (a late
    ACK replaces "timed out"); a repeated ACK for a command already answered changes nothing."""
    status = RESULT_STATUS.get(result, CommandStatus.FAILED)
    answerable = Q(status__in=UNFINISHED) | Q(status=CommandStatus.EXPIRED, result_code="E_EXPIRED")
    updated = Command.objects.filter(answerable, pk=command_id, device_id=device_id).update(
        status=status,
        finished_at=at or timezone.now(),
        result_code=code or result,
        result_message=message[:200],
        result_data=data or {},
        updated_at=timezone.now(),
    )
    if updated and status == CommandStatus.SUCCEEDED:
        _apply_setting(device_id, command_id)
    return bool(updated)


def _apply_setting(device_id: int, command_id: str) -> None:
    """A setting the device confirmed becomes the device's recorded setting."""
    command = Command.objects.only("kind", "params").get(pk=command_id)
    if command.kind == CommandKind.SET_FOREIGN_OBJECT_LOCK:
        Device.objects.filter(pk=device_id).update(foreign_object_lock=bool(command.params.get("enabled")))


def commands_expire(*, now: datetime | None = None) -> int:
    """Commands with no answer by their expiry are failed as timed out."""
    now = now or timezone.now()
    return Command.objects.filter(status__in=UNFINISHED, expires_at__lte=now).update(
        status=CommandStatus.EXPIRED, finished_at=now, result_code="E_EXPIRED", updated_at=now
    )
