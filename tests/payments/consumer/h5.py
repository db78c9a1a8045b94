"""Shared steps of the shopper-page tests: signing in through a sandbox's OAuth page and setting up
what a merchant offers."""

from __future__ import annotations

from typing import Any

from openvend.payments import config_services
from openvend.payments.choices import PaymentMethod, PaymentState
from openvend.payments.models import Payment
from openvend.payments.services import charging
from tests.payments.consumer import browser
from tests.payments.consumer.conftest import ALIPAY_APP_AUTH_TOKEN, ALIPAY_SMID, WECHAT_SUB_MCHID, in_english

OPENID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
ALIPAY_USER = "2088000000000002"


def base(world: Any) -> str:
    return f"/m/c/{world.merchant.code}"


def sign_in_wechat(client: Any, world: Any, openid: str = OPENID, next_url: str = "") -> Any:
    """Sign in through the WeChat sandbox's OAuth page; returns our app's answer to the callback."""
    in_english(client)
    start = client.get(f"{base(world)}/signin/wechat/", {"next": next_url} if next_url else {})
    assert start.status_code == 302, start.content.decode()
    _page, form = browser.open_page(start.url)
    back = browser.submit(form, openid=openid)
    assert back.status_code == 302, back.text
    return client.get(browser.local_path(back.headers["location"]))


def sign_in_alipay(client: Any, world: Any, user_id: str = ALIPAY_USER) -> Any:
    in_english(client)
    start = client.get(f"{base(world)}/signin/alipay/")
    assert start.status_code == 302, start.content.decode()
    _page, form = browser.open_page(start.url)
    back = browser.submit(form, user_id=user_id, decision="allow")
    assert back.status_code == 302, back.text
    return client.get(browser.local_path(back.headers["location"]))


def set_up_merchant(world: Any, *methods: str) -> None:
    """The merchant's ids at both providers and `methods` offered on every site."""
    config_services.merchant_config_save(
        actor=None,
        merchant=world.merchant,
        data={"wechat_sub_mchid": WECHAT_SUB_MCHID, "alipay_smid": ALIPAY_SMID},
        app_auth_token=ALIPAY_APP_AUTH_TOKEN,
    )
    config_services.site_methods_set(actor=None, sites=world.sites.values(), methods=methods)


def owed(world: Any, consumer: Any, amount_fen: int, order_ref: str = "ORD0001") -> Payment:
    """An order the shopper owes, made the way it happens: a wallet charge after the door closed
    that the (empty) wallet could not cover. The site must offer the wallet."""
    payment = charging.create_payment(
        merchant=world.merchant,
        order_ref=order_ref,
        amount_fen=amount_fen,
        method=PaymentMethod.WALLET,
        description="可乐 ×2",
        consumer=consumer,
        site=world.sites["sh-1"],
    )
    charging.charge_now(payment)
    payment.refresh_from_db()
    assert payment.state == PaymentState.FAILED
    return payment
