"""Round trips through the real sandboxes, with our webhook views served by a live server as the
notify_url: every request is signed, every answer and notification verified, amounts and merchant
ids cross-checked — nothing is scripted.

- WeChat payscore: authorise on the sandbox page → USER_OPEN_SERVICE → active; open the service order
  at door-open; charge at door-close; a deduction that fails leaves the order owed, and the
  PAYSCORE.USER_PAID notification sent when WeChat collects later makes it paid.
- WeChat JSAPI: an owed order paid at the cashier (TRANSACTION.SUCCESS); a lost notification
  recovered by the reconciler; a refund confirmed by REFUND.SUCCESS; a duplicated notification
  applied once.
- Alipay agreement: sign on the sandbox page → dut_user_sign → active; agreement pay; refund.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from openvend.consumers.models import Consumer
from openvend.core.crypto import encrypt
from openvend.payments.choices import (
    AuthorisationState,
    GatewayMode,
    NotificationOutcome,
    PaymentMethod,
    PaymentState,
    Provider,
    RefundState,
)
from openvend.payments.models import (
    MerchantPaymentConfig,
    PayAfterAuthorisation,
    Payment,
    PaymentEvent,
    ProviderAccount,
    ProviderNotification,
    Refund,
)
from openvend.payments.providers.base import ChargeLine
from openvend.payments.services.authorisations import start_authorisation
from openvend.payments.services.charging import (
    charge_now,
    create_payment,
    open_pay_after,
    pay_pending,
    request_charge,
)
from openvend.payments.services.reconcile import reconcile_due
from openvend.payments.services.refunds import request_refund
from openvend.sandbox.alipay import AlipaySandbox
from openvend.sandbox.wechat import WeChatSandbox, api_payscore
from tests.payments.alipay.conftest import RETURN_URL, shopper_confirms
from tests.payments.alipay.conftest import SHOPPER as ALIPAY_SHOPPER
from tests.payments.wechat.conftest import (
    SERVICE_ID,
    SHOPPER,
    SP_MCHID,
    SUB_APPID,
    SUB_MCHID,
    agree_permission,
    pay_at_cashier,
)
from tests.world import World

pytestmark = pytest.mark.django_db(transaction=True)

LINES = (ChargeLine("可口可乐", 300, 1), ChargeLine("乐事薯片", 800, 2))


def wait_until(check: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.02)
    raise AssertionError("the expected change did not happen in time")


def _state(payment: Payment) -> str:
    return str(Payment.objects.values_list("state", flat=True).get(pk=payment.pk))


@pytest.fixture
def consumer(db: Any) -> Consumer:
    return Consumer.objects.create(nickname="小红")


@pytest.fixture
def wechat_sandbox() -> Iterator[WeChatSandbox]:
    sandbox = WeChatSandbox(time_scale=0.001)
    sandbox.start()
    sandbox.add_sub_merchant(SUB_MCHID, SUB_APPID, SERVICE_ID)
    yield sandbox
    sandbox.courier.wait_idle(5)
    sandbox.stop()


@pytest.fixture
def wechat(wechat_sandbox: WeChatSandbox, live_server: Any, world_a: World) -> WeChatSandbox:
    """The platform's WeChat account pointed at the sandbox; notifications go to our live webhook."""
    creds = wechat_sandbox.provision_merchant(SP_MCHID)
    ProviderAccount.objects.create(
        provider=Provider.WECHAT,
        base_url=creds["base_url"],
        mch_id=creds["mch_id"],
        app_id=creds["app_id"],
        key_serial_no=creds["key_serial_no"],
        private_key_enc=encrypt(creds["private_key_pem"]),
        api_key_enc=encrypt(creds["api_key"]),
        oauth_secret_enc=encrypt(creds["oauth_secret"]),
        gateway_mode=GatewayMode.PUBLIC_KEY,
        gateway_public_key=creds["gateway_public_key_pem"],
        gateway_public_key_id=creds["gateway_public_key_id"],
        payscore_service_id=SERVICE_ID,
        notify_url=f"{live_server.url}/pay/notify/wechat/",
    )
    MerchantPaymentConfig.objects.create(
        merchant=world_a.merchant, wechat_sub_mchid=SUB_MCHID, wechat_sub_appid=SUB_APPID
    )
    return wechat_sandbox


