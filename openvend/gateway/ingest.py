"""From raw MQTT messages to stored facts: validate, dead-letter the bad, store the good once,
derive each device's live state and alarms, and say which sequence numbers to acknowledge.

One call handles one batch inside one transaction, so a crash loses nothing that was acked:
acks go out only after the batch committed, and an unacked message is redelivered or replayed.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from django.db import connection, transaction
from django.db.models import Exists, OuterRef

from openvend.devices.alarms import settings_for
from openvend.devices.choices import DeviceStatus
from openvend.devices.models import AlarmSettings, DeadLetter, Device, DeviceCredential, DeviceMessage
from openvend.gateway import pgwrite, protocol
from openvend.gateway.state import apply_messages

logger = logging.getLogger(__name__)

# Messages the device keeps in its outbox until the cloud acknowledges them.
ACKED_TYPES = frozenset({"event", "ack"})
DEAD_PAYLOAD_LIMIT = 2000


class Received(NamedTuple):  # a tuple: the network thread builds one per message
    topic: str
    payload: bytes
    received_at: datetime


@dataclass(frozen=True, slots=True)
class DeviceRef:
    id: int
    merchant_id: int
    active: bool


@dataclass
class BatchResult:
    stored: int = 0
    duplicates: int = 0
    dead: int = 0
    dead_reasons: dict[str, int] = field(default_factory=dict)
    acks: dict[str, int] = field(default_factory=dict)  # device code -> cumulative seq to acknowledge


class DeviceDirectory:
    """Device code → id, merchant and whether it may talk, and each merchant's alarm limits, cached
    briefly so a busy gateway does not look them up on every batch. A revocation or a new limit
    takes effect within `ttl`."""

    def __init__(self, ttl: float = 10.0) -> None:
        self.ttl = ttl
        self._cache: dict[str, tuple[float, DeviceRef | None]] = {}
        self._settings: dict[int, tuple[float, AlarmSettings]] = {}

    def alarm_settings(self, merchant_id: int) -> AlarmSettings:
        now = time.monotonic()
        cached = self._settings.get(merchant_id)
        if cached is None or cached[0] < now:
            cached = (now + self.ttl, settings_for(merchant_id))
            self._settings[merchant_id] = cached
        return cached[1]

    def resolve(self, codes: set[str]) -> dict[str, DeviceRef | None]:
        now = time.monotonic()
        missing = {c for c in codes if c not in self._cache or self._cache[c][0] < now}
        if missing:
            # A device may talk while it is active and holds an unrevoked credential (protocol §10).
            credential = DeviceCredential.objects.filter(device=OuterRef("pk"), revoked_at__isnull=True)
            rows = (
                Device.objects.filter(code__in=missing)
                .annotate(has_credential=Exists(credential))
                .values_list("pk", "code", "merchant_id", "status", "has_credential")
            )
            found = {
                code: DeviceRef(pk, merchant_id, status == DeviceStatus.ACTIVE and has_credential)
                for pk, code, merchant_id, status, has_credential in rows
            }
            for code in missing:
                self._cache[code] = (now + self.ttl, found.get(code))
        return {code: self._cache[code][1] for code in codes}

    def forget(self, code: str | None = None) -> None:
        if code is None:
            self._cache.clear()
            self._settings.clear()
        else:
            self._cache.pop(code, None)


def _storable(text: str) -> str:
    """What a dead letter can keep of untrusted text: PostgreSQL text cannot hold U+0000."""
    return text.replace("\x00", "\ufffd")


def _dead(item: Received, reason: str, detail: str, code: str = "") -> DeadLetter:
    return DeadLetter(
        topic=_storable(item.topic[:255]),
        device_code=_storable(code[:64]),
        reason=reason,
        detail=_storable(detail[:300]),
        payload=_storable(item.payload[:DEAD_PAYLOAD_LIMIT].decode("utf-8", errors="replace")),
        received_at=item.received_at,
    )


def ingest_batch(items: list[Received], directory: DeviceDirectory) -> BatchResult:
    result = BatchResult()
    dead: list[DeadLetter] = []
    decoded: list[tuple[protocol.UpMessage, Received]] = []
    for item in items:
        if not item.payload and item.topic.endswith("/up/status"):
            continue  # an empty retained payload only clears a retired device's retained status (§9)
        try:
            decoded.append((protocol.decode_up(item.topic, item.payload), item))
        except protocol.ProtocolError as exc:
            dead.append(_dead(item, str(exc.reason), exc.detail, exc.device_code or ""))

    refs = directory.resolve({message.device_code for message, _item in decoded})
    accepted: list[tuple[protocol.UpMessage, Received, DeviceRef]] = []
    for message, item in decoded:
        ref = refs.get(message.device_code)
        if ref is None:
            dead.append(_dead(item, protocol.Rejection.UNKNOWN_DEVICE, "no such device", message.device_code))
        elif not ref.active:
            dead.append(
                _dead(item, protocol.Rejection.REVOKED_DEVICE, "device disabled", message.device_code)
            )
        else:
            accepted.append((message, item, ref))

    with transaction.atomic():
        fresh = _store(accepted, result)
        if fresh:
            apply_messages(fresh, directory.alarm_settings)
        if dead:
            DeadLetter.objects.bulk_create(dead)

    result.dead = len(dead)
    for letter in dead:
        result.dead_reasons[letter.reason] = result.dead_reasons.get(letter.reason, 0) + 1
    if dead:
        logger.warning("gateway dead-lettered messages", extra={"reasons": result.dead_reasons})
    return result


def _store(
    accepted: list[tuple[protocol.UpMessage, Received, DeviceRef]], result: BatchResult
) -> list[tuple[protocol.UpMessage, Received, DeviceRef]]:
    """Insert what is new; recognise replays by (device, seq). Returns the new messages in seq order."""
    if not accepted:
        return []
    for message, _item, _ref in accepted:
        if message.type in ACKED_TYPES:
            result.acks[message.device_code] = max(result.acks.get(message.device_code, 0), message.seq)
    if connection.vendor == "postgresql":
        epoch: dict[datetime, float] = {}  # a socket read's messages share one received time
        for _m, item, _ref in accepted:
            if item.received_at not in epoch:
                epoch[item.received_at] = item.received_at.timestamp()
        inserted = pgwrite.insert_messages(
            [
                (ref.id, ref.merchant_id, m.seq, m.id, m.type, m.ts, epoch[item.received_at], m.body)
                for m, item, ref in accepted
            ]
        )
        if inserted is None:
            fresh = accepted  # every row went in, so none was a replay, within the batch or before it
        else:
            fresh, seen = [], set()
            for entry in accepted:
                key = (entry[2].id, entry[0].seq)
                if key in inserted and key not in seen:
                    seen.add(key)
                    fresh.append(entry)
    else:
        fresh = _store_portable(accepted)
    result.stored = len(fresh)
    result.duplicates = len(accepted) - len(fresh)
    fresh.sort(key=lambda entry: (entry[2].id, entry[0].seq))
    return fresh


def _store_portable(
    accepted: list[tuple[protocol.UpMessage, Received, DeviceRef]],
) -> list[tuple[protocol.UpMessage, Received, DeviceRef]]:
    device_ids = {ref.id for _m, _i, ref in accepted}
    seqs = {message.seq for message, _i, _r in accepted}
    existing = set(
        DeviceMessage.objects.filter(device_id__in=device_ids, seq__in=seqs).values_list("device_id", "seq")
    )
    fresh: list[tuple[protocol.UpMessage, Received, DeviceRef]] = []
    for message, item, ref in accepted:
        key = (ref.id, message.seq)
        if key not in existing:
            existing.add(key)
            fresh.append((message, item, ref))
    DeviceMessage.objects.bulk_create(
        [
            DeviceMessage(
                device_id=ref.id,
                merchant_id=ref.merchant_id,
                seq=message.seq,
                message_id=message.id,
                type=message.type,
                machine_ts=message.ts,
                received_at=item.received_at,
                body=message.body,
            )
            for message, item, ref in fresh
        ],
        ignore_conflicts=True,  # SQLite runs one gateway; the check above already removed replays
        batch_size=500,
    )
    return fresh


def prune_messages(*, older_than: datetime, chunk: int = 5000) -> int:
    """Retention: delete raw messages received before `older_than`, a chunk at a time."""
    deleted = 0
    while True:
        ids = list(
            DeviceMessage.objects.filter(received_at__lt=older_than).values_list("pk", flat=True)[:chunk]
        )
        if not ids:
            return deleted
        deleted += DeviceMessage.objects.filter(pk__in=ids).delete()[0]
