"""Free replenishment (自由补货): a replenisher opens a device in restock mode and puts goods in
(taking expired or damaged units out on the way). Per line, their count — or, where nobody
counted, the sensors' reading — is posted: units put in as a REPLENISHMENT movement, units the
sensors found gone as a REMOVAL movement ("removed during restock"; see `restock_complete`).
Nobody is charged: no shopping order exists, and the shopping flow refuses consumers while the
restock door may be open (`replenishment_selectors.restock_in_progress`).

Where a counted line may sit is the inventory-wide position rule (`positions.check_position`, via
`restock_rules`): lane 0 on a cabinet, an existing track of that very product on a vending machine.

Who may act on a session (close, count, complete, cancel, photograph): its own replenisher, or a
supervisor — see `may_act_on_restock`, the one rule the API and the phone pages share.

A session still opening or open past the timeout is cancelled and the device told to lock
(`restock_sessions_expire`); a closed one is never cancelled by the clock: its counts are work in
progress and its door is shut.

    opening ──(door_opened)──► open ──(door_closed / "door closed" in the app)──► closed ──► completed
       └────────────────────────┴─────────────────────────────────────────────────┴──────► cancelled

Every move goes through `RESTOCK_MACHINE` (`restock_machine`), the machinery shopping sessions use:
the row is locked, the move checked, and a RestockEvent with from/to appended in the same
transaction. The timeline also records each count entered and each photo. Nobody is charged.

Restock mode on the device: the `open_door` command carries `"mode": "restock"` (protocol §7),
and every event of the visit carries the command's id as its `session` — which is how door and
weight events find their way here (`restock_door_event`, called by the gateway's state derivation).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from openvend.audit.choices import AuditAction
from openvend.audit.services import audit_record, snapshot
from openvend.core.errors import ConflictError, OpenVendError
from openvend.inventory.choices import MovementKind, ReplenishmentState, RestockEventKind, RestockState
from openvend.inventory.errors import InventoryErrorCode
from openvend.inventory.ledger import Source, post_movement
from openvend.inventory.models import ReplenishmentOrder, RestockLine, RestockSession
from openvend.inventory.replenishment_selectors import (
    DOOR_OPEN_RESTOCK_STATES,
    LIVE_RESTOCK_STATES,
    par_levels,
)
from openvend.inventory.replenishment_services import (
    check_device_visible,
    replenishment_order_settle_from_restock,
)
from openvend.inventory.restock_machine import RESTOCK_MACHINE
from openvend.inventory.restock_rules import START_PERMISSIONS, check_may_act_on_restock, check_position
from openvend.inventory.restock_sensors import sensor_quantities
from openvend.inventory.selectors import on_hand

R = RestockState
E = RestockEventKind
DEFAULT_TIMEOUT_MIN = 30
# Device events that move a restock session along; all carry the session (= command id).
RESTOCK_EVENTS = frozenset({"door_opened", "door_closed", "weight_change"})


def restock_timeout() -> timedelta:
    """How long a session may stay live before `restock_sessions_expire` cancels it."""
    return timedelta(minutes=int(getattr(settings, "RESTOCK_SESSION_TIMEOUT_MIN", DEFAULT_TIMEOUT_MIN)))


def session_snapshot(session: RestockSession) -> dict[str, Any]:
    data = snapshot(session)
    data["photo"] = session.photo.name or ""  # the audit log keeps the file's name, not the file
    data["lines"] = [
        {
            "product": line.product_id,
            "lane": line.lane,
            "counted": line.counted_quantity,
            "sensor": line.sensor_quantity,
            "posted": line.posted_quantity,
            "discrepancy": line.discrepancy,
        }
        for line in session.lines.all().order_by("lane", "product_id")
    ]
    return data


def _busy() -> ConflictError:
    return ConflictError(
        InventoryErrorCode.DEVICE_BUSY,
        _("Device busy: another restock session is already running on this device."),
    )


def _check_order(device: Any, order: ReplenishmentOrder | None) -> None:
    """The order must be open and this device's. It is locked until the session exists, so that a
    concurrent direct completion of the order (which refuses orders with a live session) either
    happens first — and the order is no longer open — or sees the session."""
    if order is None:
        return
    order = ReplenishmentOrder.objects.select_for_update().get(pk=order.pk)
    open_states = (ReplenishmentState.DRAFT, ReplenishmentState.PICKING, ReplenishmentState.IN_TRANSIT)
    if order.device_id != device.pk or order.state not in open_states:
        raise OpenVendError(
            InventoryErrorCode.BAD_STATE,
            _("The replenishment order must be an open order for this device."),
            fields={"order": [_("Not an open order for this device.")]},
        )


def _check_no_shopper(device: Any) -> None:
    """A shopper's visit (door possibly open, shelves being weighed) keeps restocking out. The device
    row is locked first, as `session_start` does, so of a concurrent restock and shopping start one
    waits for the other and then sees its session."""
    from openvend.devices.models import Device
    from openvend.shopping.selectors import shopping_in_progress

    Device.objects.select_for_update().filter(pk=device.pk).first()
    if shopping_in_progress(device):
        raise ConflictError(
            InventoryErrorCode.DEVICE_BUSY,
            _("Device busy: a shopper is using this device. Try again when they have finished."),
        )


@transaction.atomic
def restock_start(*, actor: Any, device: Any, order: ReplenishmentOrder | None = None) -> RestockSession:
    """Create the device's live restock session and send the door-open command in restock mode.
    A second start on a busy device is refused (the database allows one live session per device)."""
    from openvend.devices.choices import CommandKind
    from openvend.devices.commands import command_send

    if not all(actor.has_perm(code) for code in START_PERMISSIONS):
        raise PermissionDenied(_("You may not open devices for restocking."))
    check_device_visible(actor, device)
    _check_order(device, order)
    _check_no_shopper(device)
    if RestockSession.objects.filter(device=device, state__in=LIVE_RESTOCK_STATES).exists():
        raise _busy()
    session = RestockSession(merchant_id=device.merchant_id, device=device, replenisher=actor, order=order)
    try:
        with transaction.atomic():
            session.save()
    except IntegrityError as exc:  # a concurrent start won the race
        raise _busy() from exc
    command = command_send(
        actor=actor, device=device, kind=CommandKind.OPEN_DOOR, params={"door": 1, "mode": "restock"}
    )
    session.command = command
    session.save(update_fields=["command", "updated_at"])
    detail = {"command": str(command.pk), "order": order.pk if order is not None else None}
    RESTOCK_MACHINE.record(session, E.STARTED, detail, to_state=R.OPENING)
    audit_record(actor=actor, action=AuditAction.CREATE, instance=session, after=session_snapshot(session))
    return session


def _locked(session: RestockSession) -> RestockSession:
    return (
        RestockSession.objects.select_for_update().select_related("device", "device__kind").get(pk=session.pk)
    )


def _refuse(session: RestockSession, what: str) -> ConflictError:
    return ConflictError(
        InventoryErrorCode.BAD_TRANSITION,
        _("This restock session is %(state)s: cannot %(what)s.")
        % {"state": session.get_state_display(), "what": what},
    )


def _prefill_lines(session: RestockSession) -> None:
    """One line per position the device holds, with what the sensors say where they can tell."""
    by_sensor = sensor_quantities(session.device, session.sensor_deltas_g or {})
    positions = set(par_levels(session.device)) | {(pid, 0) for pid in by_sensor}
    for product_id, lane in sorted(positions):
        line, _created = RestockLine.objects.get_or_create(session=session, product_id=product_id, lane=lane)
        sensor = by_sensor.get(product_id) if lane == 0 else None
        if line.sensor_quantity != sensor:
            line.sensor_quantity = sensor
            line.save(update_fields=["sensor_quantity"])


def _close(session: RestockSession, at: datetime, reported_by: str) -> None:
    RESTOCK_MACHINE.transition(
        session, R.CLOSED, E.DOOR_CLOSED, {"reported_by": reported_by}, changes={"closed_at": at}
    )
    _prefill_lines(session)


def restock_door_event(
    *, device: Any, session_key: str, kind: str, detail: dict[str, Any], at: datetime
) -> bool:
    """Apply one device event to the live restock session it belongs to (its `session` is the
    open_door command's id). Events of shopping sessions or unknown sessions are ignored."""
    if kind not in RESTOCK_EVENTS:
        return False
    try:
        command_id = uuid.UUID(str(session_key))
    except ValueError:
        return False
    # No savepoint: this runs inside the gateway's batch, and an error here fails the whole batch
    # anyway (it is retried); most events are a shopper's, for which this is one read.
    with transaction.atomic(savepoint=False):
        session = (
            RestockSession.objects.select_for_update()
            .select_related("device", "device__kind")
            .filter(device_id=device.pk, command_id=command_id, state__in=LIVE_RESTOCK_STATES)
            .first()
        )
        if session is None:
            return False
        before = session_snapshot(session)
        # Out-of-order and repeated door events are ignored here, not refused: the device is not wrong.
        if kind == "door_opened" and session.state == R.OPENING:
            RESTOCK_MACHINE.transition(session, R.OPEN, E.DOOR_OPENED, changes={"opened_at": at}, locked=True)
        elif kind == "door_closed" and session.state in (R.OPENING, R.OPEN):
            _close(session, at, "device")
        elif kind == "weight_change" and session.state in (R.OPENING, R.OPEN):
            sensor, delta = str(detail.get("sensor", "")), detail.get("delta_g")
            if not sensor or not isinstance(delta, int | float) or isinstance(delta, bool):
                return False
            deltas = dict(session.sensor_deltas_g or {})
            deltas[sensor] = float(Decimal(str(deltas.get(sensor, 0))) + Decimal(str(delta)))
            session.sensor_deltas_g = deltas
            session.save(update_fields=["sensor_deltas_g", "updated_at"])
            return True  # weight noise is not worth an audit row each
        else:
            return False
        audit_record(
            actor=None,
            action=AuditAction.UPDATE,
            instance=session,
            before=before,
            after=session_snapshot(session),
            message=f"device event {kind}",
        )
        return True


@transaction.atomic
def restock_door_closed(*, actor: Any, session: RestockSession) -> RestockSession:
    """The replenisher says the door is closed. Believed unless the device reports it still open."""
    from openvend.devices.choices import DoorState
    from openvend.devices.models import DeviceState

    locked = _locked(session)
    check_may_act_on_restock(actor, locked)
    if locked.state == R.CLOSED:
        return locked
    if locked.state not in (R.OPENING, R.OPEN):
        raise _refuse(locked, _("close the door"))
    door = DeviceState.objects.filter(device_id=locked.device_id).values_list("door", flat=True).first()
    if door == DoorState.OPEN:
        raise ConflictError(
            InventoryErrorCode.DOOR_STILL_OPEN,
            _("The device reports its door still open. Close it firmly and try again."),
        )
    before = session_snapshot(locked)
    _close(locked, timezone.now(), "replenisher")
    audit_record(
        actor=actor, action=AuditAction.UPDATE, instance=locked, before=before, after=session_snapshot(locked)
    )
    return locked


def _apply_count(session: RestockSession, product: Any, lane: int, counted: int | None) -> RestockLine:
    if counted is not None and (isinstance(counted, bool) or not isinstance(counted, int) or counted < 0):
        raise OpenVendError(
            InventoryErrorCode.BAD_QUANTITY,
            _("A count is a whole number ≥ 0."),
            fields={"counted": [_("A whole number ≥ 0.")]},
        )
    check_position(session.device, product, lane)
    line, _created = RestockLine.objects.get_or_create(session=session, product=product, lane=lane)
    if line.counted_quantity != counted:
        line.counted_quantity = counted
        line.save(update_fields=["counted_quantity"])
        detail = {"product": product.pk, "lane": lane, "counted": counted}
        RESTOCK_MACHINE.record(session, E.COUNTED, detail)
    return line


@transaction.atomic
def restock_count(
    *, actor: Any, session: RestockSession, product: Any, counted: int | None, lane: int = 0
) -> RestockLine:
    """Enter (or clear, with None) how many units of `product` the replenisher put in."""
    locked = _locked(session)
    check_may_act_on_restock(actor, locked)
    if locked.state not in LIVE_RESTOCK_STATES:
        raise _refuse(locked, _("enter counts"))
    before = session_snapshot(locked)
    line = _apply_count(locked, product, lane, counted)
    after = session_snapshot(locked)
    if after != before:
        audit_record(actor=actor, action=AuditAction.UPDATE, instance=locked, before=before, after=after)
    return line


@dataclass
class RestockResult:
    session: RestockSession
    movements: list[Any]
    already_completed: bool = False


@transaction.atomic
def restock_complete(
    *, actor: Any, session: RestockSession, counts: Iterable[tuple[Any, int, int | None]] = ()
) -> RestockResult:
    """Post what was put in: per line the counted quantity when given, else the sensors'. A line
    where both exist and differ is a discrepancy. `counts` (product, lane, counted) are entered
    first, exactly as `restock_count` would. Completing again changes nothing.

    A positive figure is a REPLENISHMENT movement. A count is always a whole number ≥ 0 (the units
    put in), so a negative figure comes from the sensors only, on a line nobody counted: the shelf
    weighed less after the visit than before (expired or damaged units taken out). That is not a
    replenishment — a replenishment never takes stock away — but a REMOVAL movement "removed
    during restock". Like any removal it may not take the position below zero; then nothing is
    posted and the replenisher is told which product to count (or to take stock)."""
    from openvend.inventory.models import StockMovement

    locked = _locked(session)
    check_may_act_on_restock(actor, locked)
    if locked.state == R.COMPLETED:
        moved = StockMovement.objects.filter(idempotency_key__startswith=f"restock:{locked.pk}:").order_by(
            "id"
        )
        return RestockResult(session=locked, movements=list(moved), already_completed=True)
    if locked.state in (R.OPENING, R.OPEN):
        raise ConflictError(InventoryErrorCode.DOOR_STILL_OPEN, _("Close the door before completing."))
    if locked.state != R.CLOSED:
        raise _refuse(locked, _("complete"))
    before = session_snapshot(locked)
    for product, lane, counted in counts:
        _apply_count(locked, product, lane, counted)
    movements = []
    placed: dict[tuple[int, int], int] = {}
    for line in locked.lines.select_related("product").order_by("lane", "product_id"):
        posted = line.counted_quantity if line.counted_quantity is not None else line.sensor_quantity
        line.posted_quantity = posted
        line.discrepancy = (
            line.counted_quantity is not None
            and line.sensor_quantity is not None
            and line.counted_quantity != line.sensor_quantity
        )
        line.save(update_fields=["posted_quantity", "discrepancy"])
        if posted is not None and posted > 0:
            placed[(line.product_id, line.lane)] = posted
            movements.append(
                post_movement(
                    device=locked.device,
                    product=line.product,
                    lane=line.lane,
                    quantity=posted,
                    kind=MovementKind.REPLENISHMENT,
                    actor=actor,
                    reason=_("Restock session %(id)s") % {"id": locked.pk},
                    source=Source.of(locked),
                    idempotency_key=f"restock:{locked.pk}:{line.pk}",
                )
            )
        elif posted is not None and posted < 0:  # units taken out
            movements.append(_post_removal(actor, locked, line, posted))
    has_discrepancy = locked.lines.filter(discrepancy=True).exists()
    RESTOCK_MACHINE.transition(
        locked,
        R.COMPLETED,
        E.COMPLETED,
        {"movements": [movement.pk for movement in movements], "discrepancy": has_discrepancy},
        changes={"has_discrepancy": has_discrepancy, "completed_at": timezone.now()},
    )
    audit_record(
        actor=actor, action=AuditAction.UPDATE, instance=locked, before=before, after=session_snapshot(locked)
    )
    if locked.order is not None:
        replenishment_order_settle_from_restock(actor=actor, order=locked.order, placed_by_position=placed)
    return RestockResult(session=locked, movements=movements)


def _post_removal(actor: Any, session: RestockSession, line: RestockLine, quantity: int) -> Any:
    try:
        return post_movement(
            device=session.device,
            product=line.product,
            lane=line.lane,
            quantity=quantity,
            kind=MovementKind.REMOVAL,
            actor=actor,
            reason=_("removed during restock"),
            source=Source.of(session),
            idempotency_key=f"restock:{session.pk}:{line.pk}",
        )
    except OpenVendError as exc:
        if exc.code != InventoryErrorCode.WOULD_GO_NEGATIVE:
            raise
        message = _(
            "%(product)s: %(removed)s unit(s) taken out, more than the %(on_hand)s on hand. "
            "Enter the count of units put in, or take stock of this device."
        ) % {
            "product": line.product.name,
            "removed": -quantity,
            "on_hand": on_hand(device=session.device, product=line.product, lane=line.lane),
        }
        raise OpenVendError(
            InventoryErrorCode.WOULD_GO_NEGATIVE, message, fields={"counts": [message]}
        ) from exc


def _cancel(
    actor: Any, session: RestockSession, kind: str, detail: dict[str, Any], message: str = ""
) -> RestockSession:
    before = session_snapshot(session)
    RESTOCK_MACHINE.transition(session, R.CANCELLED, kind, detail)
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        instance=session,
        before=before,
        after=session_snapshot(session),
        message=message,
    )
    return session


