"""Excel import and export of the product library: round trip, dry-run preview, row errors,
all-or-nothing saving, and files that are not workbooks at all."""

from __future__ import annotations

import io
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.utils import translation
from openpyxl import Workbook, load_workbook

from openvend.audit.models import AuditLogEntry
from openvend.catalog import library_services as library
from openvend.catalog.choices import ProductKind, ProductStatus
from openvend.catalog.imports import COLUMNS, products_export, products_import
from openvend.catalog.models import Category, Product
from openvend.core.errors import OpenVendError
from tests.catalog.library_factories import make_product
from tests.world import World

pytestmark = pytest.mark.django_db

HEADER = list(COLUMNS)


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    with translation.override("en"):
        yield


def workbook(header: list[str], *rows: list[Any]) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def good_row(sku: str, **overrides: Any) -> list[Any]:
    values: dict[str, Any] = {
        "sku": sku,
        "name": f"Name {sku}",
        "barcode": "",
        "category": "Drinks",
        "manufacturer": "Maker",
        "specification": "500 ml",
        "unit": "瓶",
        "kind": "standard",
        "unit_weight_g": 500,
        "unit_weight_sd_g": 2.5,
        "shelf_life_days": 180,
        "is_exception": 0,
        "default_price_fen": 350,
        "status": "on_sale",
    }
    values.update(overrides)
    return [values[column] for column in HEADER]


def library_state(merchant: Any) -> list[tuple[Any, ...]]:
    return [
        (
            p.sku,
            p.name,
            p.barcode,
            p.category.name if p.category else None,
            p.manufacturer.name if p.manufacturer else None,
            p.specification,
            p.unit,
            p.kind,
            p.unit_weight_g,
            p.unit_weight_sd_g,
            p.shelf_life_days,
            p.is_exception,
            p.default_price_fen,
            p.status,
        )
        for p in Product.objects.filter(merchant=merchant)
        .select_related("category", "manufacturer")
        .order_by("sku")
    ]


def seed_library(world: World) -> None:
    drinks = library.category_create(actor=None, merchant=world.merchant, name="Drinks")
    fruit = library.category_create(actor=None, merchant=world.merchant, name="水果")
    maker = library.manufacturer_create(actor=None, merchant=world.merchant, name="Coca-Cola")
    make_product(
        world.merchant,
        "COLA",
        name="Cola 500ml",
        barcode="6901234567892",
        category=drinks,
        manufacturer=maker,
        specification="500 ml",
        unit="瓶",
        unit_weight_g=Decimal("530.25"),
        unit_weight_sd_g=Decimal("4.75"),
        shelf_life_days=365,
        default_price_fen=350,
    )
    make_product(
        world.merchant,
        "036",  # digits only: must survive Excel as text
        name="=SUM(A1)",  # looks like a formula: must stay a name
        barcode="036000291452",
        unit_weight_g=Decimal("12.00"),
        default_price_fen=0,
        status=ProductStatus.OFF_SALE,
        is_exception=True,
    )
    make_product(
        world.merchant,
        "APPLE",
        name="红富士苹果",
        barcode="96385074",
        category=fruit,
        kind=ProductKind.BY_WEIGHT,
        unit_weight_g=Decimal("0"),
        default_price_fen=1280,
        unit="kg",
    )


