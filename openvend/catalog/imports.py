"""Excel import and export of a product library with django-import-export.

One workbook layout both ways: the export of a library imports unchanged into another one.
Rows are matched by SKU within the caller's library. Row numbers in errors are the
spreadsheet's own (the header is row 1, the first product row 2), so people can find them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

import tablib
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from import_export import fields, resources, widgets
from import_export.results import Result, RowResult

from openvend.audit.choices import AuditAction
from openvend.audit.services import audit_record, snapshot
from openvend.catalog.choices import ProductKind, ProductStatus
from openvend.catalog.import_files import (
    COLUMNS,
    Table,
    read_table,
    write_xlsx,
)
from openvend.catalog.import_widgets import (
    PRICE_YUAN,
    ChoiceWidget,
    GramsWidget,
    LibraryNameWidget,
    PriceField,
    TextWidget,
    WholeNumberWidget,
    YesNoWidget,
    cell_text,
    is_blank,
)
from openvend.catalog.library_selectors import library_q
from openvend.catalog.models import Category, Manufacturer, Product

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# ---------------------------------------------------------------------------------------------
# The resource
# ---------------------------------------------------------------------------------------------


def _field(name: str, widget: widgets.Widget) -> fields.Field:
    return fields.Field(attribute=name, column_name=name, widget=widget)


class ProductResource(resources.ModelResource):
    """Products of one library (`merchant_id`, None for the platform's), written as `actor`.
    Each created or updated product gets its own audit row with before/after, so a product's
    history shows the import like any other change."""

    sku = _field("sku", TextWidget())
    name = _field("name", TextWidget())
    barcode = _field("barcode", TextWidget())
    category = _field("category", LibraryNameWidget(Category))
    manufacturer = _field("manufacturer", LibraryNameWidget(Manufacturer))
    specification = _field("specification", TextWidget())
    unit = _field("unit", ChoiceWidget("件"))
    kind = _field("kind", ChoiceWidget(ProductKind.STANDARD))
    unit_weight_g = _field("unit_weight_g", GramsWidget())
    unit_weight_sd_g = _field("unit_weight_sd_g", GramsWidget(default=Decimal(0)))
    shelf_life_days = _field(
        "shelf_life_days", WholeNumberWidget(gettext_lazy("Enter a whole number of days."))
    )
    is_exception = _field("is_exception", YesNoWidget())
    default_price_fen = PriceField(
        attribute="default_price_fen",
        column_name="default_price_fen",
        widget=WholeNumberWidget(gettext_lazy("Enter a whole number of fen, e.g. 350 for ¥3.50.")),
    )
    status = _field("status", ChoiceWidget(ProductStatus.ON_SALE))

    class Meta:
        model = Product
        fields = COLUMNS
        import_order = COLUMNS
        export_order = COLUMNS
        import_id_fields = ("sku",)
        skip_unchanged = True
        report_skipped = True
        skip_html_diff = True
        use_transactions = True
        clean_model_instances = True

    def __init__(self, *, actor: Any, merchant_id: int | None, sheet_rows: list[int] | None = None) -> None:
        super().__init__()
        self.actor = actor
        self.merchant_id = merchant_id
        self.sheet_rows = sheet_rows or []
        self.duplicates: dict[str, list[int]] = {}
        self._before: dict[int, dict[str, Any]] = {}
        for name in ("category", "manufacturer"):
            widget = self.fields[name].widget
            widget.merchant_id, widget.actor = merchant_id, actor

    def sheet_row(self, number: int) -> int:
        """import-export's 1-based data row → the spreadsheet row."""
        return self.sheet_rows[number - 1] if 0 < number <= len(self.sheet_rows) else number + 1

    def get_queryset(self) -> QuerySet[Product]:
        return Product.objects.filter(library_q(self.merchant_id))

    def init_instance(self, row: Any = None) -> Product:
        return Product(merchant_id=self.merchant_id)

    def import_field(self, field: Any, instance: Any, row: Any, is_m2m: bool = False, **kwargs: Any) -> None:
        # The price may come from either of two columns; the others from their own.
        columns = [field.column_name, PRICE_YUAN] if isinstance(field, PriceField) else [field.column_name]
        given = [column for column in columns if column in row]
        if not given:
            return  # the file does not have this field at all: leave it alone
        if instance.pk is not None and all(is_blank(row[column]) for column in given):
            # Updating a product: blank cells keep what the library has (a blank status must not
            # put an off-sale product back on sale, a blank kind must not make it standard, a
            # blank price — in whichever price columns the sheet has — must not erase the price).
            return
        if isinstance(field, PriceField):
            field.save(instance, row, is_m2m, **kwargs)
            return
        super().import_field(field, instance, row, is_m2m, **kwargs)

    def before_import(self, dataset: tablib.Dataset, **kwargs: Any) -> None:
        if "sku" not in (dataset.headers or []):
            raise ValueError(_("The sheet has no sku column."))
        where: dict[str, list[int]] = {}
        for number, value in enumerate(dataset["sku"], 1):
            sku = cell_text(value)
            if sku:
                where.setdefault(sku, []).append(self.sheet_row(number))
        self.duplicates = {sku: rows for sku, rows in where.items() if len(rows) > 1}

    def before_import_row(self, row: Any, **kwargs: Any) -> None:
        sku = cell_text(row.get("sku"))
        if sku in self.duplicates:
            rows = ", ".join(str(n) for n in self.duplicates[sku])
            raise ValidationError(
                {
                    "sku": [
                        _("SKU %(sku)s appears more than once (rows %(rows)s).") % {"sku": sku, "rows": rows}
                    ]
                }
            )

    def validate_instance(
        self, instance: Product, import_validation_errors: Any = None, validate_unique: bool = True
    ) -> None:
        from openvend.catalog.library_services import product_errors

        errors: dict[str, list[str]] = {}
        if import_validation_errors:
            errors = {k: list(v) for k, v in ValidationError(import_validation_errors).message_dict.items()}
        for name, messages in product_errors(instance, exclude=errors.keys()).items():
            errors.setdefault(name, []).extend(messages)
        if errors:
            raise ValidationError(errors)

    def before_save_instance(self, instance: Product, row: Any, **kwargs: Any) -> None:
        if instance.pk is not None:
            self._before[instance.pk] = snapshot(Product.objects.get(pk=instance.pk))

    def after_save_instance(self, instance: Product, row: Any, **kwargs: Any) -> None:
        before = self._before.pop(instance.pk, None)
        audit_record(
            actor=self.actor,
            action=AuditAction.CREATE if before is None else AuditAction.UPDATE,
            instance=instance,
            before=before,
            after=snapshot(instance),
            merchant_id=self.merchant_id,
            message="Excel import",
        )


# ---------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportRow:
    row: int
    sku: str
    name: str
    action: str  # new | update | unchanged | invalid


@dataclass(frozen=True)
class ImportProblem:
    row: int  # 0: the whole file
    field: str  # a column name; "" for the whole row
    message: str


@dataclass
class ProductImportResult:
    dry_run: bool
    saved: bool
    totals: dict[str, int] = field(default_factory=dict)
    rows: list[ImportRow] = field(default_factory=list)
    errors: list[ImportProblem] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def has_errors(self) -> bool:
        return bool(self.errors)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "has_errors": self.has_errors}


