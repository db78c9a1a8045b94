"""What the sandbox can be told to break, and how our side sees it."""

from __future__ import annotations

import time

import httpx
import pytest

from openvend.payments.providers.base import (
    AuthorisationRequest,
    AuthorisationState,
    ChargeRequest,
    ChargeState,
    EventType,
    ProviderError,
    RefundRequest,
    SubMerchant,
)
from openvend.payments.providers.wechat import WeChatJsapiProvider, WeChatPayscoreProvider
from openvend.sandbox.wechat import RETRY_SCHEDULE_S, WeChatSandbox
from tests.payments.wechat.conftest import SHOPPER, Receiver, agree_permission, pay_at_cashier


def control(sandbox: WeChatSandbox, **settings: object) -> dict:
    response = httpx.post(f"{sandbox.url}/sandbox/control", json=settings)
    assert response.status_code == 200
    return response.json()


def jsapi_order(jsapi: WeChatJsapiProvider, sub: SubMerchant, out: str = "OV-F-0001", fen: int = 350):
    return jsapi.charge(sub, ChargeRequest(out, fen, "矿泉水", payer_id=SHOPPER))


def no_confirm_order(payscore: WeChatPayscoreProvider, sub: SubMerchant, out: str) -> None:
    auth = payscore.authorise(sub, AuthorisationRequest("AU-" + out, SHOPPER, "https://h5.example.com/back"))
    agree_permission(auth.next_action["confirm_url"])
    payscore.open_pay_after(
        sub, ChargeRequest(out, 5000, "购物", payer_id=SHOPPER, authorisation_ref="AU-" + out)
    )


def test_retry_schedule_is_wechats() -> None:
    assert RETRY_SCHEDULE_S == (
        15,
        15,
        30,
        180,
        600,
        1200,
        1800,
        1800,
        1800,
        3600,
        10800,
        10800,
        10800,
        21600,
        21600,
    )


def test_control_endpoint_reports_and_validates(sandbox: WeChatSandbox) -> None:
    assert httpx.get(f"{sandbox.url}/sandbox/control").json()["charge"] == ""
    state = control(sandbox, charge="insufficient_balance", notification="delayed", notification_delay_s=5)
    assert (state["charge"], state["notification"], state["notification_delay_s"]) == (
        "insufficient_balance",
        "delayed",
        5.0,
    )
    assert sandbox.faults.charge == "insufficient_balance"
    bad = httpx.post(f"{sandbox.url}/sandbox/control", json={"charge": "broke"})
    assert (bad.status_code, bad.json()["code"]) == (400, "PARAM_ERROR")
    assert control(sandbox, reset=True)["charge"] == ""


def test_payscore_deduction_with_insufficient_balance_is_failed(
    sandbox: WeChatSandbox, payscore: WeChatPayscoreProvider, sub: SubMerchant, receiver: Receiver
) -> None:
    sandbox.set_balance(SHOPPER, 500)
    no_confirm_order(payscore, sub, "OV-F-PS1")
    result = payscore.charge(sub, ChargeRequest("OV-F-PS1", 1100, "购物", payer_id=SHOPPER))
    assert (result.state, result.failure_code, result.amount_fen) == (ChargeState.FAILED, "NOT_ENOUGH", 1100)
    assert payscore.query(sub, "OV-F-PS1").state == ChargeState.FAILED
    assert sandbox.balance(SHOPPER) == 500
    receiver.wait_for(1)
    assert sandbox.courier.wait_idle(5)
    assert [n.event_type for n in receiver.notifications] == [EventType.AUTHORISATION_OPENED]


def test_charge_fault_fails_even_a_rich_shopper_at_the_cashier(
    sandbox: WeChatSandbox, jsapi: WeChatJsapiProvider, sub: SubMerchant, receiver: Receiver
) -> None:
    control(sandbox, charge="insufficient_balance")
    answer = pay_at_cashier(jsapi_order(jsapi, sub).next_action["cashier_url"])
    assert (
        answer.status_code == 200
        and "余额不足" in answer.text
        and "https://h5.example.com/paid" in answer.text
    )
    result = jsapi.query(sub, "OV-F-0001")
    assert (result.state, result.failure_code) == (ChargeState.FAILED, "PAYERROR")
    assert receiver.raw == []


