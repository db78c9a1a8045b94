"""Payscore through our client and the sandbox: authorisation (no-confirm mode), service orders in both
modes, complete -> deduction -> PAYSCORE.USER_PAID received and verified by our receiver, cancel,
refund by the deduction's transaction id."""

from __future__ import annotations

import pytest

from openvend.payments.providers.base import (
    AuthorisationRequest,
    AuthorisationState,
    ChargeLine,
    ChargeRequest,
    ChargeState,
    EventType,
    ProviderError,
    RefundRequest,
    RefundState,
    SubMerchant,
)
from openvend.payments.providers.wechat import WeChatPayscoreProvider
from openvend.sandbox.wechat import WeChatSandbox
from tests.payments.wechat.conftest import (
    SHOPPER,
    SP_MCHID,
    SUB_APPID,
    SUB_MCHID,
    Receiver,
    agree_permission,
    confirm_service_order,
)

LINES = (ChargeLine("可口可乐", 300, 1), ChargeLine("乐事薯片", 800, 2))


def authorise(payscore: WeChatPayscoreProvider, sub: SubMerchant, code: str = "OV-AU-0001") -> str:
    result = payscore.authorise(sub, AuthorisationRequest(code, SHOPPER, "https://h5.example.com/auth-done"))
    assert result.state == AuthorisationState.PENDING and result.authorisation_ref == code
    answer = agree_permission(result.next_action["confirm_url"])
    assert (answer.status_code, answer.headers["location"]) == (302, "https://h5.example.com/auth-done")
    return code


def open_order(payscore: WeChatPayscoreProvider, sub: SubMerchant, out: str, ref: str = ""):
    request = ChargeRequest(out, 5000, "智能柜购物", payer_id=SHOPPER, authorisation_ref=ref, attach="s7")
    return payscore.open_pay_after(sub, request)


def complete(payscore: WeChatPayscoreProvider, sub: SubMerchant, out: str):
    return payscore.charge(sub, ChargeRequest(out, 1100, "智能柜购物", payer_id=SHOPPER, lines=LINES))


def test_authorisation_opens_and_notifies(
    payscore: WeChatPayscoreProvider, sub: SubMerchant, receiver: Receiver
) -> None:
    assert payscore.query_authorisation(sub, SHOPPER, "").state == AuthorisationState.NOT_FOUND
    authorise(payscore, sub)
    [note] = receiver.wait_for(1)
    assert note.event_type == EventType.AUTHORISATION_OPENED
    assert (note.authorisation_ref, note.out_request_no, note.payer_id) == (
        "OV-AU-0001",
        "OV-AU-0001",
        SHOPPER,
    )
    assert (note.mch_id, note.sub_mchid) == (SP_MCHID, SUB_MCHID)
    queried = payscore.query_authorisation(sub, SHOPPER, "OV-AU-0001")
    assert (queried.state, queried.authorisation_ref, queried.payer_id) == (
        AuthorisationState.ACTIVE,
        "OV-AU-0001",
        SHOPPER,
    )
    assert payscore.query_authorisation(sub, "", "OV-AU-0001").state == AuthorisationState.ACTIVE


def test_unconfirmed_authorisation_is_pending_by_code(
    payscore: WeChatPayscoreProvider, sub: SubMerchant
) -> None:
    payscore.authorise(sub, AuthorisationRequest("OV-AU-9", SHOPPER, "https://h5.example.com/x"))
    assert payscore.query_authorisation(sub, "", "OV-AU-9").state == AuthorisationState.PENDING