ACTIONS = {
    RowResult.IMPORT_TYPE_NEW: "new",
    RowResult.IMPORT_TYPE_UPDATE: "update",
    RowResult.IMPORT_TYPE_SKIP: "unchanged",
    RowResult.IMPORT_TYPE_INVALID: "invalid",
    RowResult.IMPORT_TYPE_ERROR: "invalid",
}


def _column_for(name: str, row: dict[str, Any]) -> str:
    if name == NON_FIELD_ERRORS:
        return ""
    if name == "default_price_fen" and is_blank(row.get(name)) and not is_blank(row.get(PRICE_YUAN)):
        return PRICE_YUAN
    return name


def summarise(
    result: Result, resource: ProductResource, table: Table, *, dry_run: bool, saved: bool
) -> ProductImportResult:
    data = [dict(zip(table.dataset.headers, values, strict=False)) for values in table.dataset]
    summary = ProductImportResult(dry_run=dry_run, saved=saved, ignored_columns=table.ignored_columns)
    for number, row_result in enumerate(result.rows, 1):
        row = data[number - 1]
        summary.rows.append(
            ImportRow(
                row=resource.sheet_row(number),
                sku=cell_text(row.get("sku")),
                name=cell_text(row.get("name")),
                action=ACTIONS.get(row_result.import_type, row_result.import_type),
            )
        )
    order = {name: i for i, name in enumerate((*COLUMNS, PRICE_YUAN))}
    for invalid in result.invalid_rows:
        row = data[invalid.number - 1]
        found = sorted(invalid.error_dict.items(), key=lambda item: order.get(item[0], -1))
        for name, messages in found:
            for message in messages:
                summary.errors.append(
                    ImportProblem(resource.sheet_row(invalid.number), _column_for(name, row), message)
                )
    for error_row in result.error_rows:
        for error in error_row.errors:
            summary.errors.append(ImportProblem(resource.sheet_row(error_row.number), "", str(error.error)))
    for error in result.base_errors:
        summary.errors.append(ImportProblem(0, "", str(error.error)))
    summary.errors.sort(key=lambda e: (e.row, order.get(e.field, -1)))
    counted = Counter(r.action for r in summary.rows)
    summary.totals = {name: counted.get(name, 0) for name in ("new", "update", "unchanged", "invalid")}
    summary.totals["rows"] = len(summary.rows)
    return summary


# ---------------------------------------------------------------------------------------------
# Services: what the consoles and the API call
# ---------------------------------------------------------------------------------------------


def products_import(
    *, actor: Any, merchant: Any, file_bytes: bytes, file_format: str = "xlsx", dry_run: bool = True
) -> ProductImportResult:
    """Import products into `merchant`'s library (None: the platform's), matched by SKU.

    A dry run reports what each row would do (new / update / unchanged) and every row error.
    A real run is all or nothing: if any row is bad, nothing is saved and `saved` is False."""
    from openvend.catalog.library_services import require_library

    merchant_id = merchant.pk if merchant is not None else None
    require_library(actor, merchant_id)
    table = read_table(file_bytes, file_format)
    resource = ProductResource(actor=actor, merchant_id=merchant_id, sheet_rows=table.sheet_rows)
    with transaction.atomic():
        result = resource.import_data(
            table.dataset,
            dry_run=dry_run,
            raise_errors=False,
            use_transactions=True,
            collect_failed_rows=True,
            rollback_on_validation_errors=True,
        )
        bad = result.has_errors() or result.has_validation_errors()
        if dry_run or bad:
            transaction.set_rollback(True)
    return summarise(result, resource, table, dry_run=dry_run, saved=not (dry_run or bad))


def products_export(*, merchant: Any, queryset: QuerySet[Product] | None = None) -> bytes:
    """The library (or the given part of it) as a workbook in the import layout."""
    merchant_id = merchant.pk if merchant is not None else None
    products = Product.objects.filter(library_q(merchant_id))
    if queryset is not None:
        products = products.filter(pk__in=queryset.values("pk"))
    resource = ProductResource(actor=None, merchant_id=merchant_id)
    dataset = resource.export(products.select_related("category", "manufacturer").order_by("sku"))
    return write_xlsx(dataset, title="products")
