"""Unpaid orders: the shopper pays what they owe with the wallet or through the sandbox cashiers, and
the return page says paid or not after asking the provider."""

from __future__ import annotations

from typing import Any

import pytest

from openvend.consumers.models import Consumer
from openvend.payments.choices import PaymentState
from openvend.payments.models import Payment, WalletAccount
from openvend.payments.services import wallet
from tests.payments.consumer import browser
from tests.payments.consumer.h5 import (
    ALIPAY_USER,
    OPENID,
    base,
    owed,
    set_up_merchant,
    sign_in_alipay,
    sign_in_wechat,
)

pytestmark = pytest.mark.django_db


def _signed_in_owing(
    client: Any, world: Any, amount_fen: int, *methods: str, alipay: bool = False
) -> tuple[Consumer, Payment]:
    set_up_merchant(world, "wallet", *methods)
    (sign_in_alipay if alipay else sign_in_wechat)(client, world)
    consumer = Consumer.objects.get()
    return consumer, owed(world, consumer, amount_fen)


def test_unpaid_orders_list_amounts_in_yuan(client: Any, world_a: Any, wechat_credentials: dict) -> None:
    consumer, _first = _signed_in_owing(client, world_a, 1234)
    owed(world_a, consumer, 5, order_ref="ORD0002")
    page = client.get(f"{base(world_a)}/orders/").content.decode()
    assert "¥12.34" in page and "¥0.05" in page and "¥12.39" in page
    assert page.count('data-testid="owed-') == 2
    summary = client.get(f"{base(world_a)}/pay-after/").content.decode()
    assert "You have 2 unpaid orders." in summary


def test_pay_with_the_wallet(client: Any, world_a: Any, wechat_credentials: dict) -> None:
    consumer, payment = _signed_in_owing(client, world_a, 1234)
    wallet.wallet_recharge(
        merchant_id=world_a.merchant.pk, consumer_id=consumer.pk, amount_fen=2000, idempotency_key="r1"
    )
    form = client.get(f"{base(world_a)}/orders/{payment.pk}/pay/")
    assert form.status_code == 200 and "¥12.34" in form.content.decode()
    paid = client.post(f"{base(world_a)}/orders/{payment.pk}/pay/", {"method": "wallet"})
    assert paid.status_code == 302
    result = client.get(browser.local_path(paid.url))
    assert 'data-state="paid"' in result.content.decode()
    attempt = Payment.objects.get(order_ref="ORD0001", attempt=2)
    assert (attempt.state, attempt.amount_fen, attempt.method) == (PaymentState.PAID, 1234, "wallet")
    payment.refresh_from_db()
    assert payment.state == PaymentState.CLOSED
    assert WalletAccount.objects.get(consumer=consumer).balance_fen == 766
    assert 'data-testid="nothing-owed"' in client.get(f"{base(world_a)}/orders/").content.decode()
    # Paying it again is not possible: it is settled.
    again = client.post(f"{base(world_a)}/orders/{payment.pk}/pay/", {"method": "wallet"})
    assert again.status_code == 302 and again.url == f"{base(world_a)}/orders/"
    assert WalletAccount.objects.get(consumer=consumer).balance_fen == 766


def test_a_wallet_short_of_money_says_not_paid(client: Any, world_a: Any, wechat_credentials: dict) -> None:
    consumer, payment = _signed_in_owing(client, world_a, 1234)
    wallet.wallet_recharge(
        merchant_id=world_a.merchant.pk, consumer_id=consumer.pk, amount_fen=1000, idempotency_key="r1"
    )
    paid = client.post(f"{base(world_a)}/orders/{payment.pk}/pay/", {"method": "wallet"})
    result = client.get(browser.local_path(paid.url))
    assert result.status_code == 200
    assert 'data-state="failed"' in result.content.decode()
    payment.refresh_from_db()
    assert payment.state == PaymentState.FAILED
    assert WalletAccount.objects.get(consumer=consumer).balance_fen == 1000


