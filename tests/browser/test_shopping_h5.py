"""A whole visit on the shopper's phone in a real browser at 375 px: the device's QR code, sign-in
through the WeChat sandbox's OAuth page, payscore authorised on its confirm page, the door opened;
the test plays the cabinet through the services the gateway calls; the receipt shows what was taken;
an appeal upheld by customer service refunds through WeChat and the receipt shows the refund."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from openvend.devices.services import device_qr_token
from openvend.orders.appeal_services import appeal_uphold
from openvend.orders.choices import AppealState, OrderState
from openvend.orders.models import Appeal, Order
from openvend.payments.choices import PaymentMethod, PaymentState, RefundState
from openvend.payments.models import Payment, Refund, SitePaymentMethod
from openvend.sandbox.wechat import WeChatSandbox
from openvend.shopping.choices import SessionState
from openvend.shopping.models import ShoppingSession
from openvend.shopping.services import session_door_event, session_weight_event
from tests.browser import test_consumer_h5 as consumer_h5
from tests.browser.test_consoles import _shot
from tests.orders.conftest import CHIPS_G, COLA_G, store_in
from tests.payments.consumer.conftest import wechat_credentials  # noqa: F401
from tests.payments.consumer.h5 import OPENID, base, set_up_merchant

# The browser, the phone and the WeChat account (notifications to the live server) are the consumer
# H5 tests' fixtures, bound here so pytest finds them.
browser = consumer_h5.browser
phone = consumer_h5.phone
wechat_sandbox = consumer_h5.wechat_sandbox
wechat_account = consumer_h5.wechat_account
_at, _fits = consumer_h5._at, consumer_h5._fits

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]


def _cabinet(device: Any, session: ShoppingSession, kind: str, **detail: Any) -> None:
    """What the gateway does with the cabinet's door and weight events."""
    key = str(session.command_id)
    if kind == "weight_change":
        assert session_weight_event(device=device, session_key=key, detail=detail)
    else:
        assert session_door_event(device=device, session_key=key, kind=kind, at=timezone.now())


