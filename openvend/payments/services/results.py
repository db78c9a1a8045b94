"""Apply what a provider said about a charge or a refund, wherever it came from: the response to our
request, a notification or a query. One function per kind of result, so the three paths cannot
disagree. Each call writes exactly one event: the transition, or a no-change event saying what was
heard."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from openvend.payments.choices import PaymentState, RefundState
from openvend.payments.errors import InvalidTransition
from openvend.payments.models import Payment, Refund
from openvend.payments.providers.base import ChargeResult, ChargeState, RefundResult
from openvend.payments.providers.base import RefundState as ProviderRefundState
from openvend.payments.services.states import (
    backoff,
    record_event,
    set_fields,
    transition,
    transition_refund,
)

logger = logging.getLogger(__name__)

PaymentOutcomeListener = Callable[[Payment], object]
# Whoever sold what a payment pays for (orders) registers here to hear when it is paid, failed or
# closed; payments themselves stay ignorant of orders.
_outcome_listeners: list[PaymentOutcomeListener] = []


def on_payment_outcome(listener: PaymentOutcomeListener) -> None:
    """Call `listener(payment)` in the same transaction whenever a result moves a payment to paid,
    failed or closed. Registering the same listener twice keeps one."""
    if listener not in _outcome_listeners:
        _outcome_listeners.append(listener)


def announce_outcome(payment: Payment) -> None:
    """Tell the registered listeners that `payment` reached paid, failed or closed."""
    for listener in _outcome_listeners:
        listener(payment)


RefundOutcomeListener = Callable[[Refund], object]
_refund_listeners: list[RefundOutcomeListener] = []


def on_refund_outcome(listener: RefundOutcomeListener) -> None:
    """Call `listener(refund)` in the same transaction whenever a result moves a refund to succeeded
    or failed. Registering the same listener twice keeps one."""
    if listener not in _refund_listeners:
        _refund_listeners.append(listener)


def announce_refund_outcome(refund: Refund) -> None:
    """Tell the registered listeners that `refund` reached succeeded or failed."""
    for listener in _refund_listeners:
        listener(refund)


CHARGE_TO_PAYMENT: dict[ChargeState, str] = {
    ChargeState.PAID: PaymentState.PAID,
    ChargeState.FAILED: PaymentState.FAILED,
    ChargeState.CLOSED: PaymentState.CLOSED,
}
REFUND_TO_REFUND: dict[ProviderRefundState, str] = {
    ProviderRefundState.SUCCEEDED: RefundState.SUCCEEDED,
    ProviderRefundState.FAILED: RefundState.FAILED,
    ProviderRefundState.CLOSED: RefundState.FAILED,
}


def charge_detail(result: ChargeResult, **extra: Any) -> dict[str, Any]:
    detail: dict[str, Any] = {"result": result.state.value, **extra}
    if result.provider_trade_no:
        detail["provider_trade_no"] = result.provider_trade_no
    if result.amount_fen is not None:
        detail["amount_fen"] = result.amount_fen
    if result.failure_code:
        detail["failure_code"] = result.failure_code
    return detail


def apply_charge_result(
    payment: Payment,
    result: ChargeResult,
    *,
    kind: str,
    actor: Any = None,
    detail: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> bool:
    """Bring `payment` in line with `result`. True when its state changed. A payment still pending
    is looked at again after a backoff counted from `now` (default: the current time)."""
    detail = {**charge_detail(result), **(detail or {})}
    if result.state == ChargeState.PAID and result.amount_fen not in (None, payment.amount_fen):
        # The provider took a different amount than we asked for: never book it as ours silently.
        logger.error("payment amount differs at provider", extra={"payment": payment.pk, "kind": kind})
        record_event(payment, f"{kind}_amount_mismatch", detail, actor)
        return False
    target = CHARGE_TO_PAYMENT.get(result.state)
    changes: dict[str, Any] = {}
    if result.provider_trade_no:
        changes["provider_trade_no"] = result.provider_trade_no[:64]
    if target == PaymentState.FAILED:
        changes["failure_code"] = result.failure_code[:64]
        changes["failure_message"] = result.failure_message[:200]
    elif target == PaymentState.PAID:
        changes["failure_code"] = changes["failure_message"] = ""
    if (
        target is None
        and result.state == ChargeState.PENDING
        and payment.state
        in (
            PaymentState.CREATED,
            PaymentState.FAILED,
        )
    ):
        target = PaymentState.PENDING
    with transaction.atomic():
        changed = False
        if target is not None:
            try:
                changed = transition(payment, target, kind, detail, actor, changes=changes)
            except InvalidTransition:
                record_event(payment, f"{kind}_ignored", {**detail, "state": payment.state}, actor)
                return False
        if not changed:
            record_event(payment, kind, detail, actor)
        if payment.state == PaymentState.PENDING:
            set_fields(payment, next_check_at=backoff(payment.created_at, now))
        if changed and payment.state == PaymentState.PAID:
            close_superseded(payment)
        if changed and payment.state in CHARGE_TO_PAYMENT.values():
            announce_outcome(payment)
    return changed


def close_superseded(paid: Payment) -> int:
    """The order is paid by `paid`: earlier attempts the shopper owed (failed) are closed, each with an
    event pointing at the attempt that paid."""
    closed = 0
    owed = Payment.objects.filter(
        merchant_id=paid.merchant_id, order_ref=paid.order_ref, state=PaymentState.FAILED
    ).exclude(pk=paid.pk)
    for earlier in owed:
        detail = {"paid_by": paid.out_trade_no, "paid_by_id": paid.pk}
        closed += transition(earlier, PaymentState.CLOSED, "superseded", detail)
    return closed


def refund_detail(result: RefundResult, **extra: Any) -> dict[str, Any]:
    detail: dict[str, Any] = {"result": result.state.value, **extra}
    if result.provider_refund_id:
        detail["provider_refund_id"] = result.provider_refund_id
    if result.refund_fen is not None:
        detail["refund_fen"] = result.refund_fen
    if result.failure_code:
        detail["failure_code"] = result.failure_code
    return detail


def apply_refund_result(
    refund: Refund,
    result: RefundResult,
    *,
    kind: str,
    actor: Any = None,
    detail: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> bool:
    """Bring `refund` in line with `result`. True when its state changed."""
    detail = {**refund_detail(result), **(detail or {})}
    payment = refund.payment
    if result.state == ProviderRefundState.SUCCEEDED and result.refund_fen not in (None, refund.amount_fen):
        logger.error("refund amount differs at provider", extra={"refund": refund.pk, "kind": kind})
        record_event(payment, f"{kind}_amount_mismatch", detail, actor, refund=refund)
        return False
    target = REFUND_TO_REFUND.get(result.state)
    if target is None and result.state == ProviderRefundState.PENDING and refund.state == RefundState.CREATED:
        target = RefundState.PENDING
    changes: dict[str, Any] = {}
    if result.provider_refund_id:
        changes["provider_refund_id"] = result.provider_refund_id[:64]
    if target == RefundState.FAILED:
        changes["failure_code"] = (result.failure_code or result.state.value.upper())[:64]
    with transaction.atomic():
        changed = False
        if target is not None:
            try:
                changed = transition_refund(refund, target, kind, detail, actor, changes=changes)
            except InvalidTransition:
                record_event(
                    payment, f"{kind}_ignored", {**detail, "state": refund.state}, actor, refund=refund
                )
                return False
        if not changed:
            record_event(
                payment, kind, {"out_refund_no": refund.out_refund_no, **detail}, actor, refund=refund
            )
        if changed and refund.state in REFUND_TO_REFUND.values():
            announce_refund_outcome(refund)
        if refund.state in (RefundState.CREATED, RefundState.PENDING):
            refund.next_check_at = backoff(refund.created_at, now)
            Refund.objects.filter(pk=refund.pk).update(
                next_check_at=refund.next_check_at, updated_at=timezone.now()
            )
    return changed
