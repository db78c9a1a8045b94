"""python-alipay-sdk, which no one here wrote, against the sandbox with nothing changed but the gateway
address: it signs its own requests, verifies the sandbox's answers and a sandbox notification.

The SDK stamps `timestamp` with the host's local time, as Alipay integrations run on Beijing time;
the fixture gives this process that zone (the sandbox, like Alipay, checks the stamp to +-5 minutes).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from urllib.parse import parse_qsl

import httpx
import pytest
from alipay import AliPay, ISVAliPay

from openvend.payments.protocols import alipay as wire
from openvend.payments.providers.base import EventType
from openvend.sandbox.alipay import AlipaySandbox
from tests.payments.alipay.conftest import SHOPPER, Receiver, query_of, shopper_confirms

SDK_APP_ID = "2021000000000777"


@pytest.fixture
def beijing_host_time() -> Iterator[None]:
    previous = os.environ.get("TZ")
    os.environ["TZ"] = "Asia/Shanghai"
    time.tzset()
    yield
    if previous is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = previous
    time.tzset()


@pytest.fixture
def sdk_keys(sandbox: AlipaySandbox) -> wire.KeyPair:
    keys = wire.generate_key_pair()
    sandbox.register_app(SDK_APP_ID, keys.public_key_pem)
    return keys


@pytest.fixture
def sdk(
    sandbox: AlipaySandbox, sdk_keys: wire.KeyPair, receiver: Receiver, beijing_host_time: None
) -> AliPay:
    alipay = AliPay(
        appid=SDK_APP_ID,
        app_notify_url=receiver.url,
        app_private_key_string=sdk_keys.private_key_pem,
        alipay_public_key_string=sandbox.public_key_pem,
        sign_type="RSA2",
    )
    alipay._gateway = sandbox.gateway_url  # the only change: where the gateway is
    return alipay


def test_sdk_trade_pay_query_refund_and_refund_query(
    sandbox: AlipaySandbox, sdk: AliPay, receiver: Receiver
) -> None:
    code = sandbox.issue_payment_code(SHOPPER)
    paid = sdk.api_alipay_trade_pay("SDK0001", "bar_code", code, "矿泉水", total_amount="12.34")
    assert (paid["code"], paid["out_trade_no"], paid["total_amount"], paid["buyer_user_id"]) == (
        "10000",
        "SDK0001",
        "12.34",
        SHOPPER,
    )
    assert sandbox.balance(SHOPPER) == 100_000 - 1234

    queried = sdk.api_alipay_trade_query(out_trade_no="SDK0001")
    assert (queried["code"], queried["trade_status"], queried["trade_no"]) == (
        "10000",
        "TRADE_SUCCESS",
        paid["trade_no"],
    )

    refunded = sdk.api_alipay_trade_refund(
        refund_amount="2.34", out_trade_no="SDK0001", out_request_no="SDKR1"
    )
    assert (refunded["code"], refunded["fund_change"], refunded["refund_fee"]) == ("10000", "Y", "2.34")
    assert sandbox.balance(SHOPPER) == 100_000 - 1000

    found = sdk.api_alipay_trade_fastpay_refund_query("SDKR1", out_trade_no="SDK0001")
    assert (found["code"], found["refund_amount"], found["refund_status"]) == (
        "10000",
        "2.34",
        "REFUND_SUCCESS",
    )

    missing = sdk.api_alipay_trade_query(out_trade_no="SDK-NONE")  # a verified business refusal
    assert (missing["code"], missing["sub_code"]) == ("40004", "ACQ.TRADE_NOT_EXIST")

    notes = receiver.wait_for(2)
    assert [(n.event_type, n.amount_fen) for n in notes] == [
        (EventType.PAYMENT_PAID, 1234),
        (EventType.REFUND_SUCCEEDED, 234),
    ]


def test_sdk_wap_pay_url_and_notification_verify(
    sandbox: AlipaySandbox, sdk: AliPay, receiver: Receiver
) -> None:
    order_string = sdk.api_alipay_trade_wap_pay(
        subject="补缴订单", out_trade_no="SDK0002", total_amount="5.00", return_url="http://shop.example/back"
    )
    answer = shopper_confirms(sandbox, sandbox.gateway_url + "?" + order_string)
    assert answer.status_code == 302
    back = query_of(answer.headers["location"])
    assert (back["out_trade_no"], back["total_amount"]) == ("SDK0002", "5.00")
    back_sign = back.pop("sign")
    assert sdk.verify(back, back_sign) is True

    receiver.wait_for(1)
    body = receiver.received[0].body
    data = dict(parse_qsl(body.decode()))
    signature = data.pop("sign")
    assert sdk.verify(dict(data), signature) is True
    assert (data["trade_status"], data["out_trade_no"], data["total_amount"]) == (
        "TRADE_SUCCESS",
        "SDK0002",
        "5.00",
    )
    data["total_amount"] = "0.01"
    assert sdk.verify(dict(data), signature) is False
    assert sdk.api_alipay_trade_query(out_trade_no="SDK0002")["trade_status"] == "TRADE_SUCCESS"


def test_isv_sdk_pays_for_a_sub_merchant(
    sandbox: AlipaySandbox, sdk_keys: wire.KeyPair, receiver: Receiver, beijing_host_time: None
) -> None:
    sandbox.add_sub_merchant("202612BBisv0001", "2088000000000556")
    isv = ISVAliPay(
        appid=SDK_APP_ID,
        app_notify_url=receiver.url,
        app_private_key_string=sdk_keys.private_key_pem,
        alipay_public_key_string=sandbox.public_key_pem,
        app_auth_token="202612BBisv0001",
    )
    isv._gateway = sandbox.gateway_url
    code = sandbox.issue_payment_code(SHOPPER)
    paid = isv.api_alipay_trade_pay("SDK0003", "bar_code", code, "x", total_amount="1.00")
    assert (paid["code"], paid["total_amount"]) == ("10000", "1.00")
    assert isv.api_alipay_trade_query(out_trade_no="SDK0003")["trade_status"] == "TRADE_SUCCESS"


def test_sdk_with_a_foreign_key_is_refused(
    sandbox: AlipaySandbox, sdk: AliPay, beijing_host_time: None
) -> None:
    impostor = AliPay(
        appid=SDK_APP_ID,
        app_private_key_string=wire.generate_key_pair().private_key_pem,
        alipay_public_key_string=sandbox.public_key_pem,
    )
    impostor._gateway = sandbox.gateway_url
    refused = impostor.api_alipay_trade_query(out_trade_no="SDK0001")
    assert (refused["code"], refused["sub_code"]) == ("40002", "isv.invalid-signature")
    assert httpx.get(sandbox.url + "/").status_code == 200
