"""GS1 barcodes on retail packaging: EAN-13, EAN-8 and UPC-A, each ending in a mod-10 check digit."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

LENGTHS = {8: "EAN-8", 12: "UPC-A", 13: "EAN-13"}


def gs1_check_digit(body: str) -> int:
    """The check digit for `body` (all digits but the last): weights 3,1,3,… from the right."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def barcode_kind(code: str) -> str | None:
    """'EAN-13' / 'EAN-8' / 'UPC-A' for a valid code, None otherwise."""
    if not code.isdigit() or len(code) not in LENGTHS:
        return None
    if gs1_check_digit(code[:-1]) != int(code[-1]):
        return None
    return LENGTHS[len(code)]


def validate_barcode(code: str) -> None:
    if not code:
        return
    if not code.isdigit() or len(code) not in LENGTHS:
        raise ValidationError(
            _("A barcode has 8 (EAN-8), 12 (UPC-A) or 13 (EAN-13) digits; got %(value)r."),
            code="barcode_format",
            params={"value": code},
        )
    expected = gs1_check_digit(code[:-1])
    if expected != int(code[-1]):
        raise ValidationError(
            _("Barcode %(value)s fails its check digit: the last digit should be %(expected)s."),
            code="barcode_check_digit",
            params={"value": code, "expected": expected},
        )