@transaction.atomic
def restock_cancel(*, actor: Any, session: RestockSession) -> RestockSession:
    """Abandon the visit: nothing is posted."""
    locked = _locked(session)
    check_may_act_on_restock(actor, locked)
    if locked.state not in LIVE_RESTOCK_STATES:
        raise _refuse(locked, _("cancel"))
    return _cancel(actor, locked, E.CANCELLED, {})


def restock_sessions_expire(now: datetime | None = None) -> int:
    """Cancel sessions still opening or open past the timeout (setting RESTOCK_SESSION_TIMEOUT_MIN,
    default 30 min, counted from the start — the door command — since the door may have been open
    from then on), so an abandoned visit does not keep the device from selling; and tell the device
    to lock, as its door may still be open. An offline or disabled device is not an error: the lock
    command waits and expires on its own, and the session is cancelled all the same.

    Closed sessions are never cancelled by the clock: the door is shut, and their counts are work in
    progress that only the replenisher (or a supervisor) completes or cancels."""
    from openvend.devices.choices import CommandKind
    from openvend.devices.commands import command_send

    cutoff = (now or timezone.now()) - restock_timeout()
    expired = 0
    stale = RestockSession.objects.filter(state__in=DOOR_OPEN_RESTOCK_STATES, created_at__lt=cutoff)
    for pk in stale.values_list("pk", flat=True):
        with transaction.atomic():
            session = (
                RestockSession.objects.select_for_update()
                .select_related("device")
                .filter(pk=pk, state__in=DOOR_OPEN_RESTOCK_STATES)
                .first()
            )
            if session is None:
                continue
            lock = None
            # A disabled device takes no commands; the session is cancelled regardless.
            with contextlib.suppress(OpenVendError):
                lock = command_send(actor=None, device=session.device, kind=CommandKind.LOCK)
            detail = {"lock_command": str(lock.pk) if lock is not None else None}
            _cancel(None, session, E.EXPIRED, detail, message="expired")
            expired += 1
    return expired


