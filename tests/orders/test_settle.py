"""settle_session: the accept path (lines, prices, stock, one payment), ¥0, review, put-backs, and
settling again after a crash or twice over."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import IntegrityError, transaction

from openvend.inventory.choices import MovementKind
from openvend.inventory.models import StockMovement
from openvend.inventory.selectors import on_hand
from openvend.orders.choices import OrderState, ReviewReason
from openvend.orders.models import Order, OrderLine
from openvend.orders.services import order_number_for, settle_session
from openvend.payments.choices import PaymentState
from openvend.payments.models import Payment, PaymentEvent, SitePaymentMethod
from openvend.payments.selectors import wallet_balance
from openvend.shopping.choices import SessionState as S
from openvend.shopping.models import ShoppingEvent, ShoppingSession
from tests.orders.conftest import CHIPS_G, COLA_G, Store

pytestmark = pytest.mark.django_db


def _kinds(session: ShoppingSession) -> list[tuple[str, str, str]]:
    return list(ShoppingEvent.objects.filter(session=session).values_list("kind", "from_state", "to_state"))


def _lines(order: Order) -> list[tuple[str, int, int, int]]:
    return [
        (line.product.sku, line.quantity, line.unit_price_fen, line.amount_fen)
        for line in order.lines.select_related("product").order_by("product__sku")
    ]


def _sales(store: Store) -> list[tuple[str, int, str | None]]:
    return list(
        StockMovement.objects.filter(device=store.device, kind=MovementKind.SALE)
        .order_by("product__sku")
        .values_list("product__sku", "quantity", "idempotency_key")
    )


def test_accept_sells_prices_moves_stock_and_charges_once(store: Store, settled: Callable[..., Any]) -> None:
    shopper = store.shopper(balance_fen=2000)
    session = store.start(shopper)
    settled(lambda: store.visit(session, [("s1-1", -COLA_G * 2 + 0.4), ("s2-1", -CHIPS_G - 0.3)]))

    session.refresh_from_db()
    order = Order.objects.get(session=session)
    number = order_number_for(session)
    assert order.number == number and len(number) <= 24
    assert _lines(order) == [("CHIPS52", 1, 600, 600), ("COLA330", 2, 350, 700)]
    assert (order.state, order.total_fen, order.paid_fen) == (OrderState.PAID, 1300, 1300)
    assert order.recognition["decision"] == "accept"
    assert order.recognition["items"] == [{"sku": "CHIPS52", "qty": 1}, {"sku": "COLA330", "qty": 2}]
    assert order.recognition["sensor_deltas_g"] == {"s1-1": -709.6, "s2-1": -52.3}
    assert _sales(store) == [
        ("CHIPS52", -1, f"order-sale:{number}:{store.chips.pk}"),
        ("COLA330", -2, f"order-sale:{number}:{store.cola.pk}"),
    ]
    assert on_hand(device=store.device, product=store.cola, lane=0) == 8
    assert on_hand(device=store.device, product=store.chips, lane=0) == 9
    payment = Payment.objects.get(order_ref=number)
    assert order.payment_id == payment.pk
    assert (payment.method, payment.amount_fen, payment.state, payment.consumer_id) == (
        "wallet",
        1300,
        PaymentState.PAID,
        shopper.pk,
    )
    charged = PaymentEvent.objects.get(payment=payment, kind="charge_scheduled")
    assert charged.detail == {
        "lines": [
            {"name": "薯片", "amount_fen": 600, "quantity": 1},
            {"name": "可乐 330ml", "amount_fen": 700, "quantity": 2},
        ]
    }
    assert wallet_balance(store.device.merchant, shopper) == 700
    assert session.state == S.COMPLETED and session.ended_at is not None
    assert _kinds(session)[-4:] == [
        ("door_closed", "open", "closed"),
        ("recognition_started", "closed", "recognising"),
        ("order_charging", "recognising", "settling"),
        ("order_paid", "settling", "completed"),
    ]


def test_nothing_taken_closes_at_zero_without_a_payment(store: Store, settled: Callable[..., Any]) -> None:
    session = store.start(store.shopper())
    settled(lambda: store.visit(session, [("s1-1", 0.6), ("s2-1", -0.4)]))  # noise only
    session.refresh_from_db()
    order = Order.objects.get(session=session)
    assert (order.state, order.total_fen, order.payment_id) == (OrderState.CLOSED, 0, None)
    assert order.lines.count() == 0
    assert Payment.objects.count() == 0 and _sales(store) == []
    assert session.state == S.COMPLETED
    assert _kinds(session)[-1] == ("nothing_taken", "recognising", "completed")


def test_taken_and_put_back_in_one_visit_is_not_sold(store: Store, settled: Callable[..., Any]) -> None:
    session = store.start(store.shopper())
    settled(lambda: store.visit(session, [("s1-1", -COLA_G), ("s1-1", COLA_G - 0.2)]))
    order = Order.objects.get(session=session)
    assert (order.state, order.total_fen) == (OrderState.CLOSED, 0)
    assert order.recognition["sensor_deltas_g"] == {"s1-1": -0.2}
    assert Payment.objects.count() == 0 and _sales(store) == []


def test_goods_put_in_that_were_not_taken_go_to_review(store: Store, settled: Callable[..., Any]) -> None:
    session = store.start(store.shopper(balance_fen=2000))
    settled(lambda: store.visit(session, [("s1-1", COLA_G + 0.3)]))
    session.refresh_from_db()
    order = Order.objects.get(session=session)
    assert (order.state, order.total_fen, order.payment_id) == (OrderState.REVIEW, 0, None)
    assert order.recognition["review_reason"] == ReviewReason.PUT_IN
    assert order.recognition["items"] == [{"sku": "COLA330", "qty": -1}]
    assert Payment.objects.count() == 0 and _sales(store) == []
    assert session.state == S.REVIEW


def test_putting_goods_in_counts_towards_a_foreign_object_rule(
    store: Store, settled: Callable[..., Any]
) -> None:
    from openvend.shopping.choices import BlacklistRuleKind, BlacklistSource
    from openvend.shopping.models import BlacklistEntry, BlacklistRule
    from openvend.shopping.preconditions import check_preconditions

    rule = BlacklistRule.objects.create(
        merchant_id=store.device.merchant_id, kind=BlacklistRuleKind.FOREIGN_OBJECT, threshold=1, ban_days=7
    )
    shopper = store.shopper(balance_fen=2000)
    session = store.start(shopper)
    settled(lambda: store.visit(session, [("s1-1", COLA_G + 0.3)]))

    entry = BlacklistEntry.objects.get(consumer=shopper)
    assert (entry.source, entry.rule_id, entry.active) == (BlacklistSource.RULE, rule.pk, True)
    failures = check_preconditions(device=store.device, consumer=shopper, method="wallet")
    assert "shopper_blacklisted" in [failure.code for failure in failures]


def test_review_keeps_the_evidence_and_charges_nothing(store: Store, settled: Callable[..., Any]) -> None:
    session = store.start(store.shopper(balance_fen=2000))
    settled(lambda: store.visit(session, [("s1-1", -200.0)]))  # no number of colas weighs 200 g
    session.refresh_from_db()
    order = Order.objects.get(session=session)
    assert (order.state, order.total_fen, order.paid_fen, order.payment_id) == (OrderState.REVIEW, 0, 0, None)
    assert order.lines.count() == 0
    assert order.recognition["decision"] == "review"
    assert order.recognition["review_reason"] == ReviewReason.RECOGNITION
    assert order.recognition["sensor_deltas_g"] == {"s1-1": -200.0}
    assert "not explained" in order.recognition["reason"]
    assert Payment.objects.count() == 0 and _sales(store) == []
    assert on_hand(device=store.device, product=store.cola, lane=0) == 10
    assert session.state == S.REVIEW
    assert _kinds(session)[-1] == ("order_review", "recognising", "review")


def test_a_device_without_planogram_goes_to_review(store: Store, settled: Callable[..., Any]) -> None:
    store.device.planograms.update(status="archived")
    session = store.start(store.shopper())
    settled(lambda: store.visit(session, [("s1-1", -COLA_G)]))
    order = Order.objects.get(session=session)
    assert (order.state, order.recognition["review_reason"]) == (OrderState.REVIEW, ReviewReason.NO_PLANOGRAM)


def test_a_product_not_on_sale_here_goes_to_review(store: Store, settled: Callable[..., Any]) -> None:
    store.device.sellable_items.filter(product=store.chips).update(enabled=False)
    session = store.start(store.shopper(balance_fen=2000))
    settled(lambda: store.visit(session, [("s2-1", -CHIPS_G)]))
    order = Order.objects.get(session=session)
    assert (order.state, order.recognition["review_reason"]) == (OrderState.REVIEW, ReviewReason.NOT_SELLABLE)
    assert Payment.objects.count() == 0 and _sales(store) == []


def test_a_method_withdrawn_before_the_door_closed_sends_the_order_to_review(
    store: Store, settled: Callable[..., Any]
) -> None:
    session = store.start(store.shopper(balance_fen=2000))
    SitePaymentMethod.objects.filter(site=store.device.site, method="wallet").update(enabled=False)
    settled(lambda: store.visit(session, [("s2-1", -CHIPS_G)]))
    session.refresh_from_db()
    order = Order.objects.get(session=session)
    assert (order.state, order.total_fen, order.payment_id) == (OrderState.REVIEW, 600, None)
    assert order.recognition["review_reason"] == ReviewReason.PAYMENT_REFUSED
    assert order.recognition["payment_error"] == "payments.method_not_offered"
    assert _sales(store) == [("CHIPS52", -1, f"order-sale:{order.number}:{store.chips.pk}")]
    assert session.state == S.REVIEW and Payment.objects.count() == 0


def test_settling_twice_makes_one_order_one_movement_set_one_payment(
    store: Store, settled: Callable[..., Any]
) -> None:
    shopper = store.shopper(balance_fen=2000)
    session = store.start(shopper)
    settled(lambda: store.visit(session, [("s1-1", -COLA_G)]))
    first = Order.objects.get(session=session)
    # Again, as the sweeper would; and again as if the session's own state had been lost in a crash.
    assert settled(lambda: settle_session(session)).pk == first.pk
    ShoppingSession.objects.filter(pk=session.pk).update(state=S.RECOGNISING)
    assert settled(lambda: settle_session(session)).pk == first.pk
    assert Order.objects.filter(session=session).count() == 1
    assert OrderLine.objects.filter(order__session=session).count() == 1
    assert _sales(store) == [("COLA330", -1, f"order-sale:{first.number}:{store.cola.pk}")]
    assert Payment.objects.filter(order_ref=first.number).count() == 1
    assert wallet_balance(store.device.merchant, shopper) == 1650
    session.refresh_from_db()
    assert session.state == S.COMPLETED


def test_the_database_refuses_a_second_order_for_a_session(store: Store, settled: Callable[..., Any]) -> None:
    session = store.start(store.shopper(balance_fen=2000))
    settled(lambda: store.visit(session, [("s1-1", -COLA_G)]))
    order = Order.objects.get(session=session)
    with pytest.raises(IntegrityError), transaction.atomic():
        Order.objects.create(
            merchant_id=order.merchant_id,
            number="SO-OTHER",
            session=session,
            device_id=order.device_id,
            consumer_id=order.consumer_id,
            state=OrderState.REVIEW,
        )


def test_a_session_not_yet_recognising_is_left_alone(store: Store) -> None:
    session = store.start(store.shopper())
    assert settle_session(session) is None
    assert Order.objects.count() == 0
    session.refresh_from_db()
    assert session.state == S.OPENING
