"""Periodic checks the gateway runs: silence means offline, doors left open, commands that never
got an answer, and retention of the raw message log. Each is idempotent and safe on several gateways."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from openvend.devices.alarms import LIVE, alarm_raise, settings_for
from openvend.devices.choices import AlarmKind
from openvend.devices.commands import commands_expire
from openvend.devices.models import Alarm, DeadLetter, Device, DeviceState
from openvend.gateway.ingest import prune_messages
from openvend.inventory.restock_services import restock_sessions_expire
from openvend.orders.cart_services import shelf_sessions_abandon
from openvend.orders.services import sessions_settle_overdue
from openvend.orders.unpaid import orders_unpaid_sweep
from openvend.shopping.services import sessions_expire

HEARTBEAT_S = 30
MISSED_HEARTBEATS = 3


def mark_silent_offline(now: datetime) -> int:
    """No message for three heartbeat intervals: offline, even if the broker's last will was lost."""
    cutoff = now - timedelta(seconds=HEARTBEAT_S * MISSED_HEARTBEATS)
    return DeviceState.objects.filter(online=True, last_seen_at__lt=cutoff).update(online=False)


def _raise_once(device: Device, kind: str, detail: dict, now: datetime) -> bool:
    if Alarm.objects.filter(device=device, kind=kind, status__in=LIVE).exists():
        return False
    alarm_raise(device=device, kind=kind, detail=detail, at=now)
    return True


def offline_alarms(now: datetime) -> int:
    raised = 0
    for state in DeviceState.objects.select_related("device").filter(
        online=False, last_seen_at__isnull=False
    ):
        limit = settings_for(state.device.merchant_id).offline_after_s
        assert state.last_seen_at is not None
        if now - state.last_seen_at >= timedelta(seconds=limit):
            detail = {"last_seen_at": state.last_seen_at.isoformat()}
            raised += _raise_once(state.device, AlarmKind.OFFLINE, detail, now)
    return raised


def door_alarms(now: datetime) -> int:
    """A door open with no shopping or staff session for longer than the merchant allows (门锁不落锁)."""
    raised = 0
    for state in DeviceState.objects.select_related("device").filter(door="open", door_session=""):
        limit = settings_for(state.device.merchant_id).door_open_max_s
        if state.door_changed_at and now - state.door_changed_at >= timedelta(seconds=limit):
            detail = {"open_since": state.door_changed_at.isoformat()}
            raised += _raise_once(state.device, AlarmKind.DOOR_OPEN_NO_SESSION, detail, now)
    return raised


def run_sweeps(now: datetime | None = None, *, prune: bool = False) -> dict[str, int]:
    now = now or timezone.now()
    with transaction.atomic():
        result = {
            "offline": mark_silent_offline(now),
            "commands_expired": commands_expire(now=now),
            "restock_sessions_expired": restock_sessions_expire(now),
            **sessions_expire(now),
        }
    # Each session settles in its own transactions, and its charge is sent once that one commits.
    result["orders_settled"] = sessions_settle_overdue(now)
    result.update(orders_unpaid_sweep(now))
    result["shelf_sessions_abandoned"] = shelf_sessions_abandon(now)
    with transaction.atomic():
        result["offline_alarms"] = offline_alarms(now)
        result["door_alarms"] = door_alarms(now)
    if prune:
        cutoff = now - timedelta(days=settings.DEVICE_MESSAGE_RETENTION_DAYS)
        result["pruned"] = prune_messages(older_than=cutoff)
        # Dead letters are diagnostics of the same age class: they go with the raw log.
        result["dead_letters_pruned"] = DeadLetter.objects.filter(received_at__lt=cutoff).delete()[0]
    return result
