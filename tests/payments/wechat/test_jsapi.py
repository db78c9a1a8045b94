"""JSAPI payment through our client and the sandbox over HTTP: order, pay at the cashier, notification,
query, close, refund, and the errors the gateway answers."""

from __future__ import annotations

import httpx
import pytest

from openvend.payments.protocols import wechat as proto
from openvend.payments.providers.base import (
    AuthorisationRequest,
    ChargeRequest,
    ChargeState,
    EventType,
    ProviderError,
    RefundRequest,
    RefundState,
    SubMerchant,
)
from openvend.payments.providers.wechat import WeChatJsapiProvider
from openvend.sandbox.wechat import WeChatSandbox
from tests.payments.wechat.conftest import SHOPPER, SP_MCHID, SUB_APPID, SUB_MCHID, Receiver, pay_at_cashier


def _charge(jsapi: WeChatJsapiProvider, sub: SubMerchant, out: str = "OV-J-0001", fen: int = 350):
    request = ChargeRequest(
        out_trade_no=out, amount_fen=fen, description="可口可乐 330ml", payer_id=SHOPPER, attach="p42"
    )
    return jsapi.charge(sub, request)


def test_charge_returns_prepay_parameters_signed_with_our_key(
    jsapi: WeChatJsapiProvider, sub: SubMerchant
) -> None:
    result = _charge(jsapi, sub)
    assert result.state == ChargeState.PENDING and result.amount_fen == 350
    params = result.next_action["jsapi"]
    assert params["appId"] == jsapi.credentials.app_id and params["signType"] == "RSA"
    assert params["package"] == f"prepay_id={result.raw['prepay_id']}"
    message = f"{params['appId']}\n{params['timeStamp']}\n{params['nonceStr']}\n{params['package']}\n"
    assert proto.verify(proto.public_key_pem(jsapi.credentials.private_key_pem), message, params["paySign"])
    assert result.next_action["cashier_url"].startswith(
        jsapi.credentials.base_url + "/cgi-bin/mmpayweb-bin/checkmweb?"
    )


def test_pay_at_cashier_then_notification_and_query_say_paid(
    sandbox: WeChatSandbox, jsapi: WeChatJsapiProvider, sub: SubMerchant, receiver: Receiver
) -> None:
    sandbox.set_balance(SHOPPER, 1000)
    result = _charge(jsapi, sub)
    assert jsapi.query(sub, "OV-J-0001").state == ChargeState.PENDING

    answer = pay_at_cashier(result.next_action["cashier_url"])
    assert (answer.status_code, answer.headers["location"]) == (302, "https://h5.example.com/paid")

    [note] = receiver.wait_for(1)
    assert note.event_type == EventType.PAYMENT_PAID
    assert (note.out_trade_no, note.amount_fen, note.payer_id) == ("OV-J-0001", 350, SHOPPER)
    assert (note.mch_id, note.sub_mchid, note.app_id) == (SP_MCHID, SUB_MCHID, jsapi.credentials.app_id)
    assert note.raw["resource"]["attach"] == "p42"

    queried = jsapi.query(sub, "OV-J-0001")
    assert (queried.state, queried.amount_fen, queried.provider_trade_no) == (
        ChargeState.PAID,
        350,
        note.provider_trade_no,
    )
    assert sandbox.balance(SHOPPER) == 650
    assert receiver.rejections == []


def test_sub_appid_orders_use_sub_openid_and_the_sub_app(
    sandbox: WeChatSandbox, jsapi: WeChatJsapiProvider, receiver: Receiver
) -> None:
    sub = SubMerchant(sub_mchid=SUB_MCHID, sub_appid=SUB_APPID)
    result = _charge(jsapi, sub, out="OV-J-SUBAPP")
    assert result.next_action["jsapi"]["appId"] == SUB_APPID
    pay_at_cashier(result.next_action["cashier_url"])
    [note] = receiver.wait_for(1)
    assert note.payer_id == SHOPPER and note.raw["resource"]["payer"] == {"sub_openid": SHOPPER}


def test_repeating_the_same_order_is_idempotent(jsapi: WeChatJsapiProvider, sub: SubMerchant) -> None:
    first, second = _charge(jsapi, sub), _charge(jsapi, sub)
    assert first.raw["prepay_id"] == second.raw["prepay_id"]


def test_same_number_with_other_parameters_is_refused(jsapi: WeChatJsapiProvider, sub: SubMerchant) -> None:
    _charge(jsapi, sub, fen=350)
    with pytest.raises(ProviderError) as exc:
        _charge(jsapi, sub, fen=351)
    assert (exc.value.code, exc.value.status, exc.value.retryable) == ("INVALID_REQUEST", 400, False)


def test_query_of_an_unknown_order_is_not_found(jsapi: WeChatJsapiProvider, sub: SubMerchant) -> None:
    result = jsapi.query(sub, "OV-NOPE")
    assert (result.state, result.failure_code) == (ChargeState.NOT_FOUND, "ORDER_NOT_EXIST")


