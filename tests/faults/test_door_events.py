"""Door and weight events through Mosquitto and the gateway, repeated and out of order, as a flaky
link and a replaying device deliver them: one terminal state, one order and one charge per visit."""

from __future__ import annotations

import time
from typing import Any

from openvend.devices.models import DeviceMessage, DeviceState
from openvend.gateway import protocol
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
from tests.faults.devices import ScriptedDevice, wait_until
from tests.faults.invariants import StockBaseline, assert_invariants
from tests.orders.conftest import COLA_G, Store

pytestmark = ON_POSTGRES


def _device(broker: RestartableMosquitto, store: Store, secret: str) -> ScriptedDevice:
    return ScriptedDevice("127.0.0.1", broker.port, store.device.code, secret)


def _settled(session: ShoppingSession) -> bool:
    session.refresh_from_db()
    return session.state in (S.COMPLETED, S.REVIEW, S.FAILED, S.CANCELLED)


def _transitions(session: ShoppingSession) -> list[tuple[str, str]]:
    return list(session.events.exclude(to_state="").values_list("kind", "to_state"))


def test_doors_opened_and_closed_twice_and_weights_after_close_sell_and_charge_once(
    store: Store, broker: RestartableMosquitto, device_secret: str, gateway: Gateway, baseline: StockBaseline
) -> None:
    shopper = store.shopper(balance_fen=1000)
    session = store.start(shopper)
    key = str(session.command_id)
    device = _device(broker, store, device_secret)
    device.event(1, "door_opened", key, door=1)
    device.event(2, "door_opened", key, door=1)
    device.event(3, "weight_change", key, sensor="s1-1", delta_g=-COLA_G)
    device.event(4, "door_closed", key, door=1)
    device.event(5, "door_closed", key, door=1)
    device.event(6, "weight_change", key, sensor="s2-1", delta_g=-52.0)  # after the close: not evidence
    device.event(3, "weight_change", key, sensor="s1-1", delta_g=-COLA_G)  # the same message again
    wait_until(lambda: device.acked(6) and _settled(session), what="the visit to settle")
    wait_until(lambda: gateway.stats["duplicates"] >= 1, what="the repeated seq 3 to be recognised")
    device.close()

    assert session.state == S.COMPLETED
    assert _transitions(session) == [
        ("created", S.CREATED),
        ("door_command", S.OPENING),
        ("door_opened", S.OPEN),
        ("door_closed", S.CLOSED),
        ("recognition_started", S.RECOGNISING),
        ("order_charging", S.SETTLING),
        ("order_paid", S.COMPLETED),
    ]
    order = Order.objects.get()
    assert (order.session_id, order.state) == (session.pk, OrderState.PAID)
    assert (order.total_fen, order.paid_fen) == (350, 350)
    assert list(Payment.objects.values_list("state", "amount_fen")) == [(PaymentState.PAID, 350)]
    assert wallet_balance(store.device.merchant, shopper) == 650
    assert session.sensor_deltas_g == {"s1-1": -COLA_G}
    assert DeviceMessage.objects.filter(device=store.device, type="event").count() == 6
    assert_invariants(baseline)


