"""The third-party SDK `wechatpayv3`, changed in nothing but its gateway address, against the sandbox:
JSAPI pay, query, close, refund, payscore partner calls, certificate download and its own
notification verify/decrypt (`callback`). Both platform public-key mode and certificate mode."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from wechatpayv3 import WeChatPay, WeChatPayType
from wechatpayv3.type import RequestType

from openvend.payments.protocols import wechat as proto
from openvend.sandbox.wechat import WeChatSandbox
from tests.payments.wechat.conftest import SERVICE_ID, SHOPPER, SUB_MCHID, Receiver

SDK_MCHID = "1900000300"
SDK_APPID = "wxsdk000000000001"
SDK_APIV3_KEY = "a12d3924fd499edac8a5efc0b1c2d3e4"


@pytest.fixture
def sdk_keys(sandbox: WeChatSandbox) -> dict[str, str]:
    """The SDK's own merchant key and certificate serial, registered with the sandbox."""
    private_key = proto.generate_private_key_pem()
    _, serial = proto.self_signed_certificate(private_key, "sdk merchant")
    sandbox.register_merchant(SDK_MCHID, serial, proto.public_key_pem(private_key), SDK_APIV3_KEY)
    return {"private_key": private_key, "serial": serial}


def make_sdk(sandbox: WeChatSandbox, keys: dict[str, str], receiver: Receiver, **mode: Any) -> WeChatPay:
    wxpay = WeChatPay(
        wechatpay_type=WeChatPayType.JSAPI,
        mchid=SDK_MCHID,
        private_key=keys["private_key"],
        cert_serial_no=keys["serial"],
        appid=SDK_APPID,
        apiv3_key=SDK_APIV3_KEY,
        notify_url=receiver.url,
        partner_mode=True,
        **mode,
    )
    wxpay._core._gate_way = sandbox.url  # the only change: where the gateway is
    return wxpay


@pytest.fixture
def sdk_public_key(sandbox: WeChatSandbox, sdk_keys: dict[str, str], receiver: Receiver) -> WeChatPay:
    platform = sandbox.gateway.platform
    return make_sdk(
        sandbox, sdk_keys, receiver, public_key=platform.public_key_pem, public_key_id=platform.public_key_id
    )


@pytest.fixture
def sdk_certificate(
    sandbox: WeChatSandbox, sdk_keys: dict[str, str], receiver: Receiver, tmp_path: Path
) -> Iterator[WeChatPay]:
    # The SDK fetches certificates from the real gateway while it is being constructed, before the
    # address can be changed: give it the platform certificate in its cert_dir, as a deployment would.
    platform = sandbox.gateway.platform
    (tmp_path / f"{platform.certificate_serial}.pem").write_text(platform.certificate_pem)
    sandbox.set_merchant_mode(SDK_MCHID, "certificate")
    yield make_sdk(sandbox, sdk_keys, receiver, cert_dir=str(tmp_path))


def sdk_pay_and_settle(
    sandbox: WeChatSandbox, wxpay: WeChatPay, receiver: Receiver, out: str
) -> dict[str, Any]:
    code, text = wxpay.pay(
        description="SDK 可乐",
        out_trade_no=out,
        amount={"total": 450, "currency": "CNY"},
        payer={"sp_openid": SHOPPER},
        sub_mchid=SUB_MCHID,
        attach="sdk",
        pay_type=WeChatPayType.JSAPI,
    )
    assert code == 200
    prepay_id = json.loads(text)["prepay_id"]
    paid = httpx.post(f"{sandbox.url}/cgi-bin/mmpayweb-bin/checkmweb", data={"prepay_id": prepay_id})
    assert paid.status_code == 200 and "支付成功 / Paid" in paid.text
    assert sandbox.courier.wait_idle(5)
    headers, body = receiver.raw[-1]
    notification = wxpay.callback(headers, body)
    assert notification is not None, "the SDK refused the sandbox's notification"
    return {"prepay_id": prepay_id, "notification": notification}


