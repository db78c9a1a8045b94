"""Both consoles in a real browser (Debian's chromium driven by Playwright), in Chinese and English."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.world import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def browser(chromium: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    # Playwright's sync API runs an event loop in this thread; the ORM calls the test makes
    # around it are still plain synchronous code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _sign_in(
    browser, base: str, console: str, username: str, locale: str, cookie_language: str | None = None
):
    context = browser.new_context(locale=locale, viewport={"width": 1280, "height": 800})
    if cookie_language:
        context.add_cookies([{"name": "django_language", "value": cookie_language, "url": base}])
    page = context.new_page()
    page.goto(f"{base}/{console}/login/")
    login_page_text = page.inner_text("body")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/{console}/")
    return page, login_page_text


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_merchant_console_in_chinese_and_english(browser, live_server, world_a, world_b) -> None:
    base = live_server.url
    # 阿尔法零售 defaults to zh-hans: a Chinese browser sees Chinese from the login page on.
    page, login_text = _sign_in(browser, base, "console", world_a.users["operations"].username, "zh-CN")
    assert "登录" in login_text
    nav = page.inner_text("nav") if page.query_selector("nav") else page.inner_text("body")
    body = page.inner_text("body")
    assert "点位" in body and "首页" in body
    assert "员工" not in nav  # operations has no staff menu
    assert world_a.merchant.name in body
    _shot(page, "merchant-console-zh")
    page.locator("a[href='/console/merchants/site/']").first.click()
    page.wait_for_url("**/console/merchants/site/")
    sites = page.inner_text("#result_list")
    assert world_a.sites["sh-1"].name in sites
    assert world_a.sites["sz-1"].name not in sites  # outside the operations user's org unit
    assert world_b.sites["sh-1"].name not in sites
    _shot(page, "merchant-sites-zh")
    page.context.close()

    # Beta Retail defaults to English, even for a browser that asks for Chinese.
    page, _ = _sign_in(browser, base, "console", world_b.users["merchant_admin"].username, "zh-CN")
    body = page.inner_text("body")
    assert "Sites" in body and "Audit log" in body and "Staff" in body
    assert "点位" not in body
    _shot(page, "merchant-console-en")
    page.context.close()


def test_platform_console_in_chinese_and_english(browser, live_server, world_a, platform_admin) -> None:
    base = live_server.url
    page, login_text = _sign_in(browser, base, "platform", platform_admin.username, "zh-CN")
    assert "登录" in login_text
    body = page.inner_text("body")
    assert "商户" in body and "系统日志" in body and "待审核" in body
    _shot(page, "platform-console-zh")
    page.context.close()

    page, login_text = _sign_in(
        browser, base, "platform", platform_admin.username, "en-US", cookie_language="en"
    )
    assert "Log in" in login_text
    body = page.inner_text("body")
    assert "Merchants" in body and "Audit log" in body and "Pending review" in body
    page.locator("a[href='/platform/merchants/merchant/']").first.click()
    page.wait_for_url("**/platform/merchants/merchant/")
    assert world_a.merchant.name in page.inner_text("#result_list")
    _shot(page, "platform-merchants-en")
    page.context.close()


def test_wrong_console_is_refused_in_the_browser(browser, live_server, world_a) -> None:
    context = browser.new_context(locale="en-US")
    context.add_cookies([{"name": "django_language", "value": "en", "url": live_server.url}])
    page = context.new_page()
    page.goto(f"{live_server.url}/platform/login/")
    page.fill("input[name=username]", world_a.users["merchant_admin"].username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    assert "/platform/login/" in page.url
    assert "This account cannot sign in to this console." in page.inner_text("body")
    context.close()


def test_staff_mobile_page_fits_a_phone(browser, live_server, world_a) -> None:
    context = browser.new_context(locale="zh-CN", viewport={"width": 375, "height": 740}, is_mobile=True)
    page = context.new_page()
    page.goto(f"{live_server.url}/m/login/")
    page.fill("input[name=username]", world_a.users["replenisher"].username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/m/")
    body = page.inner_text("body")
    assert world_a.sites["sh-1"].name in body and world_a.sites["sz-1"].name not in body
    # Nothing wider than the phone: no sideways scrolling.
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    _shot(page, "mobile-home-zh")
    context.close()


def test_device_page_shows_live_state_and_sends_a_command(browser, live_server, world_a) -> None:
    from openvend.devices.models import Command, DeviceState
    from tests.devices.factories import activated_device

    device, _ = activated_device(world_a, "WEB-0001")
    DeviceState.objects.filter(device=device).update(
        online=True, door="closed", lock="locked", temperature_c=4.5
    )
    page, _ = _sign_in(
        browser, live_server.url, "console", world_a.users["operations"].username, "en-US", "en"
    )
    page.locator("a[href='/console/devices/device/']").first.click()
    page.wait_for_url("**/console/devices/device/")
    listing = page.inner_text("#result_list")
    assert "WEB-0001" in listing and "Online" in listing
    page.locator("#result_list a", has_text="WEB-0001").first.click()
    page.wait_for_url(f"**/console/devices/device/{device.pk}/change/")
    body = page.inner_text("body")
    assert "door: Closed" in body and "temperature (°C): 4.50" in body
    _shot(page, "device-page-en")
    page.get_by_text("Open door", exact=True).first.click()
    page.wait_for_url(f"**/console/devices/device/{device.pk}/change/")
    assert "Command sent: Open door" in page.inner_text("body")
    command = Command.objects.get(device=device)
    assert (command.kind, command.status, command.params) == (
        "open_door",
        "pending",
        {"door": 1, "mode": "staff"},
    )
    assert command.created_by_id == world_a.users["operations"].pk
    page.context.close()
