"""Cells of a product workbook and the import-export widgets that read them strictly: a cell that
cannot mean exactly one value (3.5 in a fen column, "maybe" in a yes/no column) is a row error."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from import_export import fields, widgets

from openvend.catalog.library_selectors import library_q
from openvend.catalog.models import Category, Manufacturer

PRICE_YUAN = "price_yuan"
_INTEGER = re.compile(r"^[+-]?\d+$")


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def cell_text(value: Any) -> str:
    """A cell as text. Excel turns typed digits (SKUs, barcodes) into numbers: 1001.0 reads '1001'."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise InvalidOperation
    # repr() of a float is its shortest exact spelling: 3.3 stays 3.3, not 3.2999…
    return Decimal(repr(value) if isinstance(value, float) else str(value).strip())


def yuan_to_fen(value: Any) -> int:
    """'3.50' yuan → 350 fen, exactly; a third decimal (3.505) is refused rather than rounded."""
    try:
        fen = _decimal(value) * 100
    except InvalidOperation as exc:
        raise ValueError(_("Enter a price in yuan, e.g. 3.50.")) from exc
    if fen != fen.to_integral_value():
        raise ValueError(_("A price in yuan has at most two decimals (whole fen)."))
    return int(fen)


class TextWidget(widgets.CharWidget):
    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> str:
        return cell_text(value)


class ChoiceWidget(TextWidget):
    """A choice column (kind, status); a blank cell takes the default, an unknown value is refused
    by the model's own choice validation."""

    def __init__(self, default: str) -> None:
        super().__init__()
        self.default = default

    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> str:
        return cell_text(value) or self.default


class WholeNumberWidget(widgets.IntegerWidget):
    """Integers only: 3.5 in a fen or days column is an error, not 3."""

    def __init__(self, message: Any, default: int | None = None) -> None:
        super().__init__(coerce_to_string=False)
        self.message = message
        self.default = default

    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> int | None:
        if is_blank(value):
            return self.default
        if isinstance(value, bool):
            raise ValueError(str(self.message))
        if isinstance(value, int):
            return value
        text = cell_text(value)
        if not _INTEGER.match(text):
            raise ValueError(str(self.message))
        return int(text)


class GramsWidget(widgets.DecimalWidget):
    def __init__(self, default: Decimal | None = None) -> None:
        super().__init__(coerce_to_string=False)
        self.default = default

    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> Decimal | None:
        if is_blank(value):
            return self.default
        try:
            return _decimal(value)
        except InvalidOperation as exc:
            raise ValueError(_("Enter a weight in grams, e.g. 12.5.")) from exc


class YesNoWidget(widgets.BooleanWidget):
    TRUE = {"1", "true", "yes", "y", "是"}
    FALSE = {"0", "false", "no", "n", "否", ""}

    def __init__(self) -> None:
        super().__init__(coerce_to_string=False)

    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> bool:
        if isinstance(value, bool):
            return value
        text = cell_text(value).lower()
        if text in self.TRUE:
            return True
        if text in self.FALSE:
            return False
        raise ValueError(_("Enter 1 (yes) or 0 (no)."))

    def render(self, value: Any, obj: Any = None, **kwargs: Any) -> int:
        return 1 if value else 0


class LibraryNameWidget(widgets.ForeignKeyWidget):
    """A category or manufacturer named in the caller's library; created (audited) if missing."""

    def __init__(self, model: type[Category] | type[Manufacturer]) -> None:
        super().__init__(model, field="name")
        self.merchant_id: int | None = None
        self.actor: Any = None

    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> Any:
        from openvend.catalog import library_services

        name = cell_text(value)
        if not name:
            return None
        found = list(self.model.objects.filter(library_q(self.merchant_id), name=name)[:5])
        if len(found) > 1:
            top = [obj for obj in found if getattr(obj, "parent_id", None) is None]
            if len(top) != 1:
                raise ValueError(_("Several categories are called %(name)s; rename one.") % {"name": name})
            return top[0]
        if found:
            return found[0]
        create = (
            library_services.category_by_name
            if self.model is Category
            else library_services.manufacturer_by_name
        )
        try:
            return create(actor=self.actor, merchant_id=self.merchant_id, name=name)
        except ValidationError as exc:
            raise ValueError(" ".join(exc.messages)) from exc


class PriceField(fields.Field):
    """`default_price_fen` (integer fen), or failing that `price_yuan` ('3.50' → 350 fen)."""

    def clean(self, row: Any, **kwargs: Any) -> int | None:
        fen_cell, yuan_cell = row.get(self.column_name), row.get(PRICE_YUAN)
        if is_blank(fen_cell):
            return None if is_blank(yuan_cell) else yuan_to_fen(yuan_cell)
        fen = self.widget.clean(fen_cell, row=row, **kwargs)
        if not is_blank(yuan_cell) and yuan_to_fen(yuan_cell) != fen:
            raise ValueError(_("default_price_fen and price_yuan disagree; give the price once."))
        return int(fen)