def test_round_trip_into_another_merchant(world_a: World, world_b: World) -> None:
    seed_library(world_a)
    exported = products_export(merchant=world_a.merchant)
    sheet = load_workbook(io.BytesIO(exported)).active
    assert [c.value for c in sheet[1]] == HEADER
    assert sheet["B2"].value == "=SUM(A1)" and sheet["B2"].data_type == "s"

    admin_b = world_b.user("merchant_admin")
    preview = products_import(actor=admin_b, merchant=world_b.merchant, file_bytes=exported, dry_run=True)
    assert preview.errors == []
    assert preview.totals == {"new": 3, "update": 0, "unchanged": 0, "invalid": 0, "rows": 3}
    assert [(r.row, r.sku, r.action) for r in preview.rows] == [
        (2, "036", "new"),
        (3, "APPLE", "new"),
        (4, "COLA", "new"),
    ]
    assert not Product.objects.filter(merchant=world_b.merchant).exists()
    assert not Category.objects.filter(merchant=world_b.merchant).exists()

    result = products_import(actor=admin_b, merchant=world_b.merchant, file_bytes=exported, dry_run=False)
    assert result.saved and result.errors == []
    assert library_state(world_b.merchant) == library_state(world_a.merchant)
    assert set(Category.objects.filter(merchant=world_b.merchant).values_list("name", flat=True)) == {
        "Drinks",
        "水果",
    }
    # One audit row per created product, with its after values.
    created = AuditLogEntry.objects.filter(
        action="create", object_type="catalog.product", merchant=world_b.merchant
    )
    assert created.count() == 3
    cola = Product.objects.get(merchant=world_b.merchant, sku="COLA")
    entry = created.get(object_id=str(cola.pk))
    assert (entry.actor_id, entry.message, entry.after["default_price_fen"]) == (
        admin_b.pk,
        "Excel import",
        350,
    )

    # Importing the same file again changes nothing and says so.
    again = products_import(actor=admin_b, merchant=world_b.merchant, file_bytes=exported, dry_run=False)
    assert again.totals == {"new": 0, "update": 0, "unchanged": 3, "invalid": 0, "rows": 3}
    assert AuditLogEntry.objects.filter(object_type="catalog.product", merchant=world_b.merchant).count() == 3


def test_update_by_sku_with_price_in_yuan_is_audited(world_a: World) -> None:
    admin = world_a.user("merchant_admin")
    product = make_product(world_a.merchant, "COLA", default_price_fen=300)
    header = ["sku", "name", "price_yuan", "unit_weight_g"]
    data = workbook(
        header, ["COLA", "Cola", "3.50", 500], ["NEW", "New one", 0.1, 20], ["NEW2", "Two", "12", 1]
    )
    result = products_import(actor=admin, merchant=world_a.merchant, file_bytes=data, dry_run=False)
    assert result.errors == [] and result.saved
    assert [(r.sku, r.action) for r in result.rows] == [("COLA", "update"), ("NEW", "new"), ("NEW2", "new")]
    prices = dict(Product.objects.filter(merchant=world_a.merchant).values_list("sku", "default_price_fen"))
    assert prices == {"COLA": 350, "NEW": 10, "NEW2": 1200}
    entry = AuditLogEntry.objects.filter(action="update", object_id=str(product.pk)).latest("id")
    assert (entry.before["default_price_fen"], entry.after["default_price_fen"]) == (300, 350)
    assert (entry.before["name"], entry.after["name"]) == ("Product COLA", "Cola")


def test_blank_price_yuan_keeps_the_price_when_the_sheet_has_no_fen_column(world_a: World) -> None:
    admin = world_a.user("merchant_admin")
    cola = make_product(world_a.merchant, "COLA", default_price_fen=300)
    tea = make_product(world_a.merchant, "TEA", default_price_fen=450)
    header = ["sku", "name", "price_yuan", "unit_weight_g"]
    data = workbook(header, ["COLA", "Cola", None, 500], ["TEA", "Tea", "   ", 250])
    result = products_import(actor=admin, merchant=world_a.merchant, file_bytes=data, dry_run=False)
    assert (result.errors, result.saved) == ([], True)
    assert [(r.sku, r.action) for r in result.rows] == [("COLA", "update"), ("TEA", "update")]
    rows = Product.objects.filter(merchant=world_a.merchant).order_by("sku")
    assert list(rows.values_list("sku", "name", "default_price_fen", "unit_weight_g")) == [
        ("COLA", "Cola", 300, Decimal("500.00")),
        ("TEA", "Tea", 450, Decimal("250.00")),
    ]
    entry = AuditLogEntry.objects.filter(action="update", object_id=str(cola.pk)).latest("id")
    before, after = entry.before or {}, entry.after or {}
    assert (before["name"], after["name"]) == ("Product COLA", "Cola")
    assert before["default_price_fen"] == after["default_price_fen"] == 300
    assert AuditLogEntry.objects.filter(action="update", object_id=str(tea.pk)).count() == 1