def _authorised(world: World, consumer: Consumer) -> PayAfterAuthorisation:
    authorisation, next_action = start_authorisation(
        merchant=world.merchant,
        consumer=consumer,
        method=PaymentMethod.WECHAT_PAYSCORE,
        payer_id=SHOPPER,
        return_url="https://h5.example.com/auth-done",
    )
    assert authorisation.state == AuthorisationState.PENDING
    answer = agree_permission(next_action["confirm_url"])
    assert (answer.status_code, answer.headers["location"]) == (302, "https://h5.example.com/auth-done")
    wait_until(
        lambda: PayAfterAuthorisation.objects.get(pk=authorisation.pk).state == AuthorisationState.ACTIVE
    )
    authorisation.refresh_from_db()
    return authorisation


def _payscore_payment(world: World, consumer: Consumer, order_ref: str = "ORD5001") -> Payment:
    authorisation = _authorised(world, consumer)
    assert authorisation.authorisation_ref == authorisation.out_request_no  # payscore's authorization_code
    payment = create_payment(
        merchant=world.merchant,
        order_ref=order_ref,
        amount_fen=1100,
        method=PaymentMethod.WECHAT_PAYSCORE,
        description="智能柜购物",
        consumer=consumer,
        site=world.sites["sh-1"],
        authorisation=authorisation,
    )
    open_pay_after(payment)  # door opens: the service order exists, nothing is charged
    assert payment.state == PaymentState.CREATED and payment.provider_trade_no
    return payment


def test_payscore_authorise_open_charge_and_user_paid_notification(
    wechat: WeChatSandbox, world_a: World, consumer: Consumer
) -> None:
    payment = _payscore_payment(world_a, consumer)
    wechat.set_balance(SHOPPER, 500)  # not enough: the deduction fails, the shopper owes the order
    request_charge(payment, LINES)  # door closes; sent after commit (autocommit here) by the task
    payment.refresh_from_db()
    assert (payment.state, payment.failure_code) == (PaymentState.FAILED, "NOT_ENOUGH")

    wechat.set_balance(SHOPPER, 2000)  # the shopper tops up; WeChat collects and notifies
    with wechat.store.lock:
        order = next(
            o for o in wechat.store.service_orders.values() if o.out_order_no == payment.out_trade_no
        )
        api_payscore.deduct(wechat.gateway, order)
    wait_until(lambda: _state(payment) == PaymentState.PAID)
    # The notification's record names its payment once the delivery has been handled in full.
    wait_until(
        lambda: ProviderNotification.objects.filter(event_type="payment.paid", payment=payment).exists()
    )
    payment.refresh_from_db()
    assert wechat.balance(SHOPPER) == 900
    assert payment.provider_trade_no == order.transaction_id
    event = PaymentEvent.objects.filter(payment=payment, to_state=PaymentState.PAID).get()
    assert (event.kind, event.from_state) == ("notification", PaymentState.FAILED)
    assert event.detail["event_type"] == "payment.paid"
    record = ProviderNotification.objects.get(event_type="payment.paid")
    assert (record.provider, record.outcome, record.payment_id) == (
        "wechat",
        NotificationOutcome.APPLIED,
        payment.pk,
    )
    opened = ProviderNotification.objects.get(event_type="authorisation.opened")
    assert opened.outcome == NotificationOutcome.APPLIED


