"""What a shopper adds in the app during a semi-automatic or open-shelf visit, before paying."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from openvend.core.models import TenantModel
from openvend.core.scope import DataScope


class CartLine(TenantModel):
    """One product in a session's cart. Checkout turns the cart into the session's order."""

    session = models.ForeignKey(
        "shopping.ShoppingSession",
        on_delete=models.PROTECT,
        related_name="cart_lines",
        verbose_name=_("shopping session"),
    )
    product = models.ForeignKey(
        "catalog.Product", on_delete=models.PROTECT, related_name="+", verbose_name=_("product")
    )
    quantity = models.PositiveIntegerField(_("quantity"))

    class Meta:
        verbose_name = _("cart line")
        verbose_name_plural = _("cart lines")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["session", "product"], name="cartline_one_per_product")
        ]

    def __str__(self) -> str:
        return f"{self.session_id}: {self.product_id} ×{self.quantity}"

    @classmethod
    def scope_q(cls, scope: DataScope) -> Q:
        from openvend.shopping.models import ShoppingSession

        return Q(session__in=ShoppingSession.objects.filter(ShoppingSession.scope_q(scope)))
