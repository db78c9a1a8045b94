"""Zhima credit pay-after, the WAP cashier, OAuth and royalty settlement against the sandbox."""

from __future__ import annotations

import httpx
import pytest

from openvend.payments.protocols import alipay as wire
from openvend.payments.providers.alipay import (
    AlipayAgreementProvider,
    AlipayClient,
    AlipayWapProvider,
    AlipayZhimaProvider,
    RoyaltyPart,
)
from openvend.payments.providers.base import (
    AuthorisationRequest,
    AuthorisationState,
    ChargeRequest,
    ChargeState,
    EventType,
    ProviderError,
    RefundRequest,
    RefundState,
    SubMerchant,
)
from openvend.sandbox.alipay import AlipaySandbox
from tests.payments.alipay.conftest import RETURN_URL, SHOPPER, Receiver, query_of, shopper_confirms
from tests.payments.alipay.test_agreement_round_trip import sign_agreement


def open_zhima(
    sandbox: AlipaySandbox, provider: AlipayZhimaProvider, receiver: Receiver, sub: SubMerchant
) -> str:
    result = provider.authorise(
        sub, AuthorisationRequest(out_request_no="ZM-AUTH1", payer_id="", return_url=RETURN_URL)
    )
    answer = shopper_confirms(sandbox, result.next_action["sign_url"])
    assert (answer.status_code, answer.headers["location"]) == (302, RETURN_URL)
    opened = receiver.wait_for(len(receiver.received) + 1)[-1]
    assert opened.event_type == EventType.AUTHORISATION_OPENED
    assert (opened.payer_id, opened.out_request_no, opened.app_id) == (
        SHOPPER,
        "ZM-AUTH1",
        provider.credentials.app_id,
    )
    assert opened.authorisation_ref.startswith("ZMOP")
    return opened.authorisation_ref


def test_zhima_order_charged_then_refunded(
    sandbox: AlipaySandbox, zhima_provider: AlipayZhimaProvider, receiver: Receiver, sub: SubMerchant
) -> None:
    credit_agreement = open_zhima(sandbox, zhima_provider, receiver, sub)
    status = zhima_provider.query_authorisation(sub, SHOPPER, credit_agreement)
    assert (status.state, status.payer_id) == (AuthorisationState.ACTIVE, SHOPPER)

    request = ChargeRequest(
        out_trade_no="ZM0001", amount_fen=880, description="零食", authorisation_ref=credit_agreement
    )
    opened = zhima_provider.open_pay_after(sub, request)
    assert opened.state == ChargeState.PENDING and opened.provider_trade_no.startswith("ZMCB")
    assert zhima_provider.open_pay_after(sub, request).provider_trade_no == opened.provider_trade_no
    pending = zhima_provider.query(sub, "ZM0001")
    assert (pending.state, pending.provider_trade_no) == (ChargeState.PENDING, opened.provider_trade_no)

    charged = zhima_provider.charge(sub, request)
    assert (charged.state, charged.amount_fen) == (ChargeState.PAID, 880)
    assert sandbox.balance(SHOPPER) == 100_000 - 880
    paid = receiver.wait_for(2)[-1]
    assert (paid.event_type, paid.out_trade_no, paid.amount_fen) == (EventType.PAYMENT_PAID, "ZM0001", 880)
    assert zhima_provider.query(sub, "ZM0001").state == ChargeState.PAID
    assert zhima_provider.charge(sub, request).state == ChargeState.PAID  # repeat: same trade
    assert sandbox.balance(SHOPPER) == 100_000 - 880

    refunded = zhima_provider.refund(
        sub, RefundRequest(out_trade_no="ZM0001", out_refund_no="ZMR1", refund_fen=880, total_fen=880)
    )
    assert (refunded.state, refunded.refund_fen) == (RefundState.SUCCEEDED, 880)
    assert sandbox.balance(SHOPPER) == 100_000


def test_zhima_nothing_taken_finishes_without_charge(
    sandbox: AlipaySandbox, zhima_provider: AlipayZhimaProvider, receiver: Receiver, sub: SubMerchant
) -> None:
    credit_agreement = open_zhima(sandbox, zhima_provider, receiver, sub)
    request = ChargeRequest(
        out_trade_no="ZM0002", amount_fen=0, description="空", authorisation_ref=credit_agreement
    )
    zhima_provider.open_pay_after(sub, request)
    result = zhima_provider.charge(sub, request)
    assert (result.state, result.amount_fen) == (ChargeState.PAID, 0)
    assert zhima_provider.query(sub, "ZM0002").state == ChargeState.PAID
    assert sandbox.balance(SHOPPER) == 100_000


def test_zhima_cancel_closes_the_credit_order(
    sandbox: AlipaySandbox, zhima_provider: AlipayZhimaProvider, receiver: Receiver, sub: SubMerchant
) -> None:
    credit_agreement = open_zhima(sandbox, zhima_provider, receiver, sub)
    request = ChargeRequest(
        out_trade_no="ZM0003", amount_fen=100, description="x", authorisation_ref=credit_agreement
    )
    zhima_provider.open_pay_after(sub, request)
    assert zhima_provider.cancel(sub, "ZM0003", "door not opened").state == ChargeState.CLOSED
    assert zhima_provider.query(sub, "ZM0003").state == ChargeState.CLOSED
    failed = zhima_provider.charge(sub, request)
    assert (failed.state, failed.failure_code) == (ChargeState.FAILED, "ACQ.TRADE_STATUS_ERROR")


def test_zhima_has_no_merchant_side_revoke(zhima_provider: AlipayZhimaProvider, sub: SubMerchant) -> None:
    with pytest.raises(ProviderError) as caught:
        zhima_provider.revoke_authorisation(sub, SHOPPER, "ZMOP1", "x")
    assert caught.value.code == "NOT_SUPPORTED"


