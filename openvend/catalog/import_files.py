"""Reading an uploaded product sheet (.xlsx or .csv) into rows, and writing a workbook: the file
side of the product import and export, kept apart from the import rules in `imports.py`."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

import tablib
from django.utils.translation import gettext as _
from openpyxl import Workbook, load_workbook

from openvend.catalog.errors import CatalogErrorCode
from openvend.catalog.import_widgets import PRICE_YUAN, cell_text, is_blank
from openvend.core.errors import OpenVendError

MAX_ROWS = 5000
# The workbook layout, both ways: an export imports unchanged into another library.
COLUMNS = (
    "sku",
    "name",
    "barcode",
    "category",
    "manufacturer",
    "specification",
    "unit",
    "kind",
    "unit_weight_g",
    "unit_weight_sd_g",
    "shelf_life_days",
    "is_exception",
    "default_price_fen",
    "status",
)


@dataclass(frozen=True)
class Table:
    dataset: tablib.Dataset
    sheet_rows: list[int]  # the spreadsheet row of each dataset row
    ignored_columns: list[str]


def _unreadable(file_format: str) -> OpenVendError:
    if file_format == "csv":
        return OpenVendError(CatalogErrorCode.IMPORT_UNREADABLE, _("The file is not a readable CSV file."))
    return OpenVendError(
        CatalogErrorCode.IMPORT_UNREADABLE,
        _("The file is not an Excel workbook (.xlsx). Save it from Excel as .xlsx and try again."),
    )


def _raw_rows(file_bytes: bytes, file_format: str) -> list[tuple[Any, ...]]:
    if file_format == "csv":
        try:
            text = file_bytes.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise _unreadable(file_format) from exc
        return [tuple(r) for r in csv.reader(io.StringIO(text))]
    try:
        book = load_workbook(io.BytesIO(file_bytes), read_only=True, data_only=True)
        sheet = book.worksheets[0]
        rows = [tuple(r) for r in sheet.iter_rows(values_only=True, max_row=MAX_ROWS + 50)]
        too_many = (sheet.max_row or 0) > MAX_ROWS + 50
        book.close()
    except Exception as exc:  # openpyxl raises zipfile, KeyError, InvalidFileException… on non-workbooks
        raise _unreadable(file_format) from exc
    if too_many:
        raise _too_large()
    return rows


def _too_large() -> OpenVendError:
    return OpenVendError(
        CatalogErrorCode.IMPORT_TOO_LARGE,
        _("A workbook may hold at most %(max)d products; split it.") % {"max": MAX_ROWS},
    )


def read_table(file_bytes: bytes, file_format: str = "xlsx") -> Table:
    """The first sheet as a dataset of known columns; blank rows are dropped, row numbers kept."""
    if file_format not in ("xlsx", "csv"):
        raise OpenVendError(CatalogErrorCode.IMPORT_UNREADABLE, _("Upload an .xlsx or .csv file."))
    raw = _raw_rows(file_bytes, file_format)
    if not raw:
        raise OpenVendError(CatalogErrorCode.IMPORT_UNREADABLE, _("The sheet is empty."))
    headers = [cell_text(h).lower() for h in raw[0]]
    known = set(COLUMNS) | {PRICE_YUAN}
    keep = [i for i, h in enumerate(headers) if h in known]
    ignored = [h for h in headers if h and h not in known]
    if "sku" not in headers:
        raise OpenVendError(
            CatalogErrorCode.IMPORT_UNREADABLE,
            _("The first row must name the columns, including sku; see an exported workbook."),
        )
    if len({headers[i] for i in keep}) != len(keep):
        raise OpenVendError(CatalogErrorCode.IMPORT_UNREADABLE, _("A column name appears twice."))
    dataset = tablib.Dataset(headers=[headers[i] for i in keep])
    sheet_rows: list[int] = []
    for number, values in enumerate(raw[1:], 2):
        cells = [values[i] if i < len(values) else None for i in keep]
        if all(is_blank(c) for c in cells):
            continue
        dataset.append(cells)
        sheet_rows.append(number)
    if len(dataset) > MAX_ROWS:
        raise _too_large()
    return Table(dataset=dataset, sheet_rows=sheet_rows, ignored_columns=ignored)


def write_xlsx(dataset: tablib.Dataset, title: str) -> bytes:
    """Text cells are written as text, never as formulas: a name like '=1+1' stays a name."""
    book = Workbook()
    sheet = book.active
    sheet.title = title[:31]
    sheet.append(list(dataset.headers or []))
    for values in dataset:
        sheet.append(list(values))
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            if isinstance(cell.value, str):
                cell.data_type = "s"
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
