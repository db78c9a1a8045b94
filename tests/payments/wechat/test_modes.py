"""Certificate mode and public-key mode, both directions: the sandbox refuses badly signed requests,
our client refuses badly signed answers."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import httpx
import pytest

from openvend.payments.protocols import wechat as proto
from openvend.payments.providers.base import (
    ChargeRequest,
    ChargeState,
    Credentials,
    EventType,
    ProviderError,
    Rejected,
    RejectReason,
    SubMerchant,
)
from openvend.payments.providers.wechat import WeChatJsapiProvider
from openvend.sandbox.wechat import WeChatSandbox
from tests.payments.wechat.conftest import SERVICE_ID, SHOPPER, SP_MCHID, SUB_MCHID, Receiver, pay_at_cashier


def order(provider: WeChatJsapiProvider, sub: SubMerchant, out: str = "OV-M-0001"):
    return provider.charge(sub, ChargeRequest(out, 200, "酸奶", payer_id=SHOPPER))


def cert_creds(provisioned: dict[str, Any], receiver: Receiver, certificates: dict[str, str]) -> Credentials:
    values = {**provisioned, "gateway_public_key_pem": "", "gateway_public_key_id": ""}
    values["gateway_certificates"] = certificates
    return Credentials(**values, payscore_service_id=SERVICE_ID, notify_url=receiver.url)


def test_public_key_mode_answers_and_notifies_under_the_key_id(
    sandbox: WeChatSandbox, jsapi: WeChatJsapiProvider, sub: SubMerchant, receiver: Receiver
) -> None:
    pay_at_cashier(order(jsapi, sub).next_action["cashier_url"])
    [note] = receiver.wait_for(1)
    headers, _ = receiver.raw[0]
    assert headers["Wechatpay-Serial"] == jsapi.credentials.gateway_public_key_id
    assert headers["Wechatpay-Serial"].startswith("PUB_KEY_ID_")
    assert headers["Wechatpay-Signature-Type"] == "WECHATPAY2-SHA256-RSA2048"
    assert note.out_trade_no == "OV-M-0001"


def test_certificate_mode_downloads_certificates_when_it_meets_a_new_serial(
    sandbox: WeChatSandbox, provisioned: dict[str, Any], receiver: Receiver, sub: SubMerchant
) -> None:
    sandbox.set_merchant_mode(SP_MCHID, "certificate")
    provider = WeChatJsapiProvider(cert_creds(provisioned, receiver, {}))
    receiver.provider = provider
    pay_at_cashier(order(provider, sub).next_action["cashier_url"])
    serial = sandbox.gateway.platform.certificate_serial
    assert dict(provider.client.gateway_keys().certificates) == {
        serial: sandbox.gateway.platform.certificate_pem
    }
    [note] = receiver.wait_for(1)
    assert receiver.raw[0][0]["Wechatpay-Serial"] == serial
    assert (note.event_type, note.amount_fen) == (EventType.PAYMENT_PAID, 200)
    assert provider.query(sub, "OV-M-0001").state == ChargeState.PAID


def test_certificate_mode_with_preloaded_certificates(
    sandbox: WeChatSandbox, provisioned: dict[str, Any], receiver: Receiver, sub: SubMerchant
) -> None:
    provider = WeChatJsapiProvider(cert_creds(provisioned, receiver, provisioned["gateway_certificates"]))
    assert order(provider, sub).state == ChargeState.PENDING


def test_certificate_download_is_verified_with_the_decrypted_certificate(
    provisioned: dict[str, Any], receiver: Receiver
) -> None:
    provider = WeChatJsapiProvider(cert_creds(provisioned, receiver, {}))
    assert provider.client.download_certificates() == provisioned["gateway_certificates"]


def test_certificate_download_with_the_wrong_apiv3_key_fails(
    provisioned: dict[str, Any], receiver: Receiver
) -> None:
    creds = replace(cert_creds(provisioned, receiver, {}), api_key="w" * 32)
    with pytest.raises(Rejected) as exc:
        WeChatJsapiProvider(creds).client.download_certificates()
    assert exc.value.reason == RejectReason.DECRYPT_FAILED


def test_answer_signed_by_someone_else_is_rejected_in_public_key_mode(
    creds: Credentials, sub: SubMerchant
) -> None:
    impostor = proto.public_key_pem(proto.generate_private_key_pem())
    provider = WeChatJsapiProvider(replace(creds, gateway_public_key_pem=impostor))
    with pytest.raises(Rejected) as exc:
        order(provider, sub)
    assert exc.value.reason == RejectReason.BAD_SIGNATURE


def test_answer_under_an_untrusted_key_id_is_unknown_key(creds: Credentials, sub: SubMerchant) -> None:
    provider = WeChatJsapiProvider(replace(creds, gateway_public_key_id="PUB_KEY_ID_SOMEONE_ELSE"))
    with pytest.raises(Rejected) as exc:
        order(provider, sub)
    assert exc.value.reason == RejectReason.UNKNOWN_KEY


def test_answer_signed_under_a_forged_certificate_is_rejected(
    sandbox: WeChatSandbox, provisioned: dict[str, Any], receiver: Receiver, sub: SubMerchant
) -> None:
    serial = sandbox.gateway.platform.certificate_serial
    forged, _ = proto.self_signed_certificate(
        proto.generate_private_key_pem(), "forged", serial_number=int(serial, 16)
    )
    provider = WeChatJsapiProvider(cert_creds(provisioned, receiver, {serial: forged}))
    with pytest.raises(Rejected) as exc:
        order(provider, sub)
    assert exc.value.reason == RejectReason.BAD_SIGNATURE


# -- the sandbox checks our requests ------------------------------------------------------------------------


def raw_call(
    sandbox: WeChatSandbox, provisioned: dict[str, Any], *, key: str = "", serial: str = "", skew: int = 0
):
    url = f"/v3/pay/partner/transactions/out-trade-no/OV-M-0001?sp_mchid={SP_MCHID}&sub_mchid={SUB_MCHID}"
    authorization = proto.build_authorization(
        mch_id=SP_MCHID,
        serial_no=serial or provisioned["key_serial_no"],
        private_key_pem=key or provisioned["private_key_pem"],
        method="GET",
        url=url,
        body="",
        timestamp=int(time.time()) + skew,
    )
    return httpx.get(
        sandbox.url + url, headers={"Authorization": authorization, "Accept": "application/json"}
    )


def test_sandbox_accepts_a_good_request(sandbox: WeChatSandbox, provisioned: dict[str, Any]) -> None:
    response = raw_call(sandbox, provisioned)
    assert (response.status_code, response.json()["code"]) == (404, "ORDER_NOT_EXIST")


def test_sandbox_refuses_a_request_signed_with_another_key(
    sandbox: WeChatSandbox, provisioned: dict[str, Any]
) -> None:
    response = raw_call(sandbox, provisioned, key=proto.generate_private_key_pem())
    assert (response.status_code, response.json()["code"]) == (401, "SIGN_ERROR")


def test_sandbox_refuses_a_stale_request(sandbox: WeChatSandbox, provisioned: dict[str, Any]) -> None:
    response = raw_call(sandbox, provisioned, skew=-301)
    assert (response.status_code, response.json()["code"]) == (401, "SIGN_ERROR")


def test_sandbox_refuses_an_unknown_merchant_serial(
    sandbox: WeChatSandbox, provisioned: dict[str, Any]
) -> None:
    response = raw_call(sandbox, provisioned, serial="0123ABCD")
    assert (response.status_code, response.json()["code"]) == (401, "SIGN_ERROR")


def test_sandbox_refuses_a_request_without_authorization(sandbox: WeChatSandbox) -> None:
    response = httpx.get(f"{sandbox.url}/v3/certificates")
    assert (response.status_code, response.json()["code"]) == (401, "SIGN_ERROR")


def test_sandbox_signs_its_errors_too(sandbox: WeChatSandbox, provisioned: dict[str, Any]) -> None:
    response = raw_call(sandbox, provisioned, key=proto.generate_private_key_pem())
    keys = proto.GatewayKeys(certificates=provisioned["gateway_certificates"])
    assert (
        proto.verify_signed(response.headers, response.content, keys)
        == sandbox.gateway.platform.certificate_serial
    )


def test_client_sees_sign_error_as_final(creds: Credentials, sub: SubMerchant) -> None:
    provider = WeChatJsapiProvider(replace(creds, private_key_pem=proto.generate_private_key_pem()))
    with pytest.raises(ProviderError) as exc:
        order(provider, sub)
    assert (exc.value.code, exc.value.status, exc.value.retryable) == ("SIGN_ERROR", 401, False)