def test_scan_authorise_open_take_receipt_and_a_refunded_appeal(
    phone: Any,
    live_server: Any,
    world_a: Any,
    wechat_account: dict,
    wechat_sandbox: WeChatSandbox,
) -> None:
    store = store_in(world_a, "WEB-CAB1")
    set_up_merchant(world_a, PaymentMethod.WECHAT_PAYSCORE)
    SitePaymentMethod.objects.filter(method=PaymentMethod.WALLET).delete()  # payscore only, here
    wechat_sandbox.set_balance(OPENID, 10_000)
    token = device_qr_token(store.device)
    qr = f"{live_server.url}{reverse('mobile:scan', args=[token])}"
    home = f"{live_server.url}{base(world_a)}"
    scan = f"{home}/scan/{token}/"

    # The QR code: sign in first (WeChat's OAuth page), then back on the cabinet's page.
    phone.goto(qr)
    phone.wait_for_url(_at(f"{home}/signin/?next="))
    phone.click("[data-testid=signin-wechat]")
    phone.wait_for_url(_at(f"{wechat_sandbox.url}/connect/oauth2/authorize?"))
    phone.fill("#openid", OPENID)
    phone.click("button[type=submit]")
    phone.wait_for_url(scan)
    assert store.device.name in phone.inner_text("[data-testid=device]")
    failure = phone.locator("[data-testid=failure-not_authorised]")
    assert "Please authorise pay-after payment before opening the door." in failure.inner_text()
    assert phone.locator("[data-testid=open-door]").count() == 0
    _fits(phone)
    _shot(phone, "shopping-scan-unauthorised-en")

    # Its way forward: authorise payscore on WeChat's confirm page.
    failure.locator("[data-testid=way-authorise]").click()
    phone.wait_for_url(f"{home}/pay-after/")
    phone.locator("[data-testid=method-wechat_payscore]").get_by_role("button", name="Authorise").click()
    phone.wait_for_url(_at(f"{wechat_sandbox.url}/payscore/permissions/confirm?"))
    phone.click("button[value=allow]")
    phone.wait_for_url(f"{home}/pay-after/wechat_payscore/return/")
    phone.wait_for_selector("[data-testid=authorisation][data-state=active]")

    # Scan again: nothing stands in the way; open the door.
    phone.goto(qr)
    phone.wait_for_url(scan)
    assert phone.locator("[data-testid=failures]").count() == 0
    assert "●" in phone.inner_text("[data-testid=choose-wechat_payscore]")
    _fits(phone)
    _shot(phone, "shopping-scan-en")
    phone.click("[data-testid=open-door]")
    phone.wait_for_url(_at(f"{home}/visits/"))
    session = ShoppingSession.objects.get()
    assert phone.url == f"{home}/visits/{session.pk}/"
    assert (session.state, session.payment_method) == (SessionState.OPENING, PaymentMethod.WECHAT_PAYSCORE)
    assert "Opening the door…" in phone.inner_text("[data-testid=visit-status]")

    # The cabinet: the door opens (the page follows), two colas and a bag of chips leave, it closes.
    _cabinet(store.device, session, "door_opened")
    phone.wait_for_selector("[data-testid=visit][data-state=open]")
    assert "Door open: take what you want" in phone.inner_text("[data-testid=visit-status]")
    _fits(phone)
    _shot(phone, "shopping-door-open-en")
    _cabinet(store.device, session, "weight_change", sensor="s1-1", delta_g=-2 * COLA_G)
    _cabinet(store.device, session, "weight_change", sensor="s2-1", delta_g=-CHIPS_G)
    _cabinet(store.device, session, "door_closed")  # settles (immediate tasks) and charges payscore

    order = Order.objects.get(session=session)
    phone.wait_for_url(f"{home}/receipts/{order.number}/")
    phone.wait_for_selector("[data-testid=receipt][data-state=paid]")
    receipt = phone.inner_text("[data-testid=receipt]")
    assert "可乐 330ml × 2" in receipt and "¥7.00" in receipt
    assert "薯片 × 1" in receipt and "¥6.00" in receipt
    assert phone.inner_text("[data-testid=receipt-total]") == "¥13.00"
    assert phone.get_attribute("[data-testid=payment]", "data-state") == PaymentState.PAID
    _fits(phone)
    _shot(phone, "shopping-receipt-en")
    order.refresh_from_db()
    assert (order.state, order.total_fen, order.paid_fen) == (OrderState.PAID, 1300, 1300)
    assert wechat_sandbox.balance(OPENID) == 10_000 - 1300

    # The shopper took one cola only: they appeal from the receipt.
    phone.click("[data-testid=appeal-link]")
    phone.wait_for_url(f"{home}/receipts/{order.number}/appeal/")
    phone.get_by_label("charged for goods I did not take").check()
    phone.fill("textarea[name=message]", "只拿了一瓶可乐")
    phone.get_by_label("可乐 330ml").fill("1")
    _fits(phone)
    phone.click("[data-testid=submit-appeal]")
    phone.wait_for_url(f"{home}/receipts/{order.number}/")
    phone.wait_for_selector("[data-testid=appeal][data-state=open]")
    appeal = Appeal.objects.get()
    assert (appeal.reason, appeal.message, appeal.claimed_lines) == (
        "not_taken",
        "只拿了一瓶可乐",
        {str(store.cola.pk): 1, str(store.chips.pk): 1},
    )

    # Customer service upholds it: one cola is refunded through WeChat; the receipt shows it.
    appeal_uphold(actor=world_a.user("operations"), appeal=appeal, answer="已退一瓶可乐")
    phone.reload()
    phone.wait_for_selector(f"[data-testid=refund][data-state={RefundState.SUCCEEDED}]")
    phone.wait_for_selector("[data-testid=appeal][data-state=upheld]")
    assert "已退一瓶可乐" in phone.inner_text("[data-testid=appeal]")
    assert phone.inner_text("[data-testid=refunded]") == "¥3.50"
    _fits(phone)
    _shot(phone, "shopping-refunded-en")
    refund = Refund.objects.get()
    payment = Payment.objects.get(order_ref=order.number)
    assert (refund.payment_id, refund.amount_fen, refund.state) == (payment.pk, 350, RefundState.SUCCEEDED)
    appeal.refresh_from_db()
    assert appeal.state == AppealState.UPHELD
    assert wechat_sandbox.balance(OPENID) == 10_000 - 1300 + 350
