"""Mosquitto restarted (stopped, started again on the same port) while a shopper's door is open:
the cabinet and the gateway reconnect by themselves, the visit finished meanwhile is replayed and
settles once, and the next shopper's door opens through the restarted broker."""

from __future__ import annotations

from openvend.gateway.runner import Gateway
from openvend.orders.choices import OrderState
from openvend.orders.models import Order
from openvend.payments.choices import PaymentState
from openvend.payments.models import Payment
from openvend.payments.selectors import wallet_balance
from openvend.shopping.choices import SessionState as S
from openvend.shopping.models import ShoppingSession
from tests.faults import ON_POSTGRES
from tests.faults.broker import RestartableMosquitto
from tests.faults.devices import simulated_cabinet, wait_until
from tests.faults.invariants import StockBaseline, assert_invariants
from tests.orders.conftest import CHIPS_G, COLA_G, Store

pytestmark = ON_POSTGRES


def _state(session: ShoppingSession) -> str:
    return ShoppingSession.objects.get(pk=session.pk).state


def _paid(session: ShoppingSession) -> bool:
    return Order.objects.filter(session=session, state=OrderState.PAID).exists()


def test_sessions_complete_after_the_broker_restarts_mid_visit(
    store: Store, broker: RestartableMosquitto, device_secret: str, gateway: Gateway, baseline: StockBaseline
) -> None:
    first, second = store.shopper(balance_fen=1000), store.shopper(balance_fen=1000, nickname="小刚")
    cabinet = simulated_cabinet(broker.url, store.device.code, device_secret, door_open_s=2.0)
    try:
        visit = store.start(first)
        wait_until(lambda: ShoppingSession.objects.get(pk=visit.pk).state == S.OPEN, what="the door to open")
        cabinet.take("s1-1", COLA_G)
        broker.down()
        wait_until(lambda: cabinet.snapshot()["door"] == "closed", what="the door to shut while offline")
        assert not cabinet.connected.is_set()
        broker.up()
        wait_until(lambda: cabinet.connected.is_set(), timeout_s=15, what="the cabinet to reconnect")
        wait_until(
            lambda: _paid(visit),
            timeout_s=20,
            what=lambda: f"the first visit to be paid: {gateway.stats}, {cabinet.stats()}, {_state(visit)}",
        )
        wait_until(lambda: cabinet.snapshot()["lock"] == "locked", what="the bolt to fall")

        following = store.start(second)
        wait_until(lambda: ShoppingSession.objects.get(pk=following.pk).state == S.OPEN, what="the next door")
        cabinet.take("s2-1", CHIPS_G)
        wait_until(lambda: _paid(following), timeout_s=15, what="the second visit to be paid")
    finally:
        cabinet.stop()

    assert list(ShoppingSession.objects.order_by("pk").values_list("state", flat=True)) == [S.COMPLETED] * 2
    assert list(Order.objects.order_by("pk").values_list("total_fen", "paid_fen")) == [(350, 350), (600, 600)]
    assert sorted(Payment.objects.values_list("state", "amount_fen")) == [
        (PaymentState.PAID, 350),
        (PaymentState.PAID, 600),
    ]
    merchant = store.device.merchant
    assert (wallet_balance(merchant, first), wallet_balance(merchant, second)) == (650, 400)
    assert gateway.stats["errors"] == 0
    assert_invariants(baseline)
