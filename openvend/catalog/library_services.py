"""Writes for the product library (商品库): products, categories and manufacturers in a merchant's
library or the platform's, and adoption of platform products. New-product applications (申请新品)
are in `application_services`; the Excel import in `imports`.

Merchant staff write to their own merchant's library; platform staff write to the platform
library (`merchant=None`). Every write is validated with `full_clean()` and audited.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from openvend.audit.services import audited_create, audited_delete, audited_update
from openvend.catalog.choices import ProductKind, ProductStatus
from openvend.catalog.errors import CatalogErrorCode
from openvend.catalog.library_selectors import adoption_of, library_q
from openvend.catalog.models import Category, Manufacturer, Product
from openvend.core.errors import ConflictError, OpenVendError

PRODUCT_FIELDS = (  # in the order forms and the API show them
    "sku",
    "name",
    "barcode",
    "category",
    "manufacturer",
    "specification",
    "unit",
    "image",
    "kind",
    "unit_weight_g",
    "unit_weight_sd_g",
    "shelf_life_days",
    "is_exception",
    "default_price_fen",
    "status",
)
CENTI = Decimal("0.01")
# What an adopted copy takes from its platform original (category and manufacturer are mapped).
ADOPTED_FIELDS = tuple(sorted(set(PRODUCT_FIELDS) - {"category", "manufacturer"}))
CATEGORY_FIELDS = frozenset({"name", "parent", "sort_order"})
MANUFACTURER_FIELDS = frozenset({"name", "contact", "phone"})


# ---------------------------------------------------------------------------------------------
# Guards and validation
# ---------------------------------------------------------------------------------------------


def only_fields(fields: Mapping[str, Any], allowed: Iterable[str]) -> dict[str, Any]:
    unknown = set(fields) - set(allowed)
    if unknown:
        raise TypeError(f"Unknown fields: {', '.join(sorted(unknown))}")
    return dict(fields)


def require_library(actor: Any, merchant_id: int | None) -> None:
    """Merchant staff write only to their merchant's library, platform staff only to the platform's.
    `actor=None` is the system (seeding, tests) and may write anywhere."""
    if actor is None:
        return
    if actor.merchant_id != merchant_id:
        raise PermissionDenied(
            _("Platform staff edit the platform library; merchant staff edit their own library.")
        )


def _errors_of(exc: ValidationError) -> dict[str, list[str]]:
    if hasattr(exc, "error_dict"):
        return {field: list(messages) for field, messages in exc.message_dict.items()}
    return {"__all__": list(exc.messages)}


def _merge(errors: dict[str, list[str]], more: Mapping[str, list[str]]) -> None:
    for field, messages in more.items():
        errors.setdefault(field, []).extend(m for m in messages if m not in errors.get(field, []))


def product_rule_errors(product: Product) -> dict[str, list[str]]:
    """The library's own rules beyond the model's field validation."""
    errors: dict[str, list[str]] = {}
    if (
        product.unit_weight_g is not None
        and product.unit_weight_g == 0
        and product.kind != ProductKind.BY_WEIGHT
    ):
        errors["unit_weight_g"] = [_("Only products sold by weight may have a unit weight of 0 g.")]
    for field in ("category", "manufacturer"):
        related = getattr(product, field)
        if related is not None and related.merchant_id != product.merchant_id:
            errors[field] = [_("Choose one from the same library as the product.")]
    sku_taken = (
        Product.objects.filter(library_q(product.merchant_id), sku=product.sku)
        .exclude(pk=product.pk)
        .exists()
    )
    if product.sku and sku_taken:
        errors["sku"] = [_("SKU %(sku)s is already in this library.") % {"sku": product.sku}]
    return errors


def product_errors(product: Product, exclude: Iterable[str] = ()) -> dict[str, list[str]]:
    """Every problem with `product` by field: the model's validation plus the library's rules.
    Uniqueness is checked by SKU here, so the model's constraints are not run twice."""
    errors: dict[str, list[str]] = {}
    try:
        product.full_clean(exclude=list(exclude), validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        _merge(errors, _errors_of(exc))
    _merge(errors, {k: v for k, v in product_rule_errors(product).items() if k not in set(exclude)})
    return errors


def validate_product(product: Product) -> None:
    errors = product_errors(product)
    if errors:
        raise ValidationError(errors)
    # Store what the database will hold (530.5 → 530.50), so audit before/after compare equal.
    for name in ("unit_weight_g", "unit_weight_sd_g"):
        setattr(product, name, Decimal(getattr(product, name)).quantize(CENTI))


# ---------------------------------------------------------------------------------------------
# Products
# ---------------------------------------------------------------------------------------------


def product_create(*, actor: Any, merchant: Any, **fields: Any) -> Product:
    """A new product in `merchant`'s library (`merchant=None`: the platform library)."""
    merchant_id = merchant.pk if merchant is not None else None
    require_library(actor, merchant_id)
    product = Product(merchant_id=merchant_id, **only_fields(fields, PRODUCT_FIELDS))
    validate_product(product)
    audited_create(actor=actor, instance=product)
    return product


def product_update(*, actor: Any, product: Product, data: Mapping[str, Any]) -> Product:
    require_library(actor, product.merchant_id)
    data = only_fields(data, PRODUCT_FIELDS)
    product.refresh_from_db()
    for field, value in data.items():
        setattr(product, field, value)
    validate_product(product)
    audited_update(actor=actor, instance=product, data=data)
    return product


def product_delete(*, actor: Any, product: Product) -> None:
    require_library(actor, product.merchant_id)
    audited_delete(actor=actor, instance=product)


@transaction.atomic
def products_set_status(*, actor: Any, products: Iterable[Product], status: str) -> int:
    """Put products on sale or take them off sale (上架/下架); returns how many changed."""
    if status not in ProductStatus.values:
        raise OpenVendError(
            CatalogErrorCode.INVALID,
            _("Unknown product status %(status)s.") % {"status": status},
            fields={"status": [_("Choose on_sale or off_sale.")]},
        )
    changed = 0
    for product in products:
        require_library(actor, product.merchant_id)
        if product.status != status:
            product_update(actor=actor, product=product, data={"status": status})
            changed += 1
    return changed


# ---------------------------------------------------------------------------------------------
# Categories and manufacturers
# ---------------------------------------------------------------------------------------------


def _category_check(category: Category) -> None:
    errors: dict[str, list[str]] = {}
    parent = category.parent
    if parent is not None:
        if parent.merchant_id != category.merchant_id:
            errors["parent"] = [_("Choose one from the same library as the category.")]
        node: Category | None = parent
        while node is not None:
            if category.pk is not None and node.pk == category.pk:
                errors["parent"] = [_("A category cannot sit under itself.")]
                break
            node = node.parent
    same_name = Category.objects.filter(
        library_q(category.merchant_id), parent_id=category.parent_id, name=category.name
    ).exclude(pk=category.pk)
    if same_name.exists():
        errors["name"] = [_("This level already has a category named %(name)s.") % {"name": category.name}]
    if errors:
        raise ValidationError(errors)


def category_create(*, actor: Any, merchant: Any, **fields: Any) -> Category:
    merchant_id = merchant.pk if merchant is not None else None
    require_library(actor, merchant_id)
    category = Category(merchant_id=merchant_id, **only_fields(fields, CATEGORY_FIELDS))
    _category_check(category)
    audited_create(actor=actor, instance=category)
    return category


def category_update(*, actor: Any, category: Category, data: Mapping[str, Any]) -> Category:
    require_library(actor, category.merchant_id)
    data = only_fields(data, CATEGORY_FIELDS)
    for field, value in data.items():
        setattr(category, field, value)
    _category_check(category)
    audited_update(actor=actor, instance=category, data=data)
    return category


def category_delete(*, actor: Any, category: Category) -> None:
    require_library(actor, category.merchant_id)
    audited_delete(actor=actor, instance=category)


def _manufacturer_check(manufacturer: Manufacturer) -> None:
    same_name = Manufacturer.objects.filter(
        library_q(manufacturer.merchant_id), name=manufacturer.name
    ).exclude(pk=manufacturer.pk)
    if same_name.exists():
        raise ValidationError(
            {
                "name": [
                    _("This library already has a manufacturer named %(name)s.") % {"name": manufacturer.name}
                ]
            }
        )


def manufacturer_create(*, actor: Any, merchant: Any, **fields: Any) -> Manufacturer:
    merchant_id = merchant.pk if merchant is not None else None
    require_library(actor, merchant_id)
    manufacturer = Manufacturer(merchant_id=merchant_id, **only_fields(fields, MANUFACTURER_FIELDS))
    _manufacturer_check(manufacturer)
    audited_create(actor=actor, instance=manufacturer)
    return manufacturer


def manufacturer_update(*, actor: Any, manufacturer: Manufacturer, data: Mapping[str, Any]) -> Manufacturer:
    require_library(actor, manufacturer.merchant_id)
    data = only_fields(data, MANUFACTURER_FIELDS)
    for field, value in data.items():
        setattr(manufacturer, field, value)
    _manufacturer_check(manufacturer)
    audited_update(actor=actor, instance=manufacturer, data=data)
    return manufacturer


def manufacturer_delete(*, actor: Any, manufacturer: Manufacturer) -> None:
    require_library(actor, manufacturer.merchant_id)
    audited_delete(actor=actor, instance=manufacturer)


def category_by_name(
    *, actor: Any, merchant_id: int | None, name: str, parent: Category | None = None
) -> Category:
    """The library's category called `name` (under `parent`), created (and audited) if missing."""
    found = Category.objects.filter(library_q(merchant_id), parent=parent, name=name).first()
    if found is not None:
        return found
    category = Category(merchant_id=merchant_id, parent=parent, name=name)
    audited_create(actor=actor, instance=category)
    return category


def manufacturer_by_name(*, actor: Any, merchant_id: int | None, name: str, **extra: Any) -> Manufacturer:
    found = Manufacturer.objects.filter(library_q(merchant_id), name=name).first()
    if found is not None:
        return found
    manufacturer = Manufacturer(merchant_id=merchant_id, name=name, **extra)
    audited_create(actor=actor, instance=manufacturer)
    return manufacturer


# ---------------------------------------------------------------------------------------------
# Adoption from the platform library
# ---------------------------------------------------------------------------------------------


def _mirror_category(actor: Any, merchant_id: int, category: Category | None) -> Category | None:
    """The merchant's category at the same path of names as a platform category."""
    if category is None:
        return None
    parent = _mirror_category(actor, merchant_id, category.parent)
    return category_by_name(actor=actor, merchant_id=merchant_id, name=category.name, parent=parent)


def adopt_into(actor: Any, merchant_id: int, source: Product) -> Product:
    """The adoption itself, for callers that have decided who may adopt (an approval adopts on
    the applicant's behalf). Run inside a transaction."""
    source = Product.objects.select_for_update().get(pk=source.pk)
    if not source.is_platform:
        raise OpenVendError(
            CatalogErrorCode.NOT_PLATFORM_PRODUCT,
            _("Only products from the platform library can be adopted."),
        )
    existing = adoption_of(merchant_id, source)
    if existing is not None:
        raise ConflictError(
            CatalogErrorCode.ALREADY_ADOPTED,
            _("%(product)s is already in your library as SKU %(sku)s.")
            % {"product": source.name, "sku": existing.sku},
        )
    if Product.objects.filter(library_q(merchant_id), sku=source.sku).exists():
        raise ConflictError(
            CatalogErrorCode.SKU_TAKEN,
            _("Your library already has a product with SKU %(sku)s.") % {"sku": source.sku},
            fields={"sku": [_("Already in your library.")]},
        )
    manufacturer = None
    if source.manufacturer is not None:
        origin = source.manufacturer
        manufacturer = manufacturer_by_name(
            actor=actor, merchant_id=merchant_id, name=origin.name, contact=origin.contact, phone=origin.phone
        )
    copy = Product(
        merchant_id=merchant_id,
        source=source,
        category=_mirror_category(actor, merchant_id, source.category),
        manufacturer=manufacturer,
        **{field: getattr(source, field) for field in ADOPTED_FIELDS},
    )
    validate_product(copy)
    audited_create(actor=actor, instance=copy)
    return copy


@transaction.atomic
def product_adopt(*, actor: Any, merchant: Any, source: Product) -> Product:
    """Copy a platform product into the merchant's library, linked to it by `source`."""
    require_library(actor, merchant.pk)
    return adopt_into(actor, merchant.pk, source)
