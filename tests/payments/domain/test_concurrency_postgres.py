"""Real races on PostgreSQL, one connection per thread, all starting together: the same notification
delivered concurrently changes the state once and writes one event; different notifications of the
same payment still change it once; concurrent refunds never exceed the payment; concurrent wallet
debits never overdraw.

SQLite serialises every writer, so these only mean something on PostgreSQL (the second pass)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from openvend.core.crypto import encrypt
from openvend.payments.choices import NotificationOutcome, PaymentMethod, PaymentState, Provider
from openvend.payments.models import (
    MerchantPaymentConfig,
    Payment,
    PaymentEvent,
    ProviderAccount,
    ProviderNotification,
    Refund,
    WalletAccount,
    WalletEntry,
)
from openvend.payments.providers.base import ChargeResult, ChargeState, EventType
from openvend.payments.services.charging import charge_now, create_payment, send_charge
from openvend.payments.services.errors import InsufficientBalance, PaymentRuleError
from openvend.payments.services.notifications import receive_notification
from openvend.payments.services.refunds import request_refund
from openvend.payments.services.wallet import wallet_debit, wallet_recharge
from openvend.sandbox.runtime import SandboxServer
from openvend.sandbox.wechat import WeChatSandbox
from tests.concurrency import race
from tests.payments.domain.conftest import SP_APPID, SP_MCHID, SUB_MCHID, Shop
from tests.payments.domain.fakes import ScriptedProvider, notification_body
from tests.payments.wechat.conftest import SERVICE_ID, SUB_APPID, Receiver, pay_at_cashier
from tests.payments.wechat.conftest import SHOPPER as SANDBOX_SHOPPER
from tests.payments.wechat.conftest import SP_MCHID as SANDBOX_SP_MCHID
from tests.payments.wechat.conftest import SUB_MCHID as SANDBOX_SUB_MCHID
from tests.world import World

THREADS = 8

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="Row locks and unique inserts only race on PostgreSQL; SQLite serialises every writer.",
    ),
]


def _pending(shop: Shop, wechat: ScriptedProvider) -> Payment:
    wechat.charge_answers.append(ChargeResult(ChargeState.PENDING))
    payment = shop.pay(method=PaymentMethod.WECHAT_JSAPI)
    send_charge(payment)
    payment.refresh_from_db()
    assert payment.state == PaymentState.PENDING
    return payment


def _body(payment: Payment, notification_id: str) -> bytes:
    return notification_body(
        notification_id,
        EventType.PAYMENT_PAID,
        out_trade_no=payment.out_trade_no,
        provider_trade_no="4200000001",
        amount_fen=payment.amount_fen,
        mch_id=SP_MCHID,
        sub_mchid=SUB_MCHID,
        app_id=SP_APPID,
    )


def test_the_same_notification_delivered_concurrently_applies_once(
    shop: Shop, wechat: ScriptedProvider
) -> None:
    payment = _pending(shop, wechat)
    body = _body(payment, "N-SAME")
    replies = race([lambda: receive_notification("wechat", {}, body)] * THREADS)
    assert [reply.status for reply in replies] == [200] * THREADS, replies
    assert Payment.objects.get(pk=payment.pk).state == PaymentState.PAID
    assert ProviderNotification.objects.filter(notification_id="N-SAME").count() == 1
    assert ProviderNotification.objects.get().outcome == NotificationOutcome.APPLIED
    paid_events = PaymentEvent.objects.filter(payment=payment, to_state=PaymentState.PAID)
    assert paid_events.count() == 1
    assert PaymentEvent.objects.filter(payment=payment, kind="notification").count() == 1


def test_a_real_signed_notification_replayed_concurrently_applies_once(world_a: World) -> None:
    """The WeChat sandbox signs and encrypts a TRANSACTION.SUCCESS; the same delivery then arrives on
    eight connections at once and goes through full verification on each."""
    receiver = Receiver()  # answers 200 and keeps the raw delivery
    server = SandboxServer(receiver).start()
    sandbox = WeChatSandbox(time_scale=0.001)
    sandbox.start()
    try:
        sandbox.add_sub_merchant(SANDBOX_SUB_MCHID, SUB_APPID, SERVICE_ID)
        creds = sandbox.provision_merchant(SANDBOX_SP_MCHID)
        ProviderAccount.objects.create(
            provider=Provider.WECHAT,
            base_url=creds["base_url"],
            mch_id=creds["mch_id"],
            app_id=creds["app_id"],
            key_serial_no=creds["key_serial_no"],
            private_key_enc=encrypt(creds["private_key_pem"]),
            api_key_enc=encrypt(creds["api_key"]),
            gateway_public_key=creds["gateway_public_key_pem"],
            gateway_public_key_id=creds["gateway_public_key_id"],
            notify_url=server.url + "/notify",
        )
        MerchantPaymentConfig.objects.create(
            merchant=world_a.merchant, wechat_sub_mchid=SANDBOX_SUB_MCHID, wechat_sub_appid=SUB_APPID
        )
        payment = create_payment(
            merchant=world_a.merchant,
            order_ref="ORD9001",
            amount_fen=660,
            method=PaymentMethod.WECHAT_JSAPI,
            description="酸奶",
            site=world_a.sites["sh-1"],
            payer_id=SANDBOX_SHOPPER,
        )
        sandbox.set_balance(SANDBOX_SHOPPER, 1000)
        pay_at_cashier(charge_now(payment)["cashier_url"])
        assert sandbox.courier.wait_idle(5)
        [(headers, body)] = receiver.raw
        replies = race([lambda: receive_notification("wechat", dict(headers), body)] * THREADS)
    finally:
        sandbox.stop()
        server.stop()
    assert [reply.status for reply in replies] == [200] * THREADS, replies
    assert Payment.objects.get(pk=payment.pk).state == PaymentState.PAID
    [record] = ProviderNotification.objects.all()
    assert (record.event_type, record.outcome) == ("payment.paid", NotificationOutcome.APPLIED)
    assert PaymentEvent.objects.filter(payment=payment, to_state=PaymentState.PAID).count() == 1
    assert PaymentEvent.objects.filter(payment=payment, kind="notification").count() == 1


def test_different_notifications_of_one_payment_change_it_once(shop: Shop, wechat: ScriptedProvider) -> None:
    payment = _pending(shop, wechat)
    jobs = [lambda i=i: receive_notification("wechat", {}, _body(payment, f"N-{i}")) for i in range(THREADS)]
    replies = race(jobs)
    assert [reply.status for reply in replies] == [200] * THREADS, replies
    outcomes = sorted(ProviderNotification.objects.values_list("outcome", flat=True))
    assert outcomes == [NotificationOutcome.APPLIED] + [NotificationOutcome.NO_CHANGE] * (THREADS - 1)
    assert PaymentEvent.objects.filter(payment=payment, to_state=PaymentState.PAID).count() == 1


def test_concurrent_refunds_never_exceed_the_payment(shop: Shop, wechat: ScriptedProvider) -> None:
    payment = shop.pay(amount_fen=1000)
    send_charge(payment)

    def refund() -> Any:
        return request_refund(payment=Payment.objects.get(pk=payment.pk), amount_fen=300, reason="race")

    results = race([refund] * THREADS)
    made = [r for r in results if isinstance(r, Refund)]
    refused = [r for r in results if isinstance(r, PaymentRuleError)]
    assert (len(made), len(refused)) == (3, THREADS - 3), results
    assert sorted(r.sequence for r in made) == [1, 2, 3]


def test_concurrent_wallet_debits_never_overdraw(shop: Shop) -> None:
    wallet_recharge(
        merchant_id=shop.merchant.pk, consumer_id=shop.consumer.pk, amount_fen=1000, idempotency_key="t"
    )

    def debit(i: int) -> Any:
        return wallet_debit(
            merchant_id=shop.merchant.pk,
            consumer_id=shop.consumer.pk,
            amount_fen=300,
            idempotency_key=f"d{i}",
        )

    results = race([lambda i=i: debit(i) for i in range(THREADS)])
    assert sum(isinstance(r, WalletEntry) for r in results) == 3
    assert sum(isinstance(r, InsufficientBalance) for r in results) == THREADS - 3
    assert WalletAccount.objects.get().balance_fen == 100
    assert sum(WalletEntry.objects.values_list("amount_fen", flat=True)) == 100
