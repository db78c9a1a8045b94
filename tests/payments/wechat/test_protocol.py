"""The wire protocol on its own: fixed vectors, and every way a response or notification is refused."""

from __future__ import annotations

import json
import time

import pytest

from openvend.payments.protocols import wechat as proto
from openvend.payments.providers.base import Credentials, Rejected, RejectReason
from openvend.payments.providers.wechat import WeChatJsapiProvider
from tests.payments.wechat import vectors as v

NOW = 1_700_000_000


@pytest.fixture(scope="module")
def platform_key() -> str:
    return proto.generate_private_key_pem()


@pytest.fixture(scope="module")
def keys(platform_key: str) -> proto.GatewayKeys:
    return proto.GatewayKeys(
        public_key_id="PUB_KEY_ID_0114232", public_key_pem=proto.public_key_pem(platform_key)
    )


def signed(
    platform_key: str, body: str, *, serial: str = "PUB_KEY_ID_0114232", ts: int = NOW
) -> dict[str, str]:
    return proto.signed_headers(platform_key, serial, body, timestamp=ts, nonce="NONCE0001")


# -- vectors -------------------------------------------------------------------------------------------


def test_request_signature_matches_the_openssl_vector() -> None:
    r = v.REQUEST
    message = proto.request_message(r["method"], r["url"], r["timestamp"], r["nonce"], r["body"])
    assert proto.sign(v.VECTOR_PRIVATE_KEY_PEM, message) == v.REQUEST_SIGNATURE


def test_authorization_header_carries_the_vector_signature() -> None:
    r = v.REQUEST
    header = proto.build_authorization(
        mch_id="1900000100",
        serial_no="5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
        private_key_pem=v.VECTOR_PRIVATE_KEY_PEM,
        method=r["method"],
        url=r["url"],
        body=r["body"],
        timestamp=int(r["timestamp"]),
        nonce=r["nonce"],
    )
    assert header == (
        'WECHATPAY2-SHA256-RSA2048 mchid="1900000100",nonce_str="593BEC0C930BF1AFEB40B4A08C8FB242",'
        f'signature="{v.REQUEST_SIGNATURE}",timestamp="1700000000",'
        'serial_no="5157F09EFDC096DE15EBE81A47057A7232F1B8E1"'
    )
    parsed = proto.parse_authorization(header)
    assert (parsed.mch_id, parsed.timestamp, parsed.signature) == (
        "1900000100",
        "1700000000",
        v.REQUEST_SIGNATURE,
    )


def test_response_signature_vector_verifies() -> None:
    r = v.RESPONSE
    keys = proto.GatewayKeys(
        public_key_id="PUB_KEY_ID_1", public_key_pem=proto.public_key_pem(v.VECTOR_PRIVATE_KEY_PEM)
    )
    headers = {
        "Wechatpay-Timestamp": r["timestamp"],
        "Wechatpay-Nonce": r["nonce"],
        "Wechatpay-Signature": v.RESPONSE_SIGNATURE,
        "Wechatpay-Serial": "PUB_KEY_ID_1",
    }
    assert proto.verify_signed(headers, r["body"], keys, now=int(r["timestamp"])) == "PUB_KEY_ID_1"


def test_jsapi_pay_sign_matches_the_openssl_vector() -> None:
    j = v.JSAPI
    pay_sign = proto.jsapi_pay_sign(
        v.VECTOR_PRIVATE_KEY_PEM,
        app_id=j["app_id"],
        timestamp=j["timestamp"],
        nonce=j["nonce"],
        package=j["package"],
    )
    assert pay_sign == v.JSAPI_PAY_SIGN


def test_aes_gcm_decrypts_the_known_ciphertext() -> None:
    plaintext = proto.aes_gcm_decrypt(v.AES_KEY, v.AES_NONCE, v.AES_ASSOCIATED_DATA, v.AES_CIPHERTEXT)
    assert plaintext == v.AES_PLAINTEXT


def test_aes_gcm_encrypts_to_the_known_ciphertext() -> None:
    resource = proto.aes_gcm_encrypt(v.AES_KEY, v.AES_PLAINTEXT, v.AES_ASSOCIATED_DATA, nonce=v.AES_NONCE)
    assert resource == {
        "algorithm": "AEAD_AES_256_GCM",
        "ciphertext": v.AES_CIPHERTEXT,
        "associated_data": "transaction",
        "nonce": v.AES_NONCE,
    }


