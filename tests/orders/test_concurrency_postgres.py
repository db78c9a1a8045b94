"""Real races on PostgreSQL, one connection per thread: six settlers of one session (the task, the
sweeper, a retry) make one order, one set of stock movements and one payment, charged once."""

from __future__ import annotations

import pytest
from django.db import connection

from openvend.inventory.choices import MovementKind
from openvend.inventory.models import StockMovement
from openvend.orders.choices import OrderState
from openvend.orders.models import Order
from openvend.orders.services import settle_session
from openvend.payments.choices import PaymentState
from openvend.payments.models import Payment
from openvend.payments.selectors import wallet_balance
from openvend.shopping.choices import SessionState as S
from openvend.shopping.services import transition
from tests.concurrency import race
from tests.orders.conftest import COLA_G, store_in
from tests.world import build_world

THREADS = 6

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="Row locks and unique inserts only race on PostgreSQL; SQLite serialises every writer.",
    ),
]


def test_concurrent_settles_of_one_session_sell_and_charge_once() -> None:
    store = store_in(build_world("race", "竞速商户"), "RACE-ORD1")
    shopper = store.shopper(balance_fen=1000)
    session = store.start(shopper)
    key = str(session.command_id)
    store.feed.send({"kind": "door_opened", "session": key, "detail": {"door": 1}})
    store.feed.send(
        {"kind": "weight_change", "session": key, "detail": {"sensor": "s1-1", "delta_g": -COLA_G}}
    )
    # Closed without the door event, so no settling task runs before the racers start.
    transition(session, S.CLOSED, "door_closed")
    transition(session, S.RECOGNISING, "recognition_started")

    results = race([lambda: settle_session(session) for _ in range(THREADS)])

    assert all(isinstance(r, Order) or r is None for r in results), results
    order = Order.objects.get(session=session)
    assert {r.pk for r in results if r is not None} == {order.pk}
    assert (order.state, order.total_fen, order.paid_fen) == (OrderState.PAID, 350, 350)
    assert StockMovement.objects.filter(device=store.device, kind=MovementKind.SALE).count() == 1
    assert list(Payment.objects.values_list("state", "amount_fen")) == [(PaymentState.PAID, 350)]
    assert wallet_balance(store.device.merchant, shopper) == 650
    session.refresh_from_db()
    assert session.state == S.COMPLETED
