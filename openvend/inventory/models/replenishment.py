"""Replenishment (补货): orders built from suggestions and picked per replenisher or route, and
free replenishment (自由补货) where a replenisher opens a device in restock mode and the sensors
and/or their count become replenishment movements."""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from openvend.core.models import TenantModel
from openvend.core.scope import DataScope
from openvend.inventory.choices import ReplenishmentState, RestockEventKind, RestockState
from openvend.inventory.models.scoping import DeviceScoped
from openvend.payments.models.immutable import AppendOnly, AppendOnlyQuerySet


class ReplenishmentOrder(DeviceScoped, TenantModel):
    device = models.ForeignKey(
        "devices.Device",
        on_delete=models.PROTECT,
        related_name="replenishment_orders",
        verbose_name=_("device"),
    )
    number = models.CharField(_("number"), max_length=32, unique=True)
    state = models.CharField(
        _("state"), max_length=20, choices=ReplenishmentState.choices, default=ReplenishmentState.DRAFT
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("replenisher"),
    )
    route = models.CharField(_("route"), max_length=60, blank=True)
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    picked_at = models.DateTimeField(_("picked at"), null=True, blank=True)
    dispatched_at = models.DateTimeField(_("dispatched at"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("replenishment order")
        verbose_name_plural = _("replenishment orders")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.number


class ReplenishmentLine(models.Model):
    order = models.ForeignKey(ReplenishmentOrder, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(
        "catalog.Product", on_delete=models.PROTECT, related_name="+", verbose_name=_("product")
    )
    lane = models.PositiveSmallIntegerField(_("lane"), default=0)
    quantity = models.PositiveIntegerField(_("planned"))
    placed_quantity = models.PositiveIntegerField(_("placed"), null=True, blank=True)

    class Meta:
        verbose_name = _("replenishment line")
        verbose_name_plural = _("replenishment lines")
        ordering = ["lane", "product_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["order", "product", "lane"], name="replenishmentline_unique_position"
            )
        ]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.product_id} ×{self.quantity}"


class RestockSession(DeviceScoped, TenantModel):
    """A door-open in restock mode. Nobody is charged; consumers are refused while it is live."""

    device = models.ForeignKey(
        "devices.Device", on_delete=models.PROTECT, related_name="restock_sessions", verbose_name=_("device")
    )
    replenisher = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("replenisher")
    )
    order = models.ForeignKey(
        ReplenishmentOrder,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="restock_sessions",
        verbose_name=_("replenishment order"),
    )
    state = models.CharField(
        _("state"), max_length=20, choices=RestockState.choices, default=RestockState.OPENING
    )
    command = models.ForeignKey(
        "devices.Command", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    sensor_deltas_g = models.JSONField(_("sensor changes (g)"), default=dict, blank=True)
    photo = models.ImageField(_("photo"), upload_to="restock/", blank=True)
    opened_at = models.DateTimeField(_("door opened"), null=True, blank=True)
    closed_at = models.DateTimeField(_("door closed"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    has_discrepancy = models.BooleanField(_("discrepancy"), default=False)

    class Meta:
        verbose_name = _("restock session")
        verbose_name_plural = _("restock sessions")
        ordering = ["-created_at"]
        permissions = [("supervise_restocksession", _("Can act on other replenishers' restock visits"))]
        constraints = [
            models.UniqueConstraint(
                fields=["device"],
                condition=Q(state__in=[RestockState.OPENING, RestockState.OPEN, RestockState.CLOSED]),
                name="restocksession_one_live_per_device",
            )
        ]

    def __str__(self) -> str:
        return f"restock {self.pk} @{self.device_id}"


class RestockLine(models.Model):
    session = models.ForeignKey(RestockSession, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(
        "catalog.Product", on_delete=models.PROTECT, related_name="+", verbose_name=_("product")
    )
    lane = models.PositiveSmallIntegerField(_("lane"), default=0)
    counted_quantity = models.IntegerField(_("counted"), null=True, blank=True)
    sensor_quantity = models.IntegerField(_("by the sensors"), null=True, blank=True)
    posted_quantity = models.IntegerField(_("posted"), null=True, blank=True)
    discrepancy = models.BooleanField(_("discrepancy"), default=False)

    class Meta:
        verbose_name = _("restock line")
        verbose_name_plural = _("restock lines")
        ordering = ["lane", "product_id"]
        constraints = [
            models.UniqueConstraint(fields=["session", "product", "lane"], name="restockline_unique_position")
        ]

    def __str__(self) -> str:
        return f"{self.session_id}: {self.product_id}"


class RestockEvent(AppendOnly, TenantModel):
    """A restock session's timeline: every move (with from/to), each count entered and the stock
    posted. Append-only, like a shopping session's."""

    session = models.ForeignKey(
        RestockSession, on_delete=models.PROTECT, related_name="events", verbose_name=_("restock session")
    )
    kind = models.CharField(_("kind"), max_length=40, choices=RestockEventKind.choices)
    from_state = models.CharField(_("from"), max_length=20, blank=True)
    to_state = models.CharField(_("to"), max_length=20, blank=True)
    detail = models.JSONField(_("detail"), default=dict, blank=True)

    objects: ClassVar[Any] = AppendOnlyQuerySet.as_manager()

    class Meta:
        verbose_name = _("restock event")
        verbose_name_plural = _("restock events")
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.from_state}→{self.to_state}"

    @classmethod
    def scope_q(cls, scope: DataScope) -> Q:
        return Q(session__in=RestockSession.objects.filter(RestockSession.scope_q(scope)))
