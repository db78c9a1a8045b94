"""The Excel import page in a real browser: the upload goes through htmx with a progress bar,
the dry-run preview appears in place, and confirming saves the products."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from openpyxl import Workbook

from openvend.catalog.models import Product
from tests.browser.test_consoles import CHROMIUM_ARGS, _shot, _sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser(chromium: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _workbook(path: Path, rows: list[list[object]]) -> Path:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    path.write_bytes(buffer.getvalue())
    return path


def test_import_preview_and_confirm_in_the_browser(browser, live_server, world_a, tmp_path: Path) -> None:
    page, _text = _sign_in(
        browser, live_server.url, "console", world_a.users["merchant_admin"].username, "en-US", "en"
    )
    page.goto(f"{live_server.url}/console/catalog/product/")
    page.click("text=Import from Excel")
    page.wait_for_selector("[data-testid=product-import]")
    header = ["sku", "name", "unit_weight_g", "price_yuan", "barcode"]
    bad = _workbook(
        tmp_path / "bad.xlsx", [header, ["A", "Apple", 200, "3.50", ""], ["B", "", 1, "1", "123"]]
    )
    page.set_input_files("[data-testid=import-file]", str(bad))
    page.click("text=Upload and preview")
    page.wait_for_selector("[data-testid=import-errors]")
    errors = page.inner_text("[data-testid=import-errors]")
    assert "This field cannot be blank." in errors and "barcode" in errors
    assert page.query_selector("text=Confirm import") is None
    assert page.get_attribute("#import-progress-bar", "aria-valuenow") == "100"
    _shot(page, "catalog-import-errors")

    good = _workbook(tmp_path / "good.xlsx", [header, ["A", "Apple", 200, "3.50", "6901234567892"]])
    page.set_input_files("[data-testid=import-file]", str(good))
    page.click("text=Upload and preview")
    page.wait_for_selector("text=Confirm import")
    assert "1 new, 0 to update" in page.inner_text("[data-testid=import-totals]")
    _shot(page, "catalog-import-preview")
    assert not Product.objects.filter(merchant=world_a.merchant).exists()
    page.click("text=Confirm import")
    page.wait_for_url(f"{live_server.url}/console/catalog/product/")
    assert "Imported good.xlsx: 1 new" in page.inner_text("body")
    assert Product.objects.get(merchant=world_a.merchant, sku="A").default_price_fen == 350
    _shot(page, "catalog-products")