@transaction.atomic
def restock_photo_upload(*, actor: Any, session: RestockSession, photo: Any) -> RestockSession:
    """A photo of the shelves after restocking, for vision cabinets (their kind has a camera)."""
    from django import forms

    locked = _locked(session)
    check_may_act_on_restock(actor, locked)
    if not locked.device.kind.has_camera:
        raise OpenVendError(InventoryErrorCode.NO_CAMERA, _("Photos are taken for vision cabinets only."))
    if locked.state not in (*LIVE_RESTOCK_STATES, R.COMPLETED):
        raise _refuse(locked, _("add a photo"))
    try:
        image = forms.ImageField().clean(photo)
    except ValidationError as exc:
        raise OpenVendError(
            InventoryErrorCode.BAD_PHOTO,
            _("The photo must be an image (JPEG, PNG, …)."),
            fields={"photo": list(exc.messages)},
        ) from exc
    before = session_snapshot(locked)
    image.seek(0)
    locked.photo.save(f"restock-{locked.pk}-{uuid.uuid4().hex[:8]}.{_extension(image)}", image, save=False)
    locked.save(update_fields=["photo", "updated_at"])
    RESTOCK_MACHINE.record(locked, E.PHOTO, {"photo": locked.photo.name})
    audit_record(
        actor=actor, action=AuditAction.UPDATE, instance=locked, before=before, after=session_snapshot(locked)
    )
    return locked


def _extension(image: Any) -> str:
    pil = getattr(image, "image", None)
    fmt = (getattr(pil, "format", None) or "jpg").lower()
    return {"jpeg": "jpg"}.get(fmt, fmt)
