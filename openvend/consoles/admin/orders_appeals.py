"""Console pages: customer appeals (客户申诉), correction orders (修正订单) and the merchant's order
settings. Appeals and corrections change only through the order services; the settings page is
one row per merchant, edited like any console form (audited)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from unfold.decorators import display

from openvend.consoles.admin.base import is_platform, register
from openvend.consoles.admin.orders import APPEAL_COLOURS
from openvend.consoles.admin.orders_appeal_actions import AppealActions
from openvend.consoles.admin.orders_base import NotFoundAdmin, ReadOnlyAdmin
from openvend.consoles.admin.payments import yuan
from openvend.consoles.sites import merchant_console, platform_console
from openvend.orders.models import Appeal, Correction, OrderPolicy


@register(Appeal, merchant_console, platform_console)
class AppealAdmin(AppealActions):
    list_display = ["order", "consumer", "reason", "state_badge", "created_at", "handled_by", "handled_at"]
    list_filter = ["state", "reason", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["order__number", "consumer__nickname", "message"]
    list_select_related = ["order", "consumer", "handled_by"]
    readonly_fields = [
        "order",
        "consumer",
        "reason",
        "message",
        "claimed_lines",
        "state",
        "answer",
        "handled_by",
        "handled_at",
        "created_at",
    ]
    fields = readonly_fields

    @display(description=_("state"), label=APPEAL_COLOURS)
    def state_badge(self, obj: Appeal) -> Any:
        return obj.state, obj.get_state_display()


@register(Correction, merchant_console, platform_console)
class CorrectionAdmin(ReadOnlyAdmin):
    list_display = ["number", "order", "kind", "state", "difference", "reason", "created_by", "created_at"]
    list_filter = ["kind", "state", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["number", "order__number"]
    list_select_related = ["order", "created_by"]
    readonly_fields = [
        "number",
        "order",
        "kind",
        "appeal",
        "reason",
        "lines",
        "difference",
        "state",
        "refund",
        "payment",
        "created_by",
        "created_at",
    ]
    fields = readonly_fields

    @display(description=_("difference"), ordering="delta_fen")
    def difference(self, obj: Correction) -> str:
        return yuan(obj.delta_fen)


@register(OrderPolicy, merchant_console)
class OrderPolicyAdmin(NotFoundAdmin):
    """One page per merchant: the list opens the merchant's settings (or the form to set them)."""

    list_display = ["__str__", "unpaid_after_h", "unpaid_action", "checkout_within_min", "appeal_within_days"]
    fields = ["unpaid_after_h", "unpaid_action", "checkout_within_min", "appeal_within_days"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        own = self.get_queryset(request).exists()
        return not own and not is_platform(self.admin_site) and super().has_add_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        own = self.get_queryset(request).first()
        if own is not None:
            return HttpResponseRedirect(self._change_url(own))
        if self.has_add_permission(request):
            return HttpResponseRedirect(reverse(f"{self.admin_site.name}:orders_orderpolicy_add"))
        return super().changelist_view(request, extra_context)
