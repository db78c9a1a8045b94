"""A whole visit paid with WeChat payscore through the real sandbox: the shopper authorises, the door
events arrive through the gateway, the order is settled, the service order is opened and completed,
and WeChat deducts exactly the order's total."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from openvend.core.crypto import encrypt
from openvend.orders.choices import OrderState
from openvend.orders.models import Order
from openvend.payments.choices import AuthorisationState, GatewayMode, PaymentMethod, PaymentState, Provider
from openvend.payments.models import MerchantPaymentConfig, PayAfterAuthorisation, Payment, ProviderAccount
from openvend.payments.services.authorisations import start_authorisation
from openvend.sandbox.wechat import WeChatSandbox
from openvend.shopping.choices import SessionState as S
from tests.orders.conftest import CHIPS_G, COLA_G, store_in
from tests.payments.wechat.conftest import (
    SERVICE_ID,
    SHOPPER,
    SP_MCHID,
    SUB_APPID,
    SUB_MCHID,
    agree_permission,
)
from tests.world import World

pytestmark = pytest.mark.django_db(transaction=True)


def wait_until(check: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.02)
    raise AssertionError("the expected change did not happen in time")


@pytest.fixture
def wechat(live_server: Any, world_a: World) -> Iterator[WeChatSandbox]:
    sandbox = WeChatSandbox(time_scale=0.001)
    sandbox.start()
    sandbox.add_sub_merchant(SUB_MCHID, SUB_APPID, SERVICE_ID)
    creds = sandbox.provision_merchant(SP_MCHID)
    ProviderAccount.objects.create(
        provider=Provider.WECHAT,
        base_url=creds["base_url"],
        mch_id=creds["mch_id"],
        app_id=creds["app_id"],
        key_serial_no=creds["key_serial_no"],
        private_key_enc=encrypt(creds["private_key_pem"]),
        api_key_enc=encrypt(creds["api_key"]),
        oauth_secret_enc=encrypt(creds["oauth_secret"]),
        gateway_mode=GatewayMode.PUBLIC_KEY,
        gateway_public_key=creds["gateway_public_key_pem"],
        gateway_public_key_id=creds["gateway_public_key_id"],
        payscore_service_id=SERVICE_ID,
        notify_url=f"{live_server.url}/pay/notify/wechat/",
    )
    MerchantPaymentConfig.objects.create(
        merchant=world_a.merchant, wechat_sub_mchid=SUB_MCHID, wechat_sub_appid=SUB_APPID
    )
    yield sandbox
    sandbox.courier.wait_idle(5)
    sandbox.stop()


def test_a_payscore_visit_is_settled_and_deducted_at_the_sandbox(
    wechat: WeChatSandbox, world_a: World
) -> None:
    store = store_in(world_a, "PS-CAB1")
    shopper = store.shopper()
    authorisation, next_action = start_authorisation(
        merchant=world_a.merchant,
        consumer=shopper,
        method=PaymentMethod.WECHAT_PAYSCORE,
        payer_id=SHOPPER,
        return_url="https://h5.example.com/auth-done",
    )
    assert agree_permission(next_action["confirm_url"]).status_code == 302
    wait_until(
        lambda: PayAfterAuthorisation.objects.get(pk=authorisation.pk).state == AuthorisationState.ACTIVE
    )
    wechat.set_balance(SHOPPER, 2000)

    session = store.start(shopper, method=PaymentMethod.WECHAT_PAYSCORE)
    store.visit(session, [("s1-1", -COLA_G), ("s2-1", -CHIPS_G)])  # autocommit: settles and charges at once

    order = Order.objects.get(session=session)
    payment = Payment.objects.get(order_ref=order.number)
    assert (payment.method, payment.amount_fen, payment.state, payment.authorisation_id) == (
        PaymentMethod.WECHAT_PAYSCORE,
        950,
        PaymentState.PAID,
        authorisation.pk,
    )
    assert payment.events.filter(kind="pay_after_opened").count() == 1
    assert (order.state, order.total_fen, order.paid_fen) == (OrderState.PAID, 950, 950)
    assert wechat.balance(SHOPPER) == 1050
    session.refresh_from_db()
    assert session.state == S.COMPLETED
