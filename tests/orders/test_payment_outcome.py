"""apply_payment_outcome through the real payment results: paid completes the session, a failed
charge leaves a debt that blocks the next visit until it is paid, and nothing happens twice."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.utils import translation

from openvend.orders.choices import OrderState
from openvend.orders.models import Order
from openvend.orders.order_payments import apply_payment_outcome
from openvend.payments.choices import PaymentState
from openvend.payments.models import Payment
from openvend.payments.selectors import wallet_balance
from openvend.payments.services.charging import cancel_payment, pay_pending
from openvend.payments.services.wallet import wallet_recharge
from openvend.shopping.choices import SessionState as S
from openvend.shopping.errors import PreconditionsFailed
from openvend.shopping.models import ShoppingEvent
from tests.orders.conftest import COLA_G, Store

pytestmark = pytest.mark.django_db


def test_a_failed_charge_leaves_the_order_owed_and_blocks_the_next_visit(
    store: Store, settled: Callable[..., Any]
) -> None:
    shopper = store.shopper(balance_fen=100)  # a cola costs 350
    session = store.start(shopper)
    settled(lambda: store.visit(session, [("s1-1", -COLA_G)]))

    session.refresh_from_db()
    order = Order.objects.get(session=session)
    payment = Payment.objects.get(order_ref=order.number)
    assert (payment.state, payment.amount_fen) == (PaymentState.FAILED, 350)
    assert (order.state, order.total_fen, order.paid_fen, order.payment_id) == (
        OrderState.PENDING_PAYMENT,
        350,
        0,
        payment.pk,
    )
    assert session.state == S.COMPLETED
    last = ShoppingEvent.objects.filter(session=session).last()
    assert last is not None
    assert (last.kind, last.from_state, last.to_state, last.detail["payment_state"]) == (
        "payment_failed",
        "settling",
        "completed",
        "failed",
    )
    assert wallet_balance(store.device.merchant, shopper) == 100

    with translation.override("en"), pytest.raises(PreconditionsFailed) as refused:
        store.start(shopper)
    assert [f.code for f in refused.value.failures] == ["unpaid_order"]
    assert refused.value.message == "You have an unpaid order. Please pay it before shopping again."


def test_paying_the_debt_later_marks_the_order_paid(store: Store, settled: Callable[..., Any]) -> None:
    shopper = store.shopper(balance_fen=100)
    session = store.start(shopper)
    settled(lambda: store.visit(session, [("s1-1", -COLA_G)]))
    failed = Payment.objects.get()
    wallet_recharge(
        merchant_id=store.device.merchant_id, consumer_id=shopper.pk, amount_fen=500, idempotency_key="more"
    )

    attempt, _next = pay_pending(payment=failed, method="wallet", payer_id="")

    order = Order.objects.get(session=session)
    failed.refresh_from_db()
    assert (attempt.state, attempt.attempt, attempt.amount_fen) == (PaymentState.PAID, 2, 350)
    assert failed.state == PaymentState.CLOSED
    assert (order.state, order.paid_fen, order.payment_id) == (OrderState.PAID, 350, attempt.pk)
    assert order.paid_at is not None
    assert wallet_balance(store.device.merchant, shopper) == 250
    store.start(shopper)  # no longer owed: the next visit may start


def test_outcomes_repeated_change_nothing(store: Store, settled: Callable[..., Any]) -> None:
    shopper = store.shopper(balance_fen=1000)
    session = store.start(shopper)
    settled(lambda: store.visit(session, [("s1-1", -COLA_G)]))
    payment = Payment.objects.get()
    order = Order.objects.get()
    events = ShoppingEvent.objects.filter(session=session).count()
    updated = order.updated_at

    assert apply_payment_outcome(payment) == order
    assert apply_payment_outcome(payment) == order

    order.refresh_from_db()
    assert (order.state, order.paid_fen, order.updated_at) == (OrderState.PAID, 350, updated)
    assert ShoppingEvent.objects.filter(session=session).count() == events
    assert wallet_balance(store.device.merchant, shopper) == 650


def test_a_payment_of_no_order_is_none_of_orders_business(store: Store) -> None:
    shopper = store.shopper()
    owed = store.shop.owe(shopper)
    assert apply_payment_outcome(owed) is None
    assert Order.objects.count() == 0


def test_waiving_the_debt_closes_the_order_and_frees_the_shopper(
    store: Store, settled: Callable[..., Any]
) -> None:
    shopper = store.shopper(balance_fen=100)  # a cola costs 350
    session = store.start(shopper)
    settled(lambda: store.visit(session, [("s1-1", -COLA_G)]))
    owed = Payment.objects.get()
    assert owed.state == PaymentState.FAILED

    cancel_payment(owed, "waived by customer service")

    order = Order.objects.get(session=session)
    owed.refresh_from_db()
    assert owed.state == PaymentState.CLOSED
    assert (order.state, order.total_fen, order.paid_fen) == (OrderState.CLOSED, 350, 0)
    assert wallet_balance(store.device.merchant, shopper) == 100  # nothing was taken from the wallet
    store.start(shopper)  # no longer owed: the next visit may start
