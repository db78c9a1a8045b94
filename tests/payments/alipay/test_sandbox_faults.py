"""Sandbox faults (balance, revoked authorisation, lost / duplicate / delayed notifications), the retry
schedule, and the gateway's own refusals of bad requests."""

from __future__ import annotations

import time

import httpx
import pytest

from openvend.payments.protocols import alipay as wire
from openvend.payments.providers.alipay import AlipayAgreementProvider, AlipayClient, AlipayZhimaProvider
from openvend.payments.providers.base import (
    AuthorisationState,
    ChargeRequest,
    ChargeState,
    Credentials,
    EventType,
    ProviderError,
    Rejected,
    RejectReason,
    SubMerchant,
)
from openvend.sandbox.alipay import RETRY_SCHEDULE_S, AlipaySandbox
from openvend.sandbox.runtime import NotifyFault
from tests.payments.alipay.conftest import SHOPPER, TIME_SCALE, Receiver
from tests.payments.alipay.test_agreement_round_trip import sign_agreement
from tests.payments.alipay.test_zhima_wap_oauth_settle import open_zhima


def _charge(no: str, agreement_no: str, fen: int = 700) -> ChargeRequest:
    return ChargeRequest(out_trade_no=no, amount_fen=fen, description="x", authorisation_ref=agreement_no)


def test_insufficient_balance_fault_fails_the_charge(
    sandbox: AlipaySandbox, agreement_provider: AlipayAgreementProvider, receiver: Receiver, sub: SubMerchant
) -> None:
    agreement_no = sign_agreement(sandbox, agreement_provider, receiver, sub)
    sandbox.faults.charge = "insufficient_balance"
    failed = agreement_provider.charge(sub, _charge("F1", agreement_no))
    assert (failed.state, failed.failure_code) == (ChargeState.FAILED, "ACQ.BUYER_BALANCE_NOT_ENOUGH")
    assert sandbox.balance(SHOPPER) == 100_000
    assert agreement_provider.query(sub, "F1").state == ChargeState.NOT_FOUND
    sandbox.faults.charge = ""
    assert (
        agreement_provider.charge(sub, _charge("F1", agreement_no)).state == ChargeState.PAID
    )  # same number retried


def test_real_low_balance_fails_the_charge(
    sandbox: AlipaySandbox, agreement_provider: AlipayAgreementProvider, receiver: Receiver, sub: SubMerchant
) -> None:
    agreement_no = sign_agreement(sandbox, agreement_provider, receiver, sub)
    sandbox.set_balance(SHOPPER, 699)
    failed = agreement_provider.charge(sub, _charge("F2", agreement_no, fen=700))
    assert (failed.state, failed.failure_code) == (ChargeState.FAILED, "ACQ.BUYER_BALANCE_NOT_ENOUGH")
    assert sandbox.balance(SHOPPER) == 699


def test_revoked_agreement_fails_the_charge_and_queries_revoked(
    sandbox: AlipaySandbox, agreement_provider: AlipayAgreementProvider, receiver: Receiver, sub: SubMerchant
) -> None:
    agreement_no = sign_agreement(sandbox, agreement_provider, receiver, sub)
    sandbox.faults.authorisation = "revoked"
    failed = agreement_provider.charge(sub, _charge("F3", agreement_no))
    assert (failed.state, failed.failure_code) == (ChargeState.FAILED, "ACQ.AGREEMENT_STATUS_NOT_NORMAL")
    assert (
        agreement_provider.query_authorisation(sub, SHOPPER, agreement_no).state == AuthorisationState.REVOKED
    )
    assert sandbox.balance(SHOPPER) == 100_000


def test_revoked_zhima_agreement_refuses_the_credit_order(
    sandbox: AlipaySandbox, zhima_provider: AlipayZhimaProvider, receiver: Receiver, sub: SubMerchant
) -> None:
    credit_agreement = open_zhima(sandbox, zhima_provider, receiver, sub)
    sandbox.faults.authorisation = "revoked"
    failed = zhima_provider.open_pay_after(sub, _charge("F4", credit_agreement))
    assert (failed.state, failed.failure_code) == (ChargeState.FAILED, "AGREEMENT_STATUS_NOT_VALID")
    assert (
        zhima_provider.query_authorisation(sub, SHOPPER, credit_agreement).state == AuthorisationState.REVOKED
    )


