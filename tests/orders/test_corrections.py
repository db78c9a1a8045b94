"""correction_create: numbering, lines before/after at the order's prices, stock put right, and the
difference settled (refund, supplement, or the amount owed re-set); outcomes applied once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from openvend.core.errors import OpenVendError
from openvend.inventory.choices import MovementKind
from openvend.inventory.selectors import on_hand
from openvend.orders.choices import CorrectionKind, CorrectionState, OrderState
from openvend.orders.corrections import (
    apply_correction_payment_outcome,
    apply_refund_outcome,
    correction_create,
)
from openvend.orders.models import Correction
from openvend.payments.choices import PaymentState
from openvend.payments.models import Payment
from openvend.payments.selectors import unpaid_payments_of, wallet_balance
from openvend.shopping.models import ShoppingEvent
from tests.orders.conftest import Store
from tests.orders.test_staff_actions import lines_of, movements, owed_order, paid_order, review_order

pytestmark = pytest.mark.django_db


def test_lines_before_and_after_at_the_order_prices_with_stock_both_ways(
    store: Store, settled: Callable[..., Any]
) -> None:
    order = paid_order(store, settled, colas=2)  # 2 × 350
    correction = settled(
        lambda: correction_create(
            order=order,
            kind=CorrectionKind.STAFF,
            lines={store.cola.pk: 1, store.chips.pk: 1},
            reason="一瓶可乐换成薯片",
        )
    )

    assert correction.number == f"{order.number}C1"
    assert correction.lines == [
        {
            "product": store.chips.pk,
            "sku": "CHIPS52",
            "name": "薯片",
            "unit_price_fen": 600,
            "before": 0,
            "after": 1,
        },
        {
            "product": store.cola.pk,
            "sku": "COLA330",
            "name": "可乐 330ml",
            "unit_price_fen": 350,
            "before": 2,
            "after": 1,
        },
    ]
    assert correction.delta_fen == 250
    assert movements(store, MovementKind.CORRECTION) == [
        ("COLA330", 1, f"correction:{correction.number}:{store.cola.pk}")
    ]
    assert movements(store, MovementKind.SALE)[0] == (
        "CHIPS52",
        -1,
        f"correction:{correction.number}:{store.chips.pk}",
    )
    assert on_hand(device=store.device, product=store.cola, lane=0) == 9
    assert on_hand(device=store.device, product=store.chips, lane=0) == 9
    order.refresh_from_db()
    assert lines_of(order) == [("CHIPS52", 1, 600, 600), ("COLA330", 1, 350, 350)]
    assert (order.total_fen, order.paid_fen) == (950, 700)
    # The wallet is a pay-now method: the 250 fen difference is owed by the shopper.
    assert (correction.payment.amount_fen, correction.payment.state) == (250, PaymentState.FAILED)
    assert correction.state == CorrectionState.PENDING


def test_numbers_count_up_per_order(store: Store, settled: Callable[..., Any]) -> None:
    order = paid_order(store, settled, colas=3)
    numbers = [
        settled(
            lambda n=n: correction_create(
                order=order, kind=CorrectionKind.STAFF, lines={store.cola.pk: n}, reason="x"
            )
        ).number
        for n in (2, 1)
    ]
    assert numbers == [f"{order.number}C1", f"{order.number}C2"]
    order.refresh_from_db()
    assert (order.total_fen, order.refunded_fen, order.state) == (350, 700, OrderState.PAID)
    assert list(Correction.objects.filter(order=order).values_list("delta_fen", "state")) == [
        (-350, CorrectionState.DONE),
        (-350, CorrectionState.DONE),
    ]


def test_down_to_nothing_refunds_all_and_the_order_is_refunded(
    store: Store, settled: Callable[..., Any]
) -> None:
    order = paid_order(store, settled, colas=2)
    correction = settled(
        lambda: correction_create(order=order, kind=CorrectionKind.STAFF, lines={}, reason="什么都没拿")
    )
    order.refresh_from_db()
    correction.refresh_from_db()
    assert (correction.delta_fen, correction.state) == (-700, CorrectionState.DONE)
    assert (order.state, order.total_fen, order.paid_fen, order.refunded_fen) == (
        OrderState.REFUNDED,
        0,
        700,
        700,
    )
    assert order.lines.count() == 0
    assert on_hand(device=store.device, product=store.cola, lane=0) == 10
    assert wallet_balance(store.device.merchant, order.consumer) == 2000


def test_repeated_outcomes_change_nothing(store: Store, settled: Callable[..., Any]) -> None:
    order = paid_order(store, settled, colas=2)
    correction = settled(
        lambda: correction_create(
            order=order, kind=CorrectionKind.STAFF, lines={store.cola.pk: 1}, reason="x"
        )
    )
    correction.refresh_from_db()
    refund = correction.refund
    order.refresh_from_db()
    seen = (order.refunded_fen, order.updated_at, ShoppingEvent.objects.count())

    apply_refund_outcome(refund)
    apply_refund_outcome(refund)
    apply_correction_payment_outcome(order.payment)  # the order's own payment is no correction's

    order.refresh_from_db()
    correction.refresh_from_db()
    assert (order.refunded_fen, ShoppingEvent.objects.count()) == (seen[0], seen[2])
    assert correction.state == CorrectionState.DONE
    assert ShoppingEvent.objects.filter(kind="correction_done").count() == 1


def test_an_owed_order_has_its_debt_reset_instead_of_refunded(
    store: Store, settled: Callable[..., Any]
) -> None:
    order = owed_order(store, settled)  # one cola, 350 owed
    old = order.payment
    correction = correction_create(
        order=order, kind=CorrectionKind.STAFF, lines={store.cola.pk: 1, store.chips.pk: 1}, reason="还有薯片"
    )
    order.refresh_from_db()
    old.refresh_from_db()
    assert (correction.delta_fen, correction.state, correction.refund_id) == (600, CorrectionState.DONE, None)
    assert old.state == PaymentState.CLOSED
    assert (order.state, order.total_fen, order.payment.attempt, order.payment.amount_fen) == (
        OrderState.PENDING_PAYMENT,
        950,
        2,
        950,
    )
    assert list(unpaid_payments_of(order.consumer)) == [order.payment]


def test_an_owed_order_corrected_to_nothing_is_closed(store: Store, settled: Callable[..., Any]) -> None:
    order = owed_order(store, settled)
    correction = correction_create(order=order, kind=CorrectionKind.STAFF, lines={}, reason="没拿")
    order.refresh_from_db()
    assert (correction.delta_fen, correction.state) == (-350, CorrectionState.DONE)
    assert (order.state, order.total_fen) == (OrderState.CLOSED, 0)
    assert not unpaid_payments_of(order.consumer).exists()
    assert on_hand(device=store.device, product=store.cola, lane=0) == 10


def test_refused_corrections_change_nothing(store: Store, settled: Callable[..., Any]) -> None:
    review = review_order(store, settled)
    with pytest.raises(OpenVendError) as refused:
        correction_create(order=review, kind=CorrectionKind.STAFF, lines={}, reason="x")
    assert refused.value.code == "orders.wrong_state"
    paid = paid_order(store, settled)
    with pytest.raises(OpenVendError) as refused:
        correction_create(order=paid, kind=CorrectionKind.STAFF, lines={store.cola.pk: 1}, reason="  ")
    assert refused.value.code == "orders.bad_lines"
    with pytest.raises(OpenVendError) as refused:
        correction_create(order=paid, kind=CorrectionKind.STAFF, lines={}, reason="x", refund_fen=701)
    assert refused.value.code == "orders.bad_amount"
    assert not Correction.objects.exists()
    assert movements(store, MovementKind.CORRECTION) == []
    assert Payment.objects.filter(refunds__isnull=False).count() == 0
    paid.refresh_from_db()
    assert (paid.total_fen, lines_of(paid)) == (700, [("COLA330", 2, 350, 700)])
