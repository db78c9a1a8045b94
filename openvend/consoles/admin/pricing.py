"""Console pages: prices and the platform's price review (templates and sellable lists: `selling.py`).

Every write goes through `catalog.pricing_services` / `catalog.selling_services`, which validate,
audit and re-check the data scope; these classes only show forms and lists.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from unfold.decorators import action, display

from openvend.catalog import pricing_services as pricing
from openvend.catalog.choices import PriceStatus
from openvend.catalog.models import (
    CatalogSettings,
    PriceRule,
    Product,
)
from openvend.catalog.selectors import price_for
from openvend.consoles.admin.base import ConsoleModelAdmin, is_platform, register
from openvend.consoles.sites import merchant_console, platform_console
from openvend.core.errors import OpenVendError
from openvend.devices.models import Device

STATUS_COLOURS = {
    PriceStatus.ACTIVE: "success",
    PriceStatus.PENDING: "warning",
    PriceStatus.REJECTED: "danger",
    PriceStatus.WITHDRAWN: "info",
}
RULE_FIELDS = [
    "product",
    "scope",
    "site",
    "device",
    "price_fen",
    "member_price_fen",
    "effective_from",
    "effective_to",
    "note",
]
REVIEW_FIELDS = ["status", "created_by", "reviewed_by", "reviewed_at", "review_note"]


def _add_errors(form: forms.BaseForm, exc: OpenVendError) -> None:
    """Put a service error next to the fields it names (or on top of the form)."""
    placed = False
    for field, errors in exc.fields.items():
        if field in form.fields:
            for error in errors:
                form.add_error(field, error)
            placed = True
    if not placed:
        form.add_error(None, exc.message)


# ---------------------------------------------------------------------------------------------
# Price rules
# ---------------------------------------------------------------------------------------------


class PriceRuleForm(forms.ModelForm):
    """Runs the service's checks while validating, so errors show next to their fields."""

    request: HttpRequest | None = None

    class Meta:
        model = PriceRule
        fields = RULE_FIELDS

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors or self.request is None:
            return data
        rule = self.instance
        try:
            if rule.pk is None:
                pricing.price_rule_check(
                    actor=self.request.user,
                    product=data["product"],
                    scope=data["scope"],
                    site=data.get("site"),
                    device=data.get("device"),
                    price_fen=data["price_fen"],
                    member_price_fen=data.get("member_price_fen"),
                    effective_from=data.get("effective_from") or timezone.now(),
                    effective_to=data.get("effective_to"),
                )
            else:
                pricing.price_rule_check_terms(
                    price_fen=data.get("price_fen"),
                    member_price_fen=data.get("member_price_fen"),
                    effective_from=data["effective_from"],
                    effective_to=data.get("effective_to"),
                )
        except OpenVendError as exc:
            _add_errors(self, exc)
        return data


class RejectForm(forms.Form):
    note = forms.CharField(label=_("Why is it rejected?"), max_length=300)


class PriceCheckForm(forms.Form):
    device = forms.ModelChoiceField(label=_("Device"), queryset=Device.objects.none())
    product = forms.ModelChoiceField(label=_("Product"), queryset=Product.objects.none())
    at = forms.DateTimeField(label=_("At"), required=False, help_text=_("Empty: now."))
    member = forms.BooleanField(label=_("Member"), required=False)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        device_field: Any = self.fields["device"]
        product_field: Any = self.fields["product"]
        device_field.queryset = Device.objects.restrict(user, "view").order_by("code")
        product_field.queryset = Product.objects.restrict(user, "view").order_by("sku")


