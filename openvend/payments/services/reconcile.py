"""Recovering what the messages lost: ask the provider about payments and refunds still unresolved.

A notification can be lost, a task can die after the request left, a response can time out. Each
payment or refund awaiting an answer carries `next_check_at`; `reconcile_due` takes those that are
due, asks the provider, and applies the answer through the same code as a notification would. A
charge or refund the provider has never heard of is sent again (same out number: it cannot happen
twice). Backoff grows with age (states.backoff), and each row is claimed with a conditional update
first, so several reconcilers running at once do not pile onto the same payment.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from django.db import close_old_connections
from django.utils import timezone
from django.utils.translation import gettext as _

from openvend.audit.choices import AuditAction
from openvend.audit.services import audit_record, snapshot
from openvend.payments.choices import PaymentState, RefundState
from openvend.payments.credentials import sub_merchant_for
from openvend.payments.errors import PaymentError
from openvend.payments.models import Payment, Refund
from openvend.payments.providers.base import ChargeResult, ChargeState, ProviderError, RefundResult
from openvend.payments.providers.base import RefundState as ProviderRefundState
from openvend.payments.registry import provider_for
from openvend.payments.services.charging import IN_PERSON_METHODS, cancel_payment, send_charge
from openvend.payments.services.errors import PaymentErrorCode, PaymentRuleError
from openvend.payments.services.refunds import send_refund
from openvend.payments.services.results import apply_charge_result, apply_refund_result
from openvend.payments.services.states import OPEN_REFUND_STATES, record_event

logger = logging.getLogger(__name__)

BATCH = 200
# A claimed row is left alone by other reconcilers for this long (a crash mid-check retries after it).
LEASE = timedelta(minutes=5)
# A shopper who has not paid in person after this long will not: the attempt is closed.
IN_PERSON_TIMEOUT = timedelta(hours=2)
RECONCILE_EVERY_S = 30.0


def _unavailable(exc: Exception) -> PaymentRuleError:
    return PaymentRuleError(
        PaymentErrorCode.PROVIDER_UNAVAILABLE, _("The payment provider could not be reached. Try again.")
    )


def _query(payment: Payment, actor: Any = None, now: datetime | None = None) -> ChargeResult:
    try:
        result = provider_for(payment.method).query(
            sub_merchant_for(payment.merchant_id), payment.out_trade_no
        )
    except ProviderError as exc:
        record_event(payment, "query_error", {"code": exc.code, "retryable": exc.retryable}, actor)
        raise _unavailable(exc) from exc
    apply_charge_result(payment, result, kind="query", actor=actor, now=now)
    return result


def sync_payment(payment: Payment, actor: Any = None) -> Payment:
    """Ask the provider about `payment` and apply the answer: a payment paid at the provider but
    unpaid here (a lost notification) becomes paid. Audited when a person asked."""
    before = snapshot(payment)
    _query(payment, actor)
    if actor is not None:
        audit_record(
            actor=actor,
            action=AuditAction.UPDATE,
            instance=payment,
            before=before,
            after=snapshot(payment),
            message="queried the payment provider",
        )
    return payment


def _query_refund(refund: Refund, actor: Any = None, now: datetime | None = None) -> RefundResult:
    payment = refund.payment
    try:
        result = provider_for(payment.method).query_refund(
            sub_merchant_for(payment.merchant_id), refund.out_refund_no, payment.out_trade_no
        )
    except ProviderError as exc:
        record_event(payment, "refund_query_error", {"code": exc.code}, actor, refund=refund)
        raise _unavailable(exc) from exc
    apply_refund_result(refund, result, kind="query", actor=actor, now=now)
    return result


def sync_refund(refund: Refund, actor: Any = None) -> Refund:
    """Ask the provider about `refund` and apply the answer."""
    _query_refund(refund, actor)
    return refund


def _claim(model: Any, pk: int, now: datetime) -> bool:
    return bool(model.objects.filter(pk=pk, next_check_at__lte=now).update(next_check_at=now + LEASE))


def _reconcile_payment(payment: Payment, now: datetime, counts: Counter[str]) -> None:
    if payment.state == PaymentState.CREATED:
        send_charge(payment)  # requested but never sent (its task was lost)
        counts["charges_sent"] += 1
        return
    before = payment.state
    result = _query(payment, now=now)
    counts["payments_checked"] += 1
    if payment.state != before:
        counts["payments_repaired"] += 1
        return
    overdue = now - payment.created_at >= IN_PERSON_TIMEOUT
    if payment.method in IN_PERSON_METHODS and overdue and result.state != ChargeState.PAID:
        cancel_payment(payment, "not paid in time")
        counts["payments_expired"] += 1
    elif result.state == ChargeState.NOT_FOUND:
        send_charge(payment)  # the request never arrived: send it (again)
        counts["charges_sent"] += 1


def _reconcile_refund(refund: Refund, now: datetime, counts: Counter[str]) -> None:
    if refund.state == RefundState.CREATED:
        send_refund(refund)
        counts["refunds_sent"] += 1
        return
    before = refund.state
    result = _query_refund(refund, now=now)
    counts["refunds_checked"] += 1
    refund.refresh_from_db()
    if refund.state != before:
        counts["refunds_repaired"] += 1
    elif result.state == ProviderRefundState.NOT_FOUND:
        send_refund(refund)
        counts["refunds_sent"] += 1


def reconcile_due(now: datetime | None = None) -> dict[str, int]:
    """Check every payment and refund whose next check is due. Returns what was done, by kind."""
    now = now or timezone.now()
    counts: Counter[str] = Counter()
    due = (
        Payment.objects.filter(state__in=[PaymentState.CREATED, PaymentState.PENDING], next_check_at__lte=now)
        .order_by("next_check_at")
        .values_list("pk", flat=True)[:BATCH]
    )
    for pk in list(due):
        if not _claim(Payment, pk, now):
            continue
        payment = Payment.objects.select_related("authorisation").get(pk=pk)
        try:
            _reconcile_payment(payment, now, counts)
        except (PaymentError, ProviderError) as exc:
            counts["errors"] += 1
            logger.warning("payment check failed", extra={"payment": pk, "error": type(exc).__name__})
    refunds = (
        Refund.objects.filter(state__in=OPEN_REFUND_STATES, next_check_at__lte=now)
        .order_by("next_check_at")
        .values_list("pk", flat=True)[:BATCH]
    )
    for pk in list(refunds):
        if not _claim(Refund, pk, now):
            continue
        refund = Refund.objects.select_related("payment").get(pk=pk)
        try:
            _reconcile_refund(refund, now, counts)
        except (PaymentError, ProviderError) as exc:
            counts["errors"] += 1
            logger.warning("refund check failed", extra={"refund": pk, "error": type(exc).__name__})
    return dict(counts)


def reconcile_forever(stop: threading.Event, every_s: float = RECONCILE_EVERY_S) -> None:
    """The periodic job for a long-running process (worker, gateway, demo): run `reconcile_due`
    every `every_s` seconds until `stop` is set. An error in one round never ends the loop."""
    while not stop.wait(every_s):
        try:
            reconcile_due()
        except Exception:  # the loop must outlive a bad round; the next one retries
            logger.exception("payment reconciliation round failed")
        finally:
            close_old_connections()