def test_certificate_serial_is_the_upper_hex_of_the_x509_serial() -> None:
    pem, serial = proto.self_signed_certificate(
        v.VECTOR_PRIVATE_KEY_PEM, "vector", serial_number=0x5157F09EFD
    )
    assert serial == "5157F09EFD"
    assert proto.certificate_serial_no(pem) == "5157F09EFD"
    assert (
        proto.load_public_key(pem).public_numbers()
        == proto.load_public_key(proto.public_key_pem(v.VECTOR_PRIVATE_KEY_PEM)).public_numbers()
    )


# -- verification: each rejection on its own ------------------------------------------------------------


def test_verify_accepts_a_good_signature(platform_key: str, keys: proto.GatewayKeys) -> None:
    body = '{"code":"SUCCESS"}'
    assert proto.verify_signed(signed(platform_key, body), body, keys, now=NOW + 299) == "PUB_KEY_ID_0114232"


def test_tampered_body_is_bad_signature(platform_key: str, keys: proto.GatewayKeys) -> None:
    headers = signed(platform_key, '{"amount":{"total":100}}')
    with pytest.raises(Rejected) as exc:
        proto.verify_signed(headers, '{"amount":{"total":1}}', keys, now=NOW)
    assert exc.value.reason == RejectReason.BAD_SIGNATURE


def test_wrong_key_is_bad_signature(keys: proto.GatewayKeys) -> None:
    impostor = proto.generate_private_key_pem()
    body = '{"code":"SUCCESS"}'
    with pytest.raises(Rejected) as exc:
        proto.verify_signed(signed(impostor, body), body, keys, now=NOW)
    assert exc.value.reason == RejectReason.BAD_SIGNATURE


@pytest.mark.parametrize("skew", [301, -301, 3600])
def test_stale_timestamp_is_rejected(platform_key: str, keys: proto.GatewayKeys, skew: int) -> None:
    body = "{}"
    with pytest.raises(Rejected) as exc:
        proto.verify_signed(signed(platform_key, body, ts=NOW), body, keys, now=NOW + skew)
    assert exc.value.reason == RejectReason.STALE_TIMESTAMP


def test_unknown_serial_is_unknown_key(platform_key: str, keys: proto.GatewayKeys) -> None:
    body = "{}"
    with pytest.raises(Rejected) as exc:
        proto.verify_signed(signed(platform_key, body, serial="PUB_KEY_ID_OTHER"), body, keys, now=NOW)
    assert exc.value.reason == RejectReason.UNKNOWN_KEY


def test_signtest_probe_is_rejected_even_when_everything_else_is_fine(
    platform_key: str, keys: proto.GatewayKeys
) -> None:
    body = "{}"
    headers = signed(platform_key, body)
    headers["Wechatpay-Signature"] = "WECHATPAY/SIGNTEST/" + headers["Wechatpay-Signature"]
    with pytest.raises(Rejected) as exc:
        proto.verify_signed(headers, body, keys, now=NOW)
    assert exc.value.reason == RejectReason.SIGNTEST


def test_missing_headers_are_malformed(keys: proto.GatewayKeys) -> None:
    with pytest.raises(Rejected) as exc:
        proto.verify_signed({"Wechatpay-Timestamp": str(NOW)}, "{}", keys, now=NOW)
    assert exc.value.reason == RejectReason.MALFORMED


def test_certificate_mode_verifies_by_serial(platform_key: str) -> None:
    pem, serial = proto.self_signed_certificate(platform_key, "platform")
    keys = proto.GatewayKeys(certificates={serial: pem})
    body = '{"id":1}'
    assert proto.verify_signed(signed(platform_key, body, serial=serial), body, keys, now=NOW) == serial
    with pytest.raises(Rejected) as exc:
        proto.verify_signed(signed(platform_key, body, serial="ABCDEF"), body, keys, now=NOW)
    assert exc.value.reason == RejectReason.UNKNOWN_KEY


def test_django_meta_header_names_are_understood(platform_key: str, keys: proto.GatewayKeys) -> None:
    body = "{}"
    meta = {"HTTP_" + k.upper().replace("-", "_"): value for k, value in signed(platform_key, body).items()}
    assert proto.verify_signed(meta, body, keys, now=NOW) == "PUB_KEY_ID_0114232"


