"""A merchant's rules for orders: unpaid orders, semi-automatic checkout, appeals."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from openvend.core.models import TenantModel
from openvend.core.scope import DataScope
from openvend.orders.choices import UnpaidAction


class OrderPolicy(TenantModel):
    """One per merchant; a merchant without a row gets the defaults (`orders.selectors.policy_for`)."""

    unpaid_after_h = models.PositiveIntegerField(
        _("unpaid limit (hours)"), default=72, help_text=_("How long an order may stay unpaid.")
    )
    unpaid_action = models.CharField(
        _("then"), max_length=10, choices=UnpaidAction.choices, default=UnpaidAction.ESCALATE
    )
    checkout_within_min = models.PositiveIntegerField(
        _("semi-automatic checkout limit (minutes)"),
        default=10,
        help_text=_("After the door closes, how long a shopper has to pay in the app."),
    )
    appeal_within_days = models.PositiveIntegerField(
        _("appeals accepted for (days)"),
        default=7,
        help_text=_("Days after payment an order can be appealed."),
    )

    class Meta:
        verbose_name = _("order settings")
        verbose_name_plural = _("order settings")
        constraints = [models.UniqueConstraint(fields=["merchant"], name="orderpolicy_one_per_merchant")]

    def __str__(self) -> str:
        return f"order settings of {self.merchant_id}"

    @classmethod
    def scope_q(cls, scope: DataScope) -> Q:
        return Q()
