"""Product-library rows for tests, made through the real services."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from openvend.catalog import library_services as library
from openvend.catalog.models import Product


def make_product(merchant: Any, sku: str, **fields: Any) -> Product:
    """A standard product in `merchant`'s library (None: the platform library)."""
    values: dict[str, Any] = {
        "name": f"Product {sku}",
        "unit_weight_g": Decimal("500.00"),
        "default_price_fen": 350,
    }
    values.update(fields)
    return library.product_create(actor=None, merchant=merchant, sku=sku, **values)