def test_payscore_paid_at_once_and_a_duplicated_notification_is_applied_once(
    wechat: WeChatSandbox, world_a: World, consumer: Consumer
) -> None:
    payment = _payscore_payment(world_a, consumer)
    wechat.set_balance(SHOPPER, 2000)
    wechat.faults.notification = "duplicate"
    request_charge(payment, LINES)
    payment.refresh_from_db()
    assert payment.state == PaymentState.PAID  # the complete call's answer already says so
    assert wechat.courier.wait_idle(5)
    paid_delivery = [d for d in wechat.courier.deliveries if b"PAYSCORE.USER_PAID" in d.body]
    assert len(paid_delivery) == 1 and len(paid_delivery[0].attempts) >= 2  # delivered twice at once
    assert all(status == 200 for _, status in paid_delivery[0].attempts)
    [record] = ProviderNotification.objects.filter(event_type="payment.paid")
    assert record.outcome == NotificationOutcome.NO_CHANGE
    assert PaymentEvent.objects.filter(payment=payment, to_state=PaymentState.PAID).count() == 1
    assert wechat.balance(SHOPPER) == 900


def test_owed_order_paid_at_the_jsapi_cashier(
    wechat: WeChatSandbox, world_a: World, consumer: Consumer
) -> None:
    owed = _payscore_payment(world_a, consumer)
    wechat.set_balance(SHOPPER, 0)
    request_charge(owed, LINES)
    owed.refresh_from_db()
    assert owed.state == PaymentState.FAILED
    wechat.set_balance(SHOPPER, 5000)
    attempt, next_action = pay_pending(payment=owed, method=PaymentMethod.WECHAT_JSAPI, payer_id=SHOPPER)
    assert (attempt.out_trade_no, attempt.state) == ("ORD5001-02", PaymentState.PENDING)
    assert next_action["jsapi"]["appId"] == SUB_APPID
    answer = pay_at_cashier(next_action["cashier_url"])
    assert answer.status_code == 302
    wait_until(lambda: _state(attempt) == PaymentState.PAID)
    wait_until(lambda: _state(owed) == PaymentState.CLOSED)
    closing = PaymentEvent.objects.filter(payment=owed, kind="superseded").get()
    assert closing.detail == {"paid_by": "ORD5001-02", "paid_by_id": attempt.pk}
    assert wechat.balance(SHOPPER) == 5000 - 1100


def _jsapi_paid_at_cashier(
    world: World, consumer: Consumer, wechat: WeChatSandbox, order_ref: str
) -> Payment:
    payment = create_payment(
        merchant=world.merchant,
        order_ref=order_ref,
        amount_fen=880,
        method=PaymentMethod.WECHAT_JSAPI,
        description="矿泉水",
        consumer=consumer,
        site=world.sites["sh-1"],
        payer_id=SHOPPER,
    )
    wechat.set_balance(SHOPPER, 5000)
    next_action = charge_now(payment)
    assert pay_at_cashier(next_action["cashier_url"]).status_code == 302
    return payment


def test_lost_notification_is_recovered_by_the_reconciler(
    wechat: WeChatSandbox, world_a: World, consumer: Consumer
) -> None:
    wechat.faults.notification = "lost"
    payment = _jsapi_paid_at_cashier(world_a, consumer, wechat, "ORD6001")
    assert wechat.courier.wait_idle(5)
    assert _state(payment) == PaymentState.PENDING  # paid at WeChat, never told
    counts = reconcile_due(now=timezone.now() + timedelta(minutes=5))
    assert counts == {"payments_checked": 1, "payments_repaired": 1}
    payment.refresh_from_db()
    assert (payment.state, payment.next_check_at) == (PaymentState.PAID, None)
    assert PaymentEvent.objects.filter(payment=payment, to_state=PaymentState.PAID).get().kind == "query"
    assert not ProviderNotification.objects.filter(event_type="payment.paid").exists()