def test_pay_through_the_wechat_cashier(
    client: Any, world_a: Any, wechat_credentials: dict, wechat_sandbox: Any
) -> None:
    _consumer, payment = _signed_in_owing(client, world_a, 1234, "wechat_jsapi")
    wechat_sandbox.set_balance(OPENID, 10_000)
    start = client.post(f"{base(world_a)}/orders/{payment.pk}/pay/", {"method": "wechat_jsapi"})
    assert start.status_code == 302
    assert start.url.startswith(f"{wechat_credentials['base_url']}/cgi-bin/mmpayweb-bin/checkmweb?")
    page, form = browser.open_page(start.url)
    assert "¥12.34" in page.text
    back = browser.submit(form)
    assert back.status_code == 302
    result = client.get(browser.local_path(back.headers["location"]))
    assert 'data-state="paid"' in result.content.decode()
    attempt = Payment.objects.get(order_ref="ORD0001", attempt=2)
    assert (attempt.state, attempt.amount_fen, attempt.method, attempt.payer_id) == (
        "paid",
        1234,
        "wechat_jsapi",
        OPENID,
    )
    assert attempt.provider_trade_no != ""
    payment.refresh_from_db()
    assert payment.state == PaymentState.CLOSED
    assert wechat_sandbox.balance(OPENID) == 10_000 - 1234


def test_leaving_the_wechat_cashier_unpaid_shows_awaiting(
    client: Any, world_a: Any, wechat_credentials: dict
) -> None:
    _consumer, payment = _signed_in_owing(client, world_a, 1234, "wechat_jsapi")
    start = client.post(f"{base(world_a)}/orders/{payment.pk}/pay/", {"method": "wechat_jsapi"})
    attempt = Payment.objects.get(order_ref="ORD0001", attempt=2)
    result = client.get(f"{base(world_a)}/orders/{payment.pk}/paid/{attempt.pk}/")
    assert 'data-state="pending"' in result.content.decode()
    assert start.status_code == 302
    payment.refresh_from_db()
    assert payment.state == PaymentState.FAILED


def test_pay_through_the_alipay_cashier(
    client: Any, world_a: Any, alipay_credentials: dict, alipay_sandbox: Any
) -> None:
    _consumer, payment = _signed_in_owing(client, world_a, 1234, "alipay_wap", alipay=True)
    start = client.post(f"{base(world_a)}/orders/{payment.pk}/pay/", {"method": "alipay_wap"})
    assert start.status_code == 302 and start.url.startswith(alipay_credentials["base_url"])
    page, form = browser.open_page(start.url)
    assert "¥12.34" in page.text
    done = browser.submit(form, user_id=ALIPAY_USER, decision="allow")
    assert done.status_code in (200, 302)
    attempt = Payment.objects.get(order_ref="ORD0001", attempt=2)
    result = client.get(f"{base(world_a)}/orders/{payment.pk}/paid/{attempt.pk}/")
    assert 'data-state="paid"' in result.content.decode()
    attempt.refresh_from_db()
    assert (attempt.state, attempt.amount_fen, attempt.payer_id) == ("paid", 1234, ALIPAY_USER)
    assert alipay_sandbox.balance(ALIPAY_USER) == 100_000 - 1234


def test_someone_elses_order_is_404(client: Any, world_a: Any, wechat_credentials: dict) -> None:
    _consumer, _payment = _signed_in_owing(client, world_a, 1234)
    stranger = Consumer.objects.create(nickname="someone else")
    theirs = owed(world_a, stranger, 999, order_ref="ORD0009")
    assert client.get(f"{base(world_a)}/orders/{theirs.pk}/pay/").status_code == 404
    assert client.post(f"{base(world_a)}/orders/{theirs.pk}/pay/", {"method": "wallet"}).status_code == 404
    assert client.get(f"{base(world_a)}/orders/{theirs.pk}/paid/{theirs.pk}/").status_code == 404
    assert "¥9.99" not in client.get(f"{base(world_a)}/orders/").content.decode()


def test_a_method_not_offered_cannot_be_chosen(client: Any, world_a: Any, wechat_credentials: dict) -> None:
    _consumer, payment = _signed_in_owing(client, world_a, 1234)
    refused = client.post(f"{base(world_a)}/orders/{payment.pk}/pay/", {"method": "wechat_jsapi"})
    assert refused.status_code == 400
    assert Payment.objects.filter(order_ref="ORD0001").count() == 1