def test_sdk_jsapi_pay_query_refund_in_public_key_mode(
    sandbox: WeChatSandbox, sdk_public_key: WeChatPay, receiver: Receiver
) -> None:
    wxpay = sdk_public_key
    settled = sdk_pay_and_settle(sandbox, wxpay, receiver, "SDK-PK-0001")
    note = settled["notification"]
    assert note["event_type"] == "TRANSACTION.SUCCESS"
    assert (note["resource"]["out_trade_no"], note["resource"]["amount"]["total"]) == ("SDK-PK-0001", 450)
    assert note["resource"]["sp_mchid"] == SDK_MCHID and note["resource"]["attach"] == "sdk"
    assert receiver.raw[-1][0]["Wechatpay-Serial"] == sandbox.gateway.platform.public_key_id

    code, text = wxpay.query(out_trade_no="SDK-PK-0001", sub_mchid=SUB_MCHID)
    queried = json.loads(text)
    assert (code, queried["trade_state"], queried["transaction_id"]) == (
        200,
        "SUCCESS",
        note["resource"]["transaction_id"],
    )

    code, text = wxpay.refund(
        out_refund_no="SDK-PK-R1",
        amount={"refund": 150, "total": 450, "currency": "CNY"},
        out_trade_no="SDK-PK-0001",
        sub_mchid=SUB_MCHID,
    )
    assert (code, json.loads(text)["status"], json.loads(text)["amount"]["refund"]) == (
        200,
        "PROCESSING",
        150,
    )
    code, text = wxpay.query_refund(out_refund_no="SDK-PK-R1", sub_mchid=SUB_MCHID)
    assert (code, json.loads(text)["status"]) == (200, "SUCCESS")
    assert sandbox.courier.wait_idle(5)
    refund_note = wxpay.callback(*receiver.raw[-1])
    assert refund_note["event_type"] == "REFUND.SUCCESS"
    assert (refund_note["resource"]["out_refund_no"], refund_note["resource"]["amount"]["refund"]) == (
        "SDK-PK-R1",
        150,
    )


def test_sdk_paysign_verifies_with_our_protocol(sdk_public_key: WeChatPay, sdk_keys: dict[str, str]) -> None:
    fields = [SDK_APPID, "1700000000", "NONCE", "prepay_id=wx123"]
    pay_sign = sdk_public_key.sign(fields)
    ours = proto.jsapi_pay_sign(
        sdk_keys["private_key"], app_id=fields[0], timestamp=fields[1], nonce=fields[2], package=fields[3]
    )
    assert pay_sign == ours


def test_sdk_close_an_unpaid_order(sdk_public_key: WeChatPay) -> None:
    code, _ = sdk_public_key.pay(
        description="x",
        out_trade_no="SDK-PK-0002",
        amount={"total": 1},
        payer={"sp_openid": SHOPPER},
        sub_mchid=SUB_MCHID,
    )
    assert code == 200
    assert sdk_public_key.close(out_trade_no="SDK-PK-0002", sub_mchid=SUB_MCHID)[0] == 204
    code, text = sdk_public_key.query(out_trade_no="SDK-PK-0002", sub_mchid=SUB_MCHID)
    assert json.loads(text)["trade_state"] == "CLOSED"


