"""Stock-taking by scan (扫码盘点): counts per lane, a discrepancy report, and adjustments posted as
movements once an approver accepts them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from openvend.core.models import TenantModel
from openvend.inventory.choices import StockTakeState
from openvend.inventory.models.scoping import DeviceScoped


class StockTake(DeviceScoped, TenantModel):
    device = models.ForeignKey(
        "devices.Device", on_delete=models.PROTECT, related_name="stock_takes", verbose_name=_("device")
    )
    state = models.CharField(
        _("state"), max_length=20, choices=StockTakeState.choices, default=StockTakeState.COUNTING
    )
    counted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("counted by")
    )
    approver = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("approved by"),
    )
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    reason = models.CharField(_("reason for adjustment"), max_length=200, blank=True)
    decision_note = models.CharField(_("decision note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("stock-take")
        verbose_name_plural = _("stock-takes")
        ordering = ["-created_at"]
        permissions = [("approve_stocktake", _("Can approve stock-take adjustments"))]

    def __str__(self) -> str:
        return f"stock-take {self.pk} @{self.device_id}"


class StockTakeLine(models.Model):
    stock_take = models.ForeignKey(StockTake, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(
        "catalog.Product", on_delete=models.PROTECT, related_name="+", verbose_name=_("product")
    )
    lane = models.PositiveSmallIntegerField(_("lane"), default=0)
    expected = models.IntegerField(_("on hand in the ledger"))
    counted = models.IntegerField(_("counted"))

    class Meta:
        verbose_name = _("stock-take line")
        verbose_name_plural = _("stock-take lines")
        ordering = ["lane", "product_id"]
        constraints = [
            models.UniqueConstraint(fields=["stock_take", "product", "lane"], name="stocktakeline_unique")
        ]

    def __str__(self) -> str:
        return f"{self.stock_take_id}: {self.product_id} {self.expected}->{self.counted}"

    @property
    def difference(self) -> int:
        return self.counted - self.expected
