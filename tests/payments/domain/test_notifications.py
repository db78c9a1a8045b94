"""Notifications: deduplicated by id in the same transaction as their effect, cross-checked against
our records (each mismatch its own test), applied once, and received through the webhook views."""

from __future__ import annotations

from typing import Any

import pytest

from openvend.consumers.models import Consumer
from openvend.payments.choices import AuthorisationState, NotificationOutcome, PaymentMethod, PaymentState
from openvend.payments.models import (
    PayAfterAuthorisation,
    Payment,
    PaymentEvent,
    ProviderAccount,
    ProviderNotification,
)
from openvend.payments.providers.base import ChargeResult, ChargeState, EventType, RejectReason
from openvend.payments.services import notifications
from openvend.payments.services.charging import charge_now, send_charge
from openvend.payments.services.notifications import receive_notification
from tests.payments.domain.conftest import ALIPAY_APPID, ALIPAY_PID, SP_APPID, SP_MCHID, SUB_MCHID, Shop
from tests.payments.domain.fakes import ScriptedProvider, notification_body

pytestmark = pytest.mark.django_db


def _pending(shop: Shop, wechat: ScriptedProvider, **kw: Any) -> Payment:
    wechat.charge_answers.append(ChargeResult(ChargeState.PENDING))
    payment = shop.pay(method=PaymentMethod.WECHAT_JSAPI, **kw)
    charge_now(payment)
    assert payment.state == PaymentState.PENDING
    return payment


def _paid_body(notification_id: str = "N-1", **overrides: Any) -> bytes:
    fields = {
        "out_trade_no": "ORD1001-01",
        "provider_trade_no": "4200000001",
        "amount_fen": 1250,
        "mch_id": SP_MCHID,
        "sub_mchid": SUB_MCHID,
        "app_id": SP_APPID,
        **overrides,
    }
    return notification_body(notification_id, EventType.PAYMENT_PAID, **fields)


def _events(payment: Payment) -> list[tuple[str, str, str]]:
    return [
        (e.kind, e.from_state, e.to_state)
        for e in PaymentEvent.objects.filter(payment=payment).order_by("id")
    ]


def test_paid_notification_is_applied(shop: Shop, wechat: ScriptedProvider) -> None:
    payment = _pending(shop, wechat)
    reply = receive_notification("wechat", {}, _paid_body())
    assert (reply.status, reply.body) == (200, b"")
    payment.refresh_from_db()
    assert (payment.state, payment.provider_trade_no) == (PaymentState.PAID, "4200000001")
    record = ProviderNotification.objects.get()
    assert (
        record.provider,
        record.notification_id,
        record.event_type,
        record.outcome,
        record.payment_id,
    ) == (
        "wechat",
        "N-1",
        "payment.paid",
        NotificationOutcome.APPLIED,
        payment.pk,
    )
    event = PaymentEvent.objects.filter(payment=payment).latest("id")
    assert (event.kind, event.from_state, event.to_state) == ("notification", "pending", "paid")
    assert event.detail["notification_id"] == "N-1"


def test_same_notification_twice_is_one_event_and_the_second_answers_success(
    shop: Shop, wechat: ScriptedProvider
) -> None:
    payment = _pending(shop, wechat)
    first = receive_notification("wechat", {}, _paid_body())
    events = PaymentEvent.objects.filter(payment=payment).count()
    second = receive_notification("wechat", {}, _paid_body())
    assert first.status == second.status == 200
    assert PaymentEvent.objects.filter(payment=payment).count() == events
    assert ProviderNotification.objects.count() == 1
    assert [e for e in _events(payment) if e[0] == "notification"] == [("notification", "pending", "paid")]