def test_price_yuan_must_be_whole_fen_and_agree(world_a: World) -> None:
    header = ["sku", "name", "unit_weight_g", "default_price_fen", "price_yuan"]
    data = workbook(
        header, ["A", "A", 1, None, "3.505"], ["B", "B", 1, 350, "3.40"], ["C", "C", 1, 3.5, None]
    )
    result = products_import(actor=None, merchant=world_a.merchant, file_bytes=data, dry_run=True)
    assert [(e.row, e.field, e.message) for e in result.errors] == [
        (2, "price_yuan", "A price in yuan has at most two decimals (whole fen)."),
        (3, "default_price_fen", "default_price_fen and price_yuan disagree; give the price once."),
        (4, "default_price_fen", "Enter a whole number of fen, e.g. 350 for ¥3.50."),
    ]


MALFORMED_ROWS = {
    3: {"barcode": "6901234567893"},
    5: {"default_price_fen": -100},
    7: {"name": ""},
    8: {"kind": "by_volume"},
}


def malformed_workbook() -> bytes:
    rows = []
    for sheet_row in range(2, 10):
        rows.append(good_row(f"SKU-{sheet_row}", **MALFORMED_ROWS.get(sheet_row, {})))
    return workbook(HEADER, *rows)


def test_malformed_workbook_names_rows_and_fields_and_saves_nothing(world_a: World) -> None:
    make_product(world_a.merchant, "SKU-2", default_price_fen=1)  # would be updated by a good import
    admin = world_a.user("merchant_admin")
    before_products, before_audit = library_state(world_a.merchant), AuditLogEntry.objects.count()
    before_categories = Category.objects.count()
    data = malformed_workbook()
    for dry_run in (True, False):
        result = products_import(actor=admin, merchant=world_a.merchant, file_bytes=data, dry_run=dry_run)
        assert not result.saved
        assert [(e.row, e.field, e.message) for e in result.errors] == [
            (3, "barcode", "Barcode 6901234567893 fails its check digit: the last digit should be 2."),
            (5, "default_price_fen", "Ensure this value is greater than or equal to 0."),
            (7, "name", "This field cannot be blank."),
            (8, "kind", "Value 'by_volume' is not a valid choice."),
        ]
        assert result.totals == {"new": 3, "update": 1, "unchanged": 0, "invalid": 4, "rows": 8}
        assert [r.action for r in result.rows] == [
            "update",
            "invalid",
            "new",
            "invalid",
            "new",
            "invalid",
            "invalid",
            "new",
        ]
        assert library_state(world_a.merchant) == before_products
        assert AuditLogEntry.objects.count() == before_audit
        assert Category.objects.count() == before_categories


def test_duplicate_skus_and_unknown_values_are_row_errors(world_a: World) -> None:
    data = workbook(
        HEADER,
        good_row("DUP"),
        good_row("OK", is_exception="maybe", shelf_life_days="ten", unit_weight_g="heavy"),
        good_row("DUP"),
        good_row("ZERO", unit_weight_g=0),
    )
    result = products_import(actor=None, merchant=world_a.merchant, file_bytes=data, dry_run=True)
    assert [(e.row, e.field) for e in result.errors] == [
        (2, "sku"),
        (3, "unit_weight_g"),
        (3, "shelf_life_days"),
        (3, "is_exception"),
        (4, "sku"),
        (5, "unit_weight_g"),
    ]
    assert result.errors[0].message == "SKU DUP appears more than once (rows 2, 4)."
    assert result.errors[-1].message == "Only products sold by weight may have a unit weight of 0 g."


