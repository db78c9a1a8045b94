"""The shopper's phone pages (/m/c/<merchant>/) in a real browser at 375 px, against the WeChat
sandbox's own pages: sign in through its OAuth page, authorise and revoke payscore through its confirm
page, and pay an owed order at its JSAPI cashier. The sandbox posts its notifications to our live
server's webhook, so they race the return pages the way they do in production."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from openvend.consumers.models import Consumer, ConsumerIdentity
from openvend.payments import config_services
from openvend.payments.choices import (
    AuthorisationState,
    NotificationOutcome,
    PaymentMethod,
    PaymentState,
    Provider,
)
from openvend.payments.models import (
    PayAfterAuthorisation,
    Payment,
    PaymentEvent,
    ProviderAccount,
    ProviderNotification,
)
from openvend.payments.providers.base import EventType
from openvend.sandbox.wechat import WeChatSandbox
from tests.browser.test_consoles import CHROMIUM_ARGS, _shot

# `wechat_credentials` is the consumer tests' fixture (a provider account configured from what the
# sandbox issued); imported so pytest finds it here. It takes the `wechat_sandbox` defined below.
from tests.payments.consumer.conftest import wechat_credentials  # noqa: F401
from tests.payments.consumer.h5 import OPENID, base, owed, set_up_merchant

# The shopper's return page and the provider's notification reach the live server at the same
# moment: on SQLite they take turns on the shared connection (tests/shared_sqlite.py).
pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]

PHONE = {"width": 375, "height": 740}
TIMEOUT_MS = 15_000


@pytest.fixture
def browser(chromium: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def wechat_sandbox() -> Iterator[WeChatSandbox]:
    """Unlike the consumer tests' sandbox, this one delivers its notifications."""
    sandbox = WeChatSandbox(time_scale=0.001)
    sandbox.start()
    yield sandbox
    sandbox.stop()


@pytest.fixture
def wechat_account(request: pytest.FixtureRequest, live_server: Any, wechat_sandbox: WeChatSandbox) -> dict:
    """The consumer tests' WeChat account, with notifications going to the live server's webhook."""
    issued: dict = request.getfixturevalue("wechat_credentials")
    config_services.provider_account_save(
        actor=None,
        account=ProviderAccount.objects.get(provider=Provider.WECHAT),
        data={"notify_url": f"{live_server.url}/pay/notify/wechat/"},
    )
    return issued


@pytest.fixture
def phone(browser: Any, live_server: Any) -> Iterator[Any]:
    context = browser.new_context(locale="en-US", viewport=PHONE, is_mobile=True, has_touch=True)
    context.set_default_timeout(TIMEOUT_MS)
    context.add_cookies([{"name": "django_language", "value": "en", "url": live_server.url}])
    page = context.new_page()
    yield page
    context.close()


def _at(prefix: str) -> Callable[[str], bool]:
    """A URL predicate (Playwright's globs would read the '?' of a query string as a wildcard)."""
    return lambda url: url.startswith(prefix)


def _fits(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} scrolls sideways: {width}px"


def _notifications_delivered(sandbox: WeChatSandbox, live_server: Any) -> list[Any]:
    """Wait for the sandbox's notifications; each must have reached and been acknowledged by our
    webhook (a refusal would have been retried until the schedule ran out, unacknowledged)."""
    assert sandbox.courier.wait_idle(timeout_s=20)
    deliveries = list(sandbox.courier.deliveries)
    for delivery in deliveries:
        assert delivery.url == f"{live_server.url}/pay/notify/wechat/"
        assert delivery.acknowledged, (delivery.body, delivery.attempts)
    return deliveries


def _sign_in_with_wechat(page: Any, live_server: Any, world: Any, sandbox: WeChatSandbox) -> Consumer:
    home = f"{live_server.url}{base(world)}"
    page.goto(f"{home}/")
    page.wait_for_url(_at(f"{home}/signin/?next="))
    assert "Sign in to pay" in page.inner_text("body")
    _fits(page)
    page.click("[data-testid=signin-wechat]")
    page.wait_for_url(_at(f"{sandbox.url}/connect/oauth2/authorize?"))
    assert "Sign in with WeChat" in page.inner_text("body")
    page.fill("#openid", OPENID)
    page.click("button[type=submit]")
    page.wait_for_url(f"{home}/pay-after/")
    page.wait_for_selector("text=Pay after shopping")
    _fits(page)
    identity = ConsumerIdentity.objects.get()
    assert (identity.provider, identity.subject) == ("wechat", OPENID)
    return identity.consumer