def test_a_new_notification_for_an_already_paid_payment_changes_nothing(
    shop: Shop, wechat: ScriptedProvider
) -> None:
    payment = _pending(shop, wechat)
    receive_notification("wechat", {}, _paid_body("N-1"))
    reply = receive_notification("wechat", {}, _paid_body("N-2"))
    assert reply.status == 200
    assert ProviderNotification.objects.get(notification_id="N-2").outcome == NotificationOutcome.NO_CHANGE
    assert _events(payment)[-1] == ("notification", "", "")
    assert Payment.objects.get(pk=payment.pk).state == PaymentState.PAID


def _assert_rejected(payment: Payment, reply: Any, what: str) -> None:
    assert reply.status == 400
    payment.refresh_from_db()
    assert payment.state == PaymentState.PENDING
    record = ProviderNotification.objects.get()
    assert record.outcome == NotificationOutcome.REJECTED
    assert record.detail["reason"] == RejectReason.MISMATCH.value
    assert record.detail["detail"] == what
    assert [e for e in _events(payment) if e[0].startswith("notification")] == []


def test_amount_mismatch_is_rejected_and_not_applied(shop: Shop, wechat: ScriptedProvider) -> None:
    payment = _pending(shop, wechat)
    _assert_rejected(payment, receive_notification("wechat", {}, _paid_body(amount_fen=1)), "amount_fen")


def test_service_provider_mch_id_mismatch_is_rejected(shop: Shop, wechat: ScriptedProvider) -> None:
    payment = _pending(shop, wechat)
    _assert_rejected(payment, receive_notification("wechat", {}, _paid_body(mch_id="1900009999")), "mch_id")


def test_sub_merchant_id_mismatch_is_rejected(shop: Shop, wechat: ScriptedProvider) -> None:
    payment = _pending(shop, wechat)
    _assert_rejected(
        payment, receive_notification("wechat", {}, _paid_body(sub_mchid="1900000110")), "sub_mchid"
    )


def test_app_id_mismatch_is_rejected(shop: Shop, wechat: ScriptedProvider) -> None:
    payment = _pending(shop, wechat)
    _assert_rejected(payment, receive_notification("wechat", {}, _paid_body(app_id="wxother")), "app_id")


def test_unknown_out_trade_no_is_rejected(shop: Shop, wechat: ScriptedProvider) -> None:
    payment = _pending(shop, wechat)
    _assert_rejected(
        payment, receive_notification("wechat", {}, _paid_body(out_trade_no="ORD9999-01")), "out_trade_no"
    )


def test_another_providers_out_trade_no_is_unknown(
    shop: Shop, wechat: ScriptedProvider, alipay: ScriptedProvider
) -> None:
    payment = _pending(shop, wechat)
    body = _paid_body(mch_id=ALIPAY_PID, sub_mchid="", app_id=ALIPAY_APPID)
    reply = receive_notification("alipay", {}, body)
    assert reply.status == 400
    assert Payment.objects.get(pk=payment.pk).state == PaymentState.PENDING
    assert ProviderNotification.objects.get().detail["detail"] == "out_trade_no"


@pytest.mark.parametrize("reason", [r.value for r in RejectReason if r != RejectReason.MISMATCH])
def test_unverified_notification_changes_and_records_nothing(
    shop: Shop, wechat: ScriptedProvider, reason: str
) -> None:
    payment = _pending(shop, wechat)
    before = notifications.stats[f"wechat.rejected.{reason}"]
    reply = receive_notification("wechat", {"X-Reject": reason}, _paid_body())
    assert reply.status == 400
    assert Payment.objects.get(pk=payment.pk).state == PaymentState.PENDING
    assert ProviderNotification.objects.count() == 0
    assert notifications.stats[f"wechat.rejected.{reason}"] == before + 1


def test_failed_notification_makes_the_payment_owed(shop: Shop, wechat: ScriptedProvider) -> None:
    payment = shop.pay()
    wechat.charge_answers.append(ChargeResult(ChargeState.PENDING))
    send_charge(payment)
    body = notification_body(
        "N-F",
        EventType.PAYMENT_FAILED,
        out_trade_no=payment.out_trade_no,
        failure_code="NOTENOUGH",
        mch_id=SP_MCHID,
    )
    assert receive_notification("wechat", {}, body).status == 200
    payment.refresh_from_db()
    assert (payment.state, payment.failure_code) == (PaymentState.FAILED, "NOTENOUGH")