def test_no_confirm_order_completes_and_user_paid_arrives(
    sandbox: WeChatSandbox, payscore: WeChatPayscoreProvider, sub: SubMerchant, receiver: Receiver
) -> None:
    sandbox.set_balance(SHOPPER, 2000)
    ref = authorise(payscore, sub)
    opened = open_order(payscore, sub, "OV-PS-0001", ref)
    assert (opened.state, opened.next_action) == (ChargeState.PENDING, {})
    assert opened.raw["state"] == "DOING"

    charged = complete(payscore, sub, "OV-PS-0001")
    assert (charged.state, charged.amount_fen) == (ChargeState.PAID, 1100)
    assert charged.raw["post_payments"] == [
        {"name": "可口可乐", "amount": 300, "count": 1},
        {"name": "乐事薯片", "amount": 800, "count": 2},
    ]
    notes = receiver.wait_for(2)
    paid = [n for n in notes if n.event_type == EventType.PAYMENT_PAID]
    assert [(n.out_trade_no, n.amount_fen, n.payer_id) for n in paid] == [("OV-PS-0001", 1100, SHOPPER)]
    assert paid[0].provider_trade_no == charged.provider_trade_no
    assert paid[0].raw["event_type"] == "PAYSCORE.USER_PAID"
    assert receiver.rejections == []
    assert sandbox.balance(SHOPPER) == 900
    assert payscore.query(sub, "OV-PS-0001").state == ChargeState.PAID


def test_user_confirm_order_is_confirmed_on_the_page_then_completed(
    payscore: WeChatPayscoreProvider, sub: SubMerchant, receiver: Receiver
) -> None:
    opened = open_order(payscore, sub, "OV-PS-0002")
    assert opened.state == ChargeState.PENDING and opened.raw["state"] == "CREATED"
    assert opened.next_action["package"] and opened.next_action["confirm_url"]
    with pytest.raises(ProviderError) as exc:  # not confirmed yet: nothing to complete
        complete(payscore, sub, "OV-PS-0002")
    assert exc.value.code == "INVALID_REQUEST"

    answer = confirm_service_order(
        opened.next_action["confirm_url"], redirect_url="https://h5.example.com/door"
    )
    assert answer.headers["location"] == "https://h5.example.com/door"
    [confirmed] = receiver.wait_for(1)
    assert (confirmed.event_type, confirmed.out_trade_no, confirmed.payer_id) == (
        EventType.PAY_AFTER_CONFIRMED,
        "OV-PS-0002",
        SHOPPER,
    )
    assert confirmed.amount_fen is None

    assert complete(payscore, sub, "OV-PS-0002").state == ChargeState.PAID
    notes = receiver.wait_for(2)
    assert [n.event_type for n in notes] == [EventType.PAY_AFTER_CONFIRMED, EventType.PAYMENT_PAID]
    assert notes[1].amount_fen == 1100


def test_open_pay_after_is_idempotent(payscore: WeChatPayscoreProvider, sub: SubMerchant) -> None:
    first, second = open_order(payscore, sub, "OV-PS-0003"), open_order(payscore, sub, "OV-PS-0003")
    assert first.provider_trade_no == second.provider_trade_no
    assert first.next_action["package"] == second.next_action["package"]


def test_complete_is_idempotent_and_charges_once(
    sandbox: WeChatSandbox, payscore: WeChatPayscoreProvider, sub: SubMerchant
) -> None:
    sandbox.set_balance(SHOPPER, 5000)
    open_order(payscore, sub, "OV-PS-0004", authorise(payscore, sub))
    first, second = complete(payscore, sub, "OV-PS-0004"), complete(payscore, sub, "OV-PS-0004")
    assert first.provider_trade_no == second.provider_trade_no and second.state == ChargeState.PAID
    assert sandbox.balance(SHOPPER) == 3900


def test_lines_must_add_up(payscore: WeChatPayscoreProvider, sub: SubMerchant) -> None:
    with pytest.raises(ProviderError) as exc:
        payscore.charge(sub, ChargeRequest("OV-PS-X", 999, "x", lines=LINES))
    assert exc.value.code == "PARAM_ERROR"


def test_cancel_closes_the_service_order(payscore: WeChatPayscoreProvider, sub: SubMerchant) -> None:
    open_order(payscore, sub, "OV-PS-0005", authorise(payscore, sub))
    assert payscore.cancel(sub, "OV-PS-0005", "nothing taken").state == ChargeState.CLOSED
    assert payscore.query(sub, "OV-PS-0005").state == ChargeState.CLOSED