def test_lost_notification_is_recovered_by_query(
    sandbox: AlipaySandbox, agreement_provider: AlipayAgreementProvider, receiver: Receiver, sub: SubMerchant
) -> None:
    agreement_no = sign_agreement(sandbox, agreement_provider, receiver, sub)
    sandbox.faults.notification = NotifyFault.LOST
    assert agreement_provider.charge(sub, _charge("F5", agreement_no)).state == ChargeState.PAID
    assert sandbox.courier.wait_idle()
    assert [n.event_type for n in receiver.notifications()] == [EventType.AUTHORISATION_OPENED]
    assert sandbox.deliveries[-1].attempts == []
    recovered = agreement_provider.query(sub, "F5")
    assert (recovered.state, recovered.amount_fen) == (ChargeState.PAID, 700)


def test_duplicate_notification_arrives_twice_with_one_notify_id(
    sandbox: AlipaySandbox, agreement_provider: AlipayAgreementProvider, receiver: Receiver, sub: SubMerchant
) -> None:
    agreement_no = sign_agreement(sandbox, agreement_provider, receiver, sub)
    sandbox.faults.notification = NotifyFault.DUPLICATE
    agreement_provider.charge(sub, _charge("F6", agreement_no))
    assert sandbox.courier.wait_idle()
    paid = [n for n in receiver.notifications() if n.event_type == EventType.PAYMENT_PAID]
    assert len(paid) == 2
    assert paid[0].notification_id == paid[1].notification_id
    assert {n.out_trade_no for n in paid} == {"F6"}


def test_delayed_notification_arrives_late(
    sandbox: AlipaySandbox, agreement_provider: AlipayAgreementProvider, receiver: Receiver, sub: SubMerchant
) -> None:
    agreement_no = sign_agreement(sandbox, agreement_provider, receiver, sub)
    sandbox.faults.notification = NotifyFault.DELAYED
    sandbox.faults.notification_delay_s = 500.0  # 0.5 s at the test time scale
    started = time.monotonic()
    agreement_provider.charge(sub, _charge("F7", agreement_no))
    time.sleep(0.2)
    assert len(receiver.notifications()) == 1  # only the sign notification so far
    paid = receiver.wait_for(2)[-1]
    assert time.monotonic() - started >= 500.0 * TIME_SCALE
    assert (paid.event_type, paid.out_trade_no) == (EventType.PAYMENT_PAID, "F7")


def test_unacknowledged_notification_is_retried_on_alipays_schedule(
    sandbox: AlipaySandbox, agreement_provider: AlipayAgreementProvider, receiver: Receiver, sub: SubMerchant
) -> None:
    agreement_no = sign_agreement(sandbox, agreement_provider, receiver, sub)
    receiver.refuse_next = 2  # answer "fail" twice, then "success"
    agreement_provider.charge(sub, _charge("F8", agreement_no))
    assert sandbox.courier.wait_idle()
    delivery = sandbox.deliveries[-1]
    assert delivery.schedule_s == RETRY_SCHEDULE_S == (240.0, 600.0, 600.0, 3600.0, 7200.0, 21600.0, 54000.0)
    assert len(delivery.attempts) == 3 and delivery.acknowledged
    gaps = [b[0] - a[0] for a, b in zip(delivery.attempts, delivery.attempts[1:], strict=False)]
    assert gaps[0] >= 240.0 * TIME_SCALE and gaps[1] >= 600.0 * TIME_SCALE
    paid = [n for n in receiver.notifications() if n.out_trade_no == "F8"]
    assert len(paid) == 3 and len({n.notification_id for n in paid}) == 1


