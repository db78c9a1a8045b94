"""Shopping sessions: start (preconditions, one per device, the door command), the device's door
events, and the clock. Every change of state goes through `transition()`: the row is locked, the
move is checked against TRANSITIONS, and a ShoppingEvent with from/to is appended in the same
transaction. Orders, recognition and charging build on the states this module reaches.

A device is shared by shopping and restocking: both lock the device row before looking for the
other's live session, so of two concurrent starts one waits for the other and then sees it.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from openvend.core.errors import OpenVendError
from openvend.core.session_machine import SessionMachine
from openvend.devices.choices import ShoppingFlow
from openvend.shopping.choices import DEVICE_BUSY_STATES, EventKind, SessionState, WayForward
from openvend.shopping.errors import DeviceBusy, InvalidTransition, PreconditionsFailed, ShoppingErrorCode
from openvend.shopping.models import ShoppingEvent, ShoppingSession
from openvend.shopping.preconditions import Failure, check_preconditions

S = SessionState
TRANSITIONS: dict[str, frozenset[str]] = {
    S.CREATED: frozenset({S.OPENING, S.OPEN, S.CANCELLED}),
    # A door may be reported closed without an "opened" we received (lost, or opened and shut at once).
    S.OPENING: frozenset({S.OPEN, S.CLOSED, S.CANCELLED}),
    # Once the door was open goods may have been taken: the session can only go on to be weighed.
    S.OPEN: frozenset({S.CLOSED}),
    S.CLOSED: frozenset({S.RECOGNISING}),
    S.RECOGNISING: frozenset({S.SETTLING, S.COMPLETED, S.REVIEW, S.FAILED}),
    S.SETTLING: frozenset({S.COMPLETED, S.REVIEW, S.FAILED}),
    S.REVIEW: frozenset({S.SETTLING, S.COMPLETED, S.CANCELLED}),
    S.COMPLETED: frozenset(),
    S.FAILED: frozenset(),
    S.CANCELLED: frozenset(),
}
FINAL_STATES = frozenset({S.COMPLETED, S.FAILED, S.CANCELLED})
DOOR_FLOWS = frozenset({ShoppingFlow.FULL_AUTO, ShoppingFlow.SEMI_AUTO})
# Protocol v1 knows the open_door modes "staff" and "restock" only; a shopper's visit is not a restock.
OPEN_DOOR_MODE = "staff"
DEFAULT_OPENING_TIMEOUT_S = 60
DEFAULT_DOOR_OPEN_MAX_S = 300


def opening_timeout() -> timedelta:
    """How long the door may stay unopened after the command before the session is cancelled."""
    return timedelta(seconds=int(getattr(settings, "SHOPPING_OPENING_TIMEOUT_S", DEFAULT_OPENING_TIMEOUT_S)))


def door_open_limit() -> timedelta:
    """How long a shopper's door may stay open before a device alarm is raised."""
    return timedelta(seconds=int(getattr(settings, "SHOPPING_DOOR_OPEN_MAX_S", DEFAULT_DOOR_OPEN_MAX_S)))


# The shared machinery (`openvend.core.session_machine`), which restock sessions use as well.
MACHINE: SessionMachine[ShoppingSession, ShoppingEvent] = SessionMachine(
    model=ShoppingSession,
    event_model=ShoppingEvent,
    transitions=TRANSITIONS,
    final_states=FINAL_STATES,
    ended_field="ended_at",
    refuse=InvalidTransition,
)


def _record(session: ShoppingSession, kind: str, detail: dict[str, Any] | None = None) -> ShoppingEvent:
    return MACHINE.record(session, kind, detail)


def transition(
    session: ShoppingSession,
    to_state: str,
    kind: str,
    detail: dict[str, Any] | None = None,
    *,
    changes: dict[str, Any] | None = None,
    locked: bool = False,
) -> bool:
    """Move `session` to `to_state`, recording why. False when it already was there (nothing written),
    which makes a repeated device event harmless. The caller's instance is refreshed. `locked`: the
    caller holds the row, read with select_for_update in this transaction (see SessionMachine)."""
    return MACHINE.transition(session, to_state, kind, detail, changes=changes, locked=locked)


