"""A cabinet that loses its link mid-visit, or replays what it already sent after reconnecting
(same sequence numbers, byte for byte): the visit counts once."""

from __future__ import annotations

from openvend.devices.models import DeviceMessage
from openvend.gateway.runner import Gateway
from openvend.orders.choices import OrderState
from openvend.orders.models import Order
from openvend.payments.choices import PaymentState
from openvend.payments.models import Payment
from openvend.payments.selectors import wallet_balance
from openvend.shopping.choices import SessionState as S
from openvend.shopping.models import ShoppingEvent
from tests.faults import ON_POSTGRES
from tests.faults.broker import RestartableMosquitto
from tests.faults.devices import ScriptedDevice, simulated_cabinet, wait_until
from tests.faults.invariants import StockBaseline, assert_invariants
from tests.orders.conftest import COLA_G, Store

pytestmark = ON_POSTGRES


def test_a_visit_finished_offline_is_replayed_after_reconnecting_and_settles_once(
    store: Store, broker: RestartableMosquitto, device_secret: str, gateway: Gateway, baseline: StockBaseline
) -> None:
    shopper = store.shopper(balance_fen=1000)
    cabinet = simulated_cabinet(broker.url, store.device.code, device_secret, door_open_s=1.0)
    try:
        session = store.start(shopper)
        wait_until(lambda: store.device.shopping_sessions.get().state == S.OPEN, what="the door to open")
        cabinet.take("s1-1", COLA_G)
        cabinet.drop()  # the link is lost with the take possibly unacknowledged; the door shuts offline
        wait_until(lambda: cabinet.snapshot()["door"] == "closed", what="the door to shut")
        offline_seqs = cabinet.outbox_seqs()
        assert offline_seqs, "the close waits in the outbox"
        cabinet.start()  # reconnect: the whole outbox is replayed
        wait_until(lambda: cabinet.outbox_size == 0, what="the cloud to acknowledge the outbox")
        session.refresh_from_db()
        paid = Order.objects.filter(session=session, state=OrderState.PAID)
        wait_until(paid.exists, what="the order paid")
    finally:
        cabinet.stop()

    session.refresh_from_db()
    assert session.state == S.COMPLETED
    assert ShoppingEvent.objects.filter(session=session, kind="door_closed").count() == 1
    order = Order.objects.get()
    assert (order.total_fen, order.paid_fen) == (350, 350)
    assert list(Payment.objects.values_list("state", "amount_fen")) == [(PaymentState.PAID, 350)]
    assert wallet_balance(store.device.merchant, shopper) == 650
    stored = set(DeviceMessage.objects.filter(device=store.device).values_list("seq", flat=True))
    assert set(offline_seqs) <= stored
    assert_invariants(baseline)


def test_replaying_an_acknowledged_visit_after_reconnecting_changes_nothing(
    store: Store, broker: RestartableMosquitto, device_secret: str, gateway: Gateway, baseline: StockBaseline
) -> None:
    shopper = store.shopper(balance_fen=1000)
    session = store.start(shopper)
    key = str(session.command_id)
    device = ScriptedDevice("127.0.0.1", broker.port, store.device.code, device_secret)

    def visit() -> None:
        device.event(1, "door_opened", key, door=1)
        device.event(2, "weight_change", key, sensor="s1-1", delta_g=-COLA_G)
        device.event(3, "door_closed", key, door=1)

    visit()
    wait_until(lambda: Order.objects.filter(state=OrderState.PAID).exists(), what="the order paid")
    wait_until(lambda: device.acked(3), what="the cloud ack")
    events_before = ShoppingEvent.objects.count()
    device.reconnect()  # a device that lost the ack (or its memory of it) sends everything again
    visit()
    wait_until(lambda: gateway.stats["duplicates"] == 3, what="three replays recognised")
    wait_until(lambda: device.acked(3), what="the replays acknowledged")
    device.close()

    assert ShoppingEvent.objects.count() == events_before
    assert DeviceMessage.objects.filter(device=store.device).count() == 3
    session.refresh_from_db()
    assert session.state == S.COMPLETED
    assert list(Payment.objects.values_list("state", "amount_fen")) == [(PaymentState.PAID, 350)]
    assert wallet_balance(store.device.merchant, shopper) == 650
    assert_invariants(baseline)