def test_blank_rows_are_skipped_and_row_numbers_stay_true(world_a: World) -> None:
    data = workbook(HEADER, good_row("A"), [None] * len(HEADER), good_row("B", barcode="123"))
    result = products_import(actor=None, merchant=world_a.merchant, file_bytes=data, dry_run=True)
    assert [(r.row, r.sku) for r in result.rows] == [(2, "A"), (4, "B")]
    assert [(e.row, e.field) for e in result.errors] == [(4, "barcode")]


@pytest.mark.parametrize(
    ("payload", "file_format"),
    [
        (b"this is not a workbook", "xlsx"),
        (b"PK\x03\x04broken zip", "xlsx"),
        (b"%PDF-1.4", "xlsx"),
        (b"", "xlsx"),
    ],
)
def test_not_an_excel_file_is_a_clear_error(world_a: World, payload: bytes, file_format: str) -> None:
    count = Product.objects.count()
    with pytest.raises(OpenVendError) as caught:
        products_import(actor=None, merchant=world_a.merchant, file_bytes=payload, file_format=file_format)
    assert caught.value.code == "catalog.import_unreadable"
    assert caught.value.message == (
        "The file is not an Excel workbook (.xlsx). Save it from Excel as .xlsx and try again."
    )
    assert Product.objects.count() == count


def test_sheet_without_sku_column_is_refused(world_a: World) -> None:
    with pytest.raises(OpenVendError) as caught:
        products_import(actor=None, merchant=world_a.merchant, file_bytes=workbook(["name"], ["x"]))
    assert caught.value.code == "catalog.import_unreadable"


def test_import_writes_only_the_callers_library(world_a: World, world_b: World) -> None:
    theirs = make_product(world_b.merchant, "SAME", default_price_fen=100)
    data = workbook(HEADER, good_row("SAME", default_price_fen=999))
    result = products_import(
        actor=world_a.user("merchant_admin"), merchant=world_a.merchant, file_bytes=data, dry_run=False
    )
    assert [r.action for r in result.rows] == ["new"]
    theirs.refresh_from_db()
    assert theirs.default_price_fen == 100
    assert Product.objects.get(merchant=world_a.merchant, sku="SAME").default_price_fen == 999
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        products_import(actor=world_a.user("merchant_admin"), merchant=world_b.merchant, file_bytes=data)


def test_blank_cells_keep_what_an_existing_product_has(world_a: World) -> None:
    merchant = world_a.merchant
    products_import(
        actor=None,
        merchant=merchant,
        file_bytes=workbook(
            HEADER, good_row("B-1", status="off_sale", kind="by_weight", default_price_fen=990)
        ),
        dry_run=False,
    )
    blank = good_row("B-1", status="", kind="", default_price_fen="", name="Renamed")
    result = products_import(actor=None, merchant=merchant, file_bytes=workbook(HEADER, blank), dry_run=False)
    assert result.saved
    product = Product.objects.get(merchant=merchant, sku="B-1")
    assert (product.name, product.status, product.kind, product.default_price_fen) == (
        "Renamed",
        ProductStatus.OFF_SALE,
        ProductKind.BY_WEIGHT,
        990,
    )


def test_row_errors_speak_the_language_of_the_request(world_a: World) -> None:
    bad = workbook(HEADER, good_row("L-1", default_price_fen="3.5"))
    messages = {}
    for language in ("en", "zh-hans"):
        with translation.override(language):
            result = products_import(actor=None, merchant=world_a.merchant, file_bytes=bad)
            messages[language] = [(problem.row, problem.field, problem.message) for problem in result.errors]
    assert messages["en"] == [(2, "default_price_fen", "Enter a whole number of fen, e.g. 350 for ¥3.50.")]
    assert messages["zh-hans"] == [(2, "default_price_fen", "请输入整数分值，如 ¥3.50 填 350。")]
