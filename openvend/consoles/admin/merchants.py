from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from unfold.admin import TabularInline
from unfold.decorators import action, display

from openvend.consoles.admin.base import ConsoleModelAdmin, is_platform, register
from openvend.consoles.sites import merchant_console, platform_console
from openvend.core.errors import OpenVendError
from openvend.devices.models import Device
from openvend.merchants import services
from openvend.merchants.choices import MerchantStatus
from openvend.merchants.models import DeviceGroup, Merchant, OrgUnit, Site

STATUS_COLOURS = {
    MerchantStatus.PENDING: "warning",
    MerchantStatus.ACTIVE: "success",
    MerchantStatus.REJECTED: "danger",
    MerchantStatus.FROZEN: "info",
}


@register(Merchant, platform_console, merchant_console)
class MerchantAdmin(ConsoleModelAdmin):
    merchant_field = None
    list_display = ["name", "code", "kind", "status_badge", "contact_name", "contact_phone", "created_at"]
    list_filter = ["status", "kind"]
    search_fields = ["name", "code", "contact_name", "contact_phone"]
    readonly_fields = ["status", "review_note", "reviewed_at", "created_at"]
    actions = ["approve", "reject", "freeze", "unfreeze"]

    @display(description=_("status"), label=STATUS_COLOURS)
    def status_badge(self, obj: Merchant) -> Any:
        return obj.status, obj.get_status_display()

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            fields.append("code")
        return fields

    def get_actions(self, request: HttpRequest) -> Any:
        actions = super().get_actions(request)
        if not is_platform(self.admin_site):
            return {}
        return actions

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not change:
            obj.status = MerchantStatus.PENDING
        super().save_model(request, obj, form, change)

    def _run(self, request: HttpRequest, queryset: QuerySet, done_message: Any, fn: Any) -> None:
        done = 0
        for merchant in queryset:
            try:
                fn(actor=request.user, merchant=merchant)
                done += 1
            except OpenVendError as exc:
                self.message_user(request, f"{merchant}: {exc.message}", messages.ERROR)
        if done:
            self.message_user(request, done_message(done) % {"count": done})

    @action(description=_("Approve registration"), permissions=["review"])
    def approve(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._run(
            request,
            queryset,
            lambda n: ngettext("%(count)d merchant approved.", "%(count)d merchants approved.", n),
            services.merchant_approve,
        )

    @action(description=_("Reject registration"), permissions=["review"])
    def reject(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._run(
            request,
            queryset,
            lambda n: ngettext("%(count)d merchant rejected.", "%(count)d merchants rejected.", n),
            lambda **kw: services.merchant_reject(**kw, note=str(_("Rejected in the platform console."))),
        )

    @action(description=_("Freeze"), permissions=["freeze"])
    def freeze(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._run(
            request,
            queryset,
            lambda n: ngettext("%(count)d merchant frozen.", "%(count)d merchants frozen.", n),
            services.merchant_freeze,
        )

    @action(description=_("Unfreeze"), permissions=["freeze"])
    def unfreeze(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._run(
            request,
            queryset,
            lambda n: ngettext("%(count)d merchant unfrozen.", "%(count)d merchants unfrozen.", n),
            services.merchant_unfreeze,
        )

    def has_review_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("merchants.review_merchant")

    def has_freeze_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("merchants.freeze_merchant")


@register(OrgUnit, platform_console, merchant_console)
class OrgUnitAdmin(ConsoleModelAdmin):
    list_display = ["indented_name", "parent", "created_at"]
    search_fields = ["name"]
    fields = ["parent", "name"]

    @display(description=_("name"))
    def indented_name(self, obj: OrgUnit) -> str:
        return "— " * obj.depth + obj.name

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not is_platform(self.admin_site) and not change:
            obj.merchant_id = getattr(request.user, "merchant_id", None)
        if change:
            services.org_unit_update(actor=request.user, unit=obj, name=obj.name, parent=obj.parent)
        else:
            created = services.org_unit_create(
                actor=request.user, merchant=obj.merchant, parent=obj.parent, name=obj.name
            )
            obj.pk, obj.path = created.pk, created.path

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        # The org-unit services already audited and re-checked this save.
        form.save_m2m()


class SiteDeviceInline(TabularInline):
    """Devices at this site (and, from a device's page, its site): 点位查设备 / 设备查点位."""

    model = Device
    fk_name = "site"
    fields = ["code", "name", "kind", "status", "service_expires_at"]
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True


@register(Site, platform_console, merchant_console)
class SiteAdmin(ConsoleModelAdmin):
    inlines = [SiteDeviceInline]
    list_display = ["name", "code", "org_unit", "city", "address", "is_active"]
    list_filter = ["is_active", "city"]
    search_fields = ["name", "code", "address", "city", "district"]
    fieldsets = [
        (None, {"fields": ["merchant", "name", "code", "org_unit", "is_active", "contact_phone"]}),
        (_("Location"), {"fields": ["province", "city", "district", "address", "latitude", "longitude"]}),
        (_("Business hours"), {"fields": ["opens_at", "closes_at"]}),
    ]

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if "merchant" in self.get_exclude(request, obj):
            first = dict(fieldsets[0][1])
            first["fields"] = [f for f in first["fields"] if f != "merchant"]
            return [(fieldsets[0][0], first), *fieldsets[1:]]
        return fieldsets


@register(DeviceGroup, platform_console, merchant_console)
class DeviceGroupAdmin(ConsoleModelAdmin):
    list_display = ["name", "org_unit", "note"]
    search_fields = ["name", "note"]
