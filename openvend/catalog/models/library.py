"""The product library (商品库): the platform's shared library and each merchant's own.

A row with no merchant belongs to the platform library. Merchants read the platform library to
adopt products (a copy lands in their own library, linked by `source`) and apply for new ones
(申请新品), which the platform reviews.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from openvend.catalog.barcodes import validate_barcode
from openvend.catalog.choices import ApplicationStatus, ProductKind, ProductStatus
from openvend.core.models import RestrictedQuerySet, TenantModel
from openvend.core.scope import DataScope


class LibraryModel(models.Model):
    """Owned by one merchant, or by the platform when `merchant` is empty.

    `restrict()` shows a merchant its own rows; the platform library is read through
    `catalog.selectors.platform_library()`. Catalog rows are merchant-wide: every data scope
    sees them (a replenisher scoped to one site still needs to know what a product is)."""

    merchant = models.ForeignKey(
        "merchants.Merchant",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("merchant"),
        help_text=_("Empty for the platform library."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects: ClassVar[Any] = RestrictedQuerySet.as_manager()

    class Meta:
        abstract = True

    @classmethod
    def tenant_q(cls, merchant_id: int) -> Q:
        return Q(merchant_id=merchant_id)

    @classmethod
    def scope_q(cls, scope: DataScope) -> Q:
        return Q()

    @property
    def is_platform(self) -> bool:
        return self.merchant_id is None  # type: ignore[attr-defined]


class Category(LibraryModel):
    name = models.CharField(_("name"), max_length=60)
    parent = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
        verbose_name=_("parent category"),
    )
    sort_order = models.PositiveIntegerField(_("sort order"), default=0)

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ["sort_order", "name"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "parent", "name"], name="category_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name


class Manufacturer(LibraryModel):
    """Where products come from (厂商管理), so a replenisher can find the supplier quickly."""

    name = models.CharField(_("name"), max_length=100)
    contact = models.CharField(_("contact"), max_length=100, blank=True)
    phone = models.CharField(_("phone"), max_length=30, blank=True)

    class Meta:
        verbose_name = _("manufacturer")
        verbose_name_plural = _("manufacturers")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "name"], name="manufacturer_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name


class Product(LibraryModel):
    sku = models.CharField(_("SKU"), max_length=40)
    name = models.CharField(_("name"), max_length=120)
    barcode = models.CharField(
        _("barcode"),
        max_length=14,
        blank=True,
        validators=[validate_barcode],
        help_text=_("EAN-13, EAN-8 or UPC-A"),
    )
    category = models.ForeignKey(
        Category,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="products",
        verbose_name=_("category"),
    )
    manufacturer = models.ForeignKey(
        Manufacturer,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="products",
        verbose_name=_("manufacturer"),
    )
    specification = models.CharField(
        _("specification"), max_length=60, blank=True, help_text=_("e.g. 500 ml")
    )
    unit = models.CharField(_("unit"), max_length=10, default="件")
    image = models.ImageField(_("image"), upload_to="products/", blank=True)
    kind = models.CharField(
        _("kind"), max_length=20, choices=ProductKind.choices, default=ProductKind.STANDARD
    )
    # What gravity recognition needs: the mean unit weight and how much units vary.
    unit_weight_g = models.DecimalField(
        _("unit weight (g)"), max_digits=9, decimal_places=2, validators=[MinValueValidator(0)]
    )
    unit_weight_sd_g = models.DecimalField(
        _("unit weight SD (g)"), max_digits=8, decimal_places=2, default=0, validators=[MinValueValidator(0)]
    )
    shelf_life_days = models.PositiveIntegerField(_("shelf life (days)"), null=True, blank=True)
    # 例外商品: recognition never decides these alone; a session that moves one goes to review.
    is_exception = models.BooleanField(_("exception product"), default=False)
    default_price_fen = models.BigIntegerField(
        _("default price (fen)"),
        validators=[MinValueValidator(0)],
        help_text=_("Per unit; per 100 g for products sold by weight."),
    )
    status = models.CharField(
        _("status"), max_length=20, choices=ProductStatus.choices, default=ProductStatus.ON_SALE
    )
    source = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="adoptions",
        verbose_name=_("adopted from"),
        limit_choices_to={"merchant__isnull": True},
    )

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["sku"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "sku"], name="product_unique_sku"),
            models.UniqueConstraint(
                fields=["sku"], condition=Q(merchant__isnull=True), name="product_unique_platform_sku"
            ),
            models.UniqueConstraint(
                fields=["merchant", "source"], condition=Q(source__isnull=False), name="product_adopted_once"
            ),
            models.CheckConstraint(condition=Q(default_price_fen__gte=0), name="product_price_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.sku})"


class ProductApplication(TenantModel):
    """A merchant's request to add a product to the platform library (申请新品)."""

    sku = models.CharField(_("SKU"), max_length=40)
    name = models.CharField(_("name"), max_length=120)
    barcode = models.CharField(_("barcode"), max_length=14, blank=True, validators=[validate_barcode])
    category_name = models.CharField(_("category"), max_length=60, blank=True)
    manufacturer_name = models.CharField(_("manufacturer"), max_length=100, blank=True)
    specification = models.CharField(_("specification"), max_length=60, blank=True)
    image = models.ImageField(_("image"), upload_to="applications/", blank=True)
    kind = models.CharField(
        _("kind"), max_length=20, choices=ProductKind.choices, default=ProductKind.STANDARD
    )
    unit_weight_g = models.DecimalField(
        _("unit weight (g)"), max_digits=9, decimal_places=2, validators=[MinValueValidator(0)]
    )
    unit_weight_sd_g = models.DecimalField(
        _("unit weight SD (g)"), max_digits=8, decimal_places=2, default=0, validators=[MinValueValidator(0)]
    )
    shelf_life_days = models.PositiveIntegerField(_("shelf life (days)"), null=True, blank=True)
    suggested_price_fen = models.BigIntegerField(
        _("suggested price (fen)"), validators=[MinValueValidator(0)]
    )
    reason = models.CharField(_("why it is needed"), max_length=300, blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=ApplicationStatus.choices, default=ApplicationStatus.PENDING
    )
    applicant = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    review_note = models.CharField(_("review note"), max_length=300, blank=True)
    product = models.ForeignKey(
        Product,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("platform product"),
    )

    class Meta:
        verbose_name = _("new-product application")
        verbose_name_plural = _("new-product applications")
        ordering = ["-created_at"]
        permissions = [("review_productapplication", _("Can review new-product applications"))]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_status_display()})"

    @classmethod
    def scope_q(cls, scope: DataScope) -> Q:
        return Q()


class CatalogSettings(TenantModel):
    """A merchant's catalog policy. Price changes can be made to wait for platform review
    (seed 001 §四.16: stores may adjust prices, the platform approves)."""

    merchant = models.OneToOneField(  # type: ignore[assignment]
        "merchants.Merchant",
        on_delete=models.CASCADE,
        related_name="catalog_settings",
        verbose_name=_("merchant"),
    )
    price_changes_need_review = models.BooleanField(_("price changes need platform review"), default=False)

    class Meta:
        verbose_name = _("catalog settings")
        verbose_name_plural = _("catalog settings")

    def __str__(self) -> str:
        return str(self.merchant)

    @classmethod
    def scope_q(cls, scope: DataScope) -> Q:
        return Q()
