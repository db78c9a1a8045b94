"""Refunds: only of paid payments, never more than is left (in-flight refunds count), numbered from
the payment, and refunded_fen moves only when a refund succeeds."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils.translation import gettext as _

from openvend.audit.models import AuditLogEntry
from openvend.payments.choices import PaymentMethod, PaymentState, RefundState
from openvend.payments.models import Payment, PaymentEvent, Refund
from openvend.payments.providers.base import EventType, ProviderError, RefundResult
from openvend.payments.providers.base import RefundState as ProviderRefundState
from openvend.payments.services.charging import send_charge
from openvend.payments.services.errors import PaymentErrorCode, PaymentRuleError
from openvend.payments.services.notifications import receive_notification
from openvend.payments.services.refunds import refundable_fen, request_refund
from tests.payments.domain.conftest import SP_MCHID, Shop
from tests.payments.domain.fakes import ScriptedProvider, notification_body

pytestmark = pytest.mark.django_db


@pytest.fixture
def paid(shop: Shop, wechat: ScriptedProvider) -> Payment:
    payment = shop.pay(amount_fen=1000)
    send_charge(payment)
    payment.refresh_from_db()
    assert payment.state == PaymentState.PAID
    return payment


def _refund(payment: Payment, amount: int, capture: Any, actor: Any = None) -> Refund:
    with capture(execute=True):
        refund = request_refund(payment=payment, amount_fen=amount, reason="damaged", actor=actor)
    refund.refresh_from_db()
    return refund


def test_partial_plus_partial_is_the_whole(
    paid: Payment, wechat: ScriptedProvider, django_capture_on_commit_callbacks: Any, world_a: Any
) -> None:
    wechat.refund_answers += [
        RefundResult(ProviderRefundState.SUCCEEDED, provider_refund_id="5001", refund_fen=300),
        RefundResult(ProviderRefundState.SUCCEEDED, provider_refund_id="5002", refund_fen=700),
    ]
    admin = world_a.user("merchant_admin")
    first = _refund(paid, 300, django_capture_on_commit_callbacks, admin)
    second = _refund(paid, 700, django_capture_on_commit_callbacks, admin)
    paid.refresh_from_db()
    assert [(r.sequence, r.out_refund_no, r.state, r.provider_refund_id) for r in (first, second)] == [
        (1, "ORD1001-01R1", RefundState.SUCCEEDED, "5001"),
        (2, "ORD1001-01R2", RefundState.SUCCEEDED, "5002"),
    ]
    assert (paid.refunded_fen, paid.state, refundable_fen(paid)) == (1000, PaymentState.PAID, 0)
    [request] = wechat.called("refund")[:1]
    assert (request.out_trade_no, request.refund_fen, request.total_fen, request.reason) == (
        "ORD1001-01",
        300,
        1000,
        "damaged",
    )
    with pytest.raises(PaymentRuleError) as refused:
        request_refund(payment=paid, amount_fen=1, reason="more", actor=admin)
    assert refused.value.code == PaymentErrorCode.REFUND_TOO_LARGE
    assert str(refused.value) == _("At most %(room)s fen of this payment can still be refunded.") % {
        "room": 0
    }
    audited = AuditLogEntry.objects.filter(object_type="payments.refund", action="create")
    assert sorted(int(e.object_id) for e in audited) == [first.pk, second.pk]


def test_over_refund_is_refused_counting_refunds_in_flight(
    paid: Payment, wechat: ScriptedProvider, django_capture_on_commit_callbacks: Any
) -> None:
    pending = _refund(paid, 600, django_capture_on_commit_callbacks)  # the fake answers PENDING
    assert pending.state == RefundState.PENDING
    with pytest.raises(PaymentRuleError) as refused:
        request_refund(payment=paid, amount_fen=401, reason="x")
    assert refused.value.code == PaymentErrorCode.REFUND_TOO_LARGE
    assert Refund.objects.count() == 1
    assert Payment.objects.get(pk=paid.pk).refunded_fen == 0  # nothing moves until it succeeds
    assert request_refund(payment=paid, amount_fen=400, reason="x").amount_fen == 400


def test_a_failed_refund_frees_its_amount(
    paid: Payment, wechat: ScriptedProvider, django_capture_on_commit_callbacks: Any
) -> None:
    wechat.refund_answers.append(ProviderError("NOTENOUGH", "商户余额不足", retryable=False, status=403))
    failed = _refund(paid, 1000, django_capture_on_commit_callbacks)
    assert (failed.state, failed.failure_code) == (RefundState.FAILED, "NOTENOUGH")
    assert refundable_fen(Payment.objects.get(pk=paid.pk)) == 1000


@pytest.mark.parametrize("amount", [0, -5, 2.5, "100", True])
def test_refund_amount_must_be_positive_whole_fen(paid: Payment, amount: Any) -> None:
    with pytest.raises(PaymentRuleError) as refused:
        request_refund(payment=paid, amount_fen=amount, reason="x")
    assert refused.value.code == PaymentErrorCode.INVALID_AMOUNT
    assert Refund.objects.count() == 0


def test_only_paid_payments_can_be_refunded(shop: Shop) -> None:
    payment = shop.pay(method=PaymentMethod.WALLET)
    with pytest.raises(PaymentRuleError) as refused:
        request_refund(payment=payment, amount_fen=1, reason="x")
    assert refused.value.code == PaymentErrorCode.NOT_PAID
    assert str(refused.value) == _("Only a paid payment can be refunded.")


def test_refund_succeeds_by_notification_once(
    paid: Payment, wechat: ScriptedProvider, django_capture_on_commit_callbacks: Any
) -> None:
    refund = _refund(paid, 250, django_capture_on_commit_callbacks)
    body = notification_body(
        "RN-1",
        EventType.REFUND_SUCCEEDED,
        out_trade_no=paid.out_trade_no,
        out_refund_no=refund.out_refund_no,
        amount_fen=250,
        mch_id=SP_MCHID,
    )
    assert receive_notification("wechat", {}, body).status == 200
    assert receive_notification("wechat", {}, body).status == 200
    refund.refresh_from_db()
    assert refund.state == RefundState.SUCCEEDED
    assert Payment.objects.get(pk=paid.pk).refunded_fen == 250
    assert PaymentEvent.objects.filter(refund=refund, to_state=RefundState.SUCCEEDED).count() == 1


def test_refund_notification_with_another_amount_is_rejected(
    paid: Payment, wechat: ScriptedProvider, django_capture_on_commit_callbacks: Any
) -> None:
    refund = _refund(paid, 250, django_capture_on_commit_callbacks)
    body = notification_body(
        "RN-1",
        EventType.REFUND_SUCCEEDED,
        out_refund_no=refund.out_refund_no,
        amount_fen=999,
        mch_id=SP_MCHID,
    )
    assert receive_notification("wechat", {}, body).status == 400
    assert Refund.objects.get(pk=refund.pk).state == RefundState.PENDING
    assert Payment.objects.get(pk=paid.pk).refunded_fen == 0
