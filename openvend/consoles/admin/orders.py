"""Console pages: orders with their lines, payment attempts, corrections, appeals, the recognition
evidence with the cameras' photos and clips, and the merged timeline. "Abnormal orders" is the same
list narrowed to the daily work queue (a reason and no resolution yet), linked from the sidebar with
a count badge.

Orders change only through the order services: the buttons on an abnormal order call them
(see orders_actions). The platform console reads orders and has no buttons.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _
from unfold.decorators import display

from openvend.catalog.models import Product
from openvend.consoles.admin.base import register
from openvend.consoles.admin.orders_actions import OrderActions
from openvend.consoles.admin.orders_base import ReadOnlyInline
from openvend.consoles.admin.payments import yuan
from openvend.consoles.sites import merchant_console, platform_console
from openvend.orders.choices import AppealState, OrderState
from openvend.orders.models import Appeal, Correction, Order, OrderLine
from openvend.orders.selectors import order_timeline
from openvend.payments.models import Payment
from openvend.shopping.choices import MediaKind
from openvend.shopping.selectors import session_media

ORDER_COLOURS = {
    OrderState.PENDING_PAYMENT: "warning",
    OrderState.PAID: "success",
    OrderState.REVIEW: "danger",
    OrderState.CLOSED: "info",
    OrderState.REFUNDED: "info",
}
APPEAL_COLOURS = {AppealState.OPEN: "warning", AppealState.UPHELD: "success", AppealState.REJECTED: "info"}


class AbnormalFilter(admin.SimpleListFilter):
    """The work queue: orders with an abnormal reason that staff have not resolved yet."""

    title = _("abnormal")
    parameter_name = "abnormal"

    def lookups(self, request: HttpRequest, model_admin: Any) -> Any:
        return [("yes", _("Yes, waiting for staff")), ("no", _("No"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        waiting = Q(resolution="") & ~Q(abnormal_reason="")
        if self.value() == "yes":
            return queryset.filter(waiting)
        if self.value() == "no":
            return queryset.exclude(waiting)
        return queryset


class OrderLineInline(ReadOnlyInline):
    model = OrderLine
    fields = ["product", "quantity", "unit_price", "amount"]
    readonly_fields = fields

    @display(description=_("unit price"))
    def unit_price(self, obj: OrderLine) -> str:
        return yuan(obj.unit_price_fen)

    @display(description=_("amount"))
    def amount(self, obj: OrderLine) -> str:
        return yuan(obj.amount_fen)


class CorrectionInline(ReadOnlyInline):
    model = Correction
    fk_name = "order"
    fields = ["number", "kind", "state", "difference", "reason", "created_by", "created_at"]
    readonly_fields = fields

    @display(description=_("difference"))
    def difference(self, obj: Correction) -> str:
        return yuan(obj.delta_fen)


class AppealInline(ReadOnlyInline):
    model = Appeal
    fields = ["created_at", "reason", "message", "state", "answer", "handled_at"]
    readonly_fields = fields


def _percent(value: Any) -> str:
    return f"{float(value) * 100:.2f} %" if isinstance(value, int | float) else "—"


def _items(items: Any, names: dict[str, str]) -> list[dict[str, Any]]:
    return [
        {"sku": row.get("sku", ""), "name": names.get(row.get("sku", ""), ""), "qty": row.get("qty")}
        for row in items or []
        if isinstance(row, dict)
    ]


def evidence_of(order: Order) -> dict[str, Any]:
    """What recognition saw and concluded, laid out for staff: weight changes per load cell, the
    best reading and its alternatives with their probabilities, and why the order was held."""
    found = order.recognition or {}
    skus = {row.get("sku") for row in found.get("items", []) if isinstance(row, dict)}
    for alternative in found.get("alternatives", []):
        skus |= {row.get("sku") for row in alternative.get("items", []) if isinstance(row, dict)}
    names = dict(
        Product.objects.filter(merchant_id=order.merchant_id, sku__in=skus).values_list("sku", "name")
    )
    return {
        "deltas": sorted((found.get("sensor_deltas_g") or {}).items()),
        "decision": found.get("decision", ""),
        "confidence": _percent(found.get("confidence")),
        "items": _items(found.get("items"), names),
        "alternatives": [
            {"items": _items(alt.get("items"), names), "p": _percent(alt.get("p"))}
            for alt in found.get("alternatives", [])
        ],
        "planogram_version": found.get("planogram_version"),
        "reason": found.get("reason", ""),
        "error": found.get("error", ""),
    }


def media_of(order: Order) -> list[dict[str, Any]]:
    """The visit's photos and clips as the page shows them (clip lengths in seconds)."""
    return [
        {
            "url": media.url,
            "is_photo": media.kind == MediaKind.PHOTO,
            "camera": media.camera,
            "captured_at": media.captured_at,
            "seconds": f"{media.duration_ms / 1000:.1f}" if media.duration_ms else "",
        }
        for media in session_media(order.session_id)
    ]


def attempts_of(order: Order) -> list[dict[str, Any]]:
    """Every payment attempt of the order (they share its number as order_ref)."""
    payments = Payment.objects.filter(merchant_id=order.merchant_id, order_ref=order.number).order_by(
        "attempt", "id"
    )
    return [
        {
            "payment": payment,
            "amount": yuan(payment.amount_fen),
            "refunded": yuan(payment.refunded_fen),
            "state": payment.get_state_display(),
        }
        for payment in payments
    ]


class _OrderColumns:
    @display(description=_("state"), label=ORDER_COLOURS)
    def state_badge(self, obj: Order) -> Any:
        return obj.state, obj.get_state_display()

    @display(description=_("total"), ordering="total_fen")
    def total(self, obj: Order) -> str:
        return yuan(obj.total_fen)

    @display(description=_("paid"), ordering="paid_fen")
    def paid(self, obj: Order) -> str:
        return yuan(obj.paid_fen)

    @display(description=_("refunded"), ordering="refunded_fen")
    def refunded(self, obj: Order) -> str:
        return yuan(obj.refunded_fen)


@register(Order, merchant_console, platform_console)
class OrderAdmin(_OrderColumns, OrderActions):
    list_display = [
        "number",
        "device",
        "site",
        "consumer",
        "state_badge",
        "total",
        "paid",
        "refunded",
        "abnormal_reason",
        "created_at",
    ]
    list_filter = [
        "state",
        AbnormalFilter,
        "abnormal_reason",
        "device",
        "site",
        ("created_at", admin.DateFieldListFilter),
    ]
    search_fields = ["number", "consumer__nickname", "device__code"]
    list_select_related = ["device", "site", "consumer"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "number",
        "state",
        "device",
        "site",
        "consumer",
        "session",
        "total",
        "paid",
        "refunded",
        "paid_at",
        "line_source",
        "abnormal_reason",
        "resolution",
        "resolved_by",
        "resolved_at",
        "escalated_at",
        "created_at",
    ]
    fields = readonly_fields
    inlines = [OrderLineInline, CorrectionInline, AppealInline]
    change_form_after_template = "consoles/orders/order_panel.html"

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        order = self.get_queryset(request).filter(pk=object_id).first()
        if order is not None:
            extra_context = {
                **(extra_context or {}),
                "evidence": evidence_of(order),
                "session_media": media_of(order),
                "attempts": attempts_of(order),
                "timeline": order_timeline(order),
            }
        return super().change_view(request, object_id, form_url, extra_context)