# Two refunds in flight: their notifications can reach the live server at the same moment.
def test_refund_through_the_sandbox(wechat: WeChatSandbox, world_a: World, consumer: Consumer) -> None:
    payment = _jsapi_paid_at_cashier(world_a, consumer, wechat, "ORD7001")
    wait_until(lambda: _state(payment) == PaymentState.PAID)
    first = request_refund(payment=payment, amount_fen=300, reason="退一瓶")
    second = request_refund(payment=payment, amount_fen=580, reason="全部退回")
    wait_until(lambda: Refund.objects.filter(state=RefundState.SUCCEEDED).count() == 2)
    payment.refresh_from_db()
    assert payment.refunded_fen == 880
    assert [r.out_refund_no for r in (first, second)] == ["ORD7001-01R1", "ORD7001-01R2"]
    assert wechat.balance(SHOPPER) == 5000
    assert wechat.courier.wait_idle(5)
    assert ProviderNotification.objects.filter(outcome=NotificationOutcome.REJECTED).count() == 0


@pytest.fixture
def alipay_sandbox() -> Iterator[AlipaySandbox]:
    sandbox = AlipaySandbox(time_scale=0.001)
    sandbox.start()
    yield sandbox
    sandbox.courier.wait_idle(5)
    sandbox.stop()


@pytest.fixture
def alipay(alipay_sandbox: AlipaySandbox, live_server: Any) -> AlipaySandbox:
    provisioned = alipay_sandbox.provision_app("2021000000000042")
    ProviderAccount.objects.create(
        provider=Provider.ALIPAY,
        base_url=provisioned["base_url"],
        mch_id=provisioned["mch_id"],
        app_id=provisioned["app_id"],
        private_key_enc=encrypt(provisioned["private_key_pem"]),
        gateway_public_key=provisioned["gateway_public_key_pem"],
        notify_url=f"{live_server.url}/pay/notify/alipay/",
    )
    return alipay_sandbox


def test_alipay_sign_charge_and_refund(alipay: AlipaySandbox, world_a: World, consumer: Consumer) -> None:
    authorisation, next_action = start_authorisation(
        merchant=world_a.merchant,
        consumer=consumer,
        method=PaymentMethod.ALIPAY_AGREEMENT,
        payer_id="",
        return_url=RETURN_URL,
    )
    answer = shopper_confirms(alipay, next_action["sign_url"])
    assert (answer.status_code, answer.headers["location"]) == (302, RETURN_URL)
    wait_until(
        lambda: PayAfterAuthorisation.objects.get(pk=authorisation.pk).state == AuthorisationState.ACTIVE
    )
    authorisation.refresh_from_db()
    assert authorisation.payer_id == ALIPAY_SHOPPER and len(authorisation.authorisation_ref) == 20

    alipay.set_balance(ALIPAY_SHOPPER, 5000)
    payment = create_payment(
        merchant=world_a.merchant,
        order_ref="ORD8001",
        amount_fen=1234,
        method=PaymentMethod.ALIPAY_AGREEMENT,
        description="可乐 x2",
        consumer=consumer,
        site=world_a.sites["sh-1"],
        authorisation=authorisation,
    )
    open_pay_after(payment)
    request_charge(payment)
    payment.refresh_from_db()
    assert (payment.state, len(payment.provider_trade_no)) == (PaymentState.PAID, 28)
    assert alipay.balance(ALIPAY_SHOPPER) == 5000 - 1234

    refund = request_refund(payment=payment, amount_fen=234, reason="少一瓶")
    wait_until(lambda: Refund.objects.get(pk=refund.pk).state == RefundState.SUCCEEDED)
    payment.refresh_from_db()
    assert payment.refunded_fen == 234
    assert alipay.balance(ALIPAY_SHOPPER) == 5000 - 1000
    assert alipay.courier.wait_idle(5)
    assert ProviderNotification.objects.filter(outcome=NotificationOutcome.REJECTED).count() == 0
    outcomes = dict(ProviderNotification.objects.values_list("event_type", "outcome"))
    assert outcomes["authorisation.opened"] == NotificationOutcome.APPLIED