def _device_from(qr_token: str | None, device: Any, flow: str | None) -> tuple[Any, str]:
    from openvend.devices.models import Device
    from openvend.devices.services import device_qr_verify

    if qr_token is not None:
        code, token_flow = device_qr_verify(qr_token)
        device = Device.objects.filter(code=code).first()
        flow = token_flow  # the signed code decides the flow, not the caller
    if device is None:
        raise OpenVendError(ShoppingErrorCode.UNKNOWN_DEVICE, _("This device is not in service."))
    flow = flow or device.default_flow
    if flow not in ShoppingFlow.values:
        raise OpenVendError(
            ShoppingErrorCode.UNKNOWN_FLOW, _("Unknown shopping flow %(flow)s.") % {"flow": flow}
        )
    return device, flow


def method_fits_flow(method: str, flow: str) -> Failure | None:
    """A fully automatic visit is charged when the door closes, with the shopper gone: only a
    pay-after method or the wallet can collect then. The cart flows are paid by the shopper in person."""
    from openvend.payments.choices import PAY_AFTER_METHODS, PaymentMethod

    if flow != ShoppingFlow.FULL_AUTO or method in PAY_AFTER_METHODS or method == PaymentMethod.WALLET:
        return None
    return Failure(
        "method_needs_shopper",
        _("This cabinet charges when the door closes: choose pay-after payment or your wallet."),
        WayForward.CHOOSE_METHOD,
    )


def _check_not_busy(device: Any) -> None:
    from openvend.inventory.replenishment_selectors import restock_in_progress

    if restock_in_progress(device):
        raise DeviceBusy()
    live = ShoppingSession.objects.filter(device=device, state__in=DEVICE_BUSY_STATES)
    if live.exclude(flow=ShoppingFlow.OPEN_SHELF).exists():
        raise DeviceBusy()


def _own_shelf_visit(device: Any, consumer: Any) -> ShoppingSession | None:
    """A shopper who scans an open shelf again while their visit there is live goes back to it."""
    found: ShoppingSession | None = ShoppingSession.objects.filter(
        device=device, consumer=consumer, flow=ShoppingFlow.OPEN_SHELF, state=S.OPEN
    ).first()
    return found


@transaction.atomic
def session_start(
    *,
    consumer: Any,
    method: str,
    qr_token: str | None = None,
    device: Any = None,
    flow: str | None = None,
) -> ShoppingSession:
    """Check every precondition, take the device and open it: the session is left OPENING with the
    open-door command queued (commands leave after commit), or OPEN on an open shelf, which has no door.

    Refused with PreconditionsFailed (all failures) or DeviceBusy (another shopper or a restock has it;
    the database allows one live door visit per device, so of concurrent starts exactly one wins).
    An open shelf has no door: several shoppers may shop there at once, and a shopper who scans it
    again returns to their live visit."""
    from openvend.devices.choices import CommandKind
    from openvend.devices.commands import command_send
    from openvend.devices.models import Device

    device, flow = _device_from(qr_token, device, flow)
    # The device's state comes in the same read: the online check and the visit's first seq need it.
    device = Device.objects.select_for_update(of=("self",)).select_related("site", "state").get(pk=device.pk)
    if flow == ShoppingFlow.OPEN_SHELF and (own := _own_shelf_visit(device, consumer)) is not None:
        return own
    state = getattr(device, "state", None)  # None: no state row, the device never reported
    failures = check_preconditions(device=device, consumer=consumer, method=method, state=state)
    if (unfit := method_fits_flow(method, flow)) is not None:
        failures.append(unfit)
    if failures:
        raise PreconditionsFailed(failures)
    _check_not_busy(device)
    session = ShoppingSession(
        merchant_id=device.merchant_id,
        device=device,
        site_id=device.site_id,
        consumer=consumer,
        flow=flow,
        payment_method=method,
        start_seq=None if state is None else state.last_seq,  # the visit's messages come after it
    )
    try:
        with transaction.atomic():
            session.save()
    except IntegrityError as exc:  # a concurrent start won the race
        raise DeviceBusy() from exc
    ShoppingEvent.objects.create(
        merchant_id=session.merchant_id,
        session=session,
        kind=EventKind.CREATED,
        to_state=S.CREATED,
        detail={"flow": flow, "method": method},
    )
    # The row was inserted in this transaction: nobody else can see it, let alone lock it.
    if flow not in DOOR_FLOWS:
        opened = {"opened_at": timezone.now()}
        transition(session, S.OPEN, EventKind.SHELF_STARTED, changes=opened, locked=True)
        return session
    command = command_send(
        actor=None,
        device=device,
        kind=CommandKind.OPEN_DOOR,
        params={"door": 1, "mode": OPEN_DOOR_MODE},
        ttl_s=int(opening_timeout().total_seconds()),
    )
    detail = {"command": str(command.pk)}
    transition(session, S.OPENING, EventKind.DOOR_COMMAND, detail, changes={"command": command}, locked=True)
    return session


