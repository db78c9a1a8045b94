"""Semi-automatic and open-shelf visits: the shopper's cart, checkout, and the cross-check of the
cart against what the shelves lost."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from openvend.core.errors import OpenVendError
from openvend.devices.choices import AlarmKind, ShoppingFlow
from openvend.devices.models import Alarm
from openvend.inventory.choices import MovementKind
from openvend.inventory.models import StockMovement
from openvend.inventory.selectors import on_hand
from openvend.orders.cart_services import (
    cart_add_barcode,
    cart_checkout,
    cart_set,
    shelf_finish_without_buying,
)
from openvend.orders.choices import LineSource, OrderState, ReviewReason
from openvend.orders.errors import OrderErrorCode
from openvend.orders.models import CartLine, Order, OrderPolicy
from openvend.orders.services import settle_session
from openvend.payments.choices import PaymentState
from openvend.payments.models import Payment
from openvend.payments.selectors import unpaid_payments_of, wallet_balance
from openvend.shopping.choices import SessionState as S
from openvend.shopping.models import ShoppingEvent, ShoppingSession
from tests.orders.conftest import CHIPS_G, COLA_G, Store

pytestmark = pytest.mark.django_db


def _start(store: Store, shopper: Any, flow: str) -> ShoppingSession:
    from openvend.shopping.services import session_start

    return session_start(consumer=shopper, method="wallet", device=store.device, flow=flow)


def _door(store: Store, session: ShoppingSession, kind: str) -> None:
    store.feed.send({"kind": kind, "session": str(session.command_id), "detail": {"door": 1}})


def _weights(store: Store, session: ShoppingSession, deltas: list[tuple[str, float]]) -> None:
    key = str(session.command_id)
    store.feed.send(
        *[{"kind": "weight_change", "session": key, "detail": {"sensor": s, "delta_g": g}} for s, g in deltas]
    )


def _lines(order: Order) -> list[tuple[str, int, int, int]]:
    return [
        (line.product.sku, line.quantity, line.unit_price_fen, line.amount_fen)
        for line in order.lines.select_related("product").order_by("product__sku")
    ]


def _kinds(session: ShoppingSession) -> list[str]:
    return list(ShoppingEvent.objects.filter(session=session).values_list("kind", flat=True))


def test_semi_auto_paid_with_the_door_open_and_the_weights_agree(
    store: Store, settled: Callable[..., Any]
) -> None:
    shopper = store.shopper(balance_fen=2000)
    session = _start(store, shopper, ShoppingFlow.SEMI_AUTO)
    _door(store, session, "door_opened")
    cart_set(session=session, product=store.cola, quantity=2)
    cart_set(session=session, product=store.chips, quantity=1)

    order, next_action = settled(lambda: cart_checkout(session=session))

    assert next_action == {}
    order.refresh_from_db()
    assert (order.state, order.total_fen, order.paid_fen, order.line_source) == (
        OrderState.PAID,
        1300,
        1300,
        LineSource.CART,
    )
    assert _lines(order) == [("CHIPS52", 1, 600, 600), ("COLA330", 2, 350, 700)]
    assert wallet_balance(store.device.merchant_id, shopper.pk) == 700
    assert (
        on_hand(device=store.device, product=store.cola),
        on_hand(device=store.device, product=store.chips),
    ) == (
        8,
        9,
    )
    session.refresh_from_db()
    assert session.state == S.OPEN  # paid, but the door is still open

    _weights(store, session, [("s1-1", -COLA_G * 2 + 0.5), ("s2-1", -CHIPS_G)])
    settled(lambda: _door(store, session, "door_closed"))

    session.refresh_from_db()
    order.refresh_from_db()
    assert session.state == S.COMPLETED
    assert order.recognition["cross_check"] == {
        "verified": True,
        "weighed": {"COLA330": 2, "CHIPS52": 1},
        "match": True,
    }
    assert order.abnormal_reason == ""
    assert Payment.objects.filter(order_ref=order.number).count() == 1
    assert "cross_checked" in _kinds(session)
    # Stock moved once, by the cart.
    assert StockMovement.objects.filter(device=store.device, kind=MovementKind.SALE).count() == 2


def test_semi_auto_took_more_than_paid_for_is_abnormal(store: Store, settled: Callable[..., Any]) -> None:
    shopper = store.shopper(balance_fen=2000)
    session = _start(store, shopper, ShoppingFlow.SEMI_AUTO)
    _door(store, session, "door_opened")
    cart_set(session=session, product=store.cola, quantity=1)
    settled(lambda: cart_checkout(session=session))
    _weights(store, session, [("s1-1", -COLA_G * 2)])
    settled(lambda: _door(store, session, "door_closed"))

    order = Order.objects.get(session=session)
    session.refresh_from_db()
    assert (order.state, order.total_fen, order.abnormal_reason) == (
        OrderState.PAID,
        350,
        ReviewReason.CART_MISMATCH,
    )
    assert order.is_abnormal
    assert order.recognition["cross_check"]["weighed"] == {"COLA330": 2}
    assert order.recognition["cross_check"]["match"] is False
    assert session.state == S.COMPLETED
    assert (
        on_hand(device=store.device, product=store.cola) == 9
    )  # the ledger follows the cart until staff act


def test_semi_auto_door_closed_before_paying_then_paid(store: Store, settled: Callable[..., Any]) -> None:
    shopper = store.shopper(balance_fen=2000)
    session = _start(store, shopper, ShoppingFlow.SEMI_AUTO)
    _door(store, session, "door_opened")
    _weights(store, session, [("s2-1", -CHIPS_G)])
    settled(lambda: _door(store, session, "door_closed"))
    session.refresh_from_db()
    assert session.state == S.RECOGNISING  # waiting for the shopper to pay in the app
    assert settle_session(session) is None
    assert not Order.objects.filter(session=session).exists()

    store.chips.barcode = "4006381333931"
    store.chips.save(update_fields=["barcode"])
    cart_add_barcode(session=session, barcode=" 4006381333931 ")
    order, _action = settled(lambda: cart_checkout(session=session))

    session.refresh_from_db()
    order.refresh_from_db()
    assert (session.state, order.state, order.total_fen) == (S.COMPLETED, OrderState.PAID, 600)
    assert order.recognition["cross_check"]["match"] is True


def test_semi_auto_nothing_taken_completes_at_once(store: Store, settled: Callable[..., Any]) -> None:
    session = _start(store, store.shopper(), ShoppingFlow.SEMI_AUTO)
    _door(store, session, "door_opened")
    settled(lambda: _door(store, session, "door_closed"))

    session.refresh_from_db()
    order = Order.objects.get(session=session)
    assert (session.state, order.state, order.total_fen, order.payment_id) == (
        S.COMPLETED,
        OrderState.CLOSED,
        0,
        None,
    )


def test_semi_auto_unpaid_past_the_deadline_goes_to_staff(store: Store, settled: Callable[..., Any]) -> None:
    OrderPolicy.objects.create(merchant_id=store.device.merchant_id, checkout_within_min=5)
    session = _start(store, store.shopper(), ShoppingFlow.SEMI_AUTO)
    _door(store, session, "door_opened")
    _weights(store, session, [("s1-1", -COLA_G)])
    settled(lambda: _door(store, session, "door_closed"))
    ShoppingSession.objects.filter(pk=session.pk).update(closed_at=timezone.now() - timedelta(minutes=6))

    order = settle_session(session)

    assert order is not None
    session.refresh_from_db()
    assert (order.state, order.abnormal_reason, order.total_fen) == (
        OrderState.REVIEW,
        ReviewReason.NOT_CHECKED_OUT,
        0,
    )
    assert order.recognition["items"] == [{"sku": "COLA330", "qty": 1}]
    assert session.state == S.REVIEW
    assert not Payment.objects.exists()
    assert on_hand(device=store.device, product=store.cola) == 10
    with pytest.raises(OpenVendError) as refused:
        cart_set(session=session, product=store.cola, quantity=1)
    assert refused.value.code == OrderErrorCode.CART_CLOSED


def test_open_shelf_checkout_completes_the_visit(store: Store, settled: Callable[..., Any]) -> None:
    shopper = store.shopper(balance_fen=1000)
    session = _start(store, shopper, ShoppingFlow.OPEN_SHELF)
    assert session.state == S.OPEN and session.command_id is None
    cart_set(session=session, product=store.chips, quantity=1)
    cart_set(session=session, product=store.cola, quantity=1)

    order, _action = settled(lambda: cart_checkout(session=session))

    session.refresh_from_db()
    order.refresh_from_db()
    assert (order.state, order.total_fen, order.paid_fen) == (OrderState.PAID, 950, 950)
    assert session.state == S.COMPLETED
    assert [(e.from_state, e.to_state) for e in ShoppingEvent.objects.filter(session=session)] == [
        ("", S.CREATED),
        (S.CREATED, S.OPEN),
        (S.OPEN, S.CLOSED),
        (S.CLOSED, S.RECOGNISING),
        (S.RECOGNISING, S.SETTLING),
        (S.SETTLING, S.COMPLETED),
    ]
    assert wallet_balance(store.device.merchant_id, shopper.pk) == 50
    assert "cross_check" not in order.recognition
    assert order.recognition["cart"] == {"CHIPS52": 1, "COLA330": 1}


def test_open_shelf_left_without_buying(store: Store) -> None:
    session = _start(store, store.shopper(), ShoppingFlow.OPEN_SHELF)

    assert shelf_finish_without_buying(session) is True
    assert shelf_finish_without_buying(session) is False

    session.refresh_from_db()
    assert session.state == S.COMPLETED
    assert not Order.objects.filter(session=session).exists()


def test_an_idle_open_shelf_visit_is_ended_by_the_sweeper(store: Store, settled: Callable[..., Any]) -> None:
    from openvend.orders.cart_services import shelf_sessions_abandon

    idle = _start(store, store.shopper(), ShoppingFlow.OPEN_SHELF)
    paid = _start(store, store.shopper(nickname="小刚", balance_fen=1000), ShoppingFlow.OPEN_SHELF)
    cart_set(session=paid, product=store.chips, quantity=1)
    settled(lambda: cart_checkout(session=paid))
    later = timezone.now() + timedelta(minutes=31)

    assert shelf_sessions_abandon(timezone.now()) == 0
    assert shelf_sessions_abandon(later) == 1
    assert shelf_sessions_abandon(later) == 0

    idle.refresh_from_db()
    paid.refresh_from_db()
    assert (idle.state, paid.state) == (S.COMPLETED, S.COMPLETED)
    assert list(Order.objects.values_list("session_id", flat=True)) == [paid.pk]


def test_cart_refuses_bad_input_and_changes_nothing(store: Store) -> None:
    from openvend.catalog.models import Product, SellableItem

    session = _start(store, store.shopper(), ShoppingFlow.OPEN_SHELF)
    cart_set(session=session, product=store.cola, quantity=2)
    stranger = Product.objects.create(
        merchant=store.device.merchant, sku="X1", name="未上架", unit_weight_g=100, default_price_fen=100
    )
    SellableItem.objects.filter(product=store.chips).update(enabled=False)
    cases: list[tuple[Callable[[], Any], str]] = [
        (lambda: cart_set(session=session, product=store.cola, quantity=-1), OrderErrorCode.BAD_QUANTITY),
        (lambda: cart_set(session=session, product=store.cola, quantity=100), OrderErrorCode.BAD_QUANTITY),
        (lambda: cart_set(session=session, product=store.cola, quantity=True), OrderErrorCode.BAD_QUANTITY),
        (lambda: cart_set(session=session, product=stranger, quantity=1), OrderErrorCode.NOT_SELLABLE),
        (lambda: cart_set(session=session, product=store.chips, quantity=1), OrderErrorCode.NOT_SELLABLE),
        (lambda: cart_add_barcode(session=session, barcode="0000000000000"), OrderErrorCode.UNKNOWN_BARCODE),
        (lambda: cart_add_barcode(session=session, barcode=""), OrderErrorCode.UNKNOWN_BARCODE),
    ]
    for action, code in cases:
        with pytest.raises(OpenVendError) as refused:
            action()
        assert refused.value.code == code
    assert list(CartLine.objects.values_list("product__sku", "quantity")) == [("COLA330", 2)]


def test_empty_cart_and_full_auto_cannot_check_out(store: Store) -> None:
    shelf = _start(store, store.shopper(), ShoppingFlow.OPEN_SHELF)
    with pytest.raises(OpenVendError) as empty:
        cart_checkout(session=shelf)
    assert empty.value.code == OrderErrorCode.CART_EMPTY
    assert not Order.objects.exists()
    shelf_finish_without_buying(shelf)

    full = _start(store, store.shopper(nickname="小刚"), ShoppingFlow.FULL_AUTO)
    with pytest.raises(OpenVendError) as weighed:
        cart_set(session=full, product=store.cola, quantity=1)
    assert weighed.value.code == OrderErrorCode.CART_CLOSED


def test_checkout_twice_makes_one_order(store: Store, settled: Callable[..., Any]) -> None:
    session = _start(store, store.shopper(balance_fen=1000), ShoppingFlow.OPEN_SHELF)
    cart_set(session=session, product=store.chips, quantity=1)
    settled(lambda: cart_checkout(session=session))
    with pytest.raises(OpenVendError) as again:
        cart_checkout(session=session)
    assert again.value.code == OrderErrorCode.CART_CLOSED
    assert (Order.objects.count(), Payment.objects.count()) == (1, 1)


def test_wallet_short_leaves_the_order_owed(store: Store, settled: Callable[..., Any]) -> None:
    shopper = store.shopper(balance_fen=100)
    session = _start(store, shopper, ShoppingFlow.OPEN_SHELF)
    cart_set(session=session, product=store.chips, quantity=1)

    order, next_action = settled(lambda: cart_checkout(session=session))

    assert next_action == {}
    session.refresh_from_db()
    assert (order.state, order.total_fen) == (OrderState.PENDING_PAYMENT, 600)
    assert session.state == S.COMPLETED
    owed = list(unpaid_payments_of(shopper, store.device.merchant_id))
    assert [(p.amount_fen, p.state) for p in owed] == [(600, PaymentState.FAILED)]
    assert wallet_balance(store.device.merchant_id, shopper.pk) == 100


def test_a_device_fault_during_the_visit_sends_the_order_to_staff(
    store: Store, settled: Callable[..., Any]
) -> None:
    shopper = store.shopper(balance_fen=2000)
    session = store.start(shopper)
    store.feed.send({"kind": "door_opened", "session": str(session.command_id), "detail": {"door": 1}})
    now = timezone.now()
    Alarm.objects.create(
        merchant_id=store.device.merchant_id,
        device=store.device,
        kind=AlarmKind.CAMERA_FAULT,
        severity="major",
        opened_at=now,
        last_seen_at=now,
    )
    settled(lambda: store.visit(session, [("s1-1", -COLA_G)]))

    order = Order.objects.get(session=session)
    assert (order.state, order.abnormal_reason) == (OrderState.REVIEW, ReviewReason.DEVICE_FAULT)
    assert [fault["kind"] for fault in order.recognition["device_faults"]] == [AlarmKind.CAMERA_FAULT]
    assert not Payment.objects.exists()


def test_a_fully_automatic_visit_needs_a_method_that_collects_without_the_shopper(store: Store) -> None:
    from openvend.payments.choices import PaymentMethod
    from openvend.shopping.errors import PreconditionsFailed
    from openvend.shopping.services import session_start

    shopper = store.shopper()
    with pytest.raises(PreconditionsFailed) as refused:
        session_start(
            consumer=shopper,
            method=PaymentMethod.WECHAT_JSAPI,
            device=store.device,
            flow=ShoppingFlow.FULL_AUTO,
        )
    assert "method_needs_shopper" in [failure.code for failure in refused.value.failures]
    assert not ShoppingSession.objects.exists()
    semi = session_start(
        consumer=shopper, method=PaymentMethod.WALLET, device=store.device, flow=ShoppingFlow.SEMI_AUTO
    )
    assert semi.state == S.OPENING
