"""The product library over REST: the shared contract for products, categories and manufacturers
(the tables are the preset roles' specification), the platform library, adoption, applications,
bulk status, and Excel import/export."""

from __future__ import annotations

import io
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation
from django.utils.translation import gettext
from openpyxl import Workbook, load_workbook

from openvend.audit.models import AuditLogEntry
from openvend.catalog import application_services as applications
from openvend.catalog import library_services as library
from openvend.catalog.models import Category, Manufacturer, Product, ProductApplication
from tests.api.contract import ReadContract, ResourceContract
from tests.catalog.library_factories import make_product
from tests.conftest import client_for
from tests.world import World, platform_user

CRUD = {"view", "add", "change", "delete"}
LIBRARY_ROLES = {
    "merchant_admin": CRUD,
    "operations": {"view"},
    "replenisher": {"view"},
    "customer_service": {"view"},
    "store_manager": {"view"},
    "finance": {"view"},
}


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    with translation.override("en"):
        yield


class TestProducts(ResourceContract):
    url = "/api/v1/products/"
    model = Product
    expected = LIBRARY_ROLES

    def make(self, world: World) -> Product:
        return make_product(world.merchant, f"p-{self.unique()}")

    def create_payload(self, world: World) -> dict[str, Any]:
        return {
            "sku": f"new-{self.unique()}",
            "name": "矿泉水 550ml",
            "barcode": "6901234567892",
            "unit_weight_g": "560.00",
            "unit_weight_sd_g": "3.50",
            "default_price_fen": 200,
        }

    def update_payload(self, world: World) -> dict[str, Any]:
        return {"name": "改名后的商品", "default_price_fen": 420, "status": "off_sale"}


class TestCategories(ResourceContract):
    url = "/api/v1/categories/"
    model = Category
    expected = LIBRARY_ROLES

    def make(self, world: World) -> Category:
        return library.category_create(actor=None, merchant=world.merchant, name=f"c-{self.unique()}")

    def create_payload(self, world: World) -> dict[str, Any]:
        return {"name": f"饮料-{self.unique()}", "sort_order": 3}

    def update_payload(self, world: World) -> dict[str, Any]:
        return {"name": "零食", "sort_order": 7}


class TestManufacturers(ResourceContract):
    url = "/api/v1/manufacturers/"
    model = Manufacturer
    expected = LIBRARY_ROLES

    def make(self, world: World) -> Manufacturer:
        return library.manufacturer_create(actor=None, merchant=world.merchant, name=f"m-{self.unique()}")

    def create_payload(self, world: World) -> dict[str, Any]:
        return {"name": f"农夫山泉-{self.unique()}", "contact": "王经理", "phone": "400-800-1234"}

    def update_payload(self, world: World) -> dict[str, Any]:
        return {"contact": "李经理", "phone": "021-12345678"}


def _application(world: World, sku: str = "NEW-1") -> ProductApplication:
    return applications.application_create(
        actor=None,
        merchant=world.merchant,
        sku=sku,
        name="New Tea",
        barcode="96385074",
        category_name="Tea",
        unit_weight_g=Decimal("350"),
        suggested_price_fen=450,
    )


class TestProductApplications(ReadContract):
    url = "/api/v1/product-applications/"
    model = ProductApplication
    expected = {"merchant_admin": {"view", "add"}}

    def make(self, world: World) -> ProductApplication:
        return _application(world, f"a-{self.unique()}")


# ---------------------------------------------------------------------------------------------
# Validation and library boundaries
# ---------------------------------------------------------------------------------------------


