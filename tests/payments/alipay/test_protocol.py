"""Alipay RSA2 vectors and every rejection, on the pure protocol functions."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from Cryptodome.Hash import SHA256
from Cryptodome.PublicKey import RSA
from Cryptodome.Signature import PKCS1_v1_5

from openvend.payments.protocols import alipay as wire
from openvend.payments.providers.alipay import parse_notification
from openvend.payments.providers.base import EventType, Rejected, RejectReason
from tests.payments.alipay.vectors import (
    VECTOR_PARAMS,
    VECTOR_PRIVATE_KEY_PEM,
    VECTOR_PUBLIC_KEY_PEM,
    VECTOR_SIGNATURE,
    VECTOR_SIGNING_STRING,
)

NOW = datetime(2026, 12, 4, 2, 30, 0, tzinfo=UTC)  # 10:30:00 in Beijing
OTHER_KEY = wire.generate_key_pair()


def _notification(**overrides: str) -> dict[str, str]:
    params = {
        "notify_type": "trade_status_sync",
        "notify_id": "2026120400222103000000000001",
        "notify_time": "2026-12-04 10:30:00",
        "app_id": "2021000000000001",
        "seller_id": "2088000000000099",
        "charset": "utf-8",
        "version": "1.0",
        "sign_type": "RSA2",
        "trade_no": "2026120422001400000000000001",
        "out_trade_no": "OV20261204000001",
        "buyer_id": "2088000000000777",
        "trade_status": "TRADE_SUCCESS",
        "total_amount": "12.34",
    }
    params.update(overrides)
    return params


def _signed_notification(key_pem: str = VECTOR_PRIVATE_KEY_PEM, **overrides: str) -> dict[str, str]:
    params = _notification(**overrides)
    params["sign"] = wire.sign_notification(params, key_pem)
    return params


# --- vectors -----------------------------------------------------------------------------------------


def test_signing_string_sorts_and_leaves_out_sign_and_empty_values() -> None:
    assert wire.signing_string({**VECTOR_PARAMS, "sign": "x"}) == VECTOR_SIGNING_STRING


def test_fixed_key_and_params_give_the_exact_signature() -> None:
    assert wire.sign_params(VECTOR_PARAMS, VECTOR_PRIVATE_KEY_PEM) == VECTOR_SIGNATURE


def test_our_signature_verifies_with_an_independent_implementation() -> None:
    signature = base64.b64decode(wire.sign_params(VECTOR_PARAMS, VECTOR_PRIVATE_KEY_PEM))
    verifier = PKCS1_v1_5.new(RSA.importKey(VECTOR_PUBLIC_KEY_PEM))
    assert verifier.verify(SHA256.new(VECTOR_SIGNING_STRING.encode()), signature) is True


def test_request_verification_accepts_the_vector() -> None:
    wire.verify_request({**VECTOR_PARAMS, "sign": VECTOR_SIGNATURE}, VECTOR_PUBLIC_KEY_PEM)


def test_bare_base64_keys_from_the_alipay_console_load() -> None:
    bare = "".join(VECTOR_PRIVATE_KEY_PEM.strip().splitlines()[1:-1])
    assert wire.sign_params(VECTOR_PARAMS, bare) == VECTOR_SIGNATURE


def test_notification_signing_string_leaves_out_sign_type() -> None:
    params = {"b": "2", "a": "1", "sign_type": "RSA2", "sign": "zz", "empty": ""}
    assert wire.signing_string(params, exclude=("sign", "sign_type")) == "a=1&b=2"


def test_response_node_is_cut_from_the_raw_text_not_reserialised() -> None:
    node_text = '{ "code" : "10000", "msg":"Success","subject":"A } tricky \\" {name}", "n": {"x": [1, 2]} }'
    raw = '{"alipay_trade_query_response":' + node_text + ',\n "sign": "SIG"}'
    envelope = wire.parse_response(raw, "alipay.trade.query")
    assert envelope.node_text == node_text
    assert envelope.sign == "SIG"
    assert envelope.node["subject"] == 'A } tricky " {name}'


def test_response_signature_covers_the_exact_node_text() -> None:
    node_text = '{"code":"10000","msg":"Success","trade_status":"TRADE_SUCCESS"}'
    sign = wire.sign_text(node_text, VECTOR_PRIVATE_KEY_PEM)
    raw = '{"alipay_trade_query_response":' + node_text + ',"sign":"' + sign + '"}'
    node = wire.verify_response(raw, "alipay.trade.query", VECTOR_PUBLIC_KEY_PEM)
    assert node == {"code": "10000", "msg": "Success", "trade_status": "TRADE_SUCCESS"}
    # Same JSON, different spacing: a re-serialising verifier would accept it, the signature must not.
    spaced = raw.replace('"msg":"Success"', '"msg": "Success"')
    with pytest.raises(Rejected) as caught:
        wire.verify_response(spaced, "alipay.trade.query", VECTOR_PUBLIC_KEY_PEM)
    assert caught.value.reason == RejectReason.BAD_SIGNATURE


def test_error_response_node_is_used_when_the_method_node_is_absent() -> None:
    raw = '{"error_response":{"code":"40002","sub_code":"isv.code-invalid"}}'
    envelope = wire.parse_response(raw, "alipay.system.oauth.token")
    assert (envelope.node_name, envelope.node["sub_code"], envelope.sign) == (
        "error_response",
        "isv.code-invalid",
        "",
    )


def test_beijing_timestamp_whatever_the_host_zone() -> None:
    assert wire.format_timestamp(NOW) == "2026-12-04 10:30:00"
    assert wire.format_timestamp(datetime(2026, 12, 31, 16, 0, 1, tzinfo=UTC)) == "2027-01-01 00:00:01"


@pytest.mark.parametrize(("fen", "yuan"), [(0, "0.00"), (1, "0.01"), (1234, "12.34"), (100000, "1000.00")])
def test_fen_to_yuan_is_exact(fen: int, yuan: str) -> None:
    assert wire.fen_to_yuan(fen) == yuan


@pytest.mark.parametrize(
    ("yuan", "fen"), [("0", 0), ("0.01", 1), ("12.3", 1230), ("12.34", 1234), ("99999999.99", 9999999999)]
)
def test_yuan_to_fen_is_exact(yuan: str, fen: int) -> None:
    assert wire.yuan_to_fen(yuan) == fen


@pytest.mark.parametrize("bad", [-1, 1.5, True])
def test_fen_to_yuan_refuses_what_is_not_fen(bad: object) -> None:
    with pytest.raises(ValueError):
        wire.fen_to_yuan(bad)  # type: ignore[arg-type]


# --- rejections, each its own test -------------------------------------------------------------------


def test_notification_round_trip_is_accepted() -> None:
    params = _signed_notification()
    notification = parse_notification(urlencode(params).encode(), VECTOR_PUBLIC_KEY_PEM, now=NOW)
    assert notification.event_type == EventType.PAYMENT_PAID
    assert notification.amount_fen == 1234
    assert (notification.mch_id, notification.payer_id) == ("2088000000000099", "2088000000000777")


def test_reject_tampered_param() -> None:
    params = _signed_notification()
    params["total_amount"] = "0.01"
    with pytest.raises(Rejected) as caught:
        wire.verify_notification(params, VECTOR_PUBLIC_KEY_PEM, now=NOW)
    assert caught.value.reason == RejectReason.BAD_SIGNATURE


def test_reject_added_param() -> None:
    params = _signed_notification()
    params["refund_fee"] = "12.34"
    with pytest.raises(Rejected) as caught:
        wire.verify_notification(params, VECTOR_PUBLIC_KEY_PEM, now=NOW)
    assert caught.value.reason == RejectReason.BAD_SIGNATURE


def test_reject_signature_by_the_wrong_key() -> None:
    params = _signed_notification(key_pem=OTHER_KEY.private_key_pem)
    with pytest.raises(Rejected) as caught:
        wire.verify_notification(params, VECTOR_PUBLIC_KEY_PEM, now=NOW)
    assert caught.value.reason == RejectReason.BAD_SIGNATURE


def test_reject_tampered_request() -> None:
    params = {**VECTOR_PARAMS, "sign": VECTOR_SIGNATURE, "app_id": "2021000000000002"}
    with pytest.raises(Rejected) as caught:
        wire.verify_request(params, VECTOR_PUBLIC_KEY_PEM)
    assert caught.value.reason == RejectReason.BAD_SIGNATURE


def test_reject_garbage_signature() -> None:
    params = {**_notification(), "sign": "not base64 !!"}
    with pytest.raises(Rejected) as caught:
        wire.verify_notification(params, VECTOR_PUBLIC_KEY_PEM, now=NOW)
    assert caught.value.reason == RejectReason.BAD_SIGNATURE


def test_reject_stale_notify_time() -> None:
    params = _signed_notification()
    wire.verify_notification(params, VECTOR_PUBLIC_KEY_PEM, now=NOW + timedelta(seconds=300))
    with pytest.raises(Rejected) as caught:
        wire.verify_notification(params, VECTOR_PUBLIC_KEY_PEM, now=NOW + timedelta(seconds=301))
    assert caught.value.reason == RejectReason.STALE_TIMESTAMP


def test_reject_notify_time_from_the_future() -> None:
    params = _signed_notification()
    with pytest.raises(Rejected) as caught:
        wire.verify_notification(params, VECTOR_PUBLIC_KEY_PEM, now=NOW - timedelta(seconds=301))
    assert caught.value.reason == RejectReason.STALE_TIMESTAMP


def test_reject_stale_request_timestamp() -> None:
    with pytest.raises(Rejected) as caught:
        wire.check_timestamp("2026-12-04 10:24:59", now=NOW)
    assert caught.value.reason == RejectReason.STALE_TIMESTAMP


def test_reject_stale_message_utc_timestamp() -> None:
    sent_ms = str(int(NOW.timestamp() * 1000))
    params = _signed_notification(notify_time="", utc_timestamp=sent_ms)
    params.pop("notify_time")
    wire.verify_notification(params, VECTOR_PUBLIC_KEY_PEM, now=NOW + timedelta(seconds=299))
    with pytest.raises(Rejected) as caught:
        wire.verify_notification(params, VECTOR_PUBLIC_KEY_PEM, now=NOW + timedelta(seconds=301))
    assert caught.value.reason == RejectReason.STALE_TIMESTAMP


def test_reject_malformed_notify_time() -> None:
    params = _signed_notification(notify_time="2026/12/04 10:30")
    with pytest.raises(Rejected) as caught:
        wire.verify_notification(params, VECTOR_PUBLIC_KEY_PEM, now=NOW)
    assert caught.value.reason == RejectReason.MALFORMED


def test_reject_notification_without_sign() -> None:
    with pytest.raises(Rejected) as caught:
        wire.verify_notification(_notification(), VECTOR_PUBLIC_KEY_PEM, now=NOW)
    assert caught.value.reason == RejectReason.MALFORMED


def test_reject_body_that_is_not_a_form() -> None:
    with pytest.raises(Rejected) as caught:
        parse_notification(b'{"notify_id": "1"}', VECTOR_PUBLIC_KEY_PEM, now=NOW)
    assert caught.value.reason == RejectReason.MALFORMED


def test_reject_response_that_is_not_json() -> None:
    with pytest.raises(Rejected) as caught:
        wire.verify_response("<html>502</html>", "alipay.trade.query", VECTOR_PUBLIC_KEY_PEM)
    assert caught.value.reason == RejectReason.MALFORMED


def test_reject_response_for_another_method() -> None:
    raw = wire.build_response("alipay.trade.refund", {"code": "10000"}, VECTOR_PRIVATE_KEY_PEM)
    with pytest.raises(Rejected) as caught:
        wire.verify_response(raw, "alipay.trade.query", VECTOR_PUBLIC_KEY_PEM)
    assert caught.value.reason == RejectReason.MALFORMED


def test_reject_unsigned_response() -> None:
    raw = wire.build_response("alipay.trade.query", {"code": "10000"}, None)
    with pytest.raises(Rejected) as caught:
        wire.verify_response(raw, "alipay.trade.query", VECTOR_PUBLIC_KEY_PEM)
    assert caught.value.reason == RejectReason.BAD_SIGNATURE


@pytest.mark.parametrize("bad", ["1.005", "12.345", "1e2", "-1.00", " 1.00", "01.00", "1.", "", "NaN"])
def test_reject_yuan_that_is_not_exact_fen(bad: str) -> None:
    with pytest.raises(Rejected) as caught:
        wire.yuan_to_fen(bad)
    assert caught.value.reason == RejectReason.MALFORMED


def test_reject_notification_amount_with_three_decimals() -> None:
    params = _signed_notification(total_amount="12.345")
    with pytest.raises(Rejected) as caught:
        parse_notification(urlencode(params).encode(), VECTOR_PUBLIC_KEY_PEM, now=NOW)
    assert caught.value.reason == RejectReason.MALFORMED


def test_reject_unknown_notify_type() -> None:
    params = _signed_notification(notify_type="fund_trans_sync")
    with pytest.raises(Rejected) as caught:
        parse_notification(urlencode(params).encode(), VECTOR_PUBLIC_KEY_PEM, now=NOW)
    assert caught.value.reason == RejectReason.MALFORMED
