"""Console pages: replenishment suggestions, orders, pick lists and restock sessions.
Merchant staff act within their scope; the platform console only reads."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from unfold.admin import TabularInline
from unfold.decorators import action, display

from openvend.consoles.admin.base import ConsoleModelAdmin, is_platform, register
from openvend.consoles.admin.orders_base import ReadOnlyInline
from openvend.consoles.export import XLSX
from openvend.consoles.sites import merchant_console, platform_console
from openvend.core.errors import OpenVendError
from openvend.devices.models import Device
from openvend.inventory import replenishment_selectors as selectors
from openvend.inventory import replenishment_services as services
from openvend.inventory.choices import ReplenishmentState, RestockState
from openvend.inventory.models import (
    ReplenishmentLine,
    ReplenishmentOrder,
    RestockEvent,
    RestockLine,
    RestockSession,
)

STATE_COLOURS = {
    ReplenishmentState.DRAFT: "info",
    ReplenishmentState.PICKING: "warning",
    ReplenishmentState.IN_TRANSIT: "warning",
    ReplenishmentState.COMPLETED: "success",
    ReplenishmentState.CANCELLED: "danger",
}
RESTOCK_COLOURS = {
    RestockState.OPENING: "info",
    RestockState.OPEN: "warning",
    RestockState.CLOSED: "warning",
    RestockState.COMPLETED: "success",
    RestockState.CANCELLED: "danger",
}


def _staff(request: HttpRequest) -> QuerySet:
    from openvend.accounts.models import User

    user: Any = request.user
    if user.merchant_id is None:
        return User.objects.none()
    return User.objects.filter(merchant_id=user.merchant_id, is_active=True).order_by("username")


class ReplenishmentLineInline(TabularInline):
    model = ReplenishmentLine
    fields = ["product", "lane", "quantity", "placed_quantity"]
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False


@register(ReplenishmentOrder, merchant_console, platform_console)
class ReplenishmentOrderAdmin(ConsoleModelAdmin):
    list_display = ["number", "device", "state_badge", "assignee", "route", "created_at", "completed_at"]
    list_filter = ["state", "route", "assignee"]
    search_fields = ["number", "device__code", "device__name", "route"]
    list_select_related = ["device", "assignee"]
    fields = [
        "number",
        "device",
        "state",
        "assignee",
        "route",
        "note",
        "created_by",
        "picked_at",
        "dispatched_at",
        "completed_at",
    ]
    readonly_fields = [
        "number",
        "device",
        "state",
        "created_by",
        "picked_at",
        "dispatched_at",
        "completed_at",
    ]
    inlines = [ReplenishmentLineInline]
    actions_list = ["suggestions", "pick_list"]
    actions_detail = ["start_picking", "dispatch_order", "complete_order", "cancel_order"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # orders come from suggestions

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # cancel instead: the number and its history stay

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if is_platform(self.admin_site):
            return False
        return super().has_change_permission(request, obj)

    def has_suggest_permission(self, request: HttpRequest, object_id: Any = None) -> bool:
        return not is_platform(self.admin_site) and bool(
            request.user.has_perm("inventory.add_replenishmentorder")
        )

    def has_pick_permission(self, request: HttpRequest, object_id: Any = None) -> bool:
        return bool(request.user.has_perm("inventory.view_replenishmentorder"))

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "assignee":
            kwargs["queryset"] = _staff(request)
            return super(ConsoleModelAdmin, self).formfield_for_foreignkey(db_field, request, **kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @display(description=_("state"), label=STATE_COLOURS)
    def state_badge(self, obj: ReplenishmentOrder) -> Any:
        return obj.state, obj.get_state_display()

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        data = {
            name: form.cleaned_data[name]
            for name in form.changed_data
            if name in {"assignee", "route", "note"}
        }
        try:
            services.replenishment_order_update(
                actor=request.user, order=ReplenishmentOrder.objects.get(pk=obj.pk), data=data
            )
        except OpenVendError as exc:
            self.message_user(request, exc.message, messages.ERROR)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        return None  # lines are read-only; the service above audited the change

    # State actions on one order
    def _step(self, request: HttpRequest, object_id: Any, step: Any, done: Any) -> HttpResponse:
        order = get_object_or_404(ReplenishmentOrder.objects.restrict(request.user, "change"), pk=object_id)
        try:
            step(actor=request.user, order=order)
        except OpenVendError as exc:
            self.message_user(request, exc.message, messages.ERROR)
        else:
            self.message_user(request, done)
        return HttpResponseRedirect(
            reverse(f"{self.admin_site.name}:inventory_replenishmentorder_change", args=[object_id])
        )

    @action(description=_("Start picking"), url_path="start-picking", permissions=["change"])
    def start_picking(self, request: HttpRequest, object_id: Any) -> HttpResponse:
        return self._step(
            request, object_id, services.replenishment_order_start_picking, _("Picking started.")
        )

    @action(description=_("Dispatch"), url_path="dispatch", permissions=["change"])
    def dispatch_order(self, request: HttpRequest, object_id: Any) -> HttpResponse:
        return self._step(request, object_id, services.replenishment_order_dispatch, _("On the way."))

    @action(description=_("Cancel order"), url_path="cancel", permissions=["change"])
    def cancel_order(self, request: HttpRequest, object_id: Any) -> HttpResponse:
        return self._step(request, object_id, services.replenishment_order_cancel, _("Order cancelled."))

    @action(description=_("Complete (enter placed quantities)"), url_path="complete", permissions=["change"])
    def complete_order(self, request: HttpRequest, object_id: Any) -> HttpResponse:
        order = get_object_or_404(ReplenishmentOrder.objects.restrict(request.user, "change"), pk=object_id)
        lines = list(order.lines.select_related("product"))
        if request.method == "POST":
            placed = {
                line.pk: request.POST.get(f"placed-{line.pk}", "").strip() or line.quantity for line in lines
            }
            try:
                result = services.replenishment_order_complete(actor=request.user, order=order, placed=placed)
            except OpenVendError as exc:
                self.message_user(request, exc.message, messages.ERROR)
            else:
                self.message_user(
                    request,
                    _("Completed: %(moved)d movement(s), %(diff)d line(s) differ from the plan.")
                    % {"moved": len(result.movements), "diff": len(result.discrepancies)},
                    messages.WARNING if result.discrepancies else messages.SUCCESS,
                )
                return HttpResponseRedirect(
                    reverse(f"{self.admin_site.name}:inventory_replenishmentorder_change", args=[object_id])
                )
        context = {
            **self.admin_site.each_context(request),
            "title": _("Complete %(number)s") % {"number": order.number},
            "order": order,
            "lines": lines,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "consoles/replenishment/complete.html", context)

    # List-level pages
    @action(description=_("Suggestions"), url_path="suggestions", permissions=["suggest"])
    def suggestions(self, request: HttpRequest) -> HttpResponse:
        devices = Device.objects.restrict(request.user, "view").select_related("site").order_by("code")
        chosen_ids = request.POST.getlist("device") or request.GET.getlist("device")
        chosen = [d for d in devices if str(d.pk) in chosen_ids]
        if request.method == "POST" and chosen:
            staff = _staff(request)
            assignee = staff.filter(pk=request.POST.get("assignee") or None).first()
            try:
                orders = services.replenishment_orders_from_suggestions(
                    actor=request.user, devices=chosen, assignee=assignee, route=request.POST.get("route", "")
                )
            except OpenVendError as exc:
                self.message_user(request, exc.message, messages.ERROR)
            else:
                self.message_user(
                    request,
                    _("%(count)d order(s) created: %(numbers)s")
                    % {"count": len(orders), "numbers": ", ".join(o.number for o in orders)},
                )
                return HttpResponseRedirect(
                    reverse(f"{self.admin_site.name}:inventory_replenishmentorder_changelist")
                )
        context = {
            **self.admin_site.each_context(request),
            "title": _("Replenishment suggestions"),
            "devices": devices[:500],
            "chosen_ids": {str(d.pk) for d in chosen},
            "rows": selectors.suggestions_for_devices(chosen),
            "staff": _staff(request),
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "consoles/replenishment/suggestions.html", context)

    @action(description=_("Pick list (Excel)"), url_path="pick-list", permissions=["pick"])
    def pick_list(self, request: HttpRequest) -> HttpResponse:
        scoped = ReplenishmentOrder.objects.restrict(request.user, "view")
        assignee_id, route = request.GET.get("assignee", ""), request.GET.get("route", "").strip()
        if assignee_id or route:
            assignee = _staff(request).filter(pk=assignee_id).first() if assignee_id.isdigit() else None
            picks = selectors.pick_list(selectors.open_orders(scoped, assignee=assignee, route=route or None))
            response = HttpResponse(services.pick_list_workbook(picks), content_type=XLSX)
            stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
            response["Content-Disposition"] = f'attachment; filename="pick-list-{stamp}.xlsx"'
            return response
        routes = sorted(set(selectors.open_orders(scoped).exclude(route="").values_list("route", flat=True)))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Pick list"),
            "staff": _staff(request),
            "routes": routes,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "consoles/replenishment/pick_list.html", context)


class RestockLineInline(ReadOnlyInline):
    model = RestockLine
    # Lines have no permission of their own: whoever sees the restock visit sees what was counted.
    view_permission = "inventory.view_restocksession"
    fields = ["product", "lane", "sensor_quantity", "counted_quantity", "posted_quantity", "discrepancy"]
    readonly_fields = fields


class RestockEventInline(ReadOnlyInline):
    model = RestockEvent
    view_permission = "inventory.view_restocksession"
    verbose_name_plural = _("timeline")
    fields = ["created_at", "kind", "from_state", "to_state", "detail"]
    readonly_fields = fields
    ordering = ["id"]


@register(RestockSession, merchant_console, platform_console)
class RestockSessionAdmin(ConsoleModelAdmin):
    list_display = [
        "created_at",
        "device",
        "replenisher",
        "state_badge",
        "has_discrepancy",
        "order",
        "completed_at",
    ]
    list_filter = ["has_discrepancy", "state"]
    search_fields = ["device__code", "device__name", "replenisher__username"]
    list_select_related = ["device", "replenisher", "order"]
    fields = [
        "device",
        "replenisher",
        "order",
        "state",
        "command",
        "sensor_deltas_g",
        "photo",
        "opened_at",
        "closed_at",
        "completed_at",
        "has_discrepancy",
    ]
    readonly_fields = fields
    inlines = [RestockLineInline, RestockEventInline]

    @display(description=_("state"), label=RESTOCK_COLOURS)
    def state_badge(self, obj: RestockSession) -> Any:
        return obj.state, obj.get_state_display()

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # sessions start from the phone (scan the device) or the API

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