def test_create_reports_field_errors_and_saves_nothing(world_a: World) -> None:
    client = client_for(world_a.user("merchant_admin"))
    count = Product.objects.count()
    response = client.post(
        "/api/v1/products/",
        {"sku": "X", "name": "X", "barcode": "96385070", "unit_weight_g": "0", "default_price_fen": 1},
        format="json",
    )
    assert response.status_code == 400, response.content
    body = response.json()["error"]
    assert body["code"] == "core.invalid"
    # The request has no Accept-Language, so the API answers in the site default, zh-hans.
    with translation.override("zh-hans"):
        assert body["fields"] == {
            "barcode": [
                gettext("Barcode %(value)s fails its check digit: the last digit should be %(expected)s.")
                % {"value": "96385070", "expected": 4}
            ],
            "unit_weight_g": [gettext("Only products sold by weight may have a unit weight of 0 g.")],
        }
    assert Product.objects.count() == count


def test_category_of_another_merchant_reads_as_missing(world_a: World, world_b: World) -> None:
    theirs = library.category_create(actor=None, merchant=world_b.merchant, name="Theirs")
    client = client_for(world_a.user("merchant_admin"))
    payload = {"sku": "X", "name": "X", "unit_weight_g": "1", "default_price_fen": 1, "category": theirs.pk}
    response = client.post("/api/v1/products/", payload, format="json")
    assert response.status_code == 400
    assert "category" in response.json()["error"]["fields"]
    assert not Product.objects.filter(sku="X").exists()


