"""Creating payments and charging them.

The numbers the providers see are derived from our ids: out_trade_no is the order reference and
the attempt (`ORD123-01`), unique in the database. Sending the same number twice is safe at every
provider, so a charge can be retried (by the task, the reconciler or a person) without ever
becoming two charges.

Provider calls happen outside our transactions and after the decision to make them has been
committed: the payment is first marked pending (an event says the request is on its way), then the
provider is called, then its answer is applied through `results`. A crash in between leaves a pending
payment whose `next_check_at` brings the reconciler to ask the provider.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from openvend.audit.choices import AuditAction
from openvend.audit.services import audit_record, snapshot
from openvend.payments.choices import (
    PAY_AFTER_METHODS,
    PROVIDER_OF,
    AuthorisationState,
    PaymentMethod,
    PaymentState,
)
from openvend.payments.credentials import sub_merchant_for
from openvend.payments.errors import PaymentError
from openvend.payments.models import PayAfterAuthorisation, Payment, PaymentEvent, SitePaymentMethod
from openvend.payments.providers.base import (
    ChargeLine,
    ChargeRequest,
    ChargeResult,
    ChargeState,
    ProviderError,
)
from openvend.payments.registry import provider_for
from openvend.payments.services.errors import PaymentErrorCode, PaymentRuleError
from openvend.payments.services.results import announce_outcome, apply_charge_result
from openvend.payments.services.states import record_event, set_fields, transition

logger = logging.getLogger(__name__)

ORDER_REF = re.compile(r"^[A-Za-z0-9_-]{3,24}$")
OUT_NO = re.compile(r"^[A-Za-z0-9_-]{6,32}$")
# Methods the shopper completes in person (pay a pending order, pay in the H5).
IN_PERSON_METHODS = frozenset({PaymentMethod.WECHAT_JSAPI, PaymentMethod.ALIPAY_WAP, PaymentMethod.WALLET})
# Pay-after methods that cannot charge at all without a standing authorisation (agreement_no).
NEEDS_AUTHORISATION = frozenset({PaymentMethod.ALIPAY_AGREEMENT})
# If the task that sends a requested charge is lost, the reconciler sends it after this long.
SEND_GRACE = timedelta(minutes=1)
LINES_EVENT = "charge_scheduled"


def out_trade_no_for(order_ref: str, attempt: int) -> str:
    number = f"{order_ref}-{attempt:02d}"
    if not OUT_NO.match(number):
        raise PaymentRuleError(PaymentErrorCode.INVALID_ORDER, _("This order reference cannot be paid."))
    return number


def _rule(code: PaymentErrorCode, message: str) -> PaymentRuleError:
    return PaymentRuleError(code, message)


def _validate(
    *,
    merchant: Any,
    order_ref: str,
    amount_fen: Any,
    method: str,
    description: str,
    consumer: Any,
    site: Any,
    authorisation: PayAfterAuthorisation | None,
) -> None:
    _amount(amount_fen)
    if method not in PaymentMethod.values:
        raise _rule(
            PaymentErrorCode.INVALID_METHOD, _("“%(method)s” is not a payment method.") % {"method": method}
        )
    if not isinstance(order_ref, str) or not ORDER_REF.match(order_ref):
        raise _rule(
            PaymentErrorCode.INVALID_ORDER,
            _("The order reference must be 3 to 24 letters, digits, “-” or “_”."),
        )
    if not description or len(description) > 127:
        raise _rule(PaymentErrorCode.INVALID_ORDER, _("The description must be 1 to 127 characters."))
    if site is not None and site.merchant_id != merchant.pk:
        raise _rule(PaymentErrorCode.INVALID_ORDER, _("The site belongs to another merchant."))
    if site is not None:
        offered = SitePaymentMethod.objects.filter(site=site)
        if offered.exists() and not offered.filter(method=method, enabled=True).exists():
            raise _rule(
                PaymentErrorCode.METHOD_NOT_OFFERED, _("This site does not offer this payment method.")
            )
    if method == PaymentMethod.WALLET and consumer is None:
        raise _rule(PaymentErrorCode.INVALID_METHOD, _("Paying from the wallet needs a known shopper."))
    if authorisation is None:
        if method in NEEDS_AUTHORISATION:
            raise _rule(
                PaymentErrorCode.AUTHORISATION_REQUIRED,
                _("This payment method needs the shopper's pay-after authorisation."),
            )
        return
    if (
        authorisation.state != AuthorisationState.ACTIVE
        or authorisation.merchant_id != merchant.pk
        or authorisation.method != method
        or (consumer is not None and authorisation.consumer_id != consumer.pk)
    ):
        raise _rule(
            PaymentErrorCode.AUTHORISATION_REQUIRED,
            _("The shopper's pay-after authorisation is not active for this payment method."),
        )


def create_payment(
    *,
    merchant: Any,
    order_ref: str,
    amount_fen: int,
    method: str,
    description: str,
    consumer: Any = None,
    site: Any = None,
    payer_id: str = "",
    authorisation: PayAfterAuthorisation | None = None,
) -> Payment:
    """A new attempt to collect `amount_fen` for `order_ref` (attempt = the next for this order).

    Everything is checked before anything is written; a refused request leaves no row behind."""
    _validate(
        merchant=merchant,
        order_ref=order_ref,
        amount_fen=amount_fen,
        method=method,
        description=description,
        consumer=consumer,
        site=site,
        authorisation=authorisation,
    )
    if authorisation is not None and not payer_id:
        payer_id = authorisation.payer_id
    for _try in range(5):
        try:
            with transaction.atomic():
                latest = Payment.objects.filter(merchant=merchant, order_ref=order_ref).aggregate(
                    n=Max("attempt")
                )
                attempt = (latest["n"] or 0) + 1
                payment: Payment = Payment.objects.create(
                    merchant=merchant,
                    order_ref=order_ref,
                    attempt=attempt,
                    out_trade_no=out_trade_no_for(order_ref, attempt),
                    method=method,
                    provider=PROVIDER_OF[method],
                    amount_fen=amount_fen,
                    description=description,
                    consumer=consumer,
                    site=site,
                    payer_id=payer_id,
                    authorisation=authorisation,
                )
                PaymentEvent.objects.create(
                    merchant_id=merchant.pk,
                    payment=payment,
                    kind="created",
                    to_state=PaymentState.CREATED,
                    detail={"amount_fen": amount_fen, "method": method},
                )
                return payment
        except IntegrityError:
            # Either another attempt of this order was numbered at the same moment (try the next
            # number), or the derived out_trade_no belongs to another merchant's order: refuse.
            taken = Payment.objects.filter(out_trade_no=out_trade_no_for(order_ref, attempt)).first()
            if taken is not None and (taken.merchant_id, taken.order_ref) != (merchant.pk, order_ref):
                raise _rule(
                    PaymentErrorCode.INVALID_ORDER,
                    _("This order reference is already used by another order."),
                ) from None
    raise _rule(
        PaymentErrorCode.INVALID_ORDER, _("Too many payments are being created for this order at once.")
    )


def _request(payment: Payment, lines: Sequence[ChargeLine] = (), return_url: str = "") -> ChargeRequest:
    authorisation = payment.authorisation
    return ChargeRequest(
        out_trade_no=payment.out_trade_no,
        amount_fen=payment.amount_fen,
        description=payment.description,
        payer_id=payment.payer_id,
        authorisation_ref=authorisation.authorisation_ref if authorisation is not None else "",
        lines=tuple(lines),
        attach=str(payment.pk),
        return_url=return_url,
    )


def _was_opened(payment: Payment) -> bool:
    return PaymentEvent.objects.filter(payment=payment, kind="pay_after_opened").exists()


def open_pay_after(payment: Payment, *, risk_amount_fen: int | None = None) -> Payment:
    """Door-open step of a pay-after payment: payscore creates its service order, Zhima its credit
    order (agreement pay and the wallet need nothing). Nothing is charged; the payment stays created.
    `risk_amount_fen` is the most the order may come to (default: the payment's amount); the final
    amount is given when the charge is requested. Raises PaymentRuleError when the provider refuses
    (the door must not open)."""
    if payment.method not in PAY_AFTER_METHODS and payment.method != PaymentMethod.WALLET:
        raise _rule(
            PaymentErrorCode.INVALID_METHOD, _("This payment method does not pay after the door closes.")
        )
    if payment.state != PaymentState.CREATED:
        raise _rule(PaymentErrorCode.INVALID_ORDER, _("This payment has already been charged."))
    request = _request(payment)
    if risk_amount_fen is not None:
        request = replace(request, amount_fen=_amount(risk_amount_fen))
    provider = provider_for(payment.method)
    try:
        result = provider.open_pay_after(sub_merchant_for(payment.merchant_id), request)
    except ProviderError as exc:
        record_event(payment, "pay_after_error", {"code": exc.code, "retryable": exc.retryable})
        raise _rule(
            PaymentErrorCode.PROVIDER_UNAVAILABLE, _("The payment provider could not be reached.")
        ) from exc
    if result.state in (ChargeState.FAILED, ChargeState.CLOSED, ChargeState.NOT_FOUND):
        transition(
            payment,
            PaymentState.CLOSED,
            "pay_after_refused",
            {"result": result.state.value, "failure_code": result.failure_code},
            changes={
                "failure_code": result.failure_code[:64],
                "failure_message": result.failure_message[:200],
            },
        )
        raise _rule(PaymentErrorCode.PAY_AFTER_REFUSED, _("The payment provider refused to open this order."))
    with transaction.atomic():
        if result.provider_trade_no:
            set_fields(payment, provider_trade_no=result.provider_trade_no[:64])
        record_event(payment, "pay_after_opened", {"result": result.state.value, **result.next_action})
    return payment


def _lines_of(payment: Payment) -> tuple[ChargeLine, ...]:
    event = PaymentEvent.objects.filter(payment=payment, kind=LINES_EVENT).order_by("-id").first()
    rows = (event.detail or {}).get("lines", []) if event is not None else []
    return tuple(
        ChargeLine(name=r["name"], amount_fen=int(r["amount_fen"]), quantity=int(r["quantity"])) for r in rows
    )


def _amount(amount_fen: Any) -> int:
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or amount_fen < 0:
        raise _rule(
            PaymentErrorCode.INVALID_AMOUNT, _("The amount must be a whole number of fen, zero or more.")
        )
    return amount_fen


def request_charge(
    payment: Payment, lines: Iterable[ChargeLine] = (), *, amount_fen: int | None = None
) -> None:
    """Charge after the current transaction commits (door closed, order final).

    `amount_fen`, when given, is the order's final amount (a pay-after payment is created at
    door-open, before anyone knows it); it may be set only before the charge. The lines go into the
    event log, so whoever sends the charge later (the task, or the reconciler when the task was lost)
    sends the same lines."""
    from openvend.payments.tasks import charge_payment  # tasks import the services: bind at call time

    rows = [{"name": line.name, "amount_fen": line.amount_fen, "quantity": line.quantity} for line in lines]
    final = None if amount_fen is None else _amount(amount_fen)
    with transaction.atomic():
        if final is not None and final != payment.amount_fen:
            locked = Payment.objects.select_for_update().get(pk=payment.pk)
            if locked.state != PaymentState.CREATED:
                raise _rule(PaymentErrorCode.INVALID_ORDER, _("This payment has already been charged."))
            record_event(payment, "amount_set", {"from_fen": locked.amount_fen, "to_fen": final})
            set_fields(payment, amount_fen=final)
        record_event(payment, LINES_EVENT, {"lines": rows})
        set_fields(payment, next_check_at=timezone.now() + SEND_GRACE)
    payment_id = payment.pk
    transaction.on_commit(lambda: charge_payment.enqueue(payment_id))


def _close_zero(payment: Payment) -> None:
    """Nothing to collect. A pay-after order already opened at the provider is cancelled there."""
    detail: dict[str, Any] = {"amount_fen": 0}
    if _was_opened(payment):
        try:
            result = provider_for(payment.method).cancel(
                sub_merchant_for(payment.merchant_id), payment.out_trade_no, "no purchase"
            )
            detail["provider_cancel"] = result.state.value
        except ProviderError as exc:
            detail["provider_cancel_error"] = exc.code
    transition(payment, PaymentState.CLOSED, "zero_amount", detail)


def send_charge(
    payment: Payment, lines: Sequence[ChargeLine] | None = None, return_url: str = ""
) -> ChargeResult | None:
    """Send the charge if the payment still awaits one, and apply the answer. Safe to run twice: a
    second run either finds the payment settled and does nothing, or repeats the same out_trade_no.

    Returns the provider's answer, or None when nothing was sent (or the provider could not answer)."""
    with transaction.atomic():
        locked = Payment.objects.select_for_update().get(pk=payment.pk)
        if locked.state not in (PaymentState.CREATED, PaymentState.PENDING):
            payment.state = locked.state
            return None
        payment.amount_fen = locked.amount_fen  # the caller's copy may predate the final amount
        zero = locked.amount_fen == 0
        if not zero:
            if locked.state == PaymentState.CREATED:
                sent = {"amount_fen": locked.amount_fen}
                transition(payment, PaymentState.PENDING, "charge_sent", sent, locked=locked)
            else:
                record_event(payment, "charge_resent", {"amount_fen": locked.amount_fen})
    if zero:
        _close_zero(payment)
        return None
    sub = sub_merchant_for(payment.merchant_id)
    request = _request(payment, _lines_of(payment) if lines is None else lines, return_url)
    try:
        result = provider_for(payment.method).charge(sub, request)
    except ProviderError as exc:
        detail = {"code": exc.code, "retryable": exc.retryable, "status": exc.status}
        if exc.retryable:
            # The request may or may not have arrived: the reconciler asks the provider later.
            with transaction.atomic():
                record_event(payment, "charge_error", detail)
                set_fields(payment, next_check_at=timezone.now() + SEND_GRACE)
            return None
        failed = ChargeResult(ChargeState.FAILED, failure_code=exc.code, failure_message=exc.message)
        apply_charge_result(payment, failed, kind="charge_refused", detail=detail)
        return failed
    apply_charge_result(payment, result, kind="charge_response")
    return result


