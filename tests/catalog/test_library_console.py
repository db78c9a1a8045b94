"""The product library in both consoles: lists and filters, forms through the services, the Excel
import with preview and confirm, the platform library with adoption, and application review."""

from __future__ import annotations

import io
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.utils import translation
from openpyxl import Workbook, load_workbook

from openvend.audit.models import AuditLogEntry
from openvend.catalog import library_services as library
from openvend.catalog.models import Category, Product, ProductApplication
from tests.catalog.library_factories import make_product
from tests.conftest import console_login
from tests.world import PASSWORD, World

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    with translation.override("en"):
        yield


def _merchant(client: Client, world: World, role: str = "merchant_admin") -> Client:
    assert console_login(client, world.users[role].username, PASSWORD)
    client.cookies["django_language"] = "en"
    return client


def _platform(client: Client, user: Any) -> Client:
    assert console_login(client, user.username, PASSWORD, console="/platform/")
    client.cookies["django_language"] = "en"
    return client


def _xlsx(rows: list[list[Any]], name: str = "products.xlsx") -> io.BytesIO:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    buffer.seek(0)
    buffer.name = name
    return buffer


def _product_form(**overrides: Any) -> dict[str, Any]:
    data = {
        "sku": "FORM-1",
        "name": "Form product",
        "barcode": "",
        "category": "",
        "manufacturer": "",
        "specification": "",
        "unit": "件",
        "kind": "standard",
        "unit_weight_g": "250.00",
        "unit_weight_sd_g": "1.50",
        "shelf_life_days": "",
        "default_price_fen": "500",
        "status": "on_sale",
    }
    data.update(overrides)
    return data


def test_product_list_search_and_filters_stay_in_the_library(
    client: Client, world_a: World, world_b: World
) -> None:
    drinks = library.category_create(actor=None, merchant=world_a.merchant, name="Drinks")
    library.category_create(actor=None, merchant=world_b.merchant, name="SecretCategoryOfB")
    make_product(world_a.merchant, "COLA", name="Cola", category=drinks)
    make_product(world_a.merchant, "TEA", name="Tea", barcode="96385074")
    make_product(world_b.merchant, "THEIRS", name="Their cola")
    _merchant(client, world_a)
    page = client.get("/console/catalog/product/").content.decode()
    assert "COLA" in page and "TEA" in page and "THEIRS" not in page
    assert "SecretCategoryOfB" not in page
    found = client.get("/console/catalog/product/", {"q": "96385074"}).content.decode()
    assert "TEA" in found and "COLA" not in found
    by_category = client.get("/console/catalog/product/", {"category": drinks.pk}).content.decode()
    assert "COLA" in by_category and ">TEA<" not in by_category
    assert (
        client.get("/console/catalog/product/", {"kind": "by_weight", "status": "on_sale"}).status_code == 200
    )


def test_another_merchants_product_does_not_exist_here(
    client: Client, world_a: World, world_b: World
) -> None:
    theirs = make_product(world_b.merchant, "THEIRS")
    _merchant(client, world_a)
    response = client.get(f"/console/catalog/product/{theirs.pk}/change/")
    assert response.status_code == 302  # Django admin: "doesn't exist", back to the index
    post = client.post(f"/console/catalog/product/{theirs.pk}/change/", _product_form(sku="THEIRS"))
    assert post.status_code == 302
    theirs.refresh_from_db()
    assert theirs.name == "Product THEIRS"


def test_create_and_edit_through_the_form_are_audited(client: Client, world_a: World) -> None:
    _merchant(client, world_a)
    response = client.post("/console/catalog/product/add/", _product_form())
    assert response.status_code == 302, response.content.decode()[:3000]
    product = Product.objects.get(sku="FORM-1")
    assert (product.merchant_id, product.default_price_fen, product.unit_weight_g) == (
        world_a.merchant.pk,
        500,
        Decimal("250.00"),
    )
    created = AuditLogEntry.objects.filter(
        action="create", object_type="catalog.product", object_id=str(product.pk)
    ).get()
    assert created.channel == "console"
    client.post(f"/console/catalog/product/{product.pk}/change/", _product_form(default_price_fen="550"))
    product.refresh_from_db()
    assert product.default_price_fen == 550
    updated = AuditLogEntry.objects.filter(
        action="update", object_type="catalog.product", object_id=str(product.pk)
    ).get()
    assert (updated.before["default_price_fen"], updated.after["default_price_fen"]) == (500, 550)
    assert updated.changed_fields == ["default_price_fen"]