def test_decrypt_with_the_wrong_key_fails() -> None:
    with pytest.raises(Rejected) as exc:
        proto.aes_gcm_decrypt("x" * 32, v.AES_NONCE, v.AES_ASSOCIATED_DATA, v.AES_CIPHERTEXT)
    assert exc.value.reason == RejectReason.DECRYPT_FAILED


def test_decrypt_with_other_associated_data_fails() -> None:
    with pytest.raises(Rejected) as exc:
        proto.aes_gcm_decrypt(v.AES_KEY, v.AES_NONCE, "refund", v.AES_CIPHERTEXT)
    assert exc.value.reason == RejectReason.DECRYPT_FAILED


def test_malformed_authorization_is_rejected() -> None:
    with pytest.raises(Rejected) as exc:
        proto.parse_authorization('WECHATPAY2-SHA256-RSA2048 mchid="1",nonce_str="2"')
    assert exc.value.reason == RejectReason.MALFORMED


# -- notification parsing without the network ------------------------------------------------------------


def _provider(platform_key: str) -> WeChatJsapiProvider:
    creds = Credentials(
        base_url="http://127.0.0.1:9",
        mch_id="1900000100",
        app_id="wxsp",
        private_key_pem=v.VECTOR_PRIVATE_KEY_PEM,
        key_serial_no="01",
        api_key=v.AES_KEY,
        gateway_public_key_pem=proto.public_key_pem(platform_key),
        gateway_public_key_id="PUB_KEY_ID_0114232",
    )
    return WeChatJsapiProvider(creds)


def _notification(
    platform_key: str, event: str, resource: dict[str, object], *, api_key: str = v.AES_KEY
) -> tuple:
    encrypted = proto.aes_gcm_encrypt(api_key, json.dumps(resource), "transaction")
    body = json.dumps(
        {"id": "EV-1", "event_type": event, "resource_type": "encrypt-resource", "resource": encrypted}
    )
    return proto.signed_headers(
        platform_key, "PUB_KEY_ID_0114232", body, timestamp=int(time.time())
    ), body.encode()


def test_notification_is_decrypted_and_normalised(platform_key: str) -> None:
    resource = {
        "sp_mchid": "1900000100",
        "sub_mchid": "1900000109",
        "sp_appid": "wxsp",
        "out_trade_no": "OV0001",
        "transaction_id": "4200000001",
        "trade_state": "SUCCESS",
        "payer": {"sp_openid": "oShopper"},
        "amount": {"total": 350, "payer_total": 350},
    }
    headers, body = _notification(platform_key, "TRANSACTION.SUCCESS", resource)
    n = _provider(platform_key).parse_notification(headers, body)
    assert (n.provider, n.notification_id, n.event_type.value) == ("wechat", "EV-1", "payment.paid")
    assert (n.out_trade_no, n.provider_trade_no, n.amount_fen) == ("OV0001", "4200000001", 350)
    assert (n.mch_id, n.sub_mchid, n.app_id, n.payer_id) == ("1900000100", "1900000109", "wxsp", "oShopper")


def test_notification_encrypted_with_another_key_is_decrypt_failed(platform_key: str) -> None:
    headers, body = _notification(platform_key, "TRANSACTION.SUCCESS", {"x": 1}, api_key="k" * 32)
    with pytest.raises(Rejected) as exc:
        _provider(platform_key).parse_notification(headers, body)
    assert exc.value.reason == RejectReason.DECRYPT_FAILED


def test_notification_with_a_tampered_body_is_bad_signature(platform_key: str) -> None:
    headers, body = _notification(platform_key, "TRANSACTION.SUCCESS", {"x": 1})
    with pytest.raises(Rejected) as exc:
        _provider(platform_key).parse_notification(headers, body.replace(b"EV-1", b"EV-2"))
    assert exc.value.reason == RejectReason.BAD_SIGNATURE


def test_unknown_event_type_is_malformed(platform_key: str) -> None:
    headers, body = _notification(platform_key, "MARKETING.COUPON", {"x": 1})
    with pytest.raises(Rejected) as exc:
        _provider(platform_key).parse_notification(headers, body)
    assert exc.value.reason == RejectReason.MALFORMED


def test_notification_reply_shapes() -> None:
    provider = _provider(proto.generate_private_key_pem())
    ok, fail = provider.notification_reply(True), provider.notification_reply(False)
    assert (ok.status, json.loads(ok.body), ok.content_type) == (200, {"code": "SUCCESS"}, "application/json")
    assert fail.status == 500 and json.loads(fail.body)["code"] == "FAIL"
