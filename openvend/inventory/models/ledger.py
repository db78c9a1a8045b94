"""The stock ledger. Every change of stock is one immutable `StockMovement`; `StockLevel` is
the running sum per device, product and lane, kept in the same transaction under a row lock so
concurrent movements never lose an update. Corrections are new movements, never edits.

`lane` is 0 for a cabinet's own stock and the track number for a vending machine's track.
"""

from __future__ import annotations

from typing import Any, ClassVar, NoReturn

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from openvend.core.models import RestrictedQuerySet, TenantModel
from openvend.inventory.choices import MovementKind
from openvend.inventory.models.scoping import DeviceScoped


class ImmutableError(Exception):
    """Raised on any attempt to edit or delete a ledger movement."""


class MovementQuerySet(RestrictedQuerySet):
    def update(self, **kwargs: Any) -> NoReturn:
        raise ImmutableError("Stock movements are immutable; post a correction instead.")

    def delete(self) -> NoReturn:
        raise ImmutableError("Stock movements are immutable; post a correction instead.")


class StockMovement(DeviceScoped, TenantModel):
    device = models.ForeignKey(
        "devices.Device", on_delete=models.PROTECT, related_name="stock_movements", verbose_name=_("device")
    )
    product = models.ForeignKey(
        "catalog.Product", on_delete=models.PROTECT, related_name="stock_movements", verbose_name=_("product")
    )
    lane = models.PositiveSmallIntegerField(_("lane"), default=0, help_text=_("0: the cabinet; n: track n."))
    quantity = models.IntegerField(_("quantity"), help_text=_("Units in (positive) or out (negative)."))
    kind = models.CharField(_("kind"), max_length=20, choices=MovementKind.choices)
    balance_after = models.IntegerField(_("on hand after"))
    # A sale the ledger could not cover (a cabinet shopper took a unit the ledger says is not there).
    oversold = models.BooleanField(_("oversold"), default=False)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    # The document that caused it: an order, a replenishment order, a restock session, a stock-take.
    source_type = models.CharField(_("source document type"), max_length=40, blank=True)
    source_id = models.CharField(_("source document"), max_length=40, blank=True)
    # Makes posting the same business event twice a no-op (enforced by the database).
    idempotency_key = models.CharField(max_length=100, null=True, blank=True, unique=True)
    corrects = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="corrections",
        verbose_name=_("corrects"),
    )

    objects: ClassVar[Any] = MovementQuerySet.as_manager()

    class Meta:
        verbose_name = _("stock movement")
        verbose_name_plural = _("stock movements")
        ordering = ["-id"]
        indexes = [models.Index(fields=["device", "product", "lane"], name="movement_position")]
        constraints = [models.CheckConstraint(condition=~Q(quantity=0), name="movement_not_zero")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.quantity:+d} {self.product_id}@{self.device_id}/{self.lane}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not self._state.adding:
            raise ImmutableError("Stock movements are immutable; post a correction instead.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise ImmutableError("Stock movements are immutable; post a correction instead.")


class StockLevel(DeviceScoped, TenantModel):
    """On hand per device, product and lane: always the sum of that position's movements."""

    device = models.ForeignKey(
        "devices.Device", on_delete=models.CASCADE, related_name="stock_levels", verbose_name=_("device")
    )
    product = models.ForeignKey(
        "catalog.Product", on_delete=models.PROTECT, related_name="stock_levels", verbose_name=_("product")
    )
    lane = models.PositiveSmallIntegerField(_("lane"), default=0)
    on_hand = models.IntegerField(_("on hand"), default=0)
    last_movement = models.ForeignKey(
        StockMovement, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("stock level")
        verbose_name_plural = _("stock levels")
        ordering = ["device_id", "lane", "product_id"]
        constraints = [
            models.UniqueConstraint(fields=["device", "product", "lane"], name="stocklevel_unique_position"),
        ]

    def __str__(self) -> str:
        return f"{self.product_id}@{self.device_id}/{self.lane}: {self.on_hand}"
