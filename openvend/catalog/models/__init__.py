from openvend.catalog.models.library import (
    CatalogSettings,
    Category,
    Manufacturer,
    Product,
    ProductApplication,
)
from openvend.catalog.models.pricing import PriceRule
from openvend.catalog.models.selling import ProductTemplate, SellableItem, TemplateItem

__all__ = [
    "CatalogSettings",
    "Category",
    "Manufacturer",
    "PriceRule",
    "Product",
    "ProductApplication",
    "ProductTemplate",
    "SellableItem",
    "TemplateItem",
]
