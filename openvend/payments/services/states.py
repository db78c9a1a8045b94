"""The state machines of payments and refunds, and the only code that moves them.

Every change of state goes through `transition()` / `transition_refund()`: the row is locked
(SELECT … FOR UPDATE), the move is checked against the table, and a PaymentEvent with from/to is
appended in the same transaction. Asking for the state a row is already in is a no-op that returns
False, which is what makes a repeated notification or query harmless. Requests sent, query results and
notifications that change nothing are recorded with `record_event()`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from openvend.payments.choices import PaymentState, RefundState
from openvend.payments.errors import InvalidTransition
from openvend.payments.models import Payment, PaymentEvent, Refund

# created → pending → paid | failed | closed; failed → pending (charged again) | paid | closed (waived).
# A result can overtake our own bookkeeping (the provider answers a query before we recorded the
# request), so created may go straight to paid, failed or closed. Money the provider says it took is
# never ignored: even a closed payment can become paid (then it is refunded by hand). Paid is final;
# refunds move `refunded_fen`, not the state.
PAYMENT_TRANSITIONS: dict[str, frozenset[str]] = {
    PaymentState.CREATED: frozenset(
        {PaymentState.PENDING, PaymentState.PAID, PaymentState.FAILED, PaymentState.CLOSED}
    ),
    PaymentState.PENDING: frozenset({PaymentState.PAID, PaymentState.FAILED, PaymentState.CLOSED}),
    PaymentState.FAILED: frozenset({PaymentState.PENDING, PaymentState.PAID, PaymentState.CLOSED}),
    PaymentState.CLOSED: frozenset({PaymentState.PAID}),
    PaymentState.PAID: frozenset(),
}

# A failed refund stays failed: the amount it held is free again for a new refund.
REFUND_TRANSITIONS: dict[str, frozenset[str]] = {
    RefundState.CREATED: frozenset({RefundState.PENDING, RefundState.SUCCEEDED, RefundState.FAILED}),
    RefundState.PENDING: frozenset({RefundState.SUCCEEDED, RefundState.FAILED}),
    RefundState.SUCCEEDED: frozenset(),
    RefundState.FAILED: frozenset(),
}

# States in which nothing is awaited from the provider any more.
SETTLED_PAYMENT_STATES = frozenset({PaymentState.PAID, PaymentState.FAILED, PaymentState.CLOSED})
SETTLED_REFUND_STATES = frozenset({RefundState.SUCCEEDED, RefundState.FAILED})
OPEN_REFUND_STATES = frozenset({RefundState.CREATED, RefundState.PENDING})


def can_transition(current: str, target: str) -> bool:
    return target in PAYMENT_TRANSITIONS[current]


def _actor(actor: Any) -> Any:
    return actor if actor is not None and getattr(actor, "pk", None) else None


def _copy(source: Any, target: Any, names: list[str]) -> None:
    for name in names:
        setattr(target, name, getattr(source, name))


def transition(
    payment: Payment,
    to_state: str,
    kind: str,
    detail: dict[str, Any] | None = None,
    actor: Any = None,
    *,
    changes: dict[str, Any] | None = None,
    locked: Payment | None = None,
) -> bool:
    """Move `payment` to `to_state`, recording why. False when it already was there (nothing written).

    `changes` are other fields written with the move (provider transaction id, failure code ...).
    The caller's instance is refreshed with what was written. `locked`: the row as the caller read it
    with select_for_update in the current transaction, so it is not read again.

    Part of the caller's transaction when there is one, with no savepoint of its own: nothing is
    written before the move is known to be allowed, and a refused move is raised only after the
    block, so a caller that catches InvalidTransition can go on writing."""
    with transaction.atomic(savepoint=False):
        row = locked if locked is not None else Payment.objects.select_for_update().get(pk=payment.pk)
        current = row.state
        allowed = to_state in PAYMENT_TRANSITIONS[current]
        fields = dict(changes or {})
        if current != to_state and allowed:
            fields["state"] = to_state
            if to_state == PaymentState.PAID and not row.paid_at:
                fields.setdefault("paid_at", timezone.now())
            if to_state in SETTLED_PAYMENT_STATES:
                fields["next_check_at"] = None
            for name, value in fields.items():
                setattr(row, name, value)
            row.save(update_fields=[*fields, "updated_at"])
            PaymentEvent.objects.create(
                merchant_id=row.merchant_id,
                payment=row,
                kind=kind,
                from_state=current,
                to_state=to_state,
                detail=detail or {},
                actor=_actor(actor),
            )
    if current == to_state:
        _copy(row, payment, ["state", "provider_trade_no", "paid_at", "refunded_fen", "next_check_at"])
        return False
    if not allowed:
        raise InvalidTransition(current, to_state)
    _copy(row, payment, [*fields, "updated_at"])
    return True


def record_event(
    payment: Payment,
    kind: str,
    detail: dict[str, Any] | None = None,
    actor: Any = None,
    *,
    refund: Refund | None = None,
) -> PaymentEvent:
    """An event without a change of state: a request sent, a query's answer, an ignored notification."""
    event: PaymentEvent = PaymentEvent.objects.create(
        merchant_id=payment.merchant_id,
        payment_id=payment.pk,
        refund=refund,
        kind=kind,
        detail=detail or {},
        actor=_actor(actor),
    )
    return event


