"""Paying an owed order in person: a new attempt with the chosen method; when it is paid the failed
attempt is closed with an event naming the one that paid."""

from __future__ import annotations

import pytest

from openvend.payments.choices import PaymentMethod, PaymentState
from openvend.payments.models import Payment, PaymentEvent
from openvend.payments.providers.base import ChargeResult, ChargeState, EventType, ProviderError
from openvend.payments.selectors import unpaid_payments_of
from openvend.payments.services.charging import pay_pending, send_charge
from openvend.payments.services.errors import PaymentErrorCode, PaymentRuleError
from openvend.payments.services.notifications import receive_notification
from openvend.payments.services.wallet import wallet_recharge
from tests.payments.domain.conftest import SP_MCHID, Shop
from tests.payments.domain.fakes import ScriptedProvider, notification_body

pytestmark = pytest.mark.django_db


@pytest.fixture
def owed(shop: Shop, wechat: ScriptedProvider) -> Payment:
    wechat.charge_answers.append(ProviderError("NOTENOUGH", retryable=False))
    payment = shop.pay(amount_fen=1250)
    send_charge(payment)
    payment.refresh_from_db()
    assert payment.state == PaymentState.FAILED
    return payment


def test_pay_an_owed_order_from_the_wallet(shop: Shop, owed: Payment) -> None:
    assert list(unpaid_payments_of(shop.consumer)) == [owed]
    wallet_recharge(
        merchant_id=shop.merchant.pk, consumer_id=shop.consumer.pk, amount_fen=5000, idempotency_key="t"
    )
    attempt, next_action = pay_pending(payment=owed, method=PaymentMethod.WALLET, payer_id="")
    assert (attempt.attempt, attempt.out_trade_no, attempt.state, attempt.amount_fen, next_action) == (
        2,
        "ORD1001-02",
        PaymentState.PAID,
        1250,
        {},
    )
    owed.refresh_from_db()
    assert owed.state == PaymentState.CLOSED
    closing = PaymentEvent.objects.filter(payment=owed).latest("id")
    assert (closing.kind, closing.from_state, closing.to_state) == ("superseded", "failed", "closed")
    assert closing.detail == {"paid_by": "ORD1001-02", "paid_by_id": attempt.pk}
    assert list(unpaid_payments_of(shop.consumer)) == []


def test_pay_an_owed_order_through_jsapi(shop: Shop, owed: Payment, wechat: ScriptedProvider) -> None:
    prepay = {"package": "prepay_id=wx1"}
    wechat.charge_answers += [ChargeResult(ChargeState.PENDING, next_action=prepay)] * 2
    attempt, next_action = pay_pending(payment=owed, method=PaymentMethod.WECHAT_JSAPI, payer_id="openid-1")
    assert (attempt.state, next_action) == (PaymentState.PENDING, prepay)
    assert Payment.objects.get(pk=owed.pk).state == PaymentState.FAILED  # still owed until paid
    again, _ = pay_pending(payment=owed, method=PaymentMethod.WECHAT_JSAPI, payer_id="openid-1")
    assert again.pk == attempt.pk  # a second tap reuses the open attempt
    body = notification_body(
        "N-P", EventType.PAYMENT_PAID, out_trade_no=attempt.out_trade_no, amount_fen=1250, mch_id=SP_MCHID
    )
    assert receive_notification("wechat", {}, body).status == 200
    assert Payment.objects.get(pk=attempt.pk).state == PaymentState.PAID
    assert Payment.objects.get(pk=owed.pk).state == PaymentState.CLOSED


def test_short_wallet_leaves_the_order_owed(shop: Shop, owed: Payment) -> None:
    attempt, _ = pay_pending(payment=owed, method=PaymentMethod.WALLET, payer_id="")
    assert attempt.state == PaymentState.FAILED
    assert Payment.objects.get(pk=owed.pk).state == PaymentState.FAILED


def test_only_owed_payments_and_in_person_methods(
    shop: Shop, owed: Payment, wechat: ScriptedProvider
) -> None:
    with pytest.raises(PaymentRuleError) as refused:
        pay_pending(payment=owed, method=PaymentMethod.WECHAT_PAYSCORE, payer_id="openid-1")
    assert refused.value.code == PaymentErrorCode.INVALID_METHOD
    paid = shop.pay(order_ref="ORD2")
    send_charge(paid)
    paid.refresh_from_db()
    with pytest.raises(PaymentRuleError) as refused:
        pay_pending(payment=paid, method=PaymentMethod.WALLET, payer_id="")
    assert refused.value.code == PaymentErrorCode.NOT_OWED
    assert Payment.objects.filter(order_ref="ORD2").count() == 1