def _close_and_recognise(
    session: ShoppingSession, kind: str, at: datetime, detail: dict[str, Any], seq: int | None = None
) -> None:
    """The door is shut (by the device's message `seq`): weigh what left and settle, once this
    commits. `session` is locked by the caller. The order is made elsewhere (the gateway's settler
    threads, or a task) so the gateway's ingest does not wait on recognition or the payment
    provider; if that is lost, the sweeper settles sessions left recognising (`orders.services`)."""
    transition(session, S.CLOSED, kind, detail, changes={"closed_at": at, "closed_seq": seq}, locked=True)
    transition(session, S.RECOGNISING, EventKind.RECOGNITION_STARTED, locked=True)
    session_id = session.pk
    transaction.on_commit(lambda: settle_later(session_id))


# Where this process sends sessions to be settled: the task queue, unless something in the process
# settles them itself (the gateway's settlers, `openvend.gateway.settlers`).
_settle_here: Callable[[int], None] | None = None


def settle_here(
    handler: Callable[[int], None] | None, *, only_if: Callable[[int], None] | None = None
) -> None:
    """From now on hand sessions to be settled to `handler` (None: back to the task queue). With
    `only_if`, only when that is the handler in place (a pool stopping does not unset another's)."""
    global _settle_here
    if only_if is None or _settle_here == only_if:
        _settle_here = handler


def settle_later(session_id: int) -> None:
    handler = _settle_here
    if handler is not None:
        handler(session_id)
        return
    from openvend.orders.tasks import settle_session_task  # orders build on shopping: bind at call time

    settle_session_task.enqueue(session_id)


def _door_session_for_update(
    device: Any, session_key: str, evidence_seq: int | None = None
) -> ShoppingSession | None:
    """The live session (door not yet closed) whose open-door command id is the device's `session`,
    locked; None for restock and unknown sessions. Call inside a transaction. With `evidence_seq`,
    also a visit still being weighed whose door closed after that seq: the message is evidence that
    reached the cloud after the close (see `shopping.evidence`)."""
    try:
        command_id = uuid.UUID(str(session_key))
    except ValueError:
        return None
    live = Q(state__in=(S.OPENING, S.OPEN))
    if evidence_seq is not None:
        live |= Q(state=S.RECOGNISING, closed_seq__gt=evidence_seq)
    found: ShoppingSession | None = (
        ShoppingSession.objects.select_for_update()
        .filter(live, device_id=device.pk, command_id=command_id)
        .first()
    )
    return found


def session_door_event(
    *, device: Any, session_key: str, kind: str, at: datetime, seq: int | None = None
) -> bool:
    """Apply a door event to the live shopping session it belongs to (its `session` is the open-door
    command's id): opened → OPEN; closed → CLOSED, then RECOGNISING. Restock and unknown sessions,
    and events that change nothing (a repeat), are ignored: False."""
    if kind not in (EventKind.DOOR_OPENED, EventKind.DOOR_CLOSED):
        return False
    # No savepoint: this runs inside the gateway's batch, and an error here fails the whole batch
    # anyway (it is retried), so a savepoint would be two statements per event for nothing.
    with transaction.atomic(savepoint=False):
        session = _door_session_for_update(device, session_key)
        if session is None:
            return False
        if kind == EventKind.DOOR_OPENED:
            if session.state != S.OPENING:
                return False
            return transition(session, S.OPEN, kind, changes={"opened_at": at}, locked=True)
        _close_and_recognise(session, kind, at, {}, seq)
        return True