def test_evidence_stored_after_the_close_still_counts_while_the_visit_waits_for_it(
    store: Store, broker: RestartableMosquitto, device_secret: str, gateway: Gateway, baseline: StockBaseline
) -> None:
    # What two gateways on the shared subscription do when the one holding the close commits first:
    # the visit is not weighed until the messages before the close are stored.
    shopper = store.shopper(balance_fen=1000)
    session = store.start(shopper)
    key = str(session.command_id)
    device = _device(broker, store, device_secret)
    device.event(4, "door_closed", key, door=1)
    wait_until(lambda: device.acked(4), what="the close to be stored")
    time.sleep(0.3)
    session.refresh_from_db()
    assert (session.state, session.start_seq, session.closed_seq) == (S.RECOGNISING, 0, 4)
    device.event(2, "door_opened", key, door=1)
    device.event(3, "weight_change", key, sensor="s1-1", delta_g=-COLA_G)
    device.event(1, "door_opened", key, door=1)  # a repeat of the open, sent first but stored last
    wait_until(lambda: _settled(session), what="the visit to settle")
    device.close()

    assert session.state == S.COMPLETED
    assert session.sensor_deltas_g == {"s1-1": -COLA_G}
    kinds = [kind for kind, _to in _transitions(session)]
    assert kinds[-4:] == ["door_closed", "recognition_started", "order_charging", "order_paid"]
    assert not session.events.filter(kind="evidence_gap").exists()
    order = Order.objects.get()
    assert (order.state, order.total_fen, order.paid_fen) == (OrderState.PAID, 350, 350)
    assert list(Payment.objects.values_list("state", "amount_fen")) == [(PaymentState.PAID, 350)]
    assert wallet_balance(store.device.merchant, shopper) == 650
    assert_invariants(baseline)


def test_evidence_missing_past_the_wait_is_noted_and_what_comes_later_changes_nothing(
    store: Store,
    broker: RestartableMosquitto,
    device_secret: str,
    gateway: Gateway,
    baseline: StockBaseline,
    settings: Any,
) -> None:
    settings.SHOPPING_EVIDENCE_WAIT_S = 0.5
    shopper = store.shopper(balance_fen=1000)
    session = store.start(shopper)
    key = str(session.command_id)
    device = _device(broker, store, device_secret)
    device.event(4, "door_closed", key, door=1)
    wait_until(lambda: _settled(session), what="the wait to run out and the visit to end")
    device.event(2, "door_opened", key, door=1)
    device.event(3, "weight_change", key, sensor="s1-1", delta_g=-COLA_G)
    late = DeviceMessage.objects.filter(device=store.device, seq=3)
    wait_until(lambda: device.acked(3) and late.exists(), what="the late events")
    device.close()

    session.refresh_from_db()
    assert session.state == S.COMPLETED
    kinds = [kind for kind, _to in _transitions(session)]
    assert kinds[-3:] == ["door_closed", "recognition_started", "nothing_taken"]
    gap = session.events.get(kind="evidence_gap")
    assert gap.detail == {"missing": 3, "after_seq": 0, "before_seq": 4}
    order = Order.objects.get()
    assert (order.state, order.total_fen, order.payment_id) == (OrderState.CLOSED, 0, None)
    assert Payment.objects.count() == 0
    assert wallet_balance(store.device.merchant, shopper) == 1000
    assert_invariants(baseline)


def test_a_door_close_stored_after_a_later_heartbeat_still_ends_the_visit(
    store: Store, broker: RestartableMosquitto, device_secret: str, gateway: Gateway, baseline: StockBaseline
) -> None:
    DeviceState.objects.filter(device=store.device).update(last_seq=9)  # the device's earlier messages
    shopper = store.shopper(balance_fen=1000)
    session = store.start(shopper)
    key = str(session.command_id)
    device = _device(broker, store, device_secret)
    device.event(10, "door_opened", key, door=1)
    device.event(11, "weight_change", key, sensor="s1-1", delta_g=-COLA_G)
    wait_until(lambda: device.acked(11), what="the open visit")
    # What a second gateway on the shared subscription does when it commits first: the device's
    # heartbeat seq 13 is stored before its door_closed seq 12.
    assert device.client is not None
    topic, payload = protocol.encode_up(store.device.code, "hb", seq=13, body={"uptime_s": 60})
    device.client.publish(topic, payload, qos=1).wait_for_publish(5)
    wait_until(lambda: DeviceMessage.objects.filter(seq=13).exists(), what="the heartbeat")
    device.event(12, "door_closed", key, door=1)
    wait_until(lambda: device.acked(12), what="the close to be stored")
    device.close()

    wait_until(lambda: _settled(session), timeout_s=3, what="the visit to settle")
    assert Order.objects.get().state == OrderState.PAID
    assert_invariants(baseline)
