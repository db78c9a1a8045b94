"""Weight changes reach the shopper's session through the real gateway ingest, and a session whose
settling was lost is settled by the sweeper a minute later."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from openvend.gateway.sweeps import run_sweeps
from openvend.orders.choices import OrderState
from openvend.orders.models import Order
from openvend.orders.services import sessions_settle_overdue
from openvend.payments.choices import PaymentState
from openvend.payments.models import Payment
from openvend.shopping.choices import SessionState as S
from tests.orders.conftest import CHIPS_G, COLA_G, Store

pytestmark = pytest.mark.django_db


def test_weight_changes_add_up_per_sensor_while_the_door_is_open(store: Store) -> None:
    session = store.start(store.shopper())
    key = str(session.command_id)
    store.feed.send({"kind": "door_opened", "session": key, "detail": {"door": 1}})
    store.feed.send(
        {"kind": "weight_change", "session": key, "detail": {"sensor": "s1-1", "delta_g": -355.1}},
        {"kind": "weight_change", "session": key, "detail": {"sensor": "s1-1", "delta_g": 0.2}},
        {"kind": "weight_change", "session": key, "detail": {"sensor": "s2-1", "delta_g": -52}},
        {"kind": "weight_change", "session": key, "detail": {"sensor": "s2-2", "delta_g": "x"}},  # malformed
        {"kind": "weight_change", "session": "not-ours", "detail": {"sensor": "s2-2", "delta_g": -9}},
    )
    session.refresh_from_db()
    assert session.sensor_deltas_g == {"s1-1": -354.9, "s2-1": -52.0}
    store.feed.send({"kind": "door_closed", "session": key, "detail": {"door": 1}})
    store.feed.send({"kind": "weight_change", "session": key, "detail": {"sensor": "s1-1", "delta_g": -355}})
    session.refresh_from_db()
    assert session.state == S.RECOGNISING
    assert session.sensor_deltas_g == {"s1-1": -354.9, "s2-1": -52.0}  # the evidence is frozen at close


def test_a_lost_settling_task_is_made_good_by_the_sweeper(store: Store, settled: Callable[..., Any]) -> None:
    store.visit(
        store.start(store.shopper(balance_fen=1000)), [("s2-1", -CHIPS_G)]
    )  # nothing runs after commit
    session = store.device.shopping_sessions.get()
    assert session.state == S.RECOGNISING and Order.objects.count() == 0

    assert sessions_settle_overdue(session.updated_at + timedelta(seconds=59)) == 0
    assert Order.objects.count() == 0
    assert settled(lambda: sessions_settle_overdue(session.updated_at + timedelta(seconds=61))) == 1

    session.refresh_from_db()
    order = Order.objects.get(session=session)
    assert (order.state, order.total_fen, session.state) == (OrderState.PAID, 600, S.COMPLETED)
    assert Payment.objects.get().state == PaymentState.PAID


def test_the_gateway_sweep_settles_overdue_sessions_too(store: Store) -> None:
    store.visit(store.start(store.shopper()), [("s1-1", -COLA_G), ("s1-1", COLA_G)])
    result = run_sweeps(timezone.now() + timedelta(minutes=2))
    assert result["orders_settled"] == 1
    order = Order.objects.get()
    assert (order.state, order.total_fen) == (OrderState.CLOSED, 0)
