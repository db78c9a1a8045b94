"""Profit-sharing client calls against the sandbox, and the shopper-facing OAuth pages."""

from __future__ import annotations

import httpx
import pytest

from openvend.payments.providers.base import ChargeRequest, ProviderError, SubMerchant
from openvend.payments.providers.wechat import WeChatJsapiProvider
from openvend.sandbox.wechat import WeChatSandbox
from tests.payments.wechat.conftest import SHOPPER, SUB_MCHID, Receiver, pay_at_cashier

RECEIVER_MCH = {"type": "MERCHANT_ID", "account": "1900000200", "name": "平台", "description": "平台服务费"}


@pytest.fixture
def paid_transaction(jsapi: WeChatJsapiProvider, sub: SubMerchant, receiver: Receiver) -> str:
    charge = jsapi.charge(sub, ChargeRequest("OV-PSH-1", 1000, "咖啡", payer_id=SHOPPER))
    pay_at_cashier(charge.next_action["cashier_url"])
    return receiver.wait_for(1)[0].provider_trade_no


def test_profit_sharing_order_query_and_unfreeze(jsapi: WeChatJsapiProvider, paid_transaction: str) -> None:
    client = jsapi.client
    created = client.profitsharing_order(
        sub_mchid=SUB_MCHID,
        transaction_id=paid_transaction,
        out_order_no="OV-SH-1",
        receivers=[{**RECEIVER_MCH, "amount": 60}],
        unfreeze_unsplit=False,
    )
    assert (created["state"], created["out_order_no"], created["transaction_id"]) == (
        "FINISHED",
        "OV-SH-1",
        paid_transaction,
    )
    assert [(r["account"], r["amount"], r["result"]) for r in created["receivers"]] == [
        ("1900000200", 60, "SUCCESS")
    ]
    queried = client.profitsharing_query(SUB_MCHID, paid_transaction, "OV-SH-1")
    assert queried["order_id"] == created["order_id"]

    unfrozen = client.profitsharing_unfreeze(SUB_MCHID, paid_transaction, "OV-SH-2", "解冻剩余资金")
    assert [(r["account"], r["amount"]) for r in unfrozen["receivers"]] == [(SUB_MCHID, 940)]
    with pytest.raises(ProviderError) as exc:  # nothing left to share
        client.profitsharing_order(
            sub_mchid=SUB_MCHID,
            transaction_id=paid_transaction,
            out_order_no="OV-SH-3",
            receivers=[{**RECEIVER_MCH, "amount": 1}],
            unfreeze_unsplit=True,
        )
    assert (exc.value.code, exc.value.status, exc.value.retryable) == ("NOT_ENOUGH", 403, False)


def test_profit_sharing_more_than_paid_is_not_enough(
    jsapi: WeChatJsapiProvider, paid_transaction: str
) -> None:
    with pytest.raises(ProviderError) as exc:
        jsapi.client.profitsharing_order(
            sub_mchid=SUB_MCHID,
            transaction_id=paid_transaction,
            out_order_no="OV-SH-9",
            receivers=[{**RECEIVER_MCH, "amount": 1001}],
            unfreeze_unsplit=True,
        )
    assert exc.value.code == "NOT_ENOUGH"


def test_profit_sharing_query_unknown_is_a_final_error(jsapi: WeChatJsapiProvider) -> None:
    with pytest.raises(ProviderError) as exc:
        jsapi.client.profitsharing_query(SUB_MCHID, "4200000000", "OV-SH-NOPE")
    assert (exc.value.code, exc.value.status) == ("RESOURCE_NOT_EXISTS", 404)


def test_oauth_page_then_code_exchange(sandbox: WeChatSandbox, provisioned: dict) -> None:
    app_id, secret = provisioned["app_id"], provisioned["oauth_secret"]
    page = httpx.get(
        f"{sandbox.url}/connect/oauth2/authorize",
        params={
            "appid": app_id,
            "redirect_uri": "https://h5.example.com/oauth/back?x=1",
            "response_type": "code",
            "scope": "snsapi_base",
            "state": "st-42",
        },
    )
    assert page.status_code == 200 and "同意 / Allow" in page.text and 'name="viewport"' in page.text
    allowed = httpx.post(
        f"{sandbox.url}/connect/oauth2/authorize",
        data={
            "appid": app_id,
            "redirect_uri": "https://h5.example.com/oauth/back?x=1",
            "state": "st-42",
            "openid": SHOPPER,
        },
    )
    assert allowed.status_code == 302
    location = httpx.URL(allowed.headers["location"])
    assert (location.host, location.path, location.params["x"], location.params["state"]) == (
        "h5.example.com",
        "/oauth/back",
        "1",
        "st-42",
    )
    exchange = {
        "appid": app_id,
        "secret": secret,
        "code": location.params["code"],
        "grant_type": "authorization_code",
    }
    token = httpx.get(f"{sandbox.url}/sns/oauth2/access_token", params=exchange).json()
    assert token["openid"] == SHOPPER and token["scope"] == "snsapi_base" and token["access_token"]
    again = httpx.get(f"{sandbox.url}/sns/oauth2/access_token", params=exchange).json()
    assert again == {"errcode": 40029, "errmsg": "invalid code"}  # a code works once


def test_oauth_exchange_with_the_wrong_secret_is_refused(sandbox: WeChatSandbox, provisioned: dict) -> None:
    params = {
        "appid": provisioned["app_id"],
        "secret": "nope",
        "code": "x",
        "grant_type": "authorization_code",
    }
    assert httpx.get(f"{sandbox.url}/sns/oauth2/access_token", params=params).json()["errcode"] == 40125


def test_pages_refuse_javascript_redirects(sandbox: WeChatSandbox) -> None:
    answer = httpx.post(
        f"{sandbox.url}/connect/oauth2/authorize",
        data={"appid": "wx1", "redirect_uri": "javascript:alert(1)", "openid": SHOPPER},
    )
    assert answer.status_code == 400