def test_wap_pay_page_pays_a_pending_order(
    sandbox: AlipaySandbox,
    wap_provider: AlipayWapProvider,
    receiver: Receiver,
    sub: SubMerchant,
    provisioned: dict,
) -> None:
    request = ChargeRequest(out_trade_no="WAP0001", amount_fen=1999, description="补缴订单", attach="pay-42")
    result = wap_provider.charge(sub, request)
    assert (result.state, result.amount_fen) == (ChargeState.PENDING, 1999)
    assert wap_provider.query(sub, "WAP0001").state == ChargeState.NOT_FOUND  # not opened yet

    answer = shopper_confirms(sandbox, result.next_action["pay_url"])
    assert answer.status_code == 302
    back = query_of(answer.headers["location"])
    assert answer.headers["location"].startswith(RETURN_URL + "?")
    assert (back["out_trade_no"], back["total_amount"], back["seller_id"]) == (
        "WAP0001",
        "19.99",
        provisioned["mch_id"],
    )
    wire.verify_notification(back, sandbox.public_key_pem)  # the return is signed too

    paid = receiver.wait_for(1)[0]
    assert (paid.event_type, paid.out_trade_no, paid.amount_fen, paid.payer_id) == (
        EventType.PAYMENT_PAID,
        "WAP0001",
        1999,
        SHOPPER,
    )
    assert paid.raw["passback_params"] == "pay-42"
    queried = wap_provider.query(sub, "WAP0001")
    assert (queried.state, queried.amount_fen) == (ChargeState.PAID, 1999)
    assert sandbox.balance(SHOPPER) == 100_000 - 1999


def test_wap_order_opened_but_unpaid_can_be_closed(
    sandbox: AlipaySandbox, wap_provider: AlipayWapProvider, receiver: Receiver, sub: SubMerchant
) -> None:
    result = wap_provider.charge(sub, ChargeRequest(out_trade_no="WAP0002", amount_fen=500, description="x"))
    assert httpx.get(result.next_action["pay_url"]).status_code == 200
    assert wap_provider.query(sub, "WAP0002").state == ChargeState.PENDING
    assert wap_provider.cancel(sub, "WAP0002", "expired").state == ChargeState.CLOSED
    assert wap_provider.query(sub, "WAP0002").state == ChargeState.CLOSED
    closed = receiver.wait_for(1)[0]
    assert (closed.event_type, closed.out_trade_no) == (EventType.PAYMENT_CLOSED, "WAP0002")


def test_wap_has_no_pay_after(wap_provider: AlipayWapProvider, sub: SubMerchant) -> None:
    with pytest.raises(ProviderError) as caught:
        wap_provider.authorise(
            sub, AuthorisationRequest(out_request_no="A", payer_id="", return_url=RETURN_URL)
        )
    assert caught.value.code == "NOT_SUPPORTED"


def test_oauth_page_and_token(sandbox: AlipaySandbox, client: AlipayClient) -> None:
    url = client.oauth_authorize_url(redirect_uri="http://shop.example/oauth/back?x=1", state="st-9")
    assert url.startswith(sandbox.url + "/oauth2/publicAppAuthorize.htm?")
    page = httpx.get(url)
    assert page.status_code == 200 and "同意 / Allow" in page.text
    answer = httpx.post(
        sandbox.url + "/oauth2/publicAppAuthorize.htm",
        data={**query_of(url), "user_id": SHOPPER, "decision": "allow"},
    )
    assert answer.status_code == 302
    assert answer.headers["location"].startswith("http://shop.example/oauth/back?x=1&")
    back = query_of(answer.headers["location"])
    assert (back["state"], back["app_id"], back["scope"]) == ("st-9", client.credentials.app_id, "auth_base")

    identity = client.oauth_token(back["auth_code"])
    assert identity.user_id == SHOPPER
    assert identity.open_id == sandbox.gateway.open_id(client.credentials.app_id, SHOPPER)
    with pytest.raises(ProviderError) as caught:  # an auth code is good once
        client.oauth_token(back["auth_code"])
    assert (caught.value.code, caught.value.retryable) == ("isv.code-invalid", False)


def test_royalty_settle(
    sandbox: AlipaySandbox,
    agreement_provider: AlipayAgreementProvider,
    client: AlipayClient,
    receiver: Receiver,
    sub: SubMerchant,
) -> None:
    agreement_no = sign_agreement(sandbox, agreement_provider, receiver, sub)
    charged = agreement_provider.charge(
        sub,
        ChargeRequest(
            out_trade_no="OVS1", amount_fen=10_000, description="x", authorisation_ref=agreement_no
        ),
    )
    partner = "2088000000000888"
    sandbox.set_balance(partner, 0)
    parts = [RoyaltyPart(trans_in=partner, amount_fen=600, desc="场地分成")]
    node = client.order_settle(
        sub, out_request_no="SET1", trade_no=charged.provider_trade_no, royalties=parts
    )
    assert node["trade_no"] == charged.provider_trade_no and node["settle_no"]
    assert sandbox.balance(partner) == 600
    again = client.order_settle(
        sub, out_request_no="SET1", trade_no=charged.provider_trade_no, royalties=parts
    )
    assert again["settle_no"] == node["settle_no"]
    assert sandbox.balance(partner) == 600
    with pytest.raises(ProviderError) as caught:
        client.order_settle(
            sub,
            out_request_no="SET2",
            trade_no=charged.provider_trade_no,
            royalties=[RoyaltyPart(trans_in=partner, amount_fen=9_401)],
        )
    assert caught.value.code == "ACQ.ALLOC_AMOUNT_VALIDATE_ERROR"