def test_control_endpoint_sets_faults_and_balances(sandbox: AlipaySandbox) -> None:
    answer = httpx.post(
        sandbox.url + "/sandbox/control",
        json={"charge": "insufficient_balance", "notification": "duplicate", "balances": {SHOPPER: 4200}},
    )
    assert answer.status_code == 200
    assert answer.json()["charge"] == "insufficient_balance" and answer.json()["notification"] == "duplicate"
    assert (sandbox.faults.charge, sandbox.faults.notification) == ("insufficient_balance", "duplicate")
    assert sandbox.balance(SHOPPER) == 4200
    refused = httpx.post(sandbox.url + "/sandbox/control", json={"charge": "explode"})
    assert refused.status_code == 400
    assert sandbox.faults.charge == "insufficient_balance"


# --- the gateway's refusals ---------------------------------------------------------------------------


def _client_with(credentials: Credentials, **changes: str) -> AlipayClient:
    return AlipayClient(Credentials(**{**credentials.__dict__, **changes}))


def test_gateway_rejects_a_request_signed_with_the_wrong_key(
    credentials: Credentials, sub: SubMerchant
) -> None:
    client = _client_with(credentials, private_key_pem=wire.generate_key_pair().private_key_pem)
    with pytest.raises(ProviderError) as caught:
        client.trade_query(sub, out_trade_no="X")
    assert (caught.value.code, caught.value.retryable) == ("isv.invalid-signature", False)


def test_gateway_rejects_a_stale_timestamp(credentials: Credentials, sub: SubMerchant) -> None:
    from datetime import datetime, timedelta

    client = AlipayClient(credentials, clock=lambda: datetime.now(wire.BEIJING) - timedelta(seconds=400))
    with pytest.raises(ProviderError) as caught:
        client.trade_query(sub, out_trade_no="X")
    assert caught.value.code == "isv.invalid-timestamp"


def test_gateway_error_body_is_alipays(sandbox: AlipaySandbox, credentials: Credentials) -> None:
    client = AlipayClient(credentials)
    params = client.signed_params("alipay.trade.query", {"out_trade_no": "X"})
    params["biz_content"] = params["biz_content"].replace("X", "Y")  # tampered after signing
    raw = httpx.post(sandbox.gateway_url, data=params).text
    node = wire.verify_response(raw, "alipay.trade.query", sandbox.public_key_pem)
    assert node == {
        "code": "40002",
        "msg": "Invalid Arguments",
        "sub_code": "isv.invalid-signature",
        "sub_msg": "验签出错，建议检查签名字符串或签名私钥与应用公钥是否匹配",
    }


def test_unknown_app_is_refused_unsigned(credentials: Credentials, sub: SubMerchant) -> None:
    client = _client_with(credentials, app_id="2021999999999999")
    with pytest.raises(ProviderError) as caught:
        client.trade_query(sub, out_trade_no="X")
    assert caught.value.code == "isv.invalid-app-id"


def test_unknown_sub_merchant_token_is_refused(credentials: Credentials) -> None:
    with pytest.raises(ProviderError) as caught:
        AlipayClient(credentials).trade_query(SubMerchant(app_auth_token="nope"), out_trade_no="X")
    assert caught.value.code == "aop.invalid-app-auth-token"


def test_client_rejects_a_response_signed_by_another_key(credentials: Credentials, sub: SubMerchant) -> None:
    client = _client_with(credentials, gateway_public_key_pem=wire.generate_key_pair().public_key_pem)
    with pytest.raises(Rejected) as caught:
        client.trade_query(sub, out_trade_no="X")  # a signed ACQ.TRADE_NOT_EXIST, but not by Alipay's key
    assert caught.value.reason == RejectReason.BAD_SIGNATURE


def test_unreachable_gateway_is_retryable(credentials: Credentials, sub: SubMerchant) -> None:
    client = _client_with(credentials, base_url="http://127.0.0.1:9/gateway.do")
    with pytest.raises(ProviderError) as caught:
        client.trade_query(sub, out_trade_no="X")
    assert (caught.value.code, caught.value.retryable) == ("NETWORK", True)


def test_page_with_a_bad_signature_shows_an_error(
    sandbox: AlipaySandbox, client: AlipayClient, sub: SubMerchant
) -> None:
    url = client.wap_pay_url(sub, out_trade_no="W", amount_fen=100, subject="x")
    page = httpx.get(url.replace("subject%22%3A%22x", "subject%22%3A%22y"))
    assert page.status_code == 400 and "isv.invalid-signature" in page.text
