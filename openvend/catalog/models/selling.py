"""What a device sells: product templates (商品模版) applied to many devices at once, and each
device's sellable list (可售商品清单)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from openvend.core.models import TenantModel
from openvend.core.scope import DataScope
from openvend.devices.choices import DeviceType


class ProductTemplate(TenantModel):
    name = models.CharField(_("name"), max_length=100)
    device_type = models.CharField(
        _("device type"),
        max_length=30,
        choices=DeviceType.choices,
        blank=True,
        help_text=_("Empty: any type."),
    )
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("product template")
        verbose_name_plural = _("product templates")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "name"], name="producttemplate_unique_name")
        ]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def scope_q(cls, scope: DataScope) -> Q:
        return Q()


class TemplateItem(models.Model):
    template = models.ForeignKey(ProductTemplate, on_delete=models.CASCADE, related_name="items")
    product = models.ForeignKey(
        "catalog.Product", on_delete=models.PROTECT, related_name="+", verbose_name=_("product")
    )
    sort_order = models.PositiveIntegerField(_("sort order"), default=0)

    class Meta:
        verbose_name = _("template item")
        verbose_name_plural = _("template items")
        ordering = ["sort_order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["template", "product"], name="templateitem_unique_product")
        ]

    def __str__(self) -> str:
        return f"{self.template_id}:{self.product_id}"


class SellableItem(TenantModel):
    """One product a device may sell. A shopper can only be charged for products on this list."""

    device = models.ForeignKey(
        "devices.Device", on_delete=models.CASCADE, related_name="sellable_items", verbose_name=_("device")
    )
    product = models.ForeignKey(
        "catalog.Product", on_delete=models.PROTECT, related_name="sellable_items", verbose_name=_("product")
    )
    enabled = models.BooleanField(_("on sale here"), default=True)
    template = models.ForeignKey(
        ProductTemplate,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("from template"),
    )

    class Meta:
        verbose_name = _("sellable item")
        verbose_name_plural = _("sellable list")
        ordering = ["device_id", "product_id"]
        constraints = [
            models.UniqueConstraint(fields=["device", "product"], name="sellableitem_unique_product")
        ]

    def __str__(self) -> str:
        return f"{self.device_id}:{self.product_id}"

    @classmethod
    def scope_q(cls, scope: DataScope) -> Q:
        from openvend.devices.models import Device

        return Q(device__in=Device.objects.filter(Device.scope_q(scope)))
