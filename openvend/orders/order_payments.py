"""An order's payment: the attempt for its total, the charge sent once the order has committed (for
payscore and Zhima the provider's own order opened first), and the order and its session following
the payment to paid, failed or closed (`apply_payment_outcome`, a listener of payments' results).
Settling decides the order (`orders.services`); this module collects for it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from openvend.orders.choices import OrderState, ReviewReason, SessionEventKind
from openvend.orders.models import Order, OrderLine
from openvend.payments.choices import PaymentMethod, PaymentState
from openvend.payments.models import Payment
from openvend.shopping.choices import SessionState as S
from openvend.shopping.models import ShoppingSession
from openvend.shopping.services import transition

# Pay-after providers that charge by completing an order of their own (payscore's service order,
# Zhima's credit order): it must be opened first. The wallet and agreement pay charge directly.
OPENED_BEFORE_CHARGE = frozenset({PaymentMethod.WECHAT_PAYSCORE, PaymentMethod.ALIPAY_ZHIMA})


def new_order_payment(session: ShoppingSession, order: Order, payer_id: str = "") -> Payment:
    """A new payment attempt for the order's total, by the visit's method (the shopper's pay-after
    authorisation attached when they have one). Raises PaymentRuleError when the method cannot be used."""
    return new_payment(session, order.number, order.total_fen, payer_id)


def new_payment(session: ShoppingSession, number: str, total_fen: int, payer_id: str = "") -> Payment:
    from openvend.payments.selectors import active_authorisation
    from openvend.payments.services.charging import create_payment

    device_name = session.device.name or session.device.code
    payment: Payment = create_payment(
        merchant=session.merchant,
        order_ref=number,
        amount_fen=total_fen,
        method=session.payment_method,
        description=(_("Purchase at %(device)s") % {"device": device_name})[:127],
        consumer=session.consumer,
        site=session.site,
        payer_id=payer_id,
        authorisation=active_authorisation(session.merchant_id, session.consumer, session.payment_method),
    )
    return payment


def charge_order(session: ShoppingSession, order: Order, lines: list[OrderLine]) -> None:
    """Create the payment of an order already written and ask for the charge; it is sent once
    everything here has committed. A method that cannot collect sends the order to review."""
    from openvend.payments.services.errors import PaymentRuleError

    transition(
        session, S.SETTLING, SessionEventKind.SETTLING, {"order": order.number, "total_fen": order.total_fen}
    )
    try:
        payment = new_order_payment(session, order)
    except PaymentRuleError as exc:
        order.state = OrderState.REVIEW
        order.abnormal_reason = ReviewReason.PAYMENT_REFUSED
        order.recognition = payment_refused_evidence(order.recognition, exc.code)
        order.save(update_fields=["state", "abnormal_reason", "recognition", "updated_at"])
        detail = {"order": order.number, "reason": ReviewReason.PAYMENT_REFUSED, "code": exc.code}
        transition(session, S.REVIEW, SessionEventKind.REVIEW, detail)
        return
    order.payment = payment
    order.save(update_fields=["payment", "updated_at"])
    request_order_charge(order, lines)


def payment_refused_evidence(evidence: dict[str, Any], code: str) -> dict[str, Any]:
    # The goods are gone (recognition was sure) but this method cannot collect: staff decide.
    return {**evidence, "review_reason": ReviewReason.PAYMENT_REFUSED, "payment_error": code}


def request_order_charge(order: Order, lines: list[OrderLine]) -> None:
    from openvend.payments.services.charging import request_charge

    assert order.payment is not None
    if order.payment.method in OPENED_BEFORE_CHARGE:
        transaction.on_commit(lambda: open_and_charge(order, lines))
        return
    request_charge(order.payment, charge_lines(lines), amount_fen=order.total_fen)


def charge_lines(lines: Iterable[OrderLine]) -> list[Any]:
    from openvend.payments.providers.base import ChargeLine

    return [
        ChargeLine(name=line.product.name[:60], amount_fen=line.amount_fen, quantity=line.quantity)
        for line in lines
    ]


OPENED_EVENT = "pay_after_opened"


def open_and_charge(order: Order, lines: list[OrderLine] | None = None) -> None:
    """For payscore and Zhima: open the provider's order for the payment, then ask for the charge.
    A provider call, so it runs after the order has committed; repeated (by the sweeper, after an
    unreachable provider or a crash) it opens at most once and requests the charge at most once.
    A provider that refuses to open leaves nothing to charge: the order goes to review. `lines`:
    the order's lines when the caller has just written them (read from the order otherwise).
    Opening and charging use one provider and one reading of the merchant's configuration (the
    charge runs here too when tasks run at once)."""
    from openvend.payments.credentials import one_configuration

    with one_configuration():
        _open_and_charge(order, lines)


def _open_and_charge(order: Order, lines: list[OrderLine] | None) -> None:
    from openvend.payments.models import PaymentEvent
    from openvend.payments.services.charging import LINES_EVENT, open_pay_after, request_charge
    from openvend.payments.services.errors import PaymentRuleError

    if order.payment_id is None:
        return
    payment = Payment.objects.select_related("authorisation").get(pk=order.payment_id)
    if payment.state != PaymentState.CREATED:
        return
    done = set(
        PaymentEvent.objects.filter(payment=payment, kind__in=(LINES_EVENT, OPENED_EVENT)).values_list(
            "kind", flat=True
        )
    )
    if LINES_EVENT in done:
        return
    if OPENED_EVENT not in done:
        try:
            open_pay_after(payment, risk_amount_fen=order.total_fen)
        except PaymentRuleError as exc:
            payment.refresh_from_db()
            if payment.state == PaymentState.CLOSED:
                _refused(order, exc.code)
            return  # unreachable: the sweeper tries again
    if lines is None:
        lines = list(order.lines.select_related("product").order_by("product__sku"))
    request_charge(payment, charge_lines(lines), amount_fen=order.total_fen)


def _refused(order: Order, code: str) -> None:
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        if order.state != OrderState.PENDING_PAYMENT:
            return
        order.state = OrderState.REVIEW
        order.abnormal_reason = ReviewReason.PAYMENT_REFUSED
        order.recognition = payment_refused_evidence(order.recognition, code)
        order.save(update_fields=["state", "abnormal_reason", "recognition", "updated_at"])
        session = ShoppingSession.objects.get(pk=order.session_id)
        if session.state == S.SETTLING:
            detail = {"order": order.number, "reason": ReviewReason.PAYMENT_REFUSED, "code": code}
            transition(session, S.REVIEW, SessionEventKind.REVIEW, detail)


def apply_payment_outcome(payment: Payment) -> Order | None:
    """A payment of an order was paid, failed or closed: the order and its session follow. Called
    by payments (see `openvend.payments.services.results.on_payment_outcome`) in the transaction
    that records the result. Repeating it changes nothing. None when the payment is no order's."""
    # Part of the caller's transaction when there is one (a savepoint would protect nothing: an
    # error here fails the whole result), its own otherwise.
    with transaction.atomic(savepoint=False):
        order = (
            Order.objects.select_for_update()
            .filter(merchant_id=payment.merchant_id, number=payment.order_ref)
            .first()
        )
        if order is None:
            return None
        if payment.state == PaymentState.PAID:
            # Money taken is never ignored, whichever attempt took it.
            if order.state != OrderState.PAID:
                order.state = OrderState.PAID
                order.paid_fen = payment.amount_fen
                order.payment = payment
                order.paid_at = timezone.now()
                order.save(update_fields=["state", "paid_fen", "payment", "paid_at", "updated_at"])
            kind = SessionEventKind.PAID
        elif payment.pk != order.payment_id or order.state != OrderState.PENDING_PAYMENT:
            return order  # an earlier or abandoned attempt, or an order already settled
        elif payment.state == PaymentState.FAILED:
            kind = SessionEventKind.PAYMENT_FAILED  # the order stays pending_payment: the shopper owes it
        elif payment.state == PaymentState.CLOSED:
            order.state = OrderState.CLOSED
            order.save(update_fields=["state", "updated_at"])
            kind = SessionEventKind.PAYMENT_CLOSED
        else:
            return order
        session = ShoppingSession.objects.select_for_update().get(pk=order.session_id)
        if session.state == S.SETTLING:
            detail = {"order": order.number, "payment": payment.out_trade_no, "payment_state": payment.state}
            transition(session, S.COMPLETED, kind, detail, locked=True)
    return order
