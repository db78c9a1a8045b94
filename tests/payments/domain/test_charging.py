"""Creating and charging payments: validation before any write, derived out numbers, the ¥0 rule,
charges after commit through the task, and what each kind of provider answer does."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from openvend.payments.choices import PaymentMethod, PaymentState
from openvend.payments.models import Payment, PaymentEvent, SitePaymentMethod
from openvend.payments.providers.base import ChargeLine, ChargeResult, ChargeState, ProviderError
from openvend.payments.services.charging import (
    cancel_payment,
    charge_now,
    create_payment,
    open_pay_after,
    request_charge,
    send_charge,
)
from openvend.payments.services.errors import PaymentErrorCode, PaymentRuleError
from tests.payments.domain.conftest import Shop
from tests.payments.domain.fakes import ScriptedProvider

pytestmark = pytest.mark.django_db


def _kinds(payment: Payment) -> list[tuple[str, str, str]]:
    return [
        (e.kind, e.from_state, e.to_state)
        for e in PaymentEvent.objects.filter(payment=payment).order_by("id")
    ]


@pytest.mark.parametrize("amount", [-1, 12.5, "1250", True, Decimal("12.50"), None])
def test_bad_amount_is_refused_and_nothing_is_written(shop: Shop, amount: Any) -> None:
    with pytest.raises(PaymentRuleError) as refused:
        shop.pay(amount_fen=amount)
    assert refused.value.code == PaymentErrorCode.INVALID_AMOUNT
    assert str(refused.value) == _("The amount must be a whole number of fen, zero or more.")
    assert Payment.objects.count() == PaymentEvent.objects.count() == 0


@pytest.mark.parametrize("method", ["cash", "", "WECHAT_JSAPI"])
def test_unknown_method_is_refused_and_nothing_is_written(shop: Shop, method: str) -> None:
    with pytest.raises(PaymentRuleError) as refused:
        shop.pay(method=method)
    assert refused.value.code == PaymentErrorCode.INVALID_METHOD
    assert str(refused.value) == _("“%(method)s” is not a payment method.") % {"method": method}
    assert Payment.objects.count() == 0


@pytest.mark.parametrize("order_ref", ["ab", "x" * 25, "ORD 1", "订单1", "ORD/1"])
def test_order_reference_must_make_a_valid_out_trade_no(shop: Shop, order_ref: str) -> None:
    with pytest.raises(PaymentRuleError) as refused:
        shop.pay(order_ref=order_ref)
    assert refused.value.code == PaymentErrorCode.INVALID_ORDER
    assert Payment.objects.count() == 0


def test_method_not_offered_at_the_site_is_refused(shop: Shop) -> None:
    SitePaymentMethod.objects.create(
        merchant=shop.merchant, site=shop.site, method=PaymentMethod.WECHAT_JSAPI
    )
    SitePaymentMethod.objects.create(
        merchant=shop.merchant, site=shop.site, method=PaymentMethod.WALLET, enabled=False
    )
    with pytest.raises(PaymentRuleError) as refused:
        shop.pay(method=PaymentMethod.WALLET)
    assert refused.value.code == PaymentErrorCode.METHOD_NOT_OFFERED
    assert shop.pay(method=PaymentMethod.WECHAT_JSAPI).method == PaymentMethod.WECHAT_JSAPI
    assert shop.pay(order_ref="ORD2", method=PaymentMethod.WALLET, site=shop.far_site).site == shop.far_site


def test_agreement_pay_needs_an_active_authorisation(shop: Shop) -> None:
    with pytest.raises(PaymentRuleError) as refused:
        shop.pay(method=PaymentMethod.ALIPAY_AGREEMENT)
    assert refused.value.code == PaymentErrorCode.AUTHORISATION_REQUIRED
    assert Payment.objects.count() == 0


def test_attempts_and_out_trade_numbers_are_derived_from_the_order(shop: Shop) -> None:
    first = shop.pay(order_ref="ORD-77")
    second = shop.pay(order_ref="ORD-77", method=PaymentMethod.WALLET)
    other = shop.pay(order_ref="ORD_78")
    assert [(p.attempt, p.out_trade_no, p.provider) for p in (first, second, other)] == [
        (1, "ORD-77-01", "wechat"),
        (2, "ORD-77-02", "wallet"),
        (1, "ORD_78-01", "wechat"),
    ]


def test_out_trade_no_is_unique_in_the_database(shop: Shop) -> None:
    first = shop.pay(order_ref="ORD-77")
    with pytest.raises(IntegrityError), transaction.atomic():
        Payment.objects.create(
            merchant=shop.merchant,
            order_ref="OTHER",
            attempt=1,
            out_trade_no=first.out_trade_no,
            method=first.method,
            provider=first.provider,
            amount_fen=1,
            description="x",
        )
    with pytest.raises(IntegrityError), transaction.atomic():  # the same attempt of the same order
        Payment.objects.create(
            merchant=shop.merchant,
            order_ref="ORD-77",
            attempt=1,
            out_trade_no="ORD-77-99",
            method=first.method,
            provider=first.provider,
            amount_fen=1,
            description="x",
        )
    assert Payment.objects.count() == 1


def test_zero_amount_closes_without_calling_the_provider(
    shop: Shop, wechat: ScriptedProvider, django_capture_on_commit_callbacks: Any
) -> None:
    payment = shop.pay(amount_fen=0)
    with django_capture_on_commit_callbacks(execute=True):
        request_charge(payment)
    payment.refresh_from_db()
    assert payment.state == PaymentState.CLOSED
    assert wechat.calls == []
    assert _kinds(payment)[-1] == ("zero_amount", PaymentState.CREATED, PaymentState.CLOSED)


def test_zero_amount_after_door_open_cancels_the_opened_order(shop: Shop, wechat: ScriptedProvider) -> None:
    payment = shop.pay(amount_fen=0)
    open_pay_after(payment)
    send_charge(payment)
    payment.refresh_from_db()
    assert payment.state == PaymentState.CLOSED
    assert [name for name, _ in wechat.calls] == ["open_pay_after", "cancel"]
    assert wechat.called("charge") == []


def test_charge_is_sent_after_commit_and_applied(
    shop: Shop, wechat: ScriptedProvider, django_capture_on_commit_callbacks: Any
) -> None:
    payment = shop.pay()
    open_pay_after(payment)
    assert payment.provider_trade_no == "SORD1001-01"
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        request_charge(payment, [ChargeLine("Cola", 1250, 2)])
    assert wechat.called("charge") == []  # nothing leaves before the commit
    for callback in callbacks:
        callback()
    payment.refresh_from_db()
    [request] = wechat.called("charge")
    assert (request.out_trade_no, request.amount_fen, request.lines) == (
        "ORD1001-01",
        1250,
        (ChargeLine("Cola", 1250, 2),),
    )
    assert request.attach == str(payment.pk)
    assert (payment.state, payment.provider_trade_no, payment.next_check_at) == (
        PaymentState.PAID,
        "TORD1001-01",
        None,
    )
    assert payment.paid_at is not None
    assert _kinds(payment) == [
        ("created", "", "created"),
        ("pay_after_opened", "", ""),
        ("charge_scheduled", "", ""),
        ("charge_sent", "created", "pending"),
        ("charge_response", "pending", "paid"),
    ]


def test_running_the_charge_twice_sends_once(shop: Shop, wechat: ScriptedProvider) -> None:
    payment = shop.pay()
    send_charge(payment)
    assert send_charge(payment) is None
    assert len(wechat.called("charge")) == 1


def test_refused_charge_means_the_shopper_owes_it(shop: Shop, wechat: ScriptedProvider) -> None:
    wechat.charge_answers.append(ProviderError("NOTENOUGH", "余额不足", retryable=False, status=403))
    payment = shop.pay()
    send_charge(payment)
    payment.refresh_from_db()
    assert (payment.state, payment.failure_code, payment.failure_message) == (
        PaymentState.FAILED,
        "NOTENOUGH",
        "余额不足",
    )
    assert _kinds(payment)[-1] == ("charge_refused", "pending", "failed")


def test_unreachable_provider_leaves_it_pending_for_the_reconciler(
    shop: Shop, wechat: ScriptedProvider
) -> None:
    wechat.charge_answers.append(ProviderError("SYSTEM_ERROR", retryable=True, status=500))
    payment = shop.pay()
    assert send_charge(payment) is None
    payment.refresh_from_db()
    assert payment.state == PaymentState.PENDING
    assert payment.next_check_at is not None
    assert _kinds(payment)[-1] == ("charge_error", "", "")


def test_charged_amount_different_from_ours_is_not_booked(shop: Shop, wechat: ScriptedProvider) -> None:
    wechat.charge_answers.append(ChargeResult(ChargeState.PAID, provider_trade_no="T1", amount_fen=1))
    payment = shop.pay()
    send_charge(payment)
    payment.refresh_from_db()
    assert payment.state == PaymentState.PENDING
    assert _kinds(payment)[-1] == ("charge_response_amount_mismatch", "", "")


def test_jsapi_charge_returns_the_prepay_parameters(shop: Shop, wechat: ScriptedProvider) -> None:
    prepay = {"appId": "wx1", "package": "prepay_id=wx201410272009395522657a690389285100"}
    wechat.charge_answers.append(ChargeResult(ChargeState.PENDING, next_action=prepay))
    payment = shop.pay(method=PaymentMethod.WECHAT_JSAPI)
    assert charge_now(payment) == prepay
    assert payment.state == PaymentState.PENDING
    assert payment.next_check_at is not None


def test_pay_after_refused_at_door_open_closes_and_raises(shop: Shop, wechat: ScriptedProvider) -> None:
    wechat.open_answers.append(ChargeResult(ChargeState.FAILED, failure_code="RULE_LIMIT"))
    payment = shop.pay()
    with pytest.raises(PaymentRuleError) as refused:
        open_pay_after(payment)
    assert refused.value.code == PaymentErrorCode.PAY_AFTER_REFUSED
    payment.refresh_from_db()
    assert (payment.state, payment.failure_code) == (PaymentState.CLOSED, "RULE_LIMIT")


def test_cancel_a_pending_payment_closes_it_at_the_provider(
    shop: Shop, wechat: ScriptedProvider, world_a: Any
) -> None:
    wechat.charge_answers.append(ChargeResult(ChargeState.PENDING))
    payment = shop.pay(method=PaymentMethod.WECHAT_JSAPI)
    charge_now(payment)
    cancel_payment(payment, "shopper left", world_a.user("merchant_admin"))
    assert payment.state == PaymentState.CLOSED
    assert wechat.called("cancel") == ["ORD1001-01"]
    event = PaymentEvent.objects.filter(payment=payment).latest("id")
    assert (event.kind, event.to_state, event.actor_id) == (
        "cancelled",
        "closed",
        world_a.users["merchant_admin"].pk,
    )
    assert event.detail == {"reason": "shopper left", "provider_cancel": "closed"}


def test_cancel_finds_the_shopper_paid_meanwhile(shop: Shop, wechat: ScriptedProvider) -> None:
    wechat.charge_answers.append(ChargeResult(ChargeState.PENDING))
    wechat.cancel_answers.append(ChargeResult(ChargeState.PAID, provider_trade_no="T9", amount_fen=1250))
    payment = shop.pay(method=PaymentMethod.WECHAT_JSAPI)
    charge_now(payment)
    with pytest.raises(PaymentRuleError) as refused:
        cancel_payment(payment, "too late")
    assert refused.value.code == PaymentErrorCode.ALREADY_PAID
    assert Payment.objects.get(pk=payment.pk).state == PaymentState.PAID


def test_create_payment_refuses_another_merchants_site(shop: Shop, world_b: Any) -> None:
    with pytest.raises(PaymentRuleError) as refused:
        create_payment(
            merchant=shop.merchant,
            order_ref="ORD9",
            amount_fen=1,
            method=PaymentMethod.WALLET,
            description="x",
            consumer=shop.consumer,
            site=world_b.sites["sh-1"],
        )
    assert refused.value.code == PaymentErrorCode.INVALID_ORDER


def test_an_order_reference_of_another_merchant_is_refused(shop: Shop, world_b: Any) -> None:
    shop.pay(order_ref="ORD-77")
    with pytest.raises(PaymentRuleError) as refused:
        create_payment(
            merchant=world_b.merchant,
            order_ref="ORD-77",
            amount_fen=1,
            method=PaymentMethod.WECHAT_JSAPI,
            description="x",
        )
    assert refused.value.code == PaymentErrorCode.INVALID_ORDER
    assert str(refused.value) == _("This order reference is already used by another order.")
    assert Payment.objects.count() == 1


def test_pay_after_opens_with_a_risk_amount_and_charges_the_final_one(
    shop: Shop, wechat: ScriptedProvider, django_capture_on_commit_callbacks: Any
) -> None:
    payment = shop.pay(amount_fen=0)  # door-open: nothing is known yet
    open_pay_after(payment, risk_amount_fen=20000)
    [opened] = wechat.called("open_pay_after")
    assert opened.amount_fen == 20000
    with django_capture_on_commit_callbacks(execute=True):
        request_charge(payment, [ChargeLine("Cola", 700, 2)], amount_fen=700)
    payment.refresh_from_db()
    assert (payment.amount_fen, payment.state) == (700, PaymentState.PAID)
    assert [r.amount_fen for r in wechat.called("charge")] == [700]
    assert PaymentEvent.objects.get(payment=payment, kind="amount_set").detail == {
        "from_fen": 0,
        "to_fen": 700,
    }
    with pytest.raises(PaymentRuleError) as refused:
        request_charge(payment, amount_fen=800)
    assert refused.value.code == PaymentErrorCode.INVALID_ORDER
    assert Payment.objects.get(pk=payment.pk).amount_fen == 700
