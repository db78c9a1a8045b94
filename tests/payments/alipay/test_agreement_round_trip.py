"""Withholding agreement: sign on the sandbox page -> sign notification -> agreement pay -> query ->
refund -> refund query -> unsign, all over HTTP with real signatures both ways."""

from __future__ import annotations

from openvend.payments.providers.alipay import AlipayAgreementProvider
from openvend.payments.providers.base import (
    AuthorisationRequest,
    AuthorisationState,
    ChargeRequest,
    ChargeState,
    EventType,
    RefundRequest,
    RefundState,
    SubMerchant,
)
from openvend.sandbox.alipay import AlipaySandbox
from tests.payments.alipay.conftest import RETURN_URL, SHOPPER, Receiver, shopper_confirms


def sign_agreement(
    sandbox: AlipaySandbox,
    provider: AlipayAgreementProvider,
    receiver: Receiver,
    sub: SubMerchant,
    no: str = "AUTH1",
) -> str:
    result = provider.authorise(
        sub, AuthorisationRequest(out_request_no=no, payer_id="", return_url=RETURN_URL)
    )
    assert result.state == AuthorisationState.PENDING
    before = len(receiver.received)
    answer = shopper_confirms(sandbox, result.next_action["sign_url"])
    assert (answer.status_code, answer.headers["location"]) == (302, RETURN_URL)
    opened = receiver.wait_for(before + 1)[-1]
    assert opened.event_type == EventType.AUTHORISATION_OPENED
    return opened.authorisation_ref


def test_sign_page_sends_a_verified_sign_notification(
    sandbox: AlipaySandbox, agreement_provider: AlipayAgreementProvider, receiver: Receiver, sub: SubMerchant
) -> None:
    agreement_no = sign_agreement(sandbox, agreement_provider, receiver, sub)
    (opened,) = receiver.notifications()
    assert opened.provider == "alipay"
    assert opened.payer_id == SHOPPER
    assert opened.out_request_no == "AUTH1"
    assert opened.app_id == agreement_provider.credentials.app_id
    assert opened.notification_id
    assert len(agreement_no) == 20
    status = agreement_provider.query_authorisation(sub, SHOPPER, agreement_no)
    assert (status.state, status.payer_id, status.authorisation_ref) == (
        AuthorisationState.ACTIVE,
        SHOPPER,
        agreement_no,
    )


def test_agreement_pay_query_refund_and_refund_query(
    sandbox: AlipaySandbox,
    agreement_provider: AlipayAgreementProvider,
    receiver: Receiver,
    sub: SubMerchant,
    provisioned: dict[str, str],
) -> None:
    agreement_no = sign_agreement(sandbox, agreement_provider, receiver, sub)
    sandbox.set_balance(SHOPPER, 5000)
    request = ChargeRequest(
        out_trade_no="OV0001",
        amount_fen=1234,
        description="可乐 x2",
        payer_id=SHOPPER,
        authorisation_ref=agreement_no,
    )

    assert agreement_provider.open_pay_after(sub, request).state == ChargeState.PENDING
    charged = agreement_provider.charge(sub, request)
    assert (charged.state, charged.amount_fen) == (ChargeState.PAID, 1234)
    assert len(charged.provider_trade_no) == 28
    assert sandbox.balance(SHOPPER) == 5000 - 1234

    paid = receiver.wait_for(2)[-1]
    assert paid.event_type == EventType.PAYMENT_PAID
    assert (paid.out_trade_no, paid.amount_fen, paid.provider_trade_no) == (
        "OV0001",
        1234,
        charged.provider_trade_no,
    )
    assert (paid.mch_id, paid.payer_id, paid.app_id) == (
        provisioned["mch_id"],
        SHOPPER,
        provisioned["app_id"],
    )

    # Charging again with the same out_trade_no is answered with the same trade; no second debit.
    again = agreement_provider.charge(sub, request)
    assert (again.state, again.provider_trade_no, again.amount_fen) == (
        ChargeState.PAID,
        charged.provider_trade_no,
        1234,
    )
    assert sandbox.balance(SHOPPER) == 5000 - 1234

    queried = agreement_provider.query(sub, "OV0001")
    assert (queried.state, queried.amount_fen) == (ChargeState.PAID, 1234)

    refund = RefundRequest(out_trade_no="OV0001", out_refund_no="OVR0001", refund_fen=234, total_fen=1234)
    refunded = agreement_provider.refund(sub, refund)
    assert (refunded.state, refunded.refund_fen) == (RefundState.SUCCEEDED, 234)
    assert sandbox.balance(SHOPPER) == 5000 - 1000
    assert agreement_provider.refund(sub, refund).state == RefundState.SUCCEEDED  # repeat: no new money
    assert sandbox.balance(SHOPPER) == 5000 - 1000

    found = agreement_provider.query_refund(sub, "OVR0001", "OV0001")
    assert (found.state, found.refund_fen) == (RefundState.SUCCEEDED, 234)
    assert agreement_provider.query_refund(sub, "OVR9999", "OV0001").state == RefundState.NOT_FOUND

    refund_note = receiver.wait_for(3)[-1]
    assert refund_note.event_type == EventType.REFUND_SUCCEEDED
    assert (refund_note.out_trade_no, refund_note.out_refund_no, refund_note.amount_fen) == (
        "OV0001",
        "OVR0001",
        234,
    )
    sandbox.courier.wait_idle()
    assert len(receiver.notifications()) == 3