def _method(page: Any, method: str) -> Any:
    return page.locator(f"[data-testid=method-{method}]")


def test_sign_in_authorise_and_revoke_wechat_payscore(
    phone: Any, live_server: Any, world_a: Any, wechat_account: dict, wechat_sandbox: WeChatSandbox
) -> None:
    set_up_merchant(world_a, PaymentMethod.WECHAT_PAYSCORE)
    home = f"{live_server.url}{base(world_a)}"
    consumer = _sign_in_with_wechat(phone, live_server, world_a, wechat_sandbox)
    payscore = _method(phone, "wechat_payscore")
    assert payscore.get_attribute("data-state") == "none"
    assert "not authorised" in payscore.inner_text()
    _shot(phone, "consumer-payment-en")

    # Authorise: off to WeChat's confirm page, which knows who is confirming, and back.
    payscore.get_by_role("button", name="Authorise").click()
    phone.wait_for_url(_at(f"{wechat_sandbox.url}/payscore/permissions/confirm?"))
    assert "开启微信支付分" in phone.inner_text("body")
    assert phone.input_value("#openid") == OPENID
    _fits(phone)
    phone.click("button[value=allow]")
    phone.wait_for_url(f"{home}/pay-after/wechat_payscore/return/")
    phone.wait_for_selector("[data-testid=authorisation][data-state=active]")
    assert "Authorised. Scan a cabinet to shop" in phone.inner_text("body")
    _fits(phone)
    _notifications_delivered(wechat_sandbox, live_server)
    active = PayAfterAuthorisation.objects.get(
        merchant=world_a.merchant, consumer=consumer, method=PaymentMethod.WECHAT_PAYSCORE
    )
    assert (active.state, active.payer_id) == (AuthorisationState.ACTIVE, OPENID)
    assert active.activated_at is not None and active.authorisation_ref != ""

    phone.click("text=Back to my payment")
    phone.wait_for_url(f"{home}/pay-after/")
    phone.wait_for_selector("[data-testid=method-wechat_payscore][data-state=active]")
    assert "active" in _method(phone, "wechat_payscore").inner_text()
    _fits(phone)

    # Revoke: the H5 asks why and for a confirmation, then ends it at WeChat too.
    _method(phone, "wechat_payscore").get_by_role("link", name="Revoke").click()
    phone.wait_for_url(f"{home}/pay-after/wechat_payscore/revoke/")
    assert "End WeChat Pay payscore (pay after)?" in phone.inner_text("body")
    _fits(phone)
    phone.get_by_label("I no longer shop here").check()
    phone.click("[data-testid=confirm-revoke]")
    phone.wait_for_url(f"{home}/pay-after/")
    phone.wait_for_selector("[data-testid=method-wechat_payscore][data-state=revoked]")
    body = phone.inner_text("body")
    assert "WeChat Pay payscore (pay after) pay-after is ended." in body
    assert "revoked" in _method(phone, "wechat_payscore").inner_text()
    assert _method(phone, "wechat_payscore").get_by_role("button", name="Authorise again").is_visible()
    _fits(phone)
    _notifications_delivered(wechat_sandbox, live_server)
    active.refresh_from_db()
    assert active.state == AuthorisationState.REVOKED and active.revoked_at is not None
    assert PayAfterAuthorisation.objects.count() == 1
    assert [p.state for p in wechat_sandbox.store.permissions.values()] == ["UNBINDUSER"]
    # WeChat's notifications of the opening and the ending reached the webhook and were accepted.
    received = ProviderNotification.objects.filter(provider=Provider.WECHAT).order_by("id")
    assert [n.event_type for n in received] == [
        EventType.AUTHORISATION_OPENED,
        EventType.AUTHORISATION_CLOSED,
    ]
    assert {n.outcome for n in received} <= {NotificationOutcome.APPLIED, NotificationOutcome.NO_CHANGE}


