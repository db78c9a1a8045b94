"""WeChat's payment notifications lost, duplicated or delayed around a whole payscore visit: a lost
one is made good by the reconciler's query, a duplicate has one effect, and one that arrives after a
response or query already settled the payment changes nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from openvend.orders.choices import OrderState
from openvend.orders.models import Order
from openvend.payments.choices import NotificationOutcome, PaymentMethod, PaymentState
from openvend.payments.models import Payment, PaymentEvent, ProviderNotification
from openvend.payments.services.charging import pay_pending
from openvend.payments.services.reconcile import reconcile_due
from openvend.sandbox.wechat import WeChatSandbox
from openvend.shopping.choices import SessionState as S
from openvend.shopping.models import ShoppingSession
from tests.faults import ON_POSTGRES
from tests.faults.devices import wait_until
from tests.faults.invariants import StockBaseline, assert_invariants
from tests.orders.conftest import COLA_G, Store
from tests.payments.wechat.conftest import SHOPPER, pay_at_cashier

pytestmark = ON_POSTGRES


def _visit(store: Store, shopper: Any) -> ShoppingSession:
    """A payscore visit taking one cola (350 fen); settled and charged as the door-close commits."""
    session = store.start(shopper, method=PaymentMethod.WECHAT_PAYSCORE)
    store.visit(session, [("s1-1", -COLA_G)])
    session.refresh_from_db()
    return session


def _paid_notifications() -> list[str]:
    paid = ProviderNotification.objects.filter(event_type="payment.paid")
    return list(paid.values_list("outcome", flat=True))


def test_a_duplicated_notification_has_one_effect(
    store: Store, wechat: WeChatSandbox, payscore_shopper: Any, baseline: StockBaseline
) -> None:
    wechat.control(notification="duplicate")
    session = _visit(store, payscore_shopper)
    assert wechat.courier.wait_idle(10)

    [delivery] = [d for d in wechat.courier.deliveries if b"PAYSCORE.USER_PAID" in d.body]
    assert len(delivery.attempts) >= 2 and all(status == 200 for _at, status in delivery.attempts)
    payment = Payment.objects.get()
    assert (payment.state, payment.amount_fen) == (PaymentState.PAID, 350)
    assert PaymentEvent.objects.filter(payment=payment, to_state=PaymentState.PAID).count() == 1
    assert set(_paid_notifications()) == {NotificationOutcome.NO_CHANGE}
    assert (session.state, Order.objects.get().state) == (S.COMPLETED, OrderState.PAID)
    assert wechat.balance(SHOPPER) == 2000 - 350
    assert_invariants(baseline)


def test_a_delayed_notification_after_the_payment_settled_changes_nothing(
    store: Store, wechat: WeChatSandbox, payscore_shopper: Any, baseline: StockBaseline
) -> None:
    wechat.control(notification="delayed", notification_delay_s=1000)  # 1 s at the sandbox's scale
    session = _visit(store, payscore_shopper)
    payment = Payment.objects.get()
    assert payment.state == PaymentState.PAID  # settled by WeChat's answer, before the notification
    events_before = list(PaymentEvent.objects.filter(payment=payment).values_list("kind", flat=True))
    assert _paid_notifications() == []
    wait_until(lambda: _paid_notifications() != [], what="the delayed notification")

    assert _paid_notifications() == [NotificationOutcome.NO_CHANGE]
    payment.refresh_from_db()
    assert payment.state == PaymentState.PAID
    kinds = list(PaymentEvent.objects.filter(payment=payment).values_list("kind", flat=True))
    assert [k for k in kinds if k not in events_before and k != "notification"] == []
    assert (session.state, Order.objects.get().paid_fen) == (S.COMPLETED, 350)
    assert wechat.balance(SHOPPER) == 2000 - 350
    assert_invariants(baseline)


def test_a_lost_notification_is_made_good_by_the_reconciler(
    store: Store, wechat: WeChatSandbox, payscore_shopper: Any, baseline: StockBaseline
) -> None:
    wechat.set_balance(SHOPPER, 0)  # the payscore deduction fails: the shopper owes the order
    session = _visit(store, payscore_shopper)
    owed = Payment.objects.get()
    assert (session.state, owed.state, Order.objects.get().state) == (
        S.COMPLETED,
        PaymentState.FAILED,
        OrderState.PENDING_PAYMENT,
    )

    wechat.set_balance(SHOPPER, 1000)
    wechat.control(notification="lost")
    attempt, next_action = pay_pending(payment=owed, method=PaymentMethod.WECHAT_JSAPI, payer_id=SHOPPER)
    assert pay_at_cashier(next_action["cashier_url"]).status_code == 302
    assert wechat.courier.wait_idle(5)
    attempt.refresh_from_db()
    assert attempt.state == PaymentState.PENDING  # paid at WeChat, but nobody told us
    assert _paid_notifications() == []

    result = reconcile_due(timezone.now() + timedelta(minutes=10))

    assert result.get("payments_repaired") == 1, result
    attempt.refresh_from_db()
    owed.refresh_from_db()
    order = Order.objects.get()
    assert (attempt.state, owed.state) == (PaymentState.PAID, PaymentState.CLOSED)
    assert (order.state, order.paid_fen, order.payment_id) == (OrderState.PAID, 350, attempt.pk)
    assert reconcile_due(timezone.now() + timedelta(minutes=20)).get("payments_repaired", 0) == 0
    assert wechat.balance(SHOPPER) == 1000 - 350
    assert_invariants(baseline)
