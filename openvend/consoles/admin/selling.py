"""Console pages: product templates (商品模版) applied to many devices at once, and each device's
sellable list (可售商品清单). Every write goes through `catalog.selling_services`."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from unfold.admin import TabularInline
from unfold.decorators import action, display

from openvend.audit.choices import AuditAction
from openvend.audit.services import audit_record, ensure_still_visible
from openvend.catalog import selling_services as selling
from openvend.catalog.models import (
    Product,
    ProductTemplate,
    SellableItem,
    TemplateItem,
)
from openvend.consoles.admin.base import ConsoleModelAdmin, register
from openvend.consoles.admin.pricing import _add_errors
from openvend.consoles.sites import merchant_console
from openvend.core.errors import OpenVendError
from openvend.devices.models import Device


class TemplateItemInline(TabularInline):
    model = TemplateItem
    fields = ["product", "sort_order"]
    extra = 1
    autocomplete_fields: list[str] = []

    # Items are part of their template: the template's own permissions govern them.
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(
            request.user.has_perm("catalog.change_producttemplate")
            or request.user.has_perm("catalog.add_producttemplate")
        )

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_add_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_add_permission(request, obj)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.has_perm("catalog.view_producttemplate"))

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "product":
            kwargs["queryset"] = Product.objects.restrict(request.user, "view").order_by("sku")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class TemplateForm(forms.ModelForm):
    merchant_id: int | None = None

    class Meta:
        model = ProductTemplate
        fields = ["name", "device_type", "note"]

    def clean_name(self) -> str:
        name = self.cleaned_data["name"]
        taken = ProductTemplate.objects.filter(merchant_id=self.merchant_id or 0, name=name)
        if self.instance.pk:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            raise forms.ValidationError(_("A template with this name already exists."))
        return name


class ApplyForm(forms.Form):
    devices = forms.ModelMultipleChoiceField(
        label=_("Devices"), queryset=Device.objects.none(), widget=forms.CheckboxSelectMultiple
    )
    mode = forms.ChoiceField(
        label=_("Mode"),
        choices=[
            ("merge", _("Merge: add missing products, keep everything else")),
            ("replace", _("Replace: the devices sell exactly this template")),
        ],
        initial="merge",
        widget=forms.RadioSelect,
    )

    def __init__(self, *args: Any, user: Any, template: ProductTemplate, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        devices = Device.objects.restrict(user, "view").select_related("site", "kind").order_by("code")
        if template.device_type:
            devices = devices.filter(kind__type=template.device_type)
        field: Any = self.fields["devices"]
        field.queryset = devices


@register(ProductTemplate, merchant_console)
class ProductTemplateAdmin(ConsoleModelAdmin):
    form = TemplateForm
    list_display = ["name", "device_type", "item_count", "note", "updated_at"]
    list_filter = ["device_type"]
    search_fields = ["name", "note"]
    inlines = [TemplateItemInline]
    actions_detail = ["apply_to_devices"]

    @display(description=_("products"))
    def item_count(self, obj: ProductTemplate) -> int:
        return obj.items.count()

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"merchant_id": getattr(request.user, "merchant_id", None)})

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        obj._template_before = (
            selling.template_state(ProductTemplate.objects.get(pk=obj.pk)) if change else None
        )
        if not change:
            user: Any = request.user
            obj.merchant_id = user.merchant_id
        obj.save()

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        # The items are part of the template: one audit row with the product list before and after.
        super(ConsoleModelAdmin, self).save_related(request, form, formsets, change)
        template = form.instance
        ensure_still_visible(actor=request.user, instance=template, action="change" if change else "add")
        after = selling.template_state(template)
        before = getattr(template, "_template_before", None)
        if not change:
            audit_record(actor=request.user, action=AuditAction.CREATE, instance=template, after=after)
        elif before != after:
            audit_record(
                actor=request.user, action=AuditAction.UPDATE, instance=template, before=before, after=after
            )

    def delete_model(self, request: HttpRequest, obj: ProductTemplate) -> None:
        selling.template_delete(actor=request.user, template=obj)

    def has_apply_permission(self, request: HttpRequest, object_id: Any = None) -> bool:
        user: Any = request.user
        return bool(
            user.has_perm("catalog.add_sellableitem") and user.has_perm("catalog.change_sellableitem")
        )

    @action(description=_("Apply to devices"), url_path="apply", permissions=["apply"])
    def apply_to_devices(self, request: HttpRequest, object_id: Any) -> HttpResponse:
        template = get_object_or_404(self.get_queryset(request), pk=object_id)
        form = ApplyForm(request.POST or None, user=request.user, template=template)
        if request.method == "POST" and form.is_valid():
            try:
                counts = selling.template_apply(
                    actor=request.user,
                    template=template,
                    devices=form.cleaned_data["devices"],
                    mode=form.cleaned_data["mode"],
                )
            except OpenVendError as exc:
                form.add_error(None, exc.message)
            else:
                self.message_user(
                    request,
                    _(
                        "%(template)s applied to %(devices)d device(s): "
                        "%(added)d added, %(kept)d kept, %(removed)d removed."
                    )
                    % {
                        "template": template.name,
                        "devices": len(counts),
                        "added": sum(c.added for c in counts.values()),
                        "kept": sum(c.kept for c in counts.values()),
                        "removed": sum(c.removed for c in counts.values()),
                    },
                )
                changelist = reverse(f"{self.admin_site.name}:catalog_sellableitem_changelist")
                return HttpResponseRedirect(f"{changelist}?template__id__exact={template.pk}")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Apply %(template)s to devices") % {"template": template.name},
            "form": form,
            "template": template,
        }
        return TemplateResponse(request, "consoles/pricing/template_apply.html", context)


class SellableItemForm(forms.ModelForm):
    request: HttpRequest | None = None

    class Meta:
        model = SellableItem
        fields = ["device", "product", "enabled"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        device, product = data.get("device"), data.get("product")
        if self.instance.pk is None and self.request is not None and device and product:
            try:
                selling.check_devices(
                    actor=self.request.user, merchant_id=device.merchant_id, devices=[device]
                )
                selling.check_products(device.merchant_id, [product])
            except OpenVendError as exc:
                _add_errors(self, exc)
        return data


@register(SellableItem, merchant_console)
class SellableItemAdmin(ConsoleModelAdmin):
    form = SellableItemForm
    list_display = ["device", "product", "enabled_badge", "template", "updated_at"]
    list_filter = ["device", "enabled", "template", "product"]
    search_fields = ["product__sku", "product__name", "device__code", "device__name"]
    list_select_related = ["device", "product", "template"]
    actions = ["enable", "disable"]

    @display(description=_("on sale here"), label={"yes": "success", "no": "danger"})
    def enabled_badge(self, obj: SellableItem) -> Any:
        return ("yes", _("Yes")) if obj.enabled else ("no", _("No"))

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"request": request})

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ["device", "product", "template"] if obj is not None else []

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return (
            ["device", "product", "enabled"] if obj is None else ["device", "product", "template", "enabled"]
        )

    def save_model(self, request: HttpRequest, obj: SellableItem, form: Any, change: bool) -> None:
        if change:
            fresh = SellableItem.objects.get(pk=obj.pk)
            selling.sellable_set_enabled(actor=request.user, item=fresh, enabled=form.cleaned_data["enabled"])
            return
        created = selling.sellable_add(
            actor=request.user,
            device=form.cleaned_data["device"],
            product=form.cleaned_data["product"],
            enabled=form.cleaned_data["enabled"],
        )
        obj.pk = created.pk

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        return None

    def delete_model(self, request: HttpRequest, obj: SellableItem) -> None:
        selling.sellable_remove(actor=request.user, item=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        selling.sellable_bulk_remove(actor=request.user, items=list(queryset))

    @action(description=_("Put on sale"), permissions=["change"])
    def enable(self, request: HttpRequest, queryset: QuerySet) -> None:
        changed = selling.sellable_bulk_set_enabled(actor=request.user, items=queryset, enabled=True)
        self.message_user(request, _("%(count)d item(s) put on sale.") % {"count": changed})

    @action(description=_("Take off sale"), permissions=["change"])
    def disable(self, request: HttpRequest, queryset: QuerySet) -> None:
        changed = selling.sellable_bulk_set_enabled(actor=request.user, items=queryset, enabled=False)
        self.message_user(request, _("%(count)d item(s) taken off sale.") % {"count": changed})