def session_weight_event(
    *, device: Any, session_key: str, detail: dict[str, Any], seq: int | None = None
) -> bool:
    """Add one `weight_change` (detail: sensor, delta_g) to the shopping session it belongs to: while
    the door may be open, or — when the device's message `seq` came before the door_closed — while
    the visit waits to be weighed (another gateway stored the close first). A change after the close
    is not evidence. Restock and unknown sessions, and malformed details, are ignored: False."""
    sensor, delta = str(detail.get("sensor", "")), detail.get("delta_g")
    if not sensor or not isinstance(delta, int | float) or isinstance(delta, bool):
        return False
    with transaction.atomic(savepoint=False):  # as in session_door_event
        session = _door_session_for_update(device, session_key, evidence_seq=seq)
        if session is None:
            return False
        if session.state == S.RECOGNISING:  # settle again now rather than at the next retry
            session_id = session.pk
            transaction.on_commit(lambda: settle_later(session_id))
        deltas = dict(session.sensor_deltas_g or {})
        # Summed as decimals so that many small changes do not drift by float rounding.
        deltas[sensor] = float(Decimal(str(deltas.get(sensor, 0))) + Decimal(str(delta)))
        session.sensor_deltas_g = deltas
        session.save(update_fields=["sensor_deltas_g", "updated_at"])
        return True


def _relock_if_needed(session: ShoppingSession) -> bool:
    """The device relocks by itself when its door is not opened in time, so a lock command goes out
    only when it does not report its bolt engaged. A disabled device takes no commands."""
    from openvend.devices.choices import CommandKind, DoorState, LockState
    from openvend.devices.commands import command_send
    from openvend.devices.models import DeviceState

    state = DeviceState.objects.filter(device_id=session.device_id).first()
    if state is not None and state.lock == LockState.LOCKED and state.door != DoorState.OPEN:
        return False
    with contextlib.suppress(OpenVendError):
        command_send(actor=None, device=session.device, kind=CommandKind.LOCK)
        return True
    return False


def _cancel_unopened(pk: int, cutoff: datetime) -> bool:
    with transaction.atomic():
        session = (
            ShoppingSession.objects.select_for_update()
            .select_related("device")
            .filter(pk=pk, state__in=(S.CREATED, S.OPENING), created_at__lt=cutoff)
            .first()
        )
        if session is None:
            return False
        relocked = _relock_if_needed(session)
        transition(session, S.CANCELLED, EventKind.EXPIRED, {"lock_command": relocked})
        return True


def _alarm_door_left_open(pk: int, cutoff: datetime, now: datetime) -> bool:
    """Once per session: the shopper's door has been open too long. The lock-not-engaged alarm is the
    device alarm that says exactly this (the bolt cannot fall while the door is open)."""
    from openvend.devices.alarms import alarm_raise
    from openvend.devices.choices import AlarmKind

    with transaction.atomic():
        session = (
            ShoppingSession.objects.select_for_update()
            .select_related("device")
            .filter(pk=pk, state=S.OPEN, door_alarm_at__isnull=True, opened_at__lt=cutoff)
            .first()
        )
        if session is None:
            return False
        assert session.opened_at is not None
        detail = {"shopping_session": session.pk, "door_open_since": session.opened_at.isoformat()}
        alarm_raise(device=session.device, kind=AlarmKind.LOCK_NOT_ENGAGED, detail=detail, at=now)
        session.door_alarm_at = now
        session.save(update_fields=["door_alarm_at", "updated_at"])
        _record(session, EventKind.DOOR_LEFT_OPEN, detail)
        return True


def sessions_expire(now: datetime | None = None) -> dict[str, int]:
    """The clock's part: a door never opened cancels its session (and relocks the device if it does not
    report itself locked); a door left open raises one device alarm per session. Door flows only — an
    open shelf has no door. Idempotent and safe on several gateways (rows are locked and re-checked)."""
    now = now or timezone.now()
    unopened_cutoff = now - opening_timeout()
    unopened = ShoppingSession.objects.filter(
        state__in=(S.CREATED, S.OPENING), created_at__lt=unopened_cutoff
    )
    cancelled = sum(_cancel_unopened(pk, unopened_cutoff) for pk in unopened.values_list("pk", flat=True))
    open_cutoff = now - door_open_limit()
    left_open = ShoppingSession.objects.filter(
        state=S.OPEN, flow__in=DOOR_FLOWS, door_alarm_at__isnull=True, opened_at__lt=open_cutoff
    )
    alarms = sum(_alarm_door_left_open(pk, open_cutoff, now) for pk in left_open.values_list("pk", flat=True))
    return {"shopping_sessions_cancelled": cancelled, "shopping_door_alarms": alarms}
