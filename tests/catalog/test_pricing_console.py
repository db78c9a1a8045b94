# mypy: disable-error-code="index"
"""The console pages for prices, templates and sellable lists, driven through real requests."""

from __future__ import annotations

from io import BytesIO

import pytest
from django.test import Client
from openpyxl import load_workbook

from openvend.audit.models import AuditLogEntry
from openvend.catalog import pricing_services as pricing
from openvend.catalog import selling_services as selling
from openvend.catalog.choices import PriceScope, PriceStatus
from openvend.catalog.models import CatalogSettings, PriceRule, SellableItem
from tests.catalog import selling_factories as make
from tests.conftest import console_login
from tests.world import PASSWORD, World, platform_user

RULES = "/console/catalog/pricerule/"
PLATFORM_RULES = "/platform/catalog/pricerule/"


def _client(username: str, console: str = "/console/") -> Client:
    client = Client()
    assert console_login(client, username, PASSWORD, console)
    return client


def test_merchant_creates_a_price_rule_in_the_console(world_a: World) -> None:
    cola = make.product(world_a, "COLA")
    client = _client("alpha-merchant_admin")
    assert client.get(RULES).status_code == 200
    assert client.get(f"{RULES}add/").status_code == 200
    response = client.post(
        f"{RULES}add/",
        {
            "product": cola.pk,
            "scope": "site",
            "site": world_a.sites["sh-1"].pk,
            "price_fen": "320",
            "member_price_fen": "300",
            "effective_from_0": "2025-03-01",
            "effective_from_1": "00:00:00",
            "note": "开业",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    rule = PriceRule.objects.get()
    assert (rule.price_fen, rule.member_price_fen, rule.status, rule.site_id) == (
        320,
        300,
        PriceStatus.ACTIVE,
        world_a.sites["sh-1"].pk,
    )
    entry = AuditLogEntry.objects.get(object_type="catalog.pricerule", action="create")
    assert (entry.channel, entry.after["price_fen"]) == ("console", 320)


def test_console_form_shows_service_errors_and_saves_nothing(world_a: World) -> None:
    cola = make.product(world_a, "COLA")
    client = _client("alpha-store_manager")
    response = client.post(
        f"{RULES}add/",
        {
            "product": cola.pk,
            "scope": "merchant",
            "price_fen": "320",
            "member_price_fen": "330",
            "effective_from_0": "2025-03-01",
            "effective_from_1": "00:00:00",
        },
    )
    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == ["scope"]
    outside = client.post(
        f"{RULES}add/",
        {
            "product": cola.pk,
            "scope": "site",
            "site": world_a.sites["sz-1"].pk,
            "price_fen": "320",
            "effective_from_0": "2025-03-01",
            "effective_from_1": "00:00:00",
        },
    )
    assert outside.status_code == 200
    assert list(outside.context["adminform"].form.errors) == ["site"]  # not even a choice
    assert PriceRule.objects.count() == 0


def test_price_check_and_excel_export(world_a: World) -> None:
    cola = make.product(world_a, "COLA", price_fen=350)
    cabinet = make.cabinet(world_a, "PC-1")
    rule = pricing.price_rule_create(
        actor=None, product=cola, scope=PriceScope.DEVICE, device=cabinet, price_fen=299, member_price_fen=279
    )
    client = _client("alpha-finance")
    page = client.get(
        f"{RULES}price-check/", {"device": str(cabinet.pk), "product": str(cola.pk), "member": "on"}
    )
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-price-fen="279"' in html
    assert 'data-source="device"' in html
    assert f"#{rule.pk}" in html

    export = client.post(RULES, {"action": "export_xlsx", "_selected_action": [rule.pk]})
    assert export.status_code == 200
    sheet = load_workbook(BytesIO(export.content)).active
    rows = list(sheet.values)
    assert len(rows) == 2
    assert 299 in rows[1]
    assert 279 in rows[1]


def test_platform_reviews_pending_prices(world_a: World, platform_admin) -> None:
    platform_user("platform_reviewer")
    admin_client = _client("platform-platform_admin", "/platform/")
    assert admin_client.get("/platform/catalog/catalogsettings/add/").status_code == 200
    response = admin_client.post(
        "/platform/catalog/catalogsettings/add/",
        {"merchant": world_a.merchant.pk, "price_changes_need_review": "on"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert CatalogSettings.objects.get(merchant=world_a.merchant).price_changes_need_review is True

    cola = make.product(world_a, "COLA")
    site = world_a.sites["sh-1"]
    first, second = (
        pricing.price_rule_create(actor=None, product=cola, scope=PriceScope.SITE, site=site, price_fen=fen)
        for fen in (300, 1)
    )
    assert first.status == second.status == PriceStatus.PENDING

    reviewer = _client("platform-platform_reviewer", "/platform/")
    listing = reviewer.get(PLATFORM_RULES, {"status__exact": "pending"})
    assert listing.status_code == 200
    approved = reviewer.post(PLATFORM_RULES, {"action": "approve", "_selected_action": [first.pk]})
    assert approved.status_code == 302
    confirm = reviewer.post(PLATFORM_RULES, {"action": "reject", "_selected_action": [second.pk]})
    assert confirm.status_code == 200  # asks for the note first
    second.refresh_from_db()
    assert second.status == PriceStatus.PENDING
    reviewer.post(
        PLATFORM_RULES, {"action": "reject", "_selected_action": [second.pk], "apply": "1", "note": "太低"}
    )
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status, second.review_note) == (
        PriceStatus.ACTIVE,
        PriceStatus.REJECTED,
        "太低",
    )

    # Merchants cannot review in their console.
    merchant = _client("alpha-merchant_admin")
    third = pricing.price_rule_create(actor=None, product=cola, scope=PriceScope.SITE, site=site, price_fen=5)
    merchant.post(RULES, {"action": "approve", "_selected_action": [third.pk]})
    third.refresh_from_db()
    assert third.status == PriceStatus.PENDING


@pytest.fixture
def shop(world_a: World) -> dict:
    products = [make.product(world_a, sku) for sku in ("A", "B")]
    template = selling.template_create(
        actor=None, merchant=world_a.merchant, name="柜", device_type="gravity_cabinet", products=products
    )
    return {
        "template": template,
        "products": products,
        "c1": make.cabinet(world_a, "CT-1", site="sh-1"),
        "south": make.cabinet(world_a, "CT-SZ", site="sz-1"),
        "vm": make.vending_machine(world_a, "CT-VM"),
    }


def test_template_apply_page_lists_scoped_devices_of_the_right_type(world_a: World, shop: dict) -> None:
    url = f"/console/catalog/producttemplate/{shop['template'].pk}/apply/"
    ops = _client("alpha-operations")
    page = ops.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "CT-1" in html
    assert "CT-SZ" not in html  # outside the operations scope
    assert "CT-VM" not in html  # not a gravity cabinet

    refused = ops.post(url, {"devices": [shop["south"].pk], "mode": "merge"})
    assert refused.status_code == 200
    assert SellableItem.objects.count() == 0

    done = ops.post(url, {"devices": [shop["c1"].pk], "mode": "replace"})
    assert done.status_code == 302
    assert set(SellableItem.objects.values_list("device_id", "product_id")) == {
        (shop["c1"].pk, p.pk) for p in shop["products"]
    }

    # Replenishers may look at templates but not apply them.
    assert _client("alpha-replenisher").get(url).status_code in (302, 403)


def test_sellable_list_pages_and_actions(world_a: World, shop: dict) -> None:
    selling.template_apply(actor=None, template=shop["template"], devices=[shop["c1"]])
    ops = _client("alpha-operations")
    listing = ops.get("/console/catalog/sellableitem/", {"device__id__exact": shop["c1"].pk})
    assert listing.status_code == 200
    ids = list(SellableItem.objects.values_list("pk", flat=True))
    ops.post("/console/catalog/sellableitem/", {"action": "disable", "_selected_action": ids})
    assert SellableItem.objects.filter(enabled=False).count() == 2
    added = ops.post(
        "/console/catalog/sellableitem/add/",
        {"device": shop["c1"].pk, "product": make.product(world_a, "C").pk, "enabled": "on"},
    )
    assert added.status_code == 302
    assert SellableItem.objects.count() == 3
    assert (
        AuditLogEntry.objects.filter(
            object_type="catalog.sellableitem", action="create", channel="console"
        ).count()
        == 1
    )
    assert ops.get("/console/catalog/producttemplate/").status_code == 200
    assert ops.get(f"/console/catalog/producttemplate/{shop['template'].pk}/change/").status_code == 200


def test_template_created_with_inline_items_is_audited_with_its_products(world_a: World) -> None:
    a, b = make.product(world_a, "A"), make.product(world_a, "B")
    client = _client("alpha-merchant_admin")
    response = client.post(
        "/console/catalog/producttemplate/add/",
        {
            "name": "早餐柜",
            "device_type": "gravity_cabinet",
            "note": "",
            "items-TOTAL_FORMS": "2",
            "items-INITIAL_FORMS": "0",
            "items-MIN_NUM_FORMS": "0",
            "items-MAX_NUM_FORMS": "1000",
            "items-0-product": a.pk,
            "items-0-sort_order": "0",
            "items-1-product": b.pk,
            "items-1-sort_order": "1",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    entry = AuditLogEntry.objects.get(object_type="catalog.producttemplate", action="create")
    assert entry.after["products"] == [a.pk, b.pk]
    assert entry.after["name"] == "早餐柜"
    duplicate = client.post(
        "/console/catalog/producttemplate/add/",
        {"name": "早餐柜", "device_type": "", "items-TOTAL_FORMS": "0", "items-INITIAL_FORMS": "0"},
    )
    assert duplicate.status_code == 200
    assert list(duplicate.context["adminform"].form.errors) == ["name"]