def charge_now(payment: Payment, lines: Sequence[ChargeLine] = (), return_url: str = "") -> dict[str, Any]:
    """Charge while the shopper waits (JSAPI / WAP prepay, wallet). Returns what the H5 needs to go
    on: the provider's next_action (prepay parameters, a page URL), empty when there is nothing to do."""
    result = send_charge(payment, lines, return_url)
    payment.refresh_from_db()
    if result is None and payment.state == PaymentState.PENDING:
        raise _rule(
            PaymentErrorCode.PROVIDER_UNAVAILABLE, _("The payment provider could not be reached. Try again.")
        )
    return dict(result.next_action) if result is not None else {}


def pay_pending(
    *, payment: Payment, method: str, payer_id: str, return_url: str = ""
) -> tuple[Payment, dict[str, Any]]:
    """The shopper pays an order they owe (a failed charge) with `method`, in person.

    A new attempt is made (or the open one reused, if the shopper taps twice); once it is paid, the
    failed attempt is closed with an event naming the one that paid (see results.close_superseded)."""
    if payment.state != PaymentState.FAILED:
        raise _rule(PaymentErrorCode.NOT_OWED, _("This payment is not awaiting payment."))
    if method not in IN_PERSON_METHODS:
        raise _rule(PaymentErrorCode.INVALID_METHOD, _("An unpaid order can be paid in person only."))
    attempt = (
        Payment.objects.filter(
            merchant_id=payment.merchant_id,
            order_ref=payment.order_ref,
            method=method,
            payer_id=payer_id,
            state__in=[PaymentState.CREATED, PaymentState.PENDING],
        )
        .order_by("-attempt")
        .first()
    )
    if attempt is None:
        attempt = create_payment(
            merchant=payment.merchant,
            order_ref=payment.order_ref,
            amount_fen=payment.amount_fen,
            method=method,
            description=payment.description,
            consumer=payment.consumer,
            site=payment.site,
            payer_id=payer_id,
        )
        record_event(payment, "pay_pending", {"attempt": attempt.out_trade_no, "payment_id": attempt.pk})
    next_action = charge_now(attempt, return_url=return_url)
    payment.refresh_from_db()
    return attempt, next_action