def test_query_unknown_service_order_is_not_found(payscore: WeChatPayscoreProvider, sub: SubMerchant) -> None:
    assert payscore.query(sub, "OV-PS-NOPE").state == ChargeState.NOT_FOUND


def test_refund_uses_the_deduction_transaction(
    sandbox: WeChatSandbox, payscore: WeChatPayscoreProvider, sub: SubMerchant, receiver: Receiver
) -> None:
    sandbox.set_balance(SHOPPER, 1100)
    open_order(payscore, sub, "OV-PS-0006", authorise(payscore, sub))
    paid = complete(payscore, sub, "OV-PS-0006")
    refund = payscore.refund(sub, RefundRequest("OV-PS-0006", "OV-PR-0001", refund_fen=300, total_fen=1100))
    assert (refund.state, refund.refund_fen) == (RefundState.PENDING, 300)
    assert refund.raw["transaction_id"] == paid.provider_trade_no
    assert payscore.query_refund(sub, "OV-PR-0001", "OV-PS-0006").state == RefundState.SUCCEEDED
    assert sandbox.balance(SHOPPER) == 300
    notes = receiver.wait_for(3)
    refunds = [(n.out_refund_no, n.amount_fen) for n in notes if n.event_type == EventType.REFUND_SUCCEEDED]
    assert refunds == [("OV-PR-0001", 300)]


def test_refund_of_an_unpaid_service_order_fails(payscore: WeChatPayscoreProvider, sub: SubMerchant) -> None:
    open_order(payscore, sub, "OV-PS-0007")
    refund = payscore.refund(sub, RefundRequest("OV-PS-0007", "OV-PR-2", refund_fen=1, total_fen=1))
    assert (refund.state, refund.failure_code) == (RefundState.FAILED, "ORDER_NOT_PAID")


def test_revoke_authorisation_terminates_and_notifies(
    payscore: WeChatPayscoreProvider, sub: SubMerchant, receiver: Receiver
) -> None:
    ref = authorise(payscore, sub)
    receiver.wait_for(1)
    revoked = payscore.revoke_authorisation(sub, SHOPPER, ref, "shopper asked")
    assert revoked.state == AuthorisationState.REVOKED
    notes = receiver.wait_for(2)
    assert [n.event_type for n in notes] == [EventType.AUTHORISATION_OPENED, EventType.AUTHORISATION_CLOSED]
    assert notes[1].authorisation_ref == ref
    assert payscore.query_authorisation(sub, SHOPPER, ref).state == AuthorisationState.REVOKED
    with pytest.raises(ProviderError) as exc:  # no authorisation, no no-confirm order
        open_order(payscore, sub, "OV-PS-0008", ref)
    assert (exc.value.code, exc.value.status) == ("NO_AUTH", 403)


def test_shopper_closing_the_service_in_wechat_notifies(
    sandbox: WeChatSandbox, payscore: WeChatPayscoreProvider, sub: SubMerchant, receiver: Receiver
) -> None:
    authorise(payscore, sub)
    receiver.wait_for(1)
    assert sandbox.revoke_permission(SHOPPER) == 1
    assert [n.event_type for n in receiver.wait_for(2)][-1] == EventType.AUTHORISATION_CLOSED


def test_sub_appid_authorisation_uses_sub_openid(
    payscore: WeChatPayscoreProvider, receiver: Receiver, sandbox: WeChatSandbox
) -> None:
    sub = SubMerchant(sub_mchid=SUB_MCHID, sub_appid=SUB_APPID)
    ref = authorise(payscore, sub, "OV-AU-SUB")
    [note] = receiver.wait_for(1)
    assert note.payer_id == SHOPPER and note.raw["resource"]["sub_openid"] == SHOPPER
    opened = open_order(payscore, sub, "OV-PS-SUB", ref)
    assert opened.raw["sub_openid"] == SHOPPER and opened.raw["state"] == "DOING"