def test_cancel_closes_an_unpaid_order(jsapi: WeChatJsapiProvider, sub: SubMerchant) -> None:
    result = _charge(jsapi, sub)
    assert jsapi.cancel(sub, "OV-J-0001", "shopper left").state == ChargeState.CLOSED
    assert jsapi.query(sub, "OV-J-0001").state == ChargeState.CLOSED
    page = httpx.get(result.next_action["cashier_url"])
    assert "已关闭 / Closed" in page.text


def test_cancel_of_a_paid_order_is_refused(jsapi: WeChatJsapiProvider, sub: SubMerchant) -> None:
    pay_at_cashier(_charge(jsapi, sub).next_action["cashier_url"])
    with pytest.raises(ProviderError) as exc:
        jsapi.cancel(sub, "OV-J-0001", "too late")
    assert exc.value.code == "ORDERPAID"


def test_refund_succeeds_and_notifies(
    sandbox: WeChatSandbox, jsapi: WeChatJsapiProvider, sub: SubMerchant, receiver: Receiver
) -> None:
    sandbox.set_balance(SHOPPER, 350)
    pay_at_cashier(_charge(jsapi, sub).next_action["cashier_url"])
    refund = RefundRequest(out_trade_no="OV-J-0001", out_refund_no="OV-R-0001", refund_fen=120, total_fen=350)
    accepted = jsapi.refund(sub, refund)
    assert (accepted.state, accepted.refund_fen) == (RefundState.PENDING, 120)
    assert accepted.provider_refund_id

    notes = receiver.wait_for(2)
    refunded = [n for n in notes if n.event_type == EventType.REFUND_SUCCEEDED]
    assert [(n.out_refund_no, n.out_trade_no, n.amount_fen) for n in refunded] == [
        ("OV-R-0001", "OV-J-0001", 120)
    ]
    assert jsapi.query_refund(sub, "OV-R-0001", "OV-J-0001").state == RefundState.SUCCEEDED
    assert sandbox.balance(SHOPPER) == 120
    # The trade stays a successful charge; only its refund state moved.
    assert jsapi.query(sub, "OV-J-0001").state == ChargeState.PAID
    # Repeating the same refund answers the same refund, and moves no more money.
    assert jsapi.refund(sub, refund).provider_refund_id == accepted.provider_refund_id
    assert sandbox.balance(SHOPPER) == 120


def test_refund_beyond_the_paid_amount_is_refused(jsapi: WeChatJsapiProvider, sub: SubMerchant) -> None:
    pay_at_cashier(_charge(jsapi, sub).next_action["cashier_url"])
    jsapi.refund(sub, RefundRequest("OV-J-0001", "OV-R-1", refund_fen=300, total_fen=350))
    with pytest.raises(ProviderError) as exc:
        jsapi.refund(sub, RefundRequest("OV-J-0001", "OV-R-2", refund_fen=51, total_fen=350))
    assert (exc.value.code, exc.value.retryable) == ("INVALID_REQUEST", False)


def test_query_refund_unknown_is_not_found(jsapi: WeChatJsapiProvider, sub: SubMerchant) -> None:
    assert jsapi.query_refund(sub, "OV-R-NOPE", "OV-J-0001").state == RefundState.NOT_FOUND


def test_jsapi_does_not_do_pay_after_authorisation(jsapi: WeChatJsapiProvider, sub: SubMerchant) -> None:
    with pytest.raises(ProviderError) as exc:
        jsapi.authorise(sub, AuthorisationRequest("AU-1", SHOPPER, "https://h5.example.com/back"))
    assert exc.value.code == "NOT_SUPPORTED"
    for call in (jsapi.query_authorisation, lambda s, p, r: jsapi.revoke_authorisation(s, p, r, "x")):
        with pytest.raises(ProviderError) as exc:
            call(sub, SHOPPER, "AU-1")
        assert exc.value.code == "NOT_SUPPORTED"
    opened = jsapi.open_pay_after(sub, ChargeRequest("OV-J-2", 100, "x", payer_id=SHOPPER))
    assert opened.state == ChargeState.PENDING


def test_unknown_sub_merchant_is_a_param_error(jsapi: WeChatJsapiProvider) -> None:
    with pytest.raises(ProviderError) as exc:
        _charge(jsapi, SubMerchant(sub_mchid="1999999999"))
    assert (exc.value.code, exc.value.status, exc.value.retryable) == ("PARAM_ERROR", 400, False)


def test_unreachable_gateway_is_a_retryable_network_error(creds, sub: SubMerchant) -> None:
    from dataclasses import replace

    provider = WeChatJsapiProvider(replace(creds, base_url="http://127.0.0.1:9"))
    with pytest.raises(ProviderError) as exc:
        _charge(provider, sub)
    assert (exc.value.code, exc.value.retryable) == ("NETWORK_ERROR", True)