def cancel_payment(payment: Payment, reason: str, actor: Any = None) -> Payment:
    """Close a payment that is not paid: before the charge, while awaiting the shopper, or to waive
    an amount owed. If the provider reports it paid meanwhile, it is booked as paid and refused."""
    if payment.state == PaymentState.CLOSED:
        return payment
    if payment.state == PaymentState.PAID:
        raise _rule(PaymentErrorCode.ALREADY_PAID, _("This payment is paid; refund it instead."))
    before = snapshot(payment)
    detail: dict[str, Any] = {"reason": reason[:200]}
    at_provider = payment.amount_fen > 0 and (
        payment.state in (PaymentState.PENDING, PaymentState.FAILED) or _was_opened(payment)
    )
    if at_provider:
        try:
            result = provider_for(payment.method).cancel(
                sub_merchant_for(payment.merchant_id), payment.out_trade_no, reason
            )
        except (ProviderError, PaymentError) as exc:
            if payment.state == PaymentState.PENDING:
                raise _rule(
                    PaymentErrorCode.PROVIDER_UNAVAILABLE,
                    _("The payment provider could not close this payment."),
                ) from exc
            detail["provider_cancel_error"] = getattr(exc, "code", "error")
        else:
            if result.state == ChargeState.PAID:
                apply_charge_result(payment, result, kind="cancel_response", actor=actor)
                raise _rule(
                    PaymentErrorCode.ALREADY_PAID, _("The shopper has paid meanwhile; refund it instead.")
                )
            detail["provider_cancel"] = result.state.value
    with transaction.atomic():
        if transition(payment, PaymentState.CLOSED, "cancelled", detail, actor):
            announce_outcome(payment)  # a waived debt closes the order it was for
        if actor is not None:
            audit_record(
                actor=actor,
                action=AuditAction.UPDATE,
                instance=payment,
                before=before,
                after=snapshot(payment),
                message=f"cancelled: {reason}",
            )
    return payment
