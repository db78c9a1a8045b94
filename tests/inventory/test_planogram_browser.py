"""The planogram change page in a real browser: the recognition warnings panel is visible."""

from __future__ import annotations

import pytest

from openvend.inventory.planogram_services import planogram_draft_create, planogram_slot_add
from tests.browser.test_consoles import _shot, _sign_in, browser  # noqa: F401 (fixture)
from tests.devices.factories import activated_device
from tests.inventory.planogram_factories import product

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_warnings_panel_shows_the_confusable_candy_bars(browser, live_server, world_a) -> None:  # noqa: F811
    device, _secret = activated_device(world_a, "SHOT-0001")
    draft = planogram_draft_create(actor=None, device=device)
    for sku, weight in (("BAR-A", "45.00"), ("BAR-B", "46.00")):
        planogram_slot_add(
            actor=None,
            planogram=draft,
            shelf=1,
            sensors=["s1-1"],
            product=product(world_a, sku, weight, "1.00"),
            capacity=5,
            par_level=5,
        )
    page, _text = _sign_in(
        browser, live_server.url, "console", world_a.users["merchant_admin"].username, "en-US"
    )
    page.goto(f"{live_server.url}/console/inventory/planogram/{draft.pk}/change/")
    panel = page.locator("#planogram-check")
    assert panel.is_visible()
    text = panel.inner_text()
    assert "s1-1" in text and "BAR-A, BAR-B" in text and "45.2%" in text
    assert page.locator(f"a[href$='/planogram/{draft.pk}/activate/']").is_visible()
    _shot(page, "planogram-check-panel")
