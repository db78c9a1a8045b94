"""Price strategies (商品价格策略): a product's default price, scene prices (场景价) per site or per
device, and member prices, each effective over a period. `catalog.selectors.price_for()` is the
one place that decides what a unit costs."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from openvend.catalog.choices import PriceScope, PriceStatus
from openvend.core.models import TenantModel
from openvend.core.scope import DataScope


class PriceRule(TenantModel):
    product = models.ForeignKey(
        "catalog.Product", on_delete=models.PROTECT, related_name="price_rules", verbose_name=_("product")
    )
    scope = models.CharField(_("applies to"), max_length=20, choices=PriceScope.choices)
    site = models.ForeignKey(
        "merchants.Site",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("site"),
    )
    device = models.ForeignKey(
        "devices.Device",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("device"),
    )
    price_fen = models.BigIntegerField(_("price (fen)"), validators=[MinValueValidator(0)])
    member_price_fen = models.BigIntegerField(
        _("member price (fen)"), null=True, blank=True, validators=[MinValueValidator(0)]
    )
    effective_from = models.DateTimeField(_("effective from"), default=timezone.now)
    effective_to = models.DateTimeField(
        _("effective to"), null=True, blank=True, help_text=_("Empty: open-ended.")
    )
    status = models.CharField(
        _("status"), max_length=20, choices=PriceStatus.choices, default=PriceStatus.ACTIVE
    )
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    review_note = models.CharField(_("review note"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("price rule")
        verbose_name_plural = _("price rules")
        ordering = ["product_id", "-effective_from"]
        permissions = [("review_pricerule", _("Can review price changes"))]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(scope=PriceScope.MERCHANT, site__isnull=True, device__isnull=True)
                    | Q(scope=PriceScope.SITE, site__isnull=False, device__isnull=True)
                    | Q(scope=PriceScope.DEVICE, site__isnull=True, device__isnull=False)
                ),
                name="pricerule_scope_target",
            ),
            models.CheckConstraint(
                condition=Q(effective_to__isnull=True) | Q(effective_to__gt=models.F("effective_from")),
                name="pricerule_period_positive",
            ),
            models.CheckConstraint(condition=Q(price_fen__gte=0), name="pricerule_price_not_negative"),
        ]
        indexes = [models.Index(fields=["product", "scope", "status"], name="pricerule_lookup")]

    def __str__(self) -> str:
        return f"{self.product_id} {self.get_scope_display()} {self.price_fen}"

    @classmethod
    def scope_q(cls, scope: DataScope) -> Q:
        from openvend.devices.models import Device
        from openvend.merchants.models import Site

        return (
            Q(scope=PriceScope.MERCHANT)
            | Q(site__in=Site.objects.filter(Site.scope_q(scope)))
            | Q(device__in=Device.objects.filter(Device.scope_q(scope)))
        )
