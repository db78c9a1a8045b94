"""Staff actions on abnormal orders: confirm, adjust, waive, charge again, refund and supplement, each
with its exact money, stock, states, timeline and audit row; each wrong state refused unchanged."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.utils import translation

from openvend.audit.models import AuditLogEntry
from openvend.catalog.models import SellableItem
from openvend.core.errors import OpenVendError
from openvend.inventory.choices import MovementKind
from openvend.inventory.models import StockMovement
from openvend.inventory.selectors import on_hand
from openvend.orders.choices import CorrectionKind, CorrectionState, OrderState, Resolution, ReviewReason
from openvend.orders.models import Correction, Order
from openvend.orders.staff_services import (
    order_adjust,
    order_charge,
    order_confirm,
    order_raise_supplement,
    order_refund,
    order_waive,
)
from openvend.payments.choices import PaymentState
from openvend.payments.models import Payment
from openvend.payments.selectors import unpaid_payments_of, wallet_balance
from openvend.payments.services.charging import pay_pending
from openvend.payments.services.wallet import wallet_recharge
from openvend.shopping.choices import SessionState as S
from openvend.shopping.models import ShoppingEvent, ShoppingSession
from openvend.shopping.preconditions import check_preconditions
from tests.orders.conftest import CHIPS_G, COLA_G, Store
from tests.world import World

pytestmark = pytest.mark.django_db


def lines_of(order: Order) -> list[tuple[str, int, int, int]]:
    return [
        (line.product.sku, line.quantity, line.unit_price_fen, line.amount_fen)
        for line in order.lines.select_related("product").order_by("product__sku")
    ]


def movements(store: Store, kind: str) -> list[tuple[str, int, str | None]]:
    return list(
        StockMovement.objects.filter(device=store.device, kind=kind)
        .order_by("product__sku", "id")
        .values_list("product__sku", "quantity", "idempotency_key")
    )


def events(session: ShoppingSession) -> list[tuple[str, str, str]]:
    return list(ShoppingEvent.objects.filter(session=session).values_list("kind", "from_state", "to_state"))


def staff(world: World) -> Any:
    return world.user("customer_service")


def paid_order(store: Store, settled: Callable[..., Any], colas: int = 2, balance_fen: int = 2000) -> Order:
    """A wallet visit that took `colas` colas (350 fen each) and was paid."""
    shopper = store.shopper(balance_fen=balance_fen)
    session = store.start(shopper)
    settled(lambda: store.visit(session, [("s1-1", -COLA_G * colas)]))
    return Order.objects.get(session=session)


def review_order(store: Store, settled: Callable[..., Any], balance_fen: int = 2000) -> Order:
    """Chips are not on sale at the device any more: recognition is sure (one chips, one cola) but
    the order goes to review, holding the recognised items."""
    SellableItem.objects.filter(product=store.chips).delete()
    session = store.start(store.shopper(balance_fen=balance_fen))
    settled(lambda: store.visit(session, [("s1-1", -COLA_G), ("s2-1", -CHIPS_G)]))
    order = Order.objects.get(session=session)
    assert order.state == OrderState.REVIEW
    assert order.recognition["items"] == [{"sku": "CHIPS52", "qty": 1}, {"sku": "COLA330", "qty": 1}]
    return order


def owed_order(store: Store, settled: Callable[..., Any]) -> Order:
    """A cola charged to a wallet holding 100 fen: the charge fails and the order is owed."""
    session = store.start(store.shopper(balance_fen=100))
    settled(lambda: store.visit(session, [("s1-1", -COLA_G)]))
    order = Order.objects.get(session=session)
    assert (order.state, order.payment.state) == (OrderState.PENDING_PAYMENT, PaymentState.FAILED)
    return order


def last_audit(order: Order) -> AuditLogEntry:
    entry: AuditLogEntry = AuditLogEntry.objects.filter(
        object_type="orders.order", object_id=str(order.pk)
    ).latest("id")
    return entry


def test_confirm_sells_what_recognition_found_and_charges_it(
    store: Store, settled: Callable[..., Any], world_a: World
) -> None:
    order = review_order(store, settled)
    actor = staff(world_a)

    settled(lambda: order_confirm(actor=actor, order=order))

    order.refresh_from_db()
    number = order.number
    assert lines_of(order) == [("CHIPS52", 1, 600, 600), ("COLA330", 1, 350, 350)]
    assert (order.state, order.total_fen, order.paid_fen) == (OrderState.PAID, 950, 950)
    assert (order.resolution, order.resolved_by, order.abnormal_reason) == (
        Resolution.CONFIRMED,
        actor,
        ReviewReason.NOT_SELLABLE,
    )
    assert not order.is_abnormal and order.resolved_at is not None
    assert movements(store, MovementKind.SALE) == [
        ("CHIPS52", -1, f"order-sale:{number}:{store.chips.pk}"),
        ("COLA330", -1, f"order-sale:{number}:{store.cola.pk}"),
    ]
    assert Payment.objects.get(order_ref=number).state == PaymentState.PAID
    assert wallet_balance(store.device.merchant, order.consumer) == 1050
    assert events(order.session)[-3:] == [
        ("order_confirmed", "", ""),
        ("order_charging", "review", "settling"),
        ("order_paid", "settling", "completed"),
    ]
    audit = last_audit(order)
    assert (audit.actor, audit.action, audit.message) == (actor, "update", "confirmed")
    assert (audit.before["state"], audit.before["lines"], audit.before["resolution"]) == ("review", [], "")
    assert audit.after["state"] == OrderState.PENDING_PAYMENT  # paid after commit, by the charge
    assert audit.after["lines"] == [
        {"product": store.cola.pk, "quantity": 1, "unit_price_fen": 350, "amount_fen": 350},
        {"product": store.chips.pk, "quantity": 1, "unit_price_fen": 600, "amount_fen": 600},
    ]
    assert audit.after["resolution"] == "confirmed"


def test_confirm_refuses_a_review_without_recognised_items(store: Store, settled: Callable[..., Any]) -> None:
    session = store.start(store.shopper(balance_fen=2000))
    settled(lambda: store.visit(session, [("s1-1", -COLA_G * 1.5)]))  # no count of colas weighs that
    order = Order.objects.get(session=session)
    before = (order.state, order.updated_at, events(session))

    with translation.override("en"), pytest.raises(OpenVendError) as refused:
        order_confirm(actor=staff(store.shop.world), order=order)

    assert refused.value.code == "orders.no_recognised_items"
    assert "Adjust its lines or waive it" in refused.value.message
    order.refresh_from_db()
    assert (order.state, order.updated_at, events(session)) == before
    assert Payment.objects.count() == 0 and movements(store, MovementKind.SALE) == []
    assert not AuditLogEntry.objects.filter(object_type="orders.order").exists()


def test_confirm_of_a_paid_order_that_is_not_abnormal_is_refused(
    store: Store, settled: Callable[..., Any]
) -> None:
    order = paid_order(store, settled)
    with pytest.raises(OpenVendError) as refused:
        order_confirm(actor=staff(store.shop.world), order=order)
    assert refused.value.code == "orders.wrong_state"
    order.refresh_from_db()
    assert order.resolution == ""


def test_adjust_a_review_order_sells_the_given_lines(
    store: Store, settled: Callable[..., Any], world_a: World
) -> None:
    order = review_order(store, settled)
    actor = staff(world_a)

    settled(
        lambda: order_adjust(actor=actor, order=order, lines={store.cola.pk: 2}, reason="看了视频：两瓶可乐")
    )

    order.refresh_from_db()
    assert lines_of(order) == [("COLA330", 2, 350, 700)]
    assert (order.state, order.total_fen, order.paid_fen, order.line_source) == (
        OrderState.PAID,
        700,
        700,
        "staff",
    )
    assert order.resolution == Resolution.ADJUSTED
    assert movements(store, MovementKind.SALE) == [
        ("COLA330", -2, f"order-sale:{order.number}:{store.cola.pk}")
    ]
    assert on_hand(device=store.device, product=store.cola, lane=0) == 8
    assert on_hand(device=store.device, product=store.chips, lane=0) == 10
    assert wallet_balance(store.device.merchant, order.consumer) == 1300
    adjusted = ShoppingEvent.objects.get(session=order.session, kind="order_adjusted")
    assert adjusted.detail["lines"] == {str(store.cola.pk): 2}
    assert last_audit(order).message == "adjusted: 看了视频：两瓶可乐"


def test_adjust_refuses_bad_lines_with_nothing_changed(
    store: Store, settled: Callable[..., Any], world_b: World
) -> None:
    order = review_order(store, settled)
    from tests.orders.conftest import store_in

    foreign = store_in(world_b, "ORD-B1").cola
    for lines in ({store.cola.pk: -1}, {store.cola.pk: True}, {foreign.pk: 1}, {999999: 1}, [1]):
        with pytest.raises(OpenVendError) as refused:
            order_adjust(actor=staff(store.shop.world), order=order, lines=lines, reason="x")  # type: ignore[arg-type]
        assert refused.value.code == "orders.bad_lines"
    order.refresh_from_db()
    assert (order.state, order.lines.count(), order.resolution) == (OrderState.REVIEW, 0, "")
    assert Payment.objects.count() == 0


def test_adjust_a_paid_order_refunds_the_difference_through_a_correction(
    store: Store, settled: Callable[..., Any], world_a: World
) -> None:
    order = paid_order(store, settled, colas=2)
    actor = staff(world_a)

    settled(lambda: order_adjust(actor=actor, order=order, lines={store.cola.pk: 1}, reason="只拿了一瓶"))

    order.refresh_from_db()
    correction = Correction.objects.get(order=order)
    assert (correction.number, correction.kind, correction.delta_fen, correction.state) == (
        f"{order.number}C1",
        CorrectionKind.STAFF,
        -350,
        CorrectionState.DONE,
    )
    assert correction.refund is not None and correction.refund.amount_fen == 350
    assert lines_of(order) == [("COLA330", 1, 350, 350)]
    assert (order.state, order.total_fen, order.paid_fen, order.refunded_fen) == (
        OrderState.PAID,
        350,
        700,
        350,
    )
    assert order.resolution == Resolution.CORRECTED
    assert movements(store, MovementKind.CORRECTION) == [
        ("COLA330", 1, f"correction:{correction.number}:{store.cola.pk}")
    ]
    assert on_hand(device=store.device, product=store.cola, lane=0) == 9
    assert wallet_balance(store.device.merchant, order.consumer) == 2000 - 700 + 350


def test_waive_a_review_order_closes_it_without_money(store: Store, settled: Callable[..., Any]) -> None:
    order = review_order(store, settled)
    actor = staff(store.shop.world)

    order_waive(actor=actor, order=order, reason="设备故障")

    order.refresh_from_db()
    assert (order.state, order.total_fen, order.paid_fen, order.resolution) == (
        OrderState.CLOSED,
        0,
        0,
        Resolution.WAIVED,
    )
    assert Payment.objects.count() == 0 and movements(store, MovementKind.SALE) == []
    session = ShoppingSession.objects.get(pk=order.session_id)
    assert session.state == S.COMPLETED
    assert events(session)[-1] == ("order_waived", "review", "completed")
    audit = last_audit(order)
    assert (audit.before["state"], audit.after["state"], audit.after["resolution"]) == (
        "review",
        "closed",
        "waived",
    )


def test_waive_an_owed_order_cancels_the_debt(store: Store, settled: Callable[..., Any]) -> None:
    order = owed_order(store, settled)
    shopper = order.consumer

    order_waive(actor=staff(store.shop.world), order=order, reason="老顾客，免单")

    order.refresh_from_db()
    assert Order.objects.filter(consumer=shopper).count() == 1
    assert (order.state, order.resolution, order.paid_fen) == (OrderState.CLOSED, Resolution.WAIVED, 0)
    assert order.payment.state == PaymentState.CLOSED
    assert not unpaid_payments_of(shopper, store.device.merchant_id).exists()
    assert wallet_balance(store.device.merchant, shopper) == 100
    assert check_preconditions(device=store.device, consumer=shopper, method="wallet") == []


@pytest.mark.parametrize("action", ["waive", "charge", "supplement"])
def test_wrong_states_are_refused_with_nothing_changed(
    store: Store, settled: Callable[..., Any], action: str
) -> None:
    order = review_order(store, settled) if action == "supplement" else paid_order(store, settled)
    actor = staff(store.shop.world)
    calls = {
        "waive": lambda: order_waive(actor=actor, order=order, reason="x"),
        "charge": lambda: order_charge(actor=actor, order=order),
        "supplement": lambda: order_raise_supplement(
            actor=actor, order=order, lines={store.cola.pk: 3}, reason="x"
        ),
    }
    state, payments = order.state, Payment.objects.count()
    with pytest.raises(OpenVendError) as refused:
        calls[action]()
    assert refused.value.code == "orders.wrong_state"
    order.refresh_from_db()
    assert (order.state, order.resolution, Payment.objects.count()) == (state, "", payments)
    assert not Correction.objects.exists()


def test_charge_again_after_a_failed_charge(store: Store, settled: Callable[..., Any]) -> None:
    order = owed_order(store, settled)
    failed = order.payment
    assert (order.abnormal_reason, order.is_abnormal) == (ReviewReason.PAYMENT_FAILED, True)
    wallet_recharge(
        merchant_id=store.device.merchant_id,
        consumer_id=order.consumer_id,
        amount_fen=500,
        idempotency_key="t",
    )

    settled(lambda: order_charge(actor=staff(store.shop.world), order=order))

    order.refresh_from_db()
    failed.refresh_from_db()
    attempt = order.payment
    assert (attempt.attempt, attempt.amount_fen, attempt.state) == (2, 350, PaymentState.PAID)
    assert failed.state == PaymentState.CLOSED
    assert (order.state, order.paid_fen, order.resolution) == (OrderState.PAID, 350, Resolution.CHARGED)
    assert wallet_balance(store.device.merchant, order.consumer) == 250
    assert not unpaid_payments_of(order.consumer).exists()


def test_charge_again_that_fails_again_leaves_one_debt_and_the_order_abnormal(
    store: Store, settled: Callable[..., Any]
) -> None:
    order = owed_order(store, settled)
    settled(lambda: order_charge(actor=staff(store.shop.world), order=order))
    order.refresh_from_db()
    assert (order.state, order.payment.attempt, order.payment.state) == (
        OrderState.PENDING_PAYMENT,
        2,
        PaymentState.FAILED,
    )
    assert list(unpaid_payments_of(order.consumer).values_list("attempt", flat=True)) == [2]
    assert (order.abnormal_reason, order.resolution, order.is_abnormal) == (
        ReviewReason.PAYMENT_FAILED,
        "",
        True,
    )


def test_refund_partially_then_the_rest(store: Store, settled: Callable[..., Any], world_a: World) -> None:
    order = paid_order(store, settled, colas=2)  # 700 fen
    actor = staff(world_a)

    first = settled(lambda: order_refund(actor=actor, order=order, amount_fen=200, reason="少找零"))
    order.refresh_from_db()
    first.refresh_from_db()  # settled by the refund's outcome, after commit
    assert (order.state, order.refunded_fen, order.resolution) == (OrderState.PAID, 200, Resolution.REFUNDED)
    assert (first.number, first.delta_fen, first.state, first.lines) == (
        f"{order.number}C1",
        -200,
        CorrectionState.DONE,
        [],
    )

    with pytest.raises(OpenVendError) as refused:
        order_refund(actor=actor, order=order, amount_fen=501, reason="太多")
    assert refused.value.code == "orders.bad_amount"
    assert Correction.objects.filter(order=order).count() == 1

    second = settled(lambda: order_refund(actor=actor, order=order, amount_fen=500, reason="全退"))
    order.refresh_from_db()
    second.refresh_from_db()
    assert (second.number, second.state) == (f"{order.number}C2", CorrectionState.DONE)
    assert (order.state, order.paid_fen, order.refunded_fen) == (OrderState.REFUNDED, 700, 700)
    assert wallet_balance(store.device.merchant, order.consumer) == 2000
    assert movements(store, MovementKind.CORRECTION) == []  # an amount refund moves no stock
    assert lines_of(order) == [("COLA330", 2, 350, 700)]


def test_refund_of_nothing_or_of_an_unpaid_order_is_refused(
    store: Store, settled: Callable[..., Any]
) -> None:
    order = paid_order(store, settled)
    for amount in (0, -5, True):
        with pytest.raises(OpenVendError) as refused:
            order_refund(actor=None, order=order, amount_fen=amount, reason="x")
        assert refused.value.code == "orders.bad_amount"
    owed = owed_order(store, settled)
    with pytest.raises(OpenVendError) as refused:
        order_refund(actor=None, order=owed, amount_fen=100, reason="x")
    assert refused.value.code == "orders.wrong_state"
    assert not Correction.objects.exists()


def test_supplement_with_a_pay_now_method_is_owed_and_blocks_the_next_visit(
    store: Store, settled: Callable[..., Any], world_a: World
) -> None:
    order = paid_order(store, settled, colas=1, balance_fen=350)
    shopper = order.consumer

    correction = settled(
        lambda: order_raise_supplement(
            actor=staff(world_a),
            order=order,
            lines={store.cola.pk: 1, store.chips.pk: 1},
            reason="视频：还拿了薯片",
        )
    )

    assert (correction.kind, correction.delta_fen, correction.state) == (
        CorrectionKind.SUPPLEMENT,
        600,
        CorrectionState.PENDING,
    )
    owed = correction.payment
    assert (owed.order_ref, owed.amount_fen, owed.state, owed.method) == (
        correction.number,
        600,
        PaymentState.FAILED,
        "wallet",
    )
    assert list(unpaid_payments_of(shopper, store.device.merchant_id)) == [owed]
    failures = check_preconditions(device=store.device, consumer=shopper, method="wallet")
    assert [f.code for f in failures] == ["unpaid_order"]
    assert movements(store, MovementKind.SALE)[0] == (
        "CHIPS52",
        -1,
        f"correction:{correction.number}:{store.chips.pk}",
    )
    order.refresh_from_db()
    assert (order.total_fen, order.paid_fen, order.resolution) == (950, 350, Resolution.CORRECTED)

    wallet_recharge(
        merchant_id=store.device.merchant_id, consumer_id=shopper.pk, amount_fen=600, idempotency_key="s"
    )
    attempt, _next = pay_pending(payment=owed, method="wallet", payer_id="")

    correction.refresh_from_db()
    order.refresh_from_db()
    assert (attempt.state, attempt.attempt) == (PaymentState.PAID, 2)
    assert (correction.state, correction.payment_id) == (CorrectionState.DONE, attempt.pk)
    assert (order.state, order.total_fen, order.paid_fen) == (OrderState.PAID, 950, 950)
    assert check_preconditions(device=store.device, consumer=shopper, method="wallet") == []
    assert ShoppingEvent.objects.filter(session=order.session, kind="correction_done").count() == 1


def test_supplement_that_charges_nothing_more_is_refused(store: Store, settled: Callable[..., Any]) -> None:
    order = paid_order(store, settled, colas=2)
    with pytest.raises(OpenVendError) as refused:
        order_raise_supplement(actor=None, order=order, lines={store.cola.pk: 2}, reason="x")
    assert refused.value.code == "orders.bad_lines"
    assert not Correction.objects.exists() and Payment.objects.count() == 1
    assert movements(store, MovementKind.CORRECTION) == []
