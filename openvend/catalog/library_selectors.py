"""Reads for the product library (商品库): a caller's own library and the platform library.

Merchant staff read their merchant's rows through `restrict()`; the platform library
(rows with no merchant) is read here because `restrict()` shows a merchant only its own rows.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet

from openvend.catalog.models import Category, Manufacturer, Product, ProductApplication


def library_owner_id(user: Any) -> int | None:
    """Whose library a member of staff writes to: their merchant's, or the platform's (None)."""
    return None if getattr(user, "is_platform_user", False) else user.merchant_id


def library_q(merchant_id: int | None) -> Q:
    """Rows of one library: a merchant's, or the platform's when `merchant_id` is None."""
    return Q(merchant__isnull=True) if merchant_id is None else Q(merchant_id=merchant_id)


def library_products(merchant_id: int | None) -> QuerySet[Product]:
    """Every product in one library; `None` is the platform library."""
    return Product.objects.filter(library_q(merchant_id)).select_related("category", "manufacturer")


def library_categories(merchant_id: int | None) -> QuerySet[Category]:
    return Category.objects.filter(library_q(merchant_id))


def library_manufacturers(merchant_id: int | None) -> QuerySet[Manufacturer]:
    return Manufacturer.objects.filter(library_q(merchant_id))


def platform_library(user: Any) -> QuerySet[Product]:
    """The platform library as `user` may read it: anyone who may view products can browse it
    (to adopt from it), with `adopted` telling a merchant which rows it already holds a copy of."""
    if user is None or not user.is_authenticated or not user.has_perm("catalog.view_product"):
        return Product.objects.none()
    qs = library_products(None)
    if user.merchant_id is not None:
        copies = Product.objects.filter(merchant_id=user.merchant_id, source_id=OuterRef("pk"))
        qs = qs.annotate(adopted=Exists(copies))
    return qs.order_by("sku")


def platform_product(user: Any, pk: Any) -> Product:
    """One platform product `user` may read, or `Product.DoesNotExist`."""
    return platform_library(user).get(pk=pk)


def adoption_of(merchant_id: int, source: Product) -> Product | None:
    """The merchant's copy of a platform product, if it has adopted it."""
    return Product.objects.filter(library_q(merchant_id), source=source).first()


def visible_products(user: Any, action: str = "view") -> QuerySet[Product]:
    return Product.objects.restrict(user, action).select_related("category", "manufacturer")


def visible_applications(user: Any, action: str = "view") -> QuerySet[ProductApplication]:
    return ProductApplication.objects.restrict(user, action).select_related("merchant", "product")
