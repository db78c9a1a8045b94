"""A semi-automatic visit paid in person with WeChat JSAPI through the real sandbox: the shopper's cart
is checked out, paid at the cashier, WeChat's notification marks the order paid, and the door's
weights cross-check the cart."""

from __future__ import annotations

from typing import Any

import pytest

from openvend.devices.choices import ShoppingFlow
from openvend.orders.cart_services import cart_checkout, cart_set
from openvend.orders.choices import OrderState
from openvend.orders.models import Order
from openvend.payments.choices import PaymentMethod, PaymentState
from openvend.payments.models import Payment, SitePaymentMethod
from openvend.sandbox.wechat import WeChatSandbox
from openvend.shopping.choices import SessionState as S
from openvend.shopping.services import session_start
from tests.orders.conftest import CHIPS_G, store_in, wait_until
from tests.payments.wechat.conftest import SHOPPER, SUB_APPID, pay_at_cashier
from tests.world import World

pytestmark = pytest.mark.django_db(transaction=True)


def _state(model: Any) -> str:
    state: str = type(model).objects.values_list("state", flat=True).get(pk=model.pk)
    return state


def test_a_semi_automatic_cart_paid_at_the_wechat_cashier(wechat: WeChatSandbox, world_a: World) -> None:
    store = store_in(world_a, "JS-CAB1")
    SitePaymentMethod.objects.create(
        merchant=world_a.merchant, site=store.device.site, method=PaymentMethod.WECHAT_JSAPI
    )
    shopper = store.shopper()
    session = session_start(
        consumer=shopper, method=PaymentMethod.WECHAT_JSAPI, device=store.device, flow=ShoppingFlow.SEMI_AUTO
    )
    key = str(session.command_id)
    store.feed.send({"kind": "door_opened", "session": key, "detail": {"door": 1}})
    cart_set(session=session, product=store.chips, quantity=2)

    order, next_action = cart_checkout(
        session=session, return_url="https://h5.example.com/receipt", payer_id=SHOPPER
    )

    payment = Payment.objects.get(order_ref=order.number)
    assert (payment.method, payment.payer_id, payment.amount_fen, payment.state) == (
        PaymentMethod.WECHAT_JSAPI,
        SHOPPER,
        1200,
        PaymentState.PENDING,
    )
    assert next_action["jsapi"]["appId"] == SUB_APPID
    assert pay_at_cashier(next_action["cashier_url"]).status_code == 302
    wait_until(lambda: _state(order) == OrderState.PAID)

    store.feed.send(
        {"kind": "weight_change", "session": key, "detail": {"sensor": "s2-1", "delta_g": -CHIPS_G * 2}},
        {"kind": "door_closed", "session": key, "detail": {"door": 1}},
    )
    wait_until(lambda: _state(session) == S.COMPLETED)
    order = Order.objects.get(pk=order.pk)
    assert (order.paid_fen, order.abnormal_reason) == (1200, "")
    assert order.recognition["cross_check"]["match"] is True
    assert Payment.objects.filter(order_ref=order.number).count() == 1
    assert wechat.courier.wait_idle(5)