def test_refund_beyond_the_paid_amount_fails(
    sandbox: AlipaySandbox, agreement_provider: AlipayAgreementProvider, receiver: Receiver, sub: SubMerchant
) -> None:
    agreement_no = sign_agreement(sandbox, agreement_provider, receiver, sub)
    request = ChargeRequest(
        out_trade_no="OV0002", amount_fen=500, description="水", authorisation_ref=agreement_no
    )
    assert agreement_provider.charge(sub, request).state == ChargeState.PAID
    refund = RefundRequest(out_trade_no="OV0002", out_refund_no="OVR0002", refund_fen=501, total_fen=500)
    result = agreement_provider.refund(sub, refund)
    assert (result.state, result.failure_code) == (RefundState.FAILED, "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL")


def test_unknown_trade_is_not_found(agreement_provider: AlipayAgreementProvider, sub: SubMerchant) -> None:
    assert agreement_provider.query(sub, "OV-NONE").state == ChargeState.NOT_FOUND
    assert agreement_provider.cancel(sub, "OV-NONE", "nothing").state == ChargeState.NOT_FOUND
    assert agreement_provider.query_refund(sub, "R", "OV-NONE").state == RefundState.NOT_FOUND


def test_unsign_revokes_and_notifies(
    sandbox: AlipaySandbox, agreement_provider: AlipayAgreementProvider, receiver: Receiver, sub: SubMerchant
) -> None:
    agreement_no = sign_agreement(sandbox, agreement_provider, receiver, sub)
    revoked = agreement_provider.revoke_authorisation(sub, SHOPPER, agreement_no, "shopper asked")
    assert revoked.state == AuthorisationState.REVOKED
    closed = receiver.wait_for(2)[-1]
    assert (closed.event_type, closed.authorisation_ref, closed.payer_id) == (
        EventType.AUTHORISATION_CLOSED,
        agreement_no,
        SHOPPER,
    )
    assert (
        agreement_provider.query_authorisation(sub, SHOPPER, agreement_no).state
        == AuthorisationState.NOT_FOUND
    )
    charge = ChargeRequest(
        out_trade_no="OV0003", amount_fen=100, description="x", authorisation_ref=agreement_no
    )
    failed = agreement_provider.charge(sub, charge)
    assert (failed.state, failed.failure_code) == (ChargeState.FAILED, "ACQ.AGREEMENT_NOT_EXIST")


def test_sub_merchant_token_is_sent_and_checked(
    sandbox: AlipaySandbox, agreement_provider: AlipayAgreementProvider, receiver: Receiver
) -> None:
    sandbox.add_sub_merchant("202612BBsub0001", "2088000000000555")
    merchant = SubMerchant(app_auth_token="202612BBsub0001", smid="2088000000000555")
    agreement_no = sign_agreement(sandbox, agreement_provider, receiver, merchant)
    request = ChargeRequest(
        out_trade_no="OV0004", amount_fen=300, description="x", authorisation_ref=agreement_no
    )
    assert agreement_provider.charge(sub=merchant, request=request).state == ChargeState.PAID
    # The trade belongs to the sub-merchant: without its token the platform itself has no such trade.
    assert agreement_provider.query(SubMerchant(), "OV0004").state == ChargeState.NOT_FOUND
    assert agreement_provider.query(merchant, "OV0004").state == ChargeState.PAID