def test_pay_an_owed_order_at_the_wechat_cashier(
    phone: Any, live_server: Any, world_a: Any, wechat_account: dict, wechat_sandbox: WeChatSandbox
) -> None:
    set_up_merchant(world_a, PaymentMethod.WALLET, PaymentMethod.WECHAT_JSAPI)
    home = f"{live_server.url}{base(world_a)}"
    consumer = _sign_in_with_wechat(phone, live_server, world_a, wechat_sandbox)
    debt = owed(world_a, consumer, 1250)
    wechat_sandbox.set_balance(OPENID, 10_000)

    phone.goto(f"{home}/pay-after/")
    assert "You have 1 unpaid order." in phone.inner_text("body")
    phone.click("text=Unpaid orders")
    phone.wait_for_url(f"{home}/orders/")
    row = phone.locator(f"[data-testid=owed-{debt.pk}]")
    assert "12.50" in row.inner_text()
    assert phone.locator("[data-testid^=owed-]").count() == 1
    _fits(phone)
    _shot(phone, "consumer-orders-en")

    row.get_by_role("link", name="Pay").click()
    phone.wait_for_url(f"{home}/orders/{debt.pk}/pay/")
    assert phone.inner_text("[data-testid=amount]") == "¥12.50"
    phone.get_by_label("WeChat Pay (JSAPI)").check()
    _fits(phone)
    phone.get_by_role("button", name="Pay ¥12.50").click()

    phone.wait_for_url(_at(f"{wechat_sandbox.url}/cgi-bin/mmpayweb-bin/checkmweb?"))
    assert "¥12.50" in phone.inner_text("body")
    _fits(phone)
    phone.click("button[type=submit]")
    attempt = Payment.objects.get(order_ref=debt.order_ref, attempt=2)
    phone.wait_for_url(f"{home}/orders/{debt.pk}/paid/{attempt.pk}/")
    phone.wait_for_selector("[data-testid=pay-result][data-state=paid]")
    result = phone.inner_text("[data-testid=pay-result]")
    assert "Paid" in result and "12.50" in result
    _fits(phone)
    _shot(phone, "consumer-paid-en")

    deliveries = _notifications_delivered(wechat_sandbox, live_server)
    assert len(deliveries) == 1  # TRANSACTION.SUCCESS
    attempt.refresh_from_db()
    assert (attempt.state, attempt.amount_fen, attempt.method, attempt.payer_id) == (
        PaymentState.PAID,
        1250,
        PaymentMethod.WECHAT_JSAPI,
        OPENID,
    )
    assert attempt.provider_trade_no != "" and attempt.paid_at is not None
    debt.refresh_from_db()
    assert debt.state == PaymentState.CLOSED
    assert wechat_sandbox.balance(OPENID) == 10_000 - 1250

    # The owed payment's history ends with the new attempt and its closing because of it.
    owed_events = list(PaymentEvent.objects.filter(payment=debt))
    assert [e.kind for e in owed_events][-2:] == ["pay_pending", "superseded"]
    assert owed_events[-2].detail["payment_id"] == attempt.pk
    assert (owed_events[-1].from_state, owed_events[-1].to_state) == (
        PaymentState.FAILED,
        PaymentState.CLOSED,
    )
    assert owed_events[-1].detail["paid_by_id"] == attempt.pk
    # The attempt was paid exactly once: by the webhook's notification or the return page's query,
    # whichever came first; the other one found it paid already.
    attempt_events = list(PaymentEvent.objects.filter(payment=attempt))
    paid = [e for e in attempt_events if e.to_state == PaymentState.PAID]
    assert len(paid) == 1 and paid[0].kind in ("notification", "query"), attempt_events
    assert paid[0].from_state == PaymentState.PENDING
    notification = ProviderNotification.objects.get(provider=Provider.WECHAT)
    assert (notification.event_type, notification.payment_id) == (EventType.PAYMENT_PAID, attempt.pk)
    assert notification.outcome in (NotificationOutcome.APPLIED, NotificationOutcome.NO_CHANGE)
    assert any(e.kind == "notification" for e in attempt_events)

    phone.click("text=Back to unpaid orders")
    phone.wait_for_url(f"{home}/orders/")
    phone.wait_for_selector("[data-testid=nothing-owed]")
    _fits(phone)
