"""Console pages: shopping sessions with their event timeline (read-only) and the merchant's blacklist
rules (CRUD, audited like any console form)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from unfold.decorators import display

from openvend.consoles.admin.base import register
from openvend.consoles.admin.orders_base import NotFoundAdmin, ReadOnlyAdmin, ReadOnlyInline
from openvend.consoles.sites import merchant_console, platform_console
from openvend.shopping.choices import SessionState
from openvend.shopping.models import BlacklistRule, ShoppingEvent, ShoppingSession

SESSION_COLOURS = {
    SessionState.COMPLETED: "success",
    SessionState.REVIEW: "danger",
    SessionState.FAILED: "danger",
    SessionState.CANCELLED: "info",
}


class ShoppingEventInline(ReadOnlyInline):
    model = ShoppingEvent
    view_permission = "shopping.view_shoppingsession"
    verbose_name_plural = _("timeline")
    fields = ["created_at", "kind", "from_state", "to_state", "detail"]
    readonly_fields = fields
    ordering = ["id"]


@register(ShoppingSession, merchant_console, platform_console)
class ShoppingSessionAdmin(ReadOnlyAdmin):
    list_display = ["id", "device", "site", "consumer", "flow", "state_badge", "opened_at", "closed_at"]
    list_filter = ["state", "flow", "device", "site", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["device__code", "consumer__nickname"]
    list_select_related = ["device", "site", "consumer"]
    readonly_fields = [
        "device",
        "site",
        "consumer",
        "flow",
        "state",
        "payment_method",
        "opened_at",
        "closed_at",
        "ended_at",
        "door_alarm_at",
        "sensor_deltas_g",
        "created_at",
    ]
    fields = readonly_fields
    inlines = [ShoppingEventInline]

    @display(description=_("state"), label=SESSION_COLOURS)
    def state_badge(self, obj: ShoppingSession) -> Any:
        return obj.state, obj.get_state_display()


@register(BlacklistRule, merchant_console)
class BlacklistRuleAdmin(NotFoundAdmin):
    list_display = ["kind", "threshold", "window_days", "ban_days", "active"]
    list_filter = ["kind", "active"]
    fields = ["kind", "threshold", "window_days", "ban_days", "active"]
