"""Orders: what one shopping session sold, at what price, and how it is being paid."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from openvend.core.models import TenantModel
from openvend.core.scope import DataScope
from openvend.orders.choices import LineSource, OrderState, Resolution, ReviewReason


def _device_scope(scope: DataScope) -> Q:
    from openvend.devices.models import Device

    return Q(device__in=Device.objects.filter(Device.scope_q(scope)))


class Order(TenantModel):
    """Exactly one per shopping session (the database says so). `number` is the order reference the
    payment providers see; `recognition` keeps the evidence staff need to judge it."""

    number = models.CharField(_("number"), max_length=24, unique=True)
    session = models.OneToOneField(
        "shopping.ShoppingSession",
        on_delete=models.PROTECT,
        related_name="order",
        verbose_name=_("shopping session"),
    )
    device = models.ForeignKey(
        "devices.Device", on_delete=models.PROTECT, related_name="orders", verbose_name=_("device")
    )
    site = models.ForeignKey(
        "merchants.Site",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("site"),
    )
    consumer = models.ForeignKey(
        "consumers.Consumer", on_delete=models.PROTECT, related_name="orders", verbose_name=_("consumer")
    )
    state = models.CharField(_("state"), max_length=20, choices=OrderState.choices, db_index=True)
    total_fen = models.PositiveIntegerField(_("total (fen)"), default=0)
    paid_fen = models.PositiveIntegerField(_("paid (fen)"), default=0)
    # The payment attempt that is collecting (or collected) the total; earlier attempts share its order_ref.
    payment = models.ForeignKey(
        "payments.Payment",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("payment"),
    )
    recognition = models.JSONField(_("recognition"), default=dict, blank=True)
    line_source = models.CharField(
        _("lines from"), max_length=12, choices=LineSource.choices, default=LineSource.RECOGNITION
    )
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    refunded_fen = models.PositiveIntegerField(_("refunded (fen)"), default=0)
    # An abnormal order waits for staff while it has a reason and no resolution.
    abnormal_reason = models.CharField(
        _("abnormal because"), max_length=20, choices=ReviewReason.choices, blank=True, db_index=True
    )
    resolution = models.CharField(_("resolution"), max_length=12, choices=Resolution.choices, blank=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("resolved by"),
    )
    escalated_at = models.DateTimeField(_("escalated at"), null=True, blank=True)

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-created_at"]
        permissions = [
            ("resolve_order", _("Can handle abnormal orders (confirm, adjust, waive, charge, supplement)")),
            ("refund_order", _("Can refund orders")),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def is_abnormal(self) -> bool:
        return bool(self.abnormal_reason) and not self.resolution

    @classmethod
    def scope_q(cls, scope: DataScope) -> Q:
        return _device_scope(scope)


class OrderLine(TenantModel):
    """One product of an order: units taken and the unit price at the moment the door closed."""

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="lines", verbose_name=_("order"))
    product = models.ForeignKey(
        "catalog.Product", on_delete=models.PROTECT, related_name="+", verbose_name=_("product")
    )
    quantity = models.PositiveIntegerField(_("quantity"))
    unit_price_fen = models.PositiveIntegerField(_("unit price (fen)"))
    amount_fen = models.PositiveIntegerField(_("amount (fen)"))

    class Meta:
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["order", "product"], name="orderline_one_per_product"),
            models.CheckConstraint(
                condition=Q(amount_fen=models.F("unit_price_fen") * models.F("quantity")),
                name="orderline_amount_is_price_times_quantity",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.product_id} ×{self.quantity}"

    @classmethod
    def scope_q(cls, scope: DataScope) -> Q:
        return Q(order__in=Order.objects.filter(Order.scope_q(scope)))