def test_sdk_payscore_partner_calls(
    sandbox: WeChatSandbox, sdk_public_key: WeChatPay, receiver: Receiver
) -> None:
    """The SDK has no partner payscore helpers; its signed transport (`_core.request`) calls the paths."""
    core = sdk_public_key._core
    code, text = core.request(
        "/v3/payscore/partner/permissions",
        method=RequestType.POST,
        data={
            "service_id": SERVICE_ID,
            "appid": SDK_APPID,
            "sub_mchid": SUB_MCHID,
            "authorization_code": "SDK-AU-1",
            "notify_url": receiver.url,
        },
    )
    assert code == 200
    token = json.loads(text)["apply_permissions_token"]
    agreed = httpx.post(
        f"{sandbox.url}/payscore/permissions/confirm",
        data={"apply_permissions_token": token, "openid": SHOPPER, "decision": "allow"},
    )
    assert agreed.status_code == 200
    query = f"service_id={SERVICE_ID}&appid={SDK_APPID}&sub_mchid={SUB_MCHID}&openid={SHOPPER}"
    code, text = core.request(f"/v3/payscore/partner/permissions/search?{query}")
    assert (code, json.loads(text)["authorization_state"]) == (200, "AVAILABLE")

    order = {
        "service_id": SERVICE_ID,
        "appid": SDK_APPID,
        "sub_mchid": SUB_MCHID,
        "out_order_no": "SDK-PS-1",
        "service_introduction": "SDK 智能柜",
        "risk_fund": {"name": "ESTIMATE_ORDER_COST", "amount": 5000},
        "time_range": {"start_time": "OnAccept"},
        "need_user_confirm": False,
        "openid": SHOPPER,
        "notify_url": receiver.url,
    }
    code, text = core.request("/v3/payscore/partner/serviceorder", method=RequestType.POST, data=order)
    assert (code, json.loads(text)["state"]) == (200, "DOING")
    complete = {
        "service_id": SERVICE_ID,
        "sub_mchid": SUB_MCHID,
        "post_payments": [{"name": "矿泉水", "amount": 200, "count": 2}],
        "total_amount": 200,
    }
    code, text = core.request(
        "/v3/payscore/partner/serviceorder/SDK-PS-1/complete", method=RequestType.POST, data=complete
    )
    assert (code, json.loads(text)["state"]) == (200, "DONE")
    code, text = core.request(
        f"/v3/payscore/partner/serviceorder?service_id={SERVICE_ID}&sub_mchid={SUB_MCHID}&out_order_no=SDK-PS-1"
    )
    assert (json.loads(text)["collection"]["state"], json.loads(text)["collection"]["paid_amount"]) == (
        "USER_PAID",
        200,
    )

    assert sandbox.courier.wait_idle(5)
    events = sorted((sdk_public_key.callback(h, b) for h, b in receiver.raw), key=lambda e: e["event_type"])
    assert [e["event_type"] for e in events] == ["PAYSCORE.USER_OPEN_SERVICE", "PAYSCORE.USER_PAID"]
    assert events[0]["resource"]["authorization_code"] == "SDK-AU-1"
    assert (events[1]["resource"]["out_order_no"], events[1]["resource"]["collection"]["paid_amount"]) == (
        "SDK-PS-1",
        200,
    )


def test_sdk_in_certificate_mode(
    sandbox: WeChatSandbox, sdk_certificate: WeChatPay, receiver: Receiver
) -> None:
    settled = sdk_pay_and_settle(sandbox, sdk_certificate, receiver, "SDK-CERT-0001")
    assert settled["notification"]["resource"]["out_trade_no"] == "SDK-CERT-0001"
    assert receiver.raw[-1][0]["Wechatpay-Serial"] == sandbox.gateway.platform.certificate_serial
    code, text = sdk_certificate.query(out_trade_no="SDK-CERT-0001", sub_mchid=SUB_MCHID)
    assert (code, json.loads(text)["trade_state"]) == (200, "SUCCESS")


def test_sdk_downloads_and_decrypts_the_platform_certificates(
    sandbox: WeChatSandbox, sdk_certificate: WeChatPay
) -> None:
    core = sdk_certificate._core
    core._update_certificates()
    assert [format(c.serial_number, "X") for c in core._certificates] == [
        sandbox.gateway.platform.certificate_serial
    ]


def test_sdk_rejects_a_notification_signed_by_someone_else(
    sandbox: WeChatSandbox, sdk_public_key: WeChatPay, receiver: Receiver
) -> None:
    settled = sdk_pay_and_settle(sandbox, sdk_public_key, receiver, "SDK-PK-0003")
    assert settled["notification"] is not None
    headers, body = receiver.raw[-1]
    forged = proto.signed_headers(
        proto.generate_private_key_pem(), headers["Wechatpay-Serial"], body.decode()
    )
    assert sdk_public_key.callback({**headers, **forged}, body) is None