def test_confirmed_pay_after_is_an_event_without_a_state_change(shop: Shop, wechat: ScriptedProvider) -> None:
    payment = shop.pay()
    body = notification_body("N-C", EventType.PAY_AFTER_CONFIRMED, out_trade_no=payment.out_trade_no)
    assert receive_notification("wechat", {}, body).status == 200
    assert _events(payment)[-1] == ("pay_after_confirmed", "", "")
    assert Payment.objects.get(pk=payment.pk).state == PaymentState.CREATED


def test_authorisation_notifications_open_and_close_it(shop: Shop, wechat: ScriptedProvider) -> None:
    authorisation = PayAfterAuthorisation.objects.create(
        merchant=shop.merchant,
        consumer=shop.consumer,
        method=PaymentMethod.WECHAT_PAYSCORE,
        payer_id="openid-1",
        out_request_no="AU0001",
    )
    opened = notification_body(
        "N-O",
        EventType.AUTHORISATION_OPENED,
        out_request_no="AU0001",
        payer_id="openid-1",
        authorisation_ref="AU0001",
    )
    assert receive_notification("wechat", {}, opened).status == 200
    authorisation.refresh_from_db()
    assert (authorisation.state, authorisation.authorisation_ref) == (AuthorisationState.ACTIVE, "AU0001")
    assert authorisation.activated_at is not None
    closed = notification_body(
        "N-X", EventType.AUTHORISATION_CLOSED, payer_id="openid-1", authorisation_ref="AU0001"
    )
    assert receive_notification("wechat", {}, closed).status == 200
    authorisation.refresh_from_db()
    assert authorisation.state == AuthorisationState.REVOKED
    assert ProviderNotification.objects.filter(outcome=NotificationOutcome.APPLIED).count() == 2


def test_authorisation_notification_for_another_payer_is_rejected(
    shop: Shop, wechat: ScriptedProvider
) -> None:
    other = Consumer.objects.create(nickname="other")
    PayAfterAuthorisation.objects.create(
        merchant=shop.merchant,
        consumer=other,
        method=PaymentMethod.WECHAT_PAYSCORE,
        payer_id="openid-2",
        out_request_no="AU2",
    )
    body = notification_body("N-O", EventType.AUTHORISATION_OPENED, out_request_no="AU2", payer_id="openid-1")
    assert receive_notification("wechat", {}, body).status == 400
    assert PayAfterAuthorisation.objects.get().state == AuthorisationState.PENDING
    assert ProviderNotification.objects.get().detail["detail"] == "payer_id"


def test_webhook_views_answer_the_provider(shop: Shop, wechat: ScriptedProvider, client: Any) -> None:
    payment = _pending(shop, wechat)
    response = client.post("/pay/notify/wechat/", _paid_body(), content_type="application/json")
    assert response.status_code == 200
    assert Payment.objects.get(pk=payment.pk).state == PaymentState.PAID
    assert client.get("/pay/notify/wechat/").status_code == 405
    rejected = client.post(
        "/pay/notify/wechat/",
        _paid_body("N-2"),
        content_type="application/json",
        HTTP_X_REJECT="bad_signature",
    )
    assert (rejected.status_code, rejected.content) == (400, b'{"code":"FAIL","message":"rejected"}')


def test_notification_from_an_unconfigured_provider_is_refused(shop: Shop) -> None:
    ProviderAccount.objects.filter(provider="wechat").delete()
    before = notifications.stats["wechat.unconfigured"]
    reply = receive_notification("wechat", {}, _paid_body())
    assert reply.status == 500
    assert notifications.stats["wechat.unconfigured"] == before + 1
    assert ProviderNotification.objects.count() == 0