def test_platform_staff_write_the_platform_library(world_a: World, platform_admin: Any) -> None:
    client = client_for(platform_admin)
    response = client.post(
        "/api/v1/products/",
        {"sku": "PLAT-1", "name": "Cola", "unit_weight_g": "530", "default_price_fen": 300},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["merchant"] is None
    created = Product.objects.get(pk=response.json()["id"])
    assert created.merchant_id is None
    # A merchant's row is not the platform's to edit.
    mine = make_product(world_a.merchant, "MINE")
    refused = client.patch(f"/api/v1/products/{mine.pk}/", {"name": "Hijack"}, format="json")
    assert refused.status_code == 403
    assert Product.objects.get(pk=mine.pk).name == "Product MINE"


# ---------------------------------------------------------------------------------------------
# Platform library and adoption
# ---------------------------------------------------------------------------------------------


def test_merchants_list_the_platform_library_and_adopt(world_a: World, world_b: World) -> None:
    platform = make_product(None, "PLAT-COLA", name="Cola", unit_weight_g=Decimal("530.25"))
    make_product(world_b.merchant, "THEIRS")
    client = client_for(world_a.user("merchant_admin"))
    listing = client.get("/api/v1/products/platform-library/")
    assert listing.status_code == 200
    rows = listing.json()["results"]
    assert [(r["id"], r["sku"], r["adopted"]) for r in rows] == [(platform.pk, "PLAT-COLA", False)]

    adopted = client.post(f"/api/v1/products/{platform.pk}/adopt/")
    assert adopted.status_code == 201, adopted.content
    body = adopted.json()
    assert (body["merchant"], body["source"], body["sku"], body["unit_weight_g"]) == (
        world_a.merchant.pk,
        platform.pk,
        "PLAT-COLA",
        "530.25",
    )
    entry = AuditLogEntry.objects.filter(action="create", object_id=str(body["id"])).latest("id")
    assert (entry.channel, entry.merchant_id, entry.after["source"]) == (
        "api",
        world_a.merchant.pk,
        platform.pk,
    )
    assert client.get("/api/v1/products/platform-library/").json()["results"][0]["adopted"] is True

    again = client.post(f"/api/v1/products/{platform.pk}/adopt/")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "catalog.already_adopted"
    assert Product.objects.filter(source=platform).count() == 1


def test_merchants_cannot_change_platform_rows(world_a: World) -> None:
    platform = make_product(None, "PLAT")
    client = client_for(world_a.user("merchant_admin"))
    assert client.get(f"/api/v1/products/{platform.pk}/").status_code == 404
    assert client.patch(f"/api/v1/products/{platform.pk}/", {"name": "x"}, format="json").status_code == 404
    assert client.delete(f"/api/v1/products/{platform.pk}/").status_code == 404
    platform.refresh_from_db()
    assert platform.name == "Product PLAT"


def test_adopt_needs_a_platform_product_and_the_add_permission(world_a: World, world_b: World) -> None:
    theirs = make_product(world_b.merchant, "THEIRS")
    mine = make_product(world_a.merchant, "MINE")
    platform = make_product(None, "PLAT")
    admin = client_for(world_a.user("merchant_admin"))
    for other in (theirs, mine):
        response = admin.post(f"/api/v1/products/{other.pk}/adopt/")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "core.not_found"
    viewer = client_for(world_a.user("replenisher"))
    assert viewer.get("/api/v1/products/platform-library/").status_code == 200
    assert viewer.post(f"/api/v1/products/{platform.pk}/adopt/").status_code == 403
    assert not Product.objects.filter(source=platform).exists()


# ---------------------------------------------------------------------------------------------
# Bulk status
# ---------------------------------------------------------------------------------------------


def test_bulk_off_sale(world_a: World, world_b: World) -> None:
    a, b = make_product(world_a.merchant, "A"), make_product(world_a.merchant, "B")
    theirs = make_product(world_b.merchant, "C")
    client = client_for(world_a.user("merchant_admin"))
    response = client.post(
        "/api/v1/products/set-status/", {"ids": [a.pk, b.pk], "status": "off_sale"}, format="json"
    )
    assert response.status_code == 200 and response.json() == {"changed": 2}
    assert set(Product.objects.filter(pk__in=[a.pk, b.pk]).values_list("status", flat=True)) == {"off_sale"}
    mixed = client.post(
        "/api/v1/products/set-status/", {"ids": [a.pk, theirs.pk], "status": "on_sale"}, format="json"
    )
    assert mixed.status_code == 404
    assert Product.objects.get(pk=a.pk).status == "off_sale"
    assert Product.objects.get(pk=theirs.pk).status == "on_sale"
    viewer = client_for(world_a.user("operations"))
    assert (
        viewer.post(
            "/api/v1/products/set-status/", {"ids": [a.pk], "status": "on_sale"}, format="json"
        ).status_code
        == 403
    )


# ---------------------------------------------------------------------------------------------
# Applications
# ---------------------------------------------------------------------------------------------


def test_application_flow_over_the_api(world_a: World, platform_admin: Any) -> None:
    merchant = client_for(world_a.user("merchant_admin"))
    created = merchant.post(
        "/api/v1/product-applications/",
        {
            "sku": "NEW-1",
            "name": "New Tea",
            "barcode": "96385074",
            "category_name": "Tea",
            "unit_weight_g": "350.00",
            "suggested_price_fen": 450,
            "reason": "Asked for",
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    assert (created.json()["status"], created.json()["merchant"]) == ("pending", world_a.merchant.pk)
    pk = created.json()["id"]
    assert merchant.post(f"/api/v1/product-applications/{pk}/approve/", {}, format="json").status_code == 403

    reviewer = client_for(platform_admin)
    assert reviewer.post(f"/api/v1/product-applications/{pk}/reject/", {}, format="json").status_code == 400
    approved = reviewer.post(f"/api/v1/product-applications/{pk}/approve/", {"note": "ok"}, format="json")
    assert approved.status_code == 200, approved.content
    assert approved.json()["status"] == "approved"
    platform_product = Product.objects.get(pk=approved.json()["product"])
    assert (platform_product.merchant_id, platform_product.default_price_fen) == (None, 450)
    assert Product.objects.filter(merchant=world_a.merchant, source=platform_product).exists()

    again = reviewer.post(f"/api/v1/product-applications/{pk}/reject/", {"note": "no"}, format="json")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "catalog.application_decided"
    assert ProductApplication.objects.get(pk=pk).status == "approved"


def test_the_reviewer_preset_decides_products_and_merchants_cannot(world_a: World) -> None:
    application = _application(world_a)
    merchant = client_for(world_a.user("merchant_admin"))
    refused = merchant.post(f"/api/v1/product-applications/{application.pk}/approve/", {}, format="json")
    assert refused.status_code == 403
    application.refresh_from_db()
    assert application.status == "pending"
    client = client_for(platform_user("platform_reviewer"))
    response = client.post(f"/api/v1/product-applications/{application.pk}/approve/", {}, format="json")
    assert response.status_code == 200, response.content
    application.refresh_from_db()
    assert application.status == "approved"
    assert application.product is not None and application.product.merchant_id is None


# ---------------------------------------------------------------------------------------------
# Import and export
# ---------------------------------------------------------------------------------------------


def _xlsx(rows: list[list[Any]]) -> SimpleUploadedFile:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return SimpleUploadedFile("products.xlsx", buffer.getvalue())


HEADER = ["sku", "name", "barcode", "unit_weight_g", "price_yuan"]


def test_import_dry_run_then_commit(world_a: World) -> None:
    client = client_for(world_a.user("merchant_admin"))
    rows = [HEADER, ["A", "Apple juice", "6901234567892", 300, "4.50"], ["B", "Bread", "", 80, "6"]]
    preview = client.post(
        "/api/v1/products/import/", {"file": _xlsx(rows), "dry_run": "true"}, format="multipart"
    )
    assert preview.status_code == 200, preview.content
    assert preview.json()["totals"] == {"new": 2, "update": 0, "unchanged": 0, "invalid": 0, "rows": 2}
    assert (preview.json()["saved"], preview.json()["errors"]) == (False, [])
    assert not Product.objects.filter(merchant=world_a.merchant).exists()

    done = client.post(
        "/api/v1/products/import/", {"file": _xlsx(rows), "dry_run": "false"}, format="multipart"
    )
    assert done.status_code == 200 and done.json()["saved"] is True
    prices = dict(Product.objects.filter(merchant=world_a.merchant).values_list("sku", "default_price_fen"))
    assert prices == {"A": 450, "B": 600}
    assert (
        AuditLogEntry.objects.filter(action="create", object_type="catalog.product", channel="api").count()
        == 2
    )


def test_import_with_bad_rows_is_400_and_saves_nothing(world_a: World) -> None:
    client = client_for(world_a.user("merchant_admin"))
    rows = [HEADER, ["A", "Apple", "", 300, "4.50"], ["B", "", "123", 80, "-1"]]
    preview = client.post("/api/v1/products/import/", {"file": _xlsx(rows)}, format="multipart")
    assert preview.status_code == 200
    assert preview.json()["dry_run"] is True
    response = client.post(
        "/api/v1/products/import/", {"file": _xlsx(rows), "dry_run": "false"}, format="multipart"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["error"]["code"] == "catalog.import_rows_invalid"
    assert [(e["row"], e["field"]) for e in body["result"]["errors"]] == [
        (3, "name"),
        (3, "barcode"),
        (3, "price_yuan"),
    ]
    assert not Product.objects.filter(merchant=world_a.merchant).exists()


def test_import_of_a_non_workbook_is_a_clear_400(world_a: World) -> None:
    client = client_for(world_a.user("merchant_admin"))
    upload = SimpleUploadedFile("products.xlsx", b"definitely not excel")
    response = client.post(
        "/api/v1/products/import/", {"file": upload, "dry_run": "false"}, format="multipart"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "catalog.import_unreadable"


def test_import_needs_write_permission(world_a: World) -> None:
    client = client_for(world_a.user("store_manager"))
    response = client.post("/api/v1/products/import/", {"file": _xlsx([HEADER])}, format="multipart")
    assert response.status_code == 403


def test_export_is_the_callers_library_filtered_like_the_list(world_a: World, world_b: World) -> None:
    make_product(world_a.merchant, "A", name="Apple juice")
    make_product(world_a.merchant, "B", name="Bread")
    make_product(world_b.merchant, "C", name="Apple pie")
    make_product(None, "D", name="Apple platform")
    client = client_for(world_a.user("finance"))
    response = client.get("/api/v1/products/export/", {"search": "Apple"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)] == ["A"]
