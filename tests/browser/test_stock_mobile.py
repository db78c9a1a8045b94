"""The phone stock-take in a real browser at 375 px: a scanner types the code and presses Enter, the
line updates without a page load, +/− adjust it, nothing scrolls sideways, and the count submits."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from openvend.inventory import ledger
from openvend.inventory.models import StockTake
from tests.browser.test_consoles import CHROMIUM_ARGS, _shot
from tests.inventory.stock_world import build_shop
from tests.world import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser(chromium: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _fits(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= 375


def test_scan_count_and_submit_on_a_phone(browser, live_server, world_a) -> None:
    shop = build_shop(world_a, "B")
    ledger.post_movement(device=shop.cabinet, product=shop.cola, quantity=5, kind="replenishment")
    context = browser.new_context(locale="en-US", viewport={"width": 375, "height": 740}, is_mobile=True)
    context.add_cookies([{"name": "django_language", "value": "en", "url": live_server.url}])
    page = context.new_page()
    page.goto(f"{live_server.url}/m/login/")
    page.fill("input[name=username]", world_a.users["replenisher"].username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/m/")
    page.click("a[href='/m/stock/']")
    page.wait_for_url("**/m/stock/")
    _fits(page)
    page.click(f"a[href='/m/stock/{shop.cabinet.pk}/take/']")
    page.click("text=Start a stock-take")
    page.wait_for_selector("#barcode")
    _fits(page)

    # A USB/Bluetooth scanner "types" the code and presses Enter, three times.
    for expected in ("1 unit counted", "2 units counted", "3 units counted"):
        page.fill("#barcode", "6901234567892")
        page.press("#barcode", "Enter")
        page.wait_for_selector(f"#lines >> text={expected}")
    assert page.input_value("#barcode") == ""  # ready for the next scan
    cola_row = page.locator(".st-row", has_text=shop.cola.name)
    cola_row.locator("button[value='1']").click()
    page.wait_for_selector("#lines >> text=4 units counted")
    cola_row = page.locator(".st-row", has_text=shop.cola.name)
    cola_row.locator("input[name=counted]").fill("5")
    cola_row.locator("input[name=counted]").press("Enter")
    page.wait_for_selector("#lines >> text=5 units counted")
    _fits(page)
    _shot(page, "mobile-stocktake-en")
    take = StockTake.objects.get()
    assert take.lines.get(product=shop.cola).counted == 5

    page.click("text=Submit the count for approval")
    page.wait_for_selector("text=Count submitted for approval.")
    take.refresh_from_db()
    assert take.state == "submitted"
    _fits(page)
    context.close()