def test_form_shows_library_rules_and_saves_nothing(client: Client, world_a: World) -> None:
    make_product(world_a.merchant, "TAKEN")
    _merchant(client, world_a)
    response = client.post(
        "/console/catalog/product/add/",
        _product_form(sku="TAKEN", unit_weight_g="0", barcode="6901234567893"),
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "SKU TAKEN is already in this library." in page
    assert "Only products sold by weight may have a unit weight of 0 g." in page
    assert "fails its check digit" in page
    assert Product.objects.filter(sku="TAKEN").count() == 1


def test_bulk_off_sale_action(client: Client, world_a: World) -> None:
    a, b = make_product(world_a.merchant, "A"), make_product(world_a.merchant, "B")
    _merchant(client, world_a)
    client.post("/console/catalog/product/", {"action": "take_off_sale", "_selected_action": [a.pk, b.pk]})
    assert set(Product.objects.filter(pk__in=[a.pk, b.pk]).values_list("status", flat=True)) == {"off_sale"}


def test_import_preview_then_confirm(client: Client, world_a: World) -> None:
    _merchant(client, world_a)
    url = "/console/catalog/product/import/"
    assert client.get(url).status_code == 200
    rows = [["sku", "name", "unit_weight_g", "price_yuan", "category"], ["A", "Apple", 200, "3.50", "Fruit"]]
    preview = client.post(url, {"step": "preview", "file": _xlsx(rows)}, HTTP_HX_REQUEST="true")
    assert preview.status_code == 200
    page = preview.content.decode()
    assert "1 new, 0 to update, 0 unchanged, 0 with problems." in page
    assert "Confirm import" in page
    assert not Product.objects.filter(merchant=world_a.merchant).exists()
    assert not Category.objects.filter(merchant=world_a.merchant).exists()
    token = client.session["catalog_import"]["token"]
    assert client.post(url, {"step": "confirm", "token": "forged"}).status_code == 200
    assert not Product.objects.filter(merchant=world_a.merchant).exists()
    done = client.post(url, {"step": "confirm", "token": token})
    assert done.status_code == 302
    product = Product.objects.get(merchant=world_a.merchant, sku="A")
    assert (product.default_price_fen, product.category.name if product.category else None) == (350, "Fruit")


def test_import_with_errors_shows_rows_and_offers_no_confirm(client: Client, world_a: World) -> None:
    _merchant(client, world_a)
    rows = [["sku", "name", "unit_weight_g", "default_price_fen"], ["A", "Apple", 200, 350], ["B", "", 1, -5]]
    response = client.post("/console/catalog/product/import/", {"step": "preview", "file": _xlsx(rows)})
    page = response.content.decode()
    assert response.status_code == 200
    assert "Confirm import" not in page
    assert "This field cannot be blank." in page
    assert "Ensure this value is greater than or equal to 0." in page
    assert "catalog_import" not in client.session
    not_excel = client.post(
        "/console/catalog/product/import/", {"step": "preview", "file": _xlsx([], name="x.xlsx")}
    )
    assert not_excel.status_code == 200
    garbage = io.BytesIO(b"not a workbook")
    garbage.name = "products.xlsx"
    response = client.post("/console/catalog/product/import/", {"step": "preview", "file": garbage})
    assert "The file is not an Excel workbook (.xlsx)." in response.content.decode()
    assert not Product.objects.filter(merchant=world_a.merchant).exists()


def test_import_page_needs_write_permission(client: Client, world_a: World) -> None:
    _merchant(client, world_a, "finance")
    assert client.get("/console/catalog/product/import/").status_code == 403


def test_export_library_round_trips(client: Client, world_a: World) -> None:
    make_product(world_a.merchant, "A", name="Apple")
    _merchant(client, world_a)
    response = client.get("/console/catalog/product/export-library/")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert [c.value for c in sheet[2]][:2] == ["A", "Apple"]


def test_platform_library_page_and_adopt(client: Client, world_a: World) -> None:
    platform = make_product(None, "PLAT-1", name="Platform cola")
    mine = make_product(world_a.merchant, "MINE")
    _merchant(client, world_a)
    url = "/console/catalog/product/platform-library/"
    page = client.get(url).content.decode()
    assert "Platform cola" in page and "Adopt into my library" in page and "MINE" not in page
    client.post(url, {"product": platform.pk})
    copy = Product.objects.get(merchant=world_a.merchant, source=platform)
    assert copy.sku == "PLAT-1"
    assert "In your library" in client.get(url).content.decode()
    again = client.post(url, {"product": platform.pk}, follow=True)
    assert "already in your library" in again.content.decode()
    client.post(url, {"product": mine.pk})  # not a platform product: refused
    assert Product.objects.filter(merchant=world_a.merchant).count() == 2
    # Platform rows cannot be edited from the merchant console.
    assert client.get(f"/console/catalog/product/{platform.pk}/change/").status_code == 302


def test_viewer_sees_platform_library_but_cannot_adopt(client: Client, world_a: World) -> None:
    platform = make_product(None, "PLAT-1")
    _merchant(client, world_a, "replenisher")
    page = client.get("/console/catalog/product/platform-library/").content.decode()
    assert "PLAT-1" in page and "Adopt into my library" not in page
    assert (
        client.post("/console/catalog/product/platform-library/", {"product": platform.pk}).status_code == 403
    )
    assert not Product.objects.filter(source=platform).exists()


def test_platform_console_edits_only_the_platform_library(
    client: Client, world_a: World, platform_admin: Any
) -> None:
    merchant_row = make_product(world_a.merchant, "M-ROW")
    platform_row = make_product(None, "P-ROW")
    _platform(client, platform_admin)
    listing = client.get("/platform/catalog/product/", {"library": "platform"}).content.decode()
    assert "P-ROW" in listing and "M-ROW" not in listing
    response = client.post("/platform/catalog/product/add/", _product_form(sku="P-NEW"))
    assert response.status_code == 302
    assert Product.objects.get(sku="P-NEW").merchant_id is None
    client.post(
        f"/platform/catalog/product/{merchant_row.pk}/change/", _product_form(sku="M-ROW", name="Hijack")
    )
    merchant_row.refresh_from_db()
    assert merchant_row.name == "Product M-ROW"
    client.post(
        f"/platform/catalog/product/{platform_row.pk}/change/", _product_form(sku="P-ROW", name="Renamed")
    )
    platform_row.refresh_from_db()
    assert platform_row.name == "Renamed"


def test_applications_in_both_consoles(client: Client, world_a: World, platform_admin: Any) -> None:
    _merchant(client, world_a)
    response = client.post(
        "/console/catalog/productapplication/add/",
        {
            "sku": "NEW-1",
            "name": "New Tea",
            "barcode": "96385074",
            "category_name": "Tea",
            "manufacturer_name": "",
            "specification": "",
            "kind": "standard",
            "unit_weight_g": "350",
            "unit_weight_sd_g": "0",
            "shelf_life_days": "",
            "suggested_price_fen": "450",
            "reason": "Asked for",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    application = ProductApplication.objects.get(sku="NEW-1")
    assert (application.merchant_id, application.status) == (world_a.merchant.pk, "pending")
    assert client.get(f"/console/catalog/productapplication/{application.pk}/approve/").status_code == 403
    client.logout()

    _platform(client, platform_admin)
    assert "NEW-1" in client.get("/platform/catalog/productapplication/").content.decode()
    url = f"/platform/catalog/productapplication/{application.pk}/"
    assert client.get(url + "reject/").status_code == 200
    client.post(url + "reject/", {"note": ""})
    application.refresh_from_db()
    assert application.status == "pending"
    client.post(url + "approve/", {"note": "welcome"})
    application.refresh_from_db()
    assert application.status == "approved"
    assert Product.objects.filter(merchant=world_a.merchant, source=application.product).exists()
    again = client.post(url + "reject/", {"note": "late"}, follow=True)
    assert "already been decided" in again.content.decode()
    application.refresh_from_db()
    assert application.status == "approved"
