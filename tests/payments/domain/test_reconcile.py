"""Recovering lost messages: a payment paid at the provider whose notification never came is
repaired by sync_payment (the console button) and by reconcile_due (the periodic job); a charge or
refund the provider never received is sent again; nothing is asked before it is due."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from openvend.payments.choices import PaymentMethod, PaymentState, RefundState
from openvend.payments.models import Payment, PaymentEvent, Refund
from openvend.payments.providers.base import ChargeResult, ChargeState, ProviderError, RefundResult
from openvend.payments.providers.base import RefundState as ProviderRefundState
from openvend.payments.services.charging import charge_now, request_charge, send_charge
from openvend.payments.services.errors import PaymentErrorCode, PaymentRuleError
from openvend.payments.services.reconcile import reconcile_due, sync_payment, sync_refund
from openvend.payments.services.refunds import request_refund
from openvend.payments.tasks import reconcile_payments
from tests.payments.domain.conftest import Shop
from tests.payments.domain.fakes import ScriptedProvider

pytestmark = pytest.mark.django_db

LATER = timedelta(hours=3)


def _pending(shop: Shop, wechat: ScriptedProvider, method: str = PaymentMethod.WECHAT_PAYSCORE) -> Payment:
    wechat.charge_answers.append(ChargeResult(ChargeState.PENDING))
    payment = shop.pay(method=method)
    send_charge(payment)
    payment.refresh_from_db()
    assert payment.state == PaymentState.PENDING
    return payment


def test_lost_notification_is_repaired_by_sync_payment(
    shop: Shop, wechat: ScriptedProvider, world_a: Any
) -> None:
    payment = _pending(shop, wechat)
    wechat.query_answers.append(
        ChargeResult(ChargeState.PAID, provider_trade_no="4200000002", amount_fen=1250)
    )
    sync_payment(payment, actor=world_a.user("customer_service"))
    assert (payment.state, payment.provider_trade_no) == (PaymentState.PAID, "4200000002")
    event = PaymentEvent.objects.filter(payment=payment).latest("id")
    assert (event.kind, event.from_state, event.to_state, event.actor_id) == (
        "query",
        "pending",
        "paid",
        world_a.users["customer_service"].pk,
    )
    assert wechat.called("query") == [payment.out_trade_no]


def test_sync_when_the_provider_is_down_says_so(shop: Shop, wechat: ScriptedProvider) -> None:
    payment = _pending(shop, wechat)
    wechat.query_answers.append(ProviderError("SYSTEM_ERROR", retryable=True, status=502))
    with pytest.raises(PaymentRuleError) as refused:
        sync_payment(payment)
    assert refused.value.code == PaymentErrorCode.PROVIDER_UNAVAILABLE
    assert Payment.objects.get(pk=payment.pk).state == PaymentState.PENDING
    assert PaymentEvent.objects.filter(payment=payment).latest("id").kind == "query_error"


def test_lost_notification_is_repaired_by_the_periodic_job(shop: Shop, wechat: ScriptedProvider) -> None:
    payment = _pending(shop, wechat)
    assert reconcile_due() == {}  # not due yet: the provider is not asked
    assert wechat.called("query") == []
    wechat.query_answers.append(
        ChargeResult(ChargeState.PAID, provider_trade_no="4200000003", amount_fen=1250)
    )
    counts = reconcile_due(now=timezone.now() + LATER)
    assert counts == {"payments_checked": 1, "payments_repaired": 1}
    payment.refresh_from_db()
    assert (payment.state, payment.next_check_at) == (PaymentState.PAID, None)
    assert reconcile_due(now=timezone.now() + 2 * LATER) == {}  # settled: never asked again


def test_still_pending_backs_off(shop: Shop, wechat: ScriptedProvider) -> None:
    payment = _pending(shop, wechat)
    wechat.query_answers.append(ChargeResult(ChargeState.PENDING))
    now = timezone.now() + LATER
    assert reconcile_due(now=now) == {"payments_checked": 1}
    payment.refresh_from_db()
    assert payment.state == PaymentState.PENDING
    assert payment.next_check_at is not None and payment.next_check_at > now


def test_a_charge_the_provider_never_got_is_sent_again(shop: Shop, wechat: ScriptedProvider) -> None:
    wechat.charge_answers.append(ProviderError("TIMEOUT", retryable=True))
    payment = shop.pay()
    send_charge(payment)
    wechat.query_answers.append(ChargeResult(ChargeState.NOT_FOUND))
    counts = reconcile_due(now=timezone.now() + LATER)
    assert counts == {"payments_checked": 1, "charges_sent": 1}
    assert [r.out_trade_no for r in wechat.called("charge")] == ["ORD1001-01", "ORD1001-01"]
    assert Payment.objects.get(pk=payment.pk).state == PaymentState.PAID


def test_a_requested_charge_whose_task_was_lost_is_sent(shop: Shop, wechat: ScriptedProvider) -> None:
    payment = shop.pay()
    request_charge(payment)  # on_commit never runs here: the task is "lost"
    assert reconcile_due() == {}  # within the grace period
    assert reconcile_due(now=timezone.now() + timedelta(minutes=2)) == {"charges_sent": 1}
    assert Payment.objects.get(pk=payment.pk).state == PaymentState.PAID


def test_in_person_payment_not_paid_in_time_is_closed(shop: Shop, wechat: ScriptedProvider) -> None:
    payment = _pending(shop, wechat, method=PaymentMethod.WECHAT_JSAPI)
    wechat.query_answers.append(ChargeResult(ChargeState.PENDING))
    counts = reconcile_due(now=timezone.now() + LATER)
    assert counts == {"payments_checked": 1, "payments_expired": 1}
    assert Payment.objects.get(pk=payment.pk).state == PaymentState.CLOSED
    assert wechat.called("cancel") == [payment.out_trade_no]


def test_refund_result_is_recovered(
    shop: Shop, wechat: ScriptedProvider, django_capture_on_commit_callbacks: Any
) -> None:
    payment = shop.pay(amount_fen=900)
    send_charge(payment)
    with django_capture_on_commit_callbacks(execute=True):
        refund = request_refund(payment=payment, amount_fen=900, reason="x")
    refund.refresh_from_db()
    assert refund.state == RefundState.PENDING
    wechat.query_refund_answers.append(RefundResult(ProviderRefundState.PENDING))
    sync_refund(refund)
    assert Refund.objects.get(pk=refund.pk).state == RefundState.PENDING
    wechat.query_refund_answers.append(
        RefundResult(ProviderRefundState.SUCCEEDED, provider_refund_id="5009", refund_fen=900)
    )
    assert reconcile_due(now=timezone.now() + LATER) == {"refunds_checked": 1, "refunds_repaired": 1}
    refund.refresh_from_db()
    assert (refund.state, refund.provider_refund_id, refund.next_check_at) == (
        RefundState.SUCCEEDED,
        "5009",
        None,
    )
    assert Payment.objects.get(pk=payment.pk).refunded_fen == 900


def test_a_refund_whose_task_was_lost_is_sent(shop: Shop, wechat: ScriptedProvider) -> None:
    payment = shop.pay(amount_fen=900)
    send_charge(payment)
    refund = request_refund(payment=payment, amount_fen=100, reason="x")  # on_commit never runs
    wechat.refund_answers.append(RefundResult(ProviderRefundState.SUCCEEDED, refund_fen=100))
    assert reconcile_due(now=timezone.now() + timedelta(minutes=2)) == {"refunds_sent": 1}
    assert Refund.objects.get(pk=refund.pk).state == RefundState.SUCCEEDED


def test_the_task_runs_one_round(shop: Shop, wechat: ScriptedProvider) -> None:
    _pending(shop, wechat)
    result = reconcile_payments.enqueue()
    assert result.return_value == {}


def test_a_claimed_payment_is_not_checked_twice(shop: Shop, wechat: ScriptedProvider) -> None:
    payment = _pending(shop, wechat)
    now = timezone.now() + LATER
    Payment.objects.filter(pk=payment.pk).update(next_check_at=now + timedelta(minutes=4))  # another's lease
    assert reconcile_due(now=now) == {}
    assert wechat.called("query") == []


def test_charge_now_reports_an_unreachable_provider(shop: Shop, wechat: ScriptedProvider) -> None:
    wechat.charge_answers.append(ProviderError("TIMEOUT", retryable=True))
    payment = shop.pay(method=PaymentMethod.WECHAT_JSAPI)
    with pytest.raises(PaymentRuleError) as refused:
        charge_now(payment)
    assert refused.value.code == PaymentErrorCode.PROVIDER_UNAVAILABLE
