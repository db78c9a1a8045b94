"""Console pages: stock levels, the movement ledger and stock-takes.

The ledger is read-only here as everywhere: stock changes only through the services (a manual
movement page for corrections, removals and transfers; approving a stock-take). The platform console
reads levels and movements of every merchant and changes nothing."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from unfold.admin import TabularInline
from unfold.decorators import action, display

from openvend.catalog.models import Product
from openvend.consoles.admin.base import ConsoleModelAdmin, is_platform, register
from openvend.consoles.export import XLSX
from openvend.consoles.sites import merchant_console, platform_console
from openvend.core.errors import OpenVendError
from openvend.devices.models import Device
from openvend.inventory import movement_services, selectors, stocktake_services
from openvend.inventory.choices import StockTakeState
from openvend.inventory.models import StockLevel, StockMovement, StockTake, StockTakeLine

TAKE_COLOURS = {
    StockTakeState.COUNTING: "info",
    StockTakeState.SUBMITTED: "warning",
    StockTakeState.APPROVED: "success",
    StockTakeState.REJECTED: "danger",
}


# A plain related filter would list every merchant's devices and products: offer only those in the
# caller's own (restricted) rows.
SCOPED_DEVICE = ("device", admin.RelatedOnlyFieldListFilter)
SCOPED_PRODUCT = ("product", admin.RelatedOnlyFieldListFilter)


class NegativeFilter(admin.SimpleListFilter):
    title = _("balance")
    parameter_name = "balance"

    def lookups(self, request: HttpRequest, model_admin: Any) -> Any:
        return [("negative", _("Negative (oversold)")), ("empty", _("Empty")), ("stocked", _("In stock"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        where = {"negative": {"on_hand__lt": 0}, "empty": {"on_hand": 0}, "stocked": {"on_hand__gt": 0}}
        chosen = self.value() or ""
        return queryset.filter(**where[chosen]) if chosen in where else queryset


class _ReadOnly(ConsoleModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@register(StockLevel, platform_console, merchant_console)
class StockLevelAdmin(_ReadOnly):
    list_display = ["device", "product", "lane", "on_hand_badge", "last_change", "updated_at"]
    list_filter = [NegativeFilter, SCOPED_DEVICE, SCOPED_PRODUCT, "lane"]
    search_fields = ["product__sku", "product__name", "device__code", "device__name"]
    list_select_related = ["device", "product", "last_movement"]
    readonly_fields = ["device", "product", "lane", "on_hand", "last_movement", "updated_at"]
    fields = readonly_fields
    ordering = ["device_id", "lane", "product_id"]

    @display(description=_("last change"))
    def last_change(self, obj: StockLevel) -> str:
        movement = obj.last_movement
        if movement is None:
            return "-"
        return f"{movement.get_kind_display()} {movement.quantity:+d}"

    @display(description=_("on hand"), label={"negative": "danger", "empty": "warning", "ok": "success"})
    def on_hand_badge(self, obj: StockLevel) -> Any:
        key = "negative" if obj.on_hand < 0 else "empty" if obj.on_hand == 0 else "ok"
        return key, obj.on_hand


class ManualMovementForm(forms.Form):
    OPERATIONS = (
        ("removal", _("Remove expired or damaged units")),
        ("transfer", _("Transfer units to another device or lane")),
        ("correction", _("Correct (reverse) a movement")),
    )
    operation = forms.ChoiceField(label=_("operation"), choices=OPERATIONS)
    corrects = forms.IntegerField(label=_("movement to correct (id)"), required=False, min_value=1)
    device = forms.ModelChoiceField(label=_("device"), queryset=Device.objects.none(), required=False)
    product = forms.ModelChoiceField(label=_("product"), queryset=Product.objects.none(), required=False)
    lane = forms.IntegerField(label=_("lane"), min_value=0, initial=0)
    quantity = forms.IntegerField(label=_("quantity"), min_value=1, required=False)
    to_device = forms.ModelChoiceField(label=_("to device"), queryset=Device.objects.none(), required=False)
    to_lane = forms.IntegerField(label=_("to lane"), min_value=0, initial=0)
    reason = forms.CharField(label=_("reason"), max_length=200)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        devices = Device.objects.restrict(user, "view").order_by("code")
        fields: Any = self.fields
        fields["device"].queryset = devices
        fields["to_device"].queryset = devices
        fields["product"].queryset = Product.objects.restrict(user, "view").order_by("sku")
        self.user = user

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        needs = {
            "correction": ("corrects",),
            "removal": ("device", "product", "quantity"),
            "transfer": ("device", "product", "quantity", "to_device"),
        }
        for name in needs.get(data.get("operation", ""), ()):
            if data.get(name) in (None, ""):
                self.add_error(name, _("Required for this operation."))
        if data.get("corrects"):
            found = StockMovement.objects.restrict(self.user, "view").filter(pk=data["corrects"]).first()
            if found is None:
                self.add_error("corrects", _("No such movement."))
            data["corrects"] = found
        return data


@register(StockMovement, platform_console, merchant_console)
class StockMovementAdmin(_ReadOnly):
    list_display = [
        "created_at",
        "device",
        "product",
        "lane",
        "kind",
        "quantity",
        "balance_badge",
        "reason",
        "actor",
        "source",
    ]
    list_filter = [
        "kind",
        "oversold",
        SCOPED_DEVICE,
        SCOPED_PRODUCT,
        ("created_at", admin.DateFieldListFilter),
    ]
    search_fields = ["product__sku", "product__name", "device__code", "reason", "source_id"]
    list_select_related = ["device", "product", "actor"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "created_at",
        "device",
        "product",
        "lane",
        "kind",
        "quantity",
        "balance_after",
        "oversold",
        "reason",
        "actor",
        "source_type",
        "source_id",
        "corrects",
        "idempotency_key",
    ]
    fields = readonly_fields
    actions_list = ["manual_movement"]

    @display(description=_("on hand after"), label={"oversold": "danger", "ok": "info"})
    def balance_badge(self, obj: StockMovement) -> Any:
        return ("oversold" if obj.oversold or obj.balance_after < 0 else "ok"), obj.balance_after

    @display(description=_("source document"))
    def source(self, obj: StockMovement) -> str:
        return f"{obj.source_type} #{obj.source_id}" if obj.source_type else "—"

    def has_post_permission(self, request: HttpRequest, object_id: Any = None) -> bool:
        return not is_platform(self.admin_site) and bool(request.user.has_perm("inventory.add_stockmovement"))

    @action(description=_("Post a manual movement"), url_path="manual", permissions=["post"])
    def manual_movement(self, request: HttpRequest) -> HttpResponse:
        form = ManualMovementForm(request.POST or None, user=request.user)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                posted = movement_services.movement_manual(
                    actor=request.user, operation=data["operation"], data=data
                )
            except OpenVendError as exc:
                form.add_error(None, exc.message)
            except PermissionDenied as exc:
                form.add_error(None, str(exc))
            else:
                self.message_user(request, _("Posted: %(movement)s") % {"movement": posted}, messages.SUCCESS)
                return HttpResponseRedirect(
                    reverse(f"{self.admin_site.name}:inventory_stockmovement_changelist")
                )
        context = {
            **self.admin_site.each_context(request),
            "title": _("Post a manual movement"),
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "consoles/stock/manual_movement.html", context)


class StockTakeLineInline(TabularInline):
    model = StockTakeLine
    fields = ["product", "lane", "expected", "counted", "difference"]
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False

    @display(description=_("difference"))
    def difference(self, obj: StockTakeLine) -> int:
        return obj.difference

    # Lines have no permissions of their own: whoever may see the stock-take sees its lines.
    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.has_perm("inventory.view_stocktake"))

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@register(StockTake, merchant_console)
class StockTakeAdmin(ConsoleModelAdmin):
    list_display = ["pk", "device", "state_badge", "counted_by", "submitted_at", "approver", "decided_at"]
    list_filter = ["state", SCOPED_DEVICE]
    search_fields = ["device__code", "device__name"]
    list_select_related = ["device", "counted_by", "approver"]
    readonly_fields = [
        "device",
        "state",
        "counted_by",
        "submitted_at",
        "approver",
        "decided_at",
        "reason",
        "decision_note",
        "created_at",
    ]
    fields = readonly_fields
    inlines = [StockTakeLineInline]
    actions_detail = ["submit_take", "decide_take", "report"]

    @display(description=_("state"), label=TAKE_COLOURS)
    def state_badge(self, obj: StockTake) -> Any:
        return obj.state, obj.get_state_display()

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ["device"] if obj is None else self.readonly_fields

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [] if obj is None else self.readonly_fields

    def get_inlines(self, request: HttpRequest, obj: Any) -> Any:
        return self.inlines if obj is not None else []

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_approve_permission(self, request: HttpRequest, object_id: Any = None) -> bool:
        return bool(request.user.has_perm("inventory.approve_stocktake"))

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        # Every field of an existing take is read-only: only "add" does something, through the service.
        if change:
            return
        take = stocktake_services.stocktake_start(actor=request.user, device=form.cleaned_data["device"])
        obj.pk = take.pk
        obj.refresh_from_db()

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        return None  # the service audited the start

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> Any:
        try:
            return super().add_view(request, form_url, extra_context)
        except OpenVendError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return HttpResponseRedirect(request.path)

    def _take(self, request: HttpRequest, object_id: Any) -> StockTake:
        take: StockTake = get_object_or_404(self.get_queryset(request), pk=object_id)
        return take

    def _back(self, object_id: Any) -> HttpResponse:
        return HttpResponseRedirect(
            reverse(f"{self.admin_site.name}:inventory_stocktake_change", args=[object_id])
        )

    @action(description=_("Submit for approval"), url_path="submit", permissions=["change"])
    def submit_take(self, request: HttpRequest, object_id: Any) -> HttpResponse:
        try:
            stocktake_services.stocktake_submit(actor=request.user, take=self._take(request, object_id))
        except (OpenVendError, PermissionDenied) as exc:
            self.message_user(request, getattr(exc, "message", str(exc)), messages.ERROR)
        else:
            self.message_user(request, _("Submitted for approval."), messages.SUCCESS)
        return self._back(object_id)

    @action(description=_("Approve or reject"), url_path="decide", permissions=["approve"])
    def decide_take(self, request: HttpRequest, object_id: Any) -> HttpResponse:
        take = self._take(request, object_id)
        if request.method == "POST":
            text = request.POST.get("reason", "")
            try:
                if request.POST.get("decision") == "approve":
                    posted = stocktake_services.stocktake_approve(
                        approver=request.user, take=take, reason=text
                    )
                    done = str(_("Approved: %(count)d adjustment(s) posted.") % {"count": len(posted)})
                else:
                    stocktake_services.stocktake_reject(approver=request.user, take=take, note=text)
                    done = str(_("Rejected: nothing was posted."))
            except (OpenVendError, PermissionDenied) as exc:
                self.message_user(request, getattr(exc, "message", str(exc)), messages.ERROR)
            else:
                self.message_user(request, done, messages.SUCCESS)
                return self._back(object_id)
        return self._report_page(request, take, decide=True)

    @action(description=_("Discrepancy report"), url_path="report", permissions=["view"])
    def report(self, request: HttpRequest, object_id: Any) -> HttpResponse:
        take = self._take(request, object_id)
        if request.GET.get("format") == "xlsx":
            response = HttpResponse(selectors.stocktake_report_xlsx(take), content_type=XLSX)
            response["Content-Disposition"] = f'attachment; filename="stocktake-{take.pk}.xlsx"'
            return response
        return self._report_page(request, take, decide=False)

    def _report_page(self, request: HttpRequest, take: StockTake, *, decide: bool) -> HttpResponse:
        rows = selectors.stocktake_report(take)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Stock-take %(id)s: discrepancies") % {"id": take.pk},
            "take": take,
            "rows": rows,
            "total_difference": sum(r.difference for r in rows),
            "total_value_fen": sum(r.value_fen for r in rows),
            "decide": decide and take.state == StockTakeState.SUBMITTED,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "consoles/stock/report.html", context)