def test_revoked_authorisation_refuses_no_confirm_orders(
    sandbox: WeChatSandbox, payscore: WeChatPayscoreProvider, sub: SubMerchant
) -> None:
    auth = payscore.authorise(sub, AuthorisationRequest("AU-R", SHOPPER, "https://h5.example.com/back"))
    agree_permission(auth.next_action["confirm_url"])
    assert payscore.query_authorisation(sub, SHOPPER, "AU-R").state == AuthorisationState.ACTIVE
    control(sandbox, authorisation="revoked")
    assert payscore.query_authorisation(sub, SHOPPER, "AU-R").state == AuthorisationState.REVOKED
    with pytest.raises(ProviderError) as exc:
        payscore.open_pay_after(
            sub, ChargeRequest("OV-F-PS2", 5000, "购物", payer_id=SHOPPER, authorisation_ref="AU-R")
        )
    assert (exc.value.code, exc.value.status, exc.value.retryable) == ("NO_AUTH", 403, False)


def test_lost_notification_is_recovered_by_query(
    sandbox: WeChatSandbox, jsapi: WeChatJsapiProvider, sub: SubMerchant, receiver: Receiver
) -> None:
    sandbox.faults.notification = "lost"
    pay_at_cashier(jsapi_order(jsapi, sub).next_action["cashier_url"])
    assert sandbox.courier.wait_idle(5)
    [delivery] = sandbox.courier.deliveries
    assert (delivery.fault, delivery.attempts) == ("lost", [])
    assert receiver.raw == []
    recovered = jsapi.query(sub, "OV-F-0001")
    assert (recovered.state, recovered.amount_fen) == (ChargeState.PAID, 350)


def test_duplicate_notification_arrives_twice_with_one_id(
    sandbox: WeChatSandbox, jsapi: WeChatJsapiProvider, sub: SubMerchant, receiver: Receiver
) -> None:
    control(sandbox, notification="duplicate")
    pay_at_cashier(jsapi_order(jsapi, sub).next_action["cashier_url"])
    notes = receiver.wait_for(2)
    assert sandbox.courier.wait_idle(5)
    assert len(notes) == 2 and notes[0].notification_id == notes[1].notification_id
    assert {(n.event_type, n.out_trade_no, n.amount_fen) for n in notes} == {
        (EventType.PAYMENT_PAID, "OV-F-0001", 350)
    }
    assert [status for _, status in sandbox.courier.deliveries[0].attempts] == [200, 200]


def test_delayed_notification_waits_then_arrives(
    sandbox: WeChatSandbox, jsapi: WeChatJsapiProvider, sub: SubMerchant, receiver: Receiver
) -> None:
    control(sandbox, notification="delayed", notification_delay_s=400)  # 0.4 s at time_scale 0.001
    started = time.monotonic()
    pay_at_cashier(jsapi_order(jsapi, sub).next_action["cashier_url"])
    assert receiver.raw == []
    [note] = receiver.wait_for(1)
    assert sandbox.courier.wait_idle(5)
    [(first_attempt, status)] = sandbox.courier.deliveries[0].attempts
    assert status == 200 and first_attempt - started >= 0.4
    assert note.out_trade_no == "OV-F-0001"


def test_unacknowledged_notification_is_retried_on_schedule(
    sandbox: WeChatSandbox, jsapi: WeChatJsapiProvider, sub: SubMerchant, receiver: Receiver
) -> None:
    receiver.fail_first = 2
    pay_at_cashier(jsapi_order(jsapi, sub).next_action["cashier_url"])
    receiver.wait_for(1)
    assert sandbox.courier.wait_idle(5)
    attempts = sandbox.courier.deliveries[0].attempts
    assert [status for _, status in attempts] == [500, 500, 200]
    assert attempts[1][0] - attempts[0][0] >= 0.015 and attempts[2][0] - attempts[1][0] >= 0.015
    # Each retry is signed afresh and still verifies; the one id is the same throughout.
    ids = {body for _, body in receiver.raw}
    assert len(ids) == 1 and len({h["Wechatpay-Nonce"] for h, _ in receiver.raw}) == 3


def test_abnormal_refund_notifies_refund_failed(
    sandbox: WeChatSandbox, jsapi: WeChatJsapiProvider, sub: SubMerchant, receiver: Receiver
) -> None:
    pay_at_cashier(jsapi_order(jsapi, sub).next_action["cashier_url"])
    receiver.wait_for(1)
    control(sandbox, refund="abnormal")
    jsapi.refund(sub, RefundRequest("OV-F-0001", "OV-F-R1", refund_fen=350, total_fen=350))
    notes = receiver.wait_for(2)
    assert (notes[1].event_type, notes[1].failure_code, notes[1].out_refund_no) == (
        EventType.REFUND_FAILED,
        "ABNORMAL",
        "OV-F-R1",
    )
    queried = jsapi.query_refund(sub, "OV-F-R1", "OV-F-0001")
    assert (queried.state.value, queried.failure_code) == ("failed", "ABNORMAL")
