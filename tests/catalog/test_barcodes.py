"""GS1 check digits on EAN-13, EAN-8 and UPC-A, and the exact errors people see."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from openvend.catalog.barcodes import barcode_kind, gs1_check_digit, validate_barcode


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    with translation.override("en"):
        yield


@pytest.mark.parametrize(
    ("code", "kind"),
    [("6901234567892", "EAN-13"), ("96385074", "EAN-8"), ("036000291452", "UPC-A")],
)
def test_valid_codes(code: str, kind: str) -> None:
    validate_barcode(code)
    assert barcode_kind(code) == kind
    assert gs1_check_digit(code[:-1]) == int(code[-1])


def test_blank_is_allowed() -> None:
    validate_barcode("")
    assert barcode_kind("") is None


@pytest.mark.parametrize(
    ("code", "expected"),
    [("6901234567893", 2), ("96385070", 4), ("036000291459", 2)],
)
def test_wrong_check_digit(code: str, expected: int) -> None:
    with pytest.raises(ValidationError) as caught:
        validate_barcode(code)
    assert caught.value.code == "barcode_check_digit"
    assert caught.value.messages == [
        f"Barcode {code} fails its check digit: the last digit should be {expected}."
    ]
    assert barcode_kind(code) is None


@pytest.mark.parametrize(
    "code", ["123", "1234567", "12345678901", "12345678901234", "69012345678A2", "9638 507"]
)
def test_wrong_length_or_not_digits(code: str) -> None:
    with pytest.raises(ValidationError) as caught:
        validate_barcode(code)
    assert caught.value.code == "barcode_format"
    assert caught.value.messages == [
        f"A barcode has 8 (EAN-8), 12 (UPC-A) or 13 (EAN-13) digits; got {code!r}."
    ]
    assert barcode_kind(code) is None