def set_fields(payment: Payment, **fields: Any) -> None:
    """Write bookkeeping fields that are not the state (next check, provider reference)."""
    Payment.objects.filter(pk=payment.pk).update(**fields, updated_at=timezone.now())
    for name, value in fields.items():
        setattr(payment, name, value)


def backoff(created_at: Any, now: Any = None) -> Any:
    """When to look again at something still unresolved: half its age, between 30 s and an hour.

    Derived from the age rather than a counter, so it needs no extra column and grows by itself:
    30 s, 30 s, 45 s, … then hourly for anything older than two hours."""
    now = now or timezone.now()
    half_age = (now - created_at) / 2
    return now + min(max(half_age, timedelta(seconds=30)), timedelta(hours=1))


def transition_refund(
    refund: Refund,
    to_state: str,
    kind: str,
    detail: dict[str, Any] | None = None,
    actor: Any = None,
    *,
    changes: dict[str, Any] | None = None,
) -> bool:
    """Move a refund; on success the payment's `refunded_fen` grows in the same transaction.

    Locks the payment, then the refund: the same order as `request_refund`, so they cannot deadlock."""
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=refund.payment_id)
        locked = Refund.objects.select_for_update().get(pk=refund.pk)
        current = locked.state
        if current == to_state:
            _copy(locked, refund, ["state", "provider_refund_id", "succeeded_at", "next_check_at"])
            return False
        if to_state not in REFUND_TRANSITIONS[current]:
            raise InvalidTransition(current, to_state)
        fields = dict(changes or {})
        fields["state"] = to_state
        if to_state == RefundState.SUCCEEDED:
            fields.setdefault("succeeded_at", timezone.now())
            Payment.objects.filter(pk=payment.pk).update(
                refunded_fen=F("refunded_fen") + locked.amount_fen, updated_at=timezone.now()
            )
        if to_state in SETTLED_REFUND_STATES:
            fields["next_check_at"] = None
        for name, value in fields.items():
            setattr(locked, name, value)
        locked.save(update_fields=[*fields, "updated_at"])
        PaymentEvent.objects.create(
            merchant_id=locked.merchant_id,
            payment=payment,
            refund=locked,
            kind=kind,
            from_state=current,
            to_state=to_state,
            detail={"out_refund_no": locked.out_refund_no, "amount_fen": locked.amount_fen, **(detail or {})},
            actor=_actor(actor),
        )
    _copy(locked, refund, [*fields, "updated_at"])
    return True
