"""Deriving each device's live state and alarms from its new messages, in sequence order.

A replayed old message is stored (the log is complete) but does not roll the live state back:
state fields move only for messages newer than the last one applied."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from functools import cache
from typing import Any

from django.db import connection

from openvend.devices.alarms import alarm_raise, alarm_resolve, settings_for
from openvend.devices.choices import AlarmKind
from openvend.devices.commands import command_ack
from openvend.devices.models import AlarmSettings, Device, DeviceState
from openvend.gateway import pgwrite

STATE_FIELDS = [
    "online",
    "last_seen_at",
    "last_machine_ts",
    "clock_skew_ms",
    "last_seq",
    "last_birth_seq",
    "door",
    "door_changed_at",
    "door_session",
    "lock",
    "camera",
    "temperature_c",
    "humidity_pct",
    "rssi_dbm",
    "firmware",
    "boot_id",
    "weights_g",
    "temperature_breaches",
]
EVENT_STATE = {
    "door_opened": ("door", "open"),
    "door_closed": ("door", "closed"),
    "lock_engaged": ("lock", "locked"),
    "lock_released": ("lock", "unlocked"),
    "lock_fault": ("lock", "fault"),
    "camera_fault": ("camera", "fault"),
    "camera_ok": ("camera", "ok"),
}
RESTOCK_EVENTS = frozenset({"door_opened", "door_closed", "weight_change"})


class _Batch:
    """Per-batch lookups. The batch's Device rows are loaded together, and only when an alarm, a
    command or a visit needs one: a batch of plain readings needs none. Alarm limits come from
    `settings` (the gateway's short-lived cache) or are read once per merchant per batch."""

    def __init__(self, device_ids: list[int], settings: Callable[[int], AlarmSettings] | None) -> None:
        self._ids = device_ids
        self._devices: dict[int, Device] | None = None
        self._settings = settings or cache(settings_for)
        self._ranges: dict[int, tuple[float, float]] = {}

    def device(self, pk: int) -> Device:
        if self._devices is None:
            self._devices = Device.objects.in_bulk(self._ids)
        return self._devices[pk]

    def settings(self, merchant_id: int) -> AlarmSettings:
        return self._settings(merchant_id)

    def temperature_range(self, merchant_id: int) -> tuple[float, float]:
        # Readings arrive as floats; comparing them with the limits as floats agrees with comparing
        # their decimal forms, since the limits have two decimal places (rounding is monotonic).
        if merchant_id not in self._ranges:
            limits = self.settings(merchant_id)
            self._ranges[merchant_id] = (float(limits.temperature_min_c), float(limits.temperature_max_c))
        return self._ranges[merchant_id]


def apply_messages(
    fresh: list[tuple[Any, Any, Any]], settings: Callable[[int], AlarmSettings] | None = None
) -> None:
    by_device: dict[int, list[tuple[Any, Any]]] = defaultdict(list)
    refs: dict[int, Any] = {}
    for message, item, ref in fresh:
        by_device[ref.id].append((message, item))
        refs[ref.id] = ref
    device_ids = sorted(by_device)
    states = _locked_states(device_ids)
    missing = [DeviceState(device_id=pk) for pk in device_ids if pk not in states]
    if missing:
        DeviceState.objects.bulk_create(missing, ignore_conflicts=True)
        states.update(
            {s.device_id: s for s in DeviceState.objects.filter(device_id__in=[m.device_id for m in missing])}
        )
    batch = _Batch(device_ids, settings)
    for device_id in device_ids:
        state, ref = states[device_id], refs[device_id]
        for message, item in by_device[device_id]:
            _apply(state, ref, message, item, batch)
        if type(state.temperature_c) in (int, float):  # the raw reading while the batch ran
            state.temperature_c = Decimal(str(state.temperature_c))
    changed = [states[pk] for pk in device_ids]
    if connection.vendor == "postgresql":
        pgwrite.update_states(changed)
    else:
        DeviceState.objects.bulk_update(changed, STATE_FIELDS)


def _locked_states(device_ids: list[int]) -> dict[int, DeviceState]:
    """The devices' state rows, locked in id order: two gateways updating overlapping devices
    cannot deadlock."""
    if connection.vendor == "postgresql":
        return {s.device_id: s for s in pgwrite.lock_states(device_ids)}
    return {
        s.device_id: s
        for s in DeviceState.objects.select_for_update().filter(device_id__in=device_ids).order_by("pk")
    }


def _apply(state: DeviceState, ref: Any, message: Any, item: Any, batch: _Batch) -> None:
    received = item.received_at
    if state.last_seen_at is None or received > state.last_seen_at:
        state.last_seen_at = received
    if message.type == "ack":
        body = message.body
        command_ack(
            device_id=ref.id,
            command_id=body["cmd_id"],
            result=body["result"],
            code=body.get("code", ""),
            message=body.get("message", ""),
            data=body.get("data"),
            at=received,
        )
    if message.type == "status" and message.body.get("reason") == "lwt":
        _last_will(state, message)
        return
    if message.seq <= state.last_seq:
        # Not a replay (the store has dropped those) but a first arrival older than the state we
        # hold — from another gateway sharing the subscription, say. The device's state has moved
        # on; what the event means for a visit or an alarm still counts.
        if message.type == "event":
            _event_effects(batch.device(ref.id), message.body, received, message.seq)
        return
    state.last_seq = message.seq
    state.last_machine_ts = message.ts
    state.clock_skew_ms = int(received.timestamp() * 1000) - message.ts
    was_online = state.online
    state.online = True
    body = message.body
    if message.type == "telemetry":
        _telemetry(state, ref, body, batch, received)
    elif message.type == "status":
        state.online = bool(body.get("online"))
        if state.online:
            state.last_birth_seq = message.seq
        state.firmware = body.get("firmware", state.firmware) or state.firmware
        state.boot_id = body.get("boot_id", state.boot_id) or state.boot_id
    elif message.type == "hb":
        if "rssi_dbm" in body:
            state.rssi_dbm = body["rssi_dbm"]
    elif message.type == "event":
        _event(state, batch.device(ref.id), body, received, message.seq)
    if state.online and not was_online:
        alarm_resolve(device=batch.device(ref.id), kind=AlarmKind.OFFLINE, at=received)


def _last_will(state: DeviceState, message: Any) -> None:
    """The broker's last will (seq w, reserved at CONNECT just before the birth w + 1) means the
    connection died — unless a later connection's birth has already been applied (protocol §9)."""
    if state.last_birth_seq > message.seq + 1:
        return
    state.online = False
    state.last_seq = max(state.last_seq, message.seq)


def _set_component(state: DeviceState, device: Device, field: str, value: str, at: Any) -> None:
    """Door, lock and camera transitions, with the alarms their faults raise and their recoveries clear."""
    previous = getattr(state, field)
    setattr(state, field, value)
    if field == "door" and value != previous:
        state.door_changed_at = at
        if value == "closed":
            state.door_session = ""
    if value == previous:
        return
    if field == "lock":
        if value == "fault":
            alarm_raise(device=device, kind=AlarmKind.LOCK_NOT_ENGAGED, detail={"lock": value}, at=at)
        elif previous == "fault":
            alarm_resolve(device=device, kind=AlarmKind.LOCK_NOT_ENGAGED, at=at)
    if field == "camera":
        if value == "fault":
            alarm_raise(device=device, kind=AlarmKind.CAMERA_FAULT, at=at)
        elif previous == "fault":
            alarm_resolve(device=device, kind=AlarmKind.CAMERA_FAULT, at=at)


_COMPONENTS = ("door", "lock", "camera")


def _telemetry(state: DeviceState, ref: Any, body: dict[str, Any], batch: _Batch, at: Any) -> None:
    for field in _COMPONENTS:
        if field in body and body[field] != getattr(state, field):
            _set_component(state, batch.device(ref.id), field, body[field], at)
    if "rssi_dbm" in body:
        state.rssi_dbm = body["rssi_dbm"]
    if "humidity_pct" in body:
        state.humidity_pct = Decimal(str(body["humidity_pct"]))
    if "firmware" in body:
        state.firmware = body["firmware"]
    if "weights_g" in body:
        state.weights_g = body["weights_g"]
    if "temperature_c" in body:
        _temperature(state, ref, body["temperature_c"], batch, at)


def _temperature(state: DeviceState, ref: Any, value: float, batch: _Batch, at: Any) -> None:
    """Debounced: a temperature alarm needs N consecutive readings out of range, so one spike is ignored.
    `value` is the reading as parsed (the schema bounds it to -40..80)."""
    state.temperature_c = value  # made a Decimal once per batch, by apply_messages
    low, high = batch.temperature_range(ref.merchant_id)
    if low <= value <= high:
        if state.temperature_breaches:
            state.temperature_breaches = 0
            alarm_resolve(device=batch.device(ref.id), kind=AlarmKind.TEMPERATURE, at=at)
        return
    state.temperature_breaches += 1
    limits = batch.settings(ref.merchant_id)
    if state.temperature_breaches >= limits.debounce_samples:
        alarm_raise(
            device=batch.device(ref.id),
            kind=AlarmKind.TEMPERATURE,
            at=at,
            detail={
                "temperature_c": str(Decimal(str(value))),
                "min_c": str(limits.temperature_min_c),
                "max_c": str(limits.temperature_max_c),
            },
        )


def _event(state: DeviceState, device: Device, body: dict[str, Any], at: Any, seq: int) -> None:
    kind = body["kind"]
    if kind in EVENT_STATE:
        field, value = EVENT_STATE[kind]
        _set_component(state, device, field, value, at)
        if kind == "door_opened":
            state.door_session = body.get("session", "") or ""
    _event_effects(device, body, at, seq)


def _event_effects(device: Device, body: dict[str, Any], at: Any, seq: int) -> None:
    """What an event means beyond the device's state: alarms and the visit it belongs to. Each
    effect ignores a repeat, so this may run for events that arrive late or out of order."""
    kind = body["kind"]
    if kind == "foreign_object":
        alarm_raise(device=device, kind=AlarmKind.FOREIGN_OBJECT, detail=body.get("detail") or {}, at=at)
        if device.foreign_object_lock and not device.locked_by_foreign_object:
            Device.objects.filter(pk=device.pk).update(locked_by_foreign_object=True)
            device.locked_by_foreign_object = True
    key = body.get("session")
    if not key:
        return
    # The visit (session = the open-door command's id) is a shopper's or a restock. Most are a
    # shopper's, so their handlers look first; a restock session is looked for only when they took
    # nothing (another visit's id, or a repeat they ignored).
    from openvend.shopping.services import session_door_event, session_weight_event

    applied = False
    if kind in ("door_opened", "door_closed"):
        applied = session_door_event(device=device, session_key=key, kind=kind, at=at, seq=seq)
    elif kind == "weight_change":
        # A shopper's weight changes are the evidence of what they took.
        applied = session_weight_event(
            device=device, session_key=key, detail=body.get("detail") or {}, seq=seq
        )
    elif kind == "media_captured":
        # Cameras upload after the door shut: the link joins the visit whatever state it has reached.
        from openvend.shopping.media_services import session_media_attach

        session_media_attach(device=device, session_key=key, detail=body.get("detail") or {}, received_at=at)
    if not applied and kind in RESTOCK_EVENTS:
        from openvend.inventory.restock_services import restock_door_event

        restock_door_event(device=device, session_key=key, kind=kind, detail=body.get("detail") or {}, at=at)