@register(PriceRule, platform_console, merchant_console)
class PriceRuleAdmin(ConsoleModelAdmin):
    form = PriceRuleForm
    list_display = [
        "product",
        "scope",
        "target",
        "price_fen",
        "member_price_fen",
        "effective_from",
        "effective_to",
        "status_badge",
        "created_by",
    ]
    list_filter = ["scope", "status", "product", "site", "device"]
    search_fields = ["product__sku", "product__name"]
    list_select_related = ["product", "site", "device", "created_by"]
    date_hierarchy = "effective_from"
    actions = ["withdraw", "approve", "reject"]
    actions_list = ["price_check"]

    @display(description=_("status"), label=STATUS_COLOURS)
    def status_badge(self, obj: PriceRule) -> Any:
        return obj.status, obj.get_status_display()

    @display(description=_("applies to"))
    def target(self, obj: PriceRule) -> str:
        return str(obj.device or obj.site or _("Whole merchant"))

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"request": request})

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return RULE_FIELDS if obj is None else [*RULE_FIELDS, *REVIEW_FIELDS]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return []
        if obj.status == PriceStatus.PENDING and not is_platform(self.admin_site):
            # A pending rule may still be edited, but never re-aimed at another product or target.
            return ["product", "scope", "site", "device", *REVIEW_FIELDS]
        return [*RULE_FIELDS, *REVIEW_FIELDS]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.status != PriceStatus.PENDING:
            return False  # history: withdraw instead
        return super().has_delete_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: PriceRule, form: Any, change: bool) -> None:
        data = {field: form.cleaned_data.get(field) for field in form.changed_data}
        if change:
            editable = {k: v for k, v in data.items() if k in pricing.EDITABLE_FIELDS}
            pricing.price_rule_update(
                actor=request.user, rule=PriceRule.objects.get(pk=obj.pk), data=editable
            )
            obj.refresh_from_db()
            return
        created = pricing.price_rule_create(
            actor=request.user,
            product=form.cleaned_data["product"],
            scope=form.cleaned_data["scope"],
            site=form.cleaned_data.get("site"),
            device=form.cleaned_data.get("device"),
            price_fen=form.cleaned_data["price_fen"],
            member_price_fen=form.cleaned_data.get("member_price_fen"),
            effective_from=form.cleaned_data.get("effective_from"),
            effective_to=form.cleaned_data.get("effective_to"),
            note=form.cleaned_data.get("note") or "",
        )
        obj.pk = created.pk
        obj.refresh_from_db()

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        return None  # the pricing service audited and re-checked the save

    def delete_model(self, request: HttpRequest, obj: PriceRule) -> None:
        pricing.price_rule_delete(actor=request.user, rule=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for rule in queryset:
            try:
                pricing.price_rule_delete(actor=request.user, rule=rule)
            except OpenVendError as exc:
                self.message_user(request, f"{rule}: {exc.message}", messages.WARNING)

    def _each(self, request: HttpRequest, queryset: QuerySet, fn: Any, **kwargs: Any) -> int:
        done = 0
        for rule in queryset:
            try:
                fn(actor=request.user, rule=rule, **kwargs)
                done += 1
            except OpenVendError as exc:
                self.message_user(request, f"{rule}: {exc.message}", messages.WARNING)
        if done:
            self.message_user(request, _("%(count)d price rule(s) updated.") % {"count": done})
        return done

    @action(description=_("Withdraw"), permissions=["change"])
    def withdraw(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._each(request, queryset, pricing.price_rule_withdraw)

    @action(description=_("Approve"), permissions=["review"])
    def approve(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._each(request, queryset, pricing.price_rule_approve)

    @action(description=_("Reject"), permissions=["review"])
    def reject(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        form = RejectForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            self._each(request, queryset, pricing.price_rule_reject, note=form.cleaned_data["note"])
            return None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Reject price changes"),
            "form": form,
            "queryset": queryset,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "consoles/pricing/reject.html", context)

    def has_review_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_platform(self.admin_site) and bool(request.user.has_perm(pricing.REVIEW_PERMISSION))

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not is_platform(self.admin_site) and super().has_change_permission(request, obj)

    @action(description=_("Price check"), url_path="price-check", permissions=["view"])
    def price_check(self, request: HttpRequest) -> HttpResponse:
        """What `price_for` answers for a device and product at an instant (now by default)."""
        form = PriceCheckForm(request.GET or None, user=request.user)
        quote, at = None, None
        if request.GET and form.is_valid():
            at = form.cleaned_data.get("at") or timezone.now()
            try:
                quote = price_for(
                    form.cleaned_data["device"],
                    form.cleaned_data["product"],
                    at,
                    member=form.cleaned_data["member"],
                )
            except OpenVendError as exc:
                form.add_error(None, exc.message)
        rule = PriceRule.objects.filter(pk=quote.rule_id).first() if quote and quote.rule_id else None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Price check"),
            "form": form,
            "quote": quote,
            "at": at,
            "rule": rule,
        }
        return TemplateResponse(request, "consoles/pricing/price_check.html", context)


@register(CatalogSettings, platform_console)
class CatalogSettingsAdmin(ConsoleModelAdmin):
    """Platform: which merchants' price changes wait for platform review."""

    merchant_field = None
    list_display = ["merchant", "price_changes_need_review", "updated_at"]
    list_filter = ["price_changes_need_review"]
    search_fields = ["merchant__name", "merchant__code"]
    fields = ["merchant", "price_changes_need_review"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ["merchant"] if obj is not None else []

    def has_add_permission(self, request: HttpRequest) -> bool:
        # A merchant gets its row the first time the platform sets its policy.
        return bool(request.user.has_perm(pricing.SETTINGS_PERMISSION))

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: CatalogSettings, form: Any, change: bool) -> None:
        saved = pricing.catalog_settings_update(
            actor=request.user,
            merchant=obj.merchant,
            price_changes_need_review=form.cleaned_data["price_changes_need_review"],
        )
        obj.pk = saved.pk

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        return None
