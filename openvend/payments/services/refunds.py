"""Refunds of paid payments, partial or whole.

The room for a refund is checked under the payment's row lock: amount − refunded − refunds still in
flight. `out_refund_no` is derived from the payment's number and the refund's sequence
(`ORD123-01R1`) and unique, so sending it again never refunds twice. `refunded_fen` moves only when
a refund succeeds (see states.transition_refund), whichever way the success is learnt: the response,
a notification or a query.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Max, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from openvend.audit.choices import AuditAction
from openvend.audit.services import audit_record, snapshot
from openvend.payments.choices import PaymentState, RefundState
from openvend.payments.credentials import sub_merchant_for
from openvend.payments.models import Payment, Refund
from openvend.payments.providers.base import ProviderError, RefundRequest, RefundResult
from openvend.payments.providers.base import RefundState as ProviderRefundState
from openvend.payments.registry import provider_for
from openvend.payments.services.charging import SEND_GRACE
from openvend.payments.services.errors import PaymentErrorCode, PaymentRuleError
from openvend.payments.services.results import apply_refund_result
from openvend.payments.services.states import OPEN_REFUND_STATES, backoff, record_event, transition_refund


def refundable_fen(payment: Payment) -> int:
    """What may still be refunded: the amount less what is refunded and what is being refunded."""
    in_flight = (
        Refund.objects.filter(payment=payment, state__in=OPEN_REFUND_STATES).aggregate(s=Sum("amount_fen"))[
            "s"
        ]
        or 0
    )
    return int(payment.amount_fen - payment.refunded_fen - in_flight)


def out_refund_no_for(payment: Payment, sequence: int) -> str:
    return f"{payment.out_trade_no}R{sequence}"


def request_refund(*, payment: Payment, amount_fen: int, reason: str, actor: Any = None) -> Refund:
    """Refund `amount_fen` of a paid payment; the request leaves after this transaction commits."""
    from openvend.payments.tasks import refund_payment  # tasks import the services: bind at call time

    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or amount_fen <= 0:
        raise PaymentRuleError(
            PaymentErrorCode.INVALID_AMOUNT, _("The refund must be a whole number of fen greater than zero.")
        )
    with transaction.atomic():
        locked = Payment.objects.select_for_update().get(pk=payment.pk)
        if locked.state != PaymentState.PAID:
            raise PaymentRuleError(PaymentErrorCode.NOT_PAID, _("Only a paid payment can be refunded."))
        room = refundable_fen(locked)
        if amount_fen > room:
            raise PaymentRuleError(
                PaymentErrorCode.REFUND_TOO_LARGE,
                _("At most %(room)s fen of this payment can still be refunded.") % {"room": room},
            )
        sequence = (Refund.objects.filter(payment=locked).aggregate(n=Max("sequence"))["n"] or 0) + 1
        refund: Refund = Refund.objects.create(
            merchant_id=locked.merchant_id,
            payment=locked,
            sequence=sequence,
            out_refund_no=out_refund_no_for(locked, sequence),
            amount_fen=amount_fen,
            reason=reason[:80],
            requested_by=actor if getattr(actor, "pk", None) else None,
            # Should the task that sends it be lost, the reconciler sends it after this.
            next_check_at=timezone.now() + SEND_GRACE,
        )
        record_event(
            locked,
            "refund_requested",
            {"out_refund_no": refund.out_refund_no, "amount_fen": amount_fen, "reason": reason[:80]},
            actor,
            refund=refund,
        )
        if actor is not None:
            audit_record(actor=actor, action=AuditAction.CREATE, instance=refund, after=snapshot(refund))
        refund_id = refund.pk
        transaction.on_commit(lambda: refund_payment.enqueue(refund_id))
    return refund


def send_refund(refund: Refund) -> RefundResult | None:
    """Send the refund if it still awaits an answer and apply the answer. Safe to run twice."""
    with transaction.atomic():
        # Payment, then refund: the lock order of every refund change (no deadlocks).
        Payment.objects.select_for_update().get(pk=refund.payment_id)
        locked = Refund.objects.select_for_update().get(pk=refund.pk)
        if locked.state not in OPEN_REFUND_STATES:
            return None
        if locked.state == RefundState.CREATED:
            transition_refund(refund, RefundState.PENDING, "refund_sent")
        else:
            record_event(
                refund.payment, "refund_resent", {"out_refund_no": refund.out_refund_no}, refund=refund
            )
        Refund.objects.filter(pk=refund.pk).update(next_check_at=backoff(refund.created_at))
    payment = refund.payment
    request = RefundRequest(
        out_trade_no=payment.out_trade_no,
        out_refund_no=refund.out_refund_no,
        refund_fen=refund.amount_fen,
        total_fen=payment.amount_fen,
        reason=refund.reason,
    )
    try:
        result = provider_for(payment.method).refund(sub_merchant_for(payment.merchant_id), request)
    except ProviderError as exc:
        detail = {"code": exc.code, "retryable": exc.retryable, "status": exc.status}
        if exc.retryable:
            record_event(payment, "refund_error", detail, refund=refund)
            return None
        failed = RefundResult(ProviderRefundState.FAILED, failure_code=exc.code)
        apply_refund_result(refund, failed, kind="refund_refused", detail=detail)
        return failed
    apply_refund_result(refund, result, kind="refund_response")
    return result
