"""Where products sit in a device.

Cabinets: a versioned planogram of shelves → weight sensors/zones → products with capacity and par
level. A new version starts as a draft; activating it supersedes the previous one, so the version in
force at any moment is known (`effective_from` ≤ t < `effective_to`).

Vending machines: tracks (货道) with product, price, capacity and par level; stock per track lives
in the ledger under `lane = track number`.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from openvend.core.models import TenantModel
from openvend.inventory.choices import PlanogramStatus
from openvend.inventory.models.scoping import DeviceScoped


class Planogram(DeviceScoped, TenantModel):
    device = models.ForeignKey(
        "devices.Device", on_delete=models.CASCADE, related_name="planograms", verbose_name=_("device")
    )
    version = models.PositiveIntegerField(_("version"))
    status = models.CharField(
        _("status"), max_length=20, choices=PlanogramStatus.choices, default=PlanogramStatus.DRAFT
    )
    effective_from = models.DateTimeField(_("in force from"), null=True, blank=True)
    effective_to = models.DateTimeField(_("in force until"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The recognition planogram check's findings when this version was saved: confusable pairs per sensor.
    check_report = models.JSONField(_("planogram check"), default=dict, blank=True)

    class Meta:
        verbose_name = _("planogram")
        verbose_name_plural = _("planograms")
        ordering = ["device_id", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["device", "version"], name="planogram_unique_version"),
            models.UniqueConstraint(
                fields=["device"], condition=Q(status=PlanogramStatus.ACTIVE), name="planogram_one_active"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.device.code} v{self.version}"


class PlanogramSlot(models.Model):
    """One product on one weight sensor (or a zone of adjacent sensors it may straddle)."""

    planogram = models.ForeignKey(Planogram, on_delete=models.CASCADE, related_name="slots")
    shelf = models.PositiveSmallIntegerField(_("shelf"))
    sensors = models.JSONField(
        _("weight sensors"), help_text=_('Sensor ids, e.g. ["s1-1"] or ["s1-1", "s1-2"].')
    )
    product = models.ForeignKey(
        "catalog.Product", on_delete=models.PROTECT, related_name="+", verbose_name=_("product")
    )
    capacity = models.PositiveIntegerField(_("capacity"), validators=[MinValueValidator(1)])
    par_level = models.PositiveIntegerField(_("par level"), help_text=_("Restock up to this many."))

    class Meta:
        verbose_name = _("planogram slot")
        verbose_name_plural = _("planogram slots")
        ordering = ["shelf", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(par_level__lte=models.F("capacity")), name="slot_par_within_capacity"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.planogram_id} shelf {self.shelf} {self.product_id}"


class Track(DeviceScoped, TenantModel):
    device = models.ForeignKey(
        "devices.Device", on_delete=models.CASCADE, related_name="tracks", verbose_name=_("device")
    )
    number = models.PositiveSmallIntegerField(_("track number"), validators=[MinValueValidator(1)])
    product = models.ForeignKey(
        "catalog.Product",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("product"),
    )
    price_fen = models.BigIntegerField(
        _("track price (fen)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text=_("Empty: the catalog price applies."),
    )
    capacity = models.PositiveIntegerField(_("capacity"), default=10, validators=[MinValueValidator(1)])
    par_level = models.PositiveIntegerField(_("par level"), default=10)
    enabled = models.BooleanField(_("enabled"), default=True)

    class Meta:
        verbose_name = _("track")
        verbose_name_plural = _("tracks")
        ordering = ["device_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["device", "number"], name="track_unique_number"),
            models.CheckConstraint(
                condition=Q(par_level__lte=models.F("capacity")), name="track_par_within_capacity"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.device_id} #{self.number}"
