"""Customer appeals (客户申诉) and correction orders (修正订单)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from openvend.core.models import TenantModel
from openvend.core.scope import DataScope
from openvend.orders.choices import AppealReason, AppealState, CorrectionKind, CorrectionState
from openvend.orders.models.order import Order


def _order_scope(scope: DataScope) -> Q:
    return Q(order__in=Order.objects.filter(Order.scope_q(scope)))


class Appeal(TenantModel):
    """A shopper disputes an order from the app. At most one open appeal per order."""

    order = models.ForeignKey(
        Order, on_delete=models.PROTECT, related_name="appeals", verbose_name=_("order")
    )
    consumer = models.ForeignKey(
        "consumers.Consumer", on_delete=models.PROTECT, related_name="+", verbose_name=_("consumer")
    )
    reason = models.CharField(_("reason"), max_length=20, choices=AppealReason.choices)
    message = models.CharField(_("message"), max_length=500, blank=True)
    # What the shopper says they took: product id (as text) → units. Empty when they did not say.
    claimed_lines = models.JSONField(_("claimed lines"), default=dict, blank=True)
    state = models.CharField(
        _("state"), max_length=10, choices=AppealState.choices, default=AppealState.OPEN, db_index=True
    )
    answer = models.CharField(_("answer"), max_length=500, blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    handled_at = models.DateTimeField(_("handled at"), null=True, blank=True)

    class Meta:
        verbose_name = _("customer appeal")
        verbose_name_plural = _("customer appeals")
        ordering = ["-created_at"]
        permissions = [("handle_appeal", _("Can uphold or reject customer appeals"))]
        constraints = [
            models.UniqueConstraint(
                fields=["order"], condition=Q(state=AppealState.OPEN), name="appeal_one_open_per_order"
            )
        ]

    def __str__(self) -> str:
        return f"appeal {self.pk} on {self.order_id}"

    @classmethod
    def scope_q(cls, scope: DataScope) -> Q:
        return _order_scope(scope)


class Correction(TenantModel):
    """A correction order: the order's lines as they should have been, and the difference settled
    through the original payment route (refund when negative, a new charge when positive).
    `lines`: [{"product": id, "sku": str, "name": str, "unit_price_fen": int, "before": int,
    "after": int}]."""

    number = models.CharField(_("number"), max_length=30, unique=True)
    order = models.ForeignKey(
        Order, on_delete=models.PROTECT, related_name="corrections", verbose_name=_("order")
    )
    kind = models.CharField(_("kind"), max_length=12, choices=CorrectionKind.choices)
    appeal = models.ForeignKey(
        Appeal, on_delete=models.PROTECT, null=True, blank=True, related_name="corrections"
    )
    reason = models.CharField(_("reason"), max_length=200)
    lines = models.JSONField(_("lines"), default=list)
    delta_fen = models.IntegerField(_("difference (fen)"))
    state = models.CharField(
        _("state"), max_length=10, choices=CorrectionState.choices, default=CorrectionState.PENDING
    )
    refund = models.ForeignKey(
        "payments.Refund", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    payment = models.ForeignKey(
        "payments.Payment", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("correction order")
        verbose_name_plural = _("correction orders")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.number

    @classmethod
    def scope_q(cls, scope: DataScope) -> Q:
        return _order_scope(scope)
