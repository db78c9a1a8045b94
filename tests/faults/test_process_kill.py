"""`openvend gateway` (settling and charging in its ingest) or `openvend worker` (settling and
charging from the task queue) killed with SIGKILL while the charge is at WeChat, then started again:
the session still reaches one terminal state, with one order and one payment deducted once."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from openvend.consumers.models import Consumer
from openvend.orders.choices import OrderState
from openvend.orders.models import Order
from openvend.payments.choices import PaymentMethod, PaymentState
from openvend.payments.models import Payment
from openvend.sandbox.wechat import WeChatSandbox
from openvend.shopping.choices import SessionState as S
from openvend.shopping.models import ShoppingSession
from tests.faults import ON_POSTGRES
from tests.faults.devices import simulated_cabinet, wait_until
from tests.faults.holds import HeldCharges
from tests.faults.invariants import StockBaseline, assert_invariants
from tests.faults.processes import OpenVendProcess
from tests.orders.conftest import COLA_G, Store
from tests.payments.wechat.conftest import SHOPPER

pytestmark = ON_POSTGRES
# The deduction's notification arrives 3 s after WeChat deducts (3000 s at the sandbox's 1/1000 scale):
# after the kill, so the restarted side and the notification finish the visit between them.
NOTIFY_AFTER = {"notification": "delayed", "notification_delay_s": 3000}


@pytest.mark.parametrize("victim", ["gateway", "worker"])
def test_a_process_killed_mid_charge_and_restarted_settles_the_visit_once(
    victim: str,
    store: Store,
    device_secret: str,
    spawn: Callable[..., OpenVendProcess],
    wechat: WeChatSandbox,
    payscore_shopper: Consumer,
    baseline: StockBaseline,
) -> None:
    tasks = "database" if victim == "worker" else "immediate"
    gateway = spawn("gateway", tasks=tasks)
    worker = spawn("worker", tasks=tasks) if victim == "worker" else None
    target = worker or gateway
    held = HeldCharges(wechat)
    wechat.control(**NOTIFY_AFTER)
    broker_url = gateway.env["FAULTS_MQTT_URL"]
    cabinet = simulated_cabinet(broker_url, store.device.code, device_secret, door_open_s=1.5)
    try:
        session = store.start(payscore_shopper, method=PaymentMethod.WECHAT_PAYSCORE)
        wait_until(
            lambda: ShoppingSession.objects.get(pk=session.pk).state == S.OPEN,
            timeout_s=25,
            what=f"the door to open:\n{gateway.log()}",
        )
        cabinet.take("s1-1", COLA_G)
        assert held.arrived.wait(20), f"the charge never reached WeChat:\n{target.log()}"

        session.refresh_from_db()
        order = Order.objects.get(session=session)
        assert (session.state, order.state) == (S.SETTLING, OrderState.PENDING_PAYMENT)
        assert Payment.objects.get().state == PaymentState.PENDING
        target.kill()
        held.release()
        target.start()

        wait_until(
            lambda: ShoppingSession.objects.get(pk=session.pk).state == S.COMPLETED,
            timeout_s=15,
            what="the visit to complete after the restart",
        )
        wait_until(lambda: cabinet.outbox_size == 0, what="the cabinet's events to be acknowledged")
    finally:
        cabinet.stop()

    order.refresh_from_db()
    assert (order.state, order.total_fen, order.paid_fen) == (OrderState.PAID, 350, 350)
    payment = Payment.objects.get()
    assert (payment.state, payment.amount_fen) == (PaymentState.PAID, 350)
    assert payment.out_trade_no == f"SO{session.pk:010d}-01"
    assert payment.events.filter(kind="charge_sent").count() == 1
    assert held.count == 1
    assert wechat.balance(SHOPPER) == 2000 - 350
    assert_invariants(baseline)
