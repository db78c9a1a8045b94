"""Console pages: planograms and vending tracks.

Both consoles list them; the platform console is read-only. Every write goes through
`openvend.inventory.planogram_services` / `track_services`, which validate and audit; forms run the
same validation first so a refusal shows on the field instead of failing the save.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.admin import RelatedOnlyFieldListFilter
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
from openvend.consoles.admin.planogram_forms import (
    PlanogramAddForm,
    SlotForm,
    SlotFormSet,
)
from openvend.consoles.sites import merchant_console, platform_console
from openvend.core.errors import OpenVendError
from openvend.inventory import planogram_services
from openvend.inventory.choices import PlanogramStatus
from openvend.inventory.models import Planogram, PlanogramSlot
from openvend.inventory.planogram_selectors import check_warnings

STATUS_COLOURS = {
    PlanogramStatus.DRAFT: "info",
    PlanogramStatus.ACTIVE: "success",
    PlanogramStatus.SUPERSEDED: "warning",
}


def _can(request: HttpRequest, admin: Any, perm: str) -> bool:
    return not is_platform(admin.admin_site) and bool(request.user.has_perm(f"inventory.{perm}"))


class PlanogramSlotInline(TabularInline):
    model = PlanogramSlot
    form = SlotForm
    formset = SlotFormSet
    fields = ["shelf", "sensors", "product", "capacity", "par_level"]
    extra = 0
    verbose_name_plural = _("Slots: products on weight sensors")

    # Slots have no permissions of their own: editing them is editing the planogram draft.
    def _editable(self, request: HttpRequest, obj: Any) -> bool:
        return (
            _can(request, self, "change_planogram")
            and obj is not None
            and obj.status == PlanogramStatus.DRAFT
        )

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.has_perm("inventory.view_planogram"))

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._editable(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._editable(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._editable(request, obj)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("product").order_by("shelf", "id")

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "product":
            kwargs["queryset"] = Product.objects.restrict(request.user, "view")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@register(Planogram, platform_console, merchant_console)
class PlanogramAdmin(ConsoleModelAdmin):
    list_display = [
        "device",
        "version",
        "status_badge",
        "effective_from",
        "effective_to",
        "slot_count",
        "accuracy",
    ]
    list_filter = ["status", ("device", RelatedOnlyFieldListFilter)]
    search_fields = ["device__code", "device__name", "note"]
    list_select_related = ["device"]
    ordering = ["device__code", "-version"]
    fields = ["device", "version", "status", "effective_from", "effective_to", "note", "created_by"]
    readonly_fields = ["device", "version", "status", "effective_from", "effective_to", "created_by"]
    inlines = [PlanogramSlotInline]
    change_form_before_template = "consoles/planograms/check_panel.html"
    actions_detail = ["new_version", "activate_version"]

    # ------------------------------------------------------------------ permissions
    def has_add_permission(self, request: HttpRequest) -> bool:
        return _can(request, self, "add_planogram")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _can(request, self, "change_planogram")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        allowed = _can(request, self, "delete_planogram")
        return allowed and (obj is None or obj.status == PlanogramStatus.DRAFT)

    def has_new_version_permission(self, request: HttpRequest, object_id: Any = None) -> bool:
        return _can(request, self, "add_planogram")

    def has_activate_version_permission(self, request: HttpRequest, object_id: Any = None) -> bool:
        return _can(request, self, "change_planogram")

    def get_actions_detail(self, request: HttpRequest, object_id: Any = None) -> Any:
        found = super().get_actions_detail(request, object_id)
        is_draft = self.get_queryset(request).filter(pk=object_id, status=PlanogramStatus.DRAFT).exists()
        # Only a draft can be put in force: offer the button where it can work.
        return [a for a in found if is_draft or not a.action_name.endswith("_activate_version")]

    # ------------------------------------------------------------------------ columns
    @display(description=_("status"), label=STATUS_COLOURS)
    def status_badge(self, obj: Planogram) -> Any:
        return obj.status, obj.get_status_display()

    @display(description=_("slots"))
    def slot_count(self, obj: Planogram) -> int:
        return obj.slots.count()

    @display(description=_("predicted accuracy"))
    def accuracy(self, obj: Planogram) -> str:
        return _percent((obj.check_report or {}).get("overall_predicted_accuracy"))

    # --------------------------------------------------------------------------- forms
    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = PlanogramAddForm
            kwargs["fields"] = ["device", "note", "copy_in_force"]
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ["device", "note", "copy_in_force"] if obj is None else self.fields

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [] if obj is None else super().get_readonly_fields(request, obj)

    def get_inlines(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.inlines if obj is not None else []

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "device" and field is not None:
            # Only weighing cabinets get planograms.
            field.queryset = field.queryset.filter(
                kind__shelves__gt=0, kind__sensors_per_shelf__gt=0
            ).exclude(kind__type="vending_machine")
        return field

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if change:
            planogram_services.planogram_update(actor=request.user, planogram=obj, data={"note": obj.note})
            return
        created = planogram_services.planogram_draft_create(
            actor=request.user,
            device=form.cleaned_data["device"],
            copy_in_force=form.cleaned_data.get("copy_in_force", False),
            note=form.cleaned_data.get("note", ""),
        )
        obj.pk = created.pk
        obj.version = created.version
        obj._state.adding = False

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        # The services audited and re-checked every write; only the slot formset is left to apply.
        for formset in formsets:
            self.save_formset(request, form, formset, change)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        planogram = form.instance
        changed = [f for f in formset.forms if f.has_changed() or formset._should_delete_form(f)]
        deleted = [f for f in changed if formset._should_delete_form(f)]
        # What Django's change message reads, normally filled in by formset.save().
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for slot_form in deleted:
            if slot_form.instance.pk:
                planogram_services.planogram_slot_remove(actor=request.user, slot=slot_form.instance)
                formset.deleted_objects.append(slot_form.instance)
        for slot_form in changed:
            if slot_form in deleted:
                continue
            data = {name: slot_form.cleaned_data[name] for name in planogram_services.SLOT_FIELDS}
            if slot_form.instance.pk:
                fresh = PlanogramSlot.objects.get(pk=slot_form.instance.pk)
                slot = planogram_services.planogram_slot_update(actor=request.user, slot=fresh, data=data)
                formset.changed_objects.append((slot, slot_form.changed_data))
            else:
                slot = planogram_services.planogram_slot_add(actor=request.user, planogram=planogram, **data)
                formset.new_objects.append(slot)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        planogram_services.planogram_draft_delete(actor=request.user, planogram=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for planogram in queryset:
            try:
                planogram_services.planogram_draft_delete(actor=request.user, planogram=planogram)
            except OpenVendError as exc:
                self.message_user(request, f"{planogram}: {exc.message}", messages.WARNING)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        planogram = self.get_queryset(request).filter(pk=object_id).first()
        if planogram is not None:
            extra_context = {**(extra_context or {}), **_check_context(planogram)}
        return super().change_view(request, object_id, form_url, extra_context)

    # ------------------------------------------------------------------------- actions
    def _confirm(self, request: HttpRequest, planogram: Planogram, title: Any, question: Any) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            **_check_context(planogram),
            "opts": self.model._meta,
            "original": planogram,
            "title": title,
            "question": question,
            "back": reverse(f"{self.admin_site.name}:inventory_planogram_change", args=[planogram.pk]),
        }
        return TemplateResponse(request, "consoles/planograms/confirm.html", context)

    @action(description=_("New version from this one"), url_path="new-version", permissions=["new_version"])
    def new_version(self, request: HttpRequest, object_id: Any) -> HttpResponse:
        planogram = get_object_or_404(self.get_queryset(request), pk=object_id)
        if request.method != "POST":
            return self._confirm(
                request,
                planogram,
                _("New version from this one"),
                _("Create a draft of %(device)s with the slots of version %(version)s?")
                % {"device": planogram.device, "version": planogram.version},
            )
        try:
            draft = planogram_services.planogram_draft_create(
                actor=request.user, device=planogram.device, copy_from=planogram
            )
        except OpenVendError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return HttpResponseRedirect(request.path)
        self.message_user(request, _("Draft version %(version)s created.") % {"version": draft.version})
        return HttpResponseRedirect(
            reverse(f"{self.admin_site.name}:inventory_planogram_change", args=[draft.pk])
        )

    @action(description=_("Activate"), url_path="activate", permissions=["activate_version"])
    def activate_version(self, request: HttpRequest, object_id: Any) -> HttpResponse:
        planogram = get_object_or_404(self.get_queryset(request), pk=object_id)
        back = reverse(f"{self.admin_site.name}:inventory_planogram_change", args=[planogram.pk])
        if request.method != "POST":
            return self._confirm(
                request,
                planogram,
                _("Activate"),
                _("Put version %(version)s of %(device)s in force now? The version in force is superseded.")
                % {"device": planogram.device, "version": planogram.version},
            )
        try:
            planogram_services.planogram_activate(actor=request.user, planogram=planogram)
        except OpenVendError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return HttpResponseRedirect(back)
        planogram.refresh_from_db()
        warnings = check_warnings(planogram.check_report)
        self.message_user(request, _("Version %(version)s is in force.") % {"version": planogram.version})
        if warnings:
            sensors = ", ".join("+".join(w["sensors"]) for w in warnings)
            self.message_user(
                request,
                _("Recognition may confuse products on %(sensors)s: see the warnings below.")
                % {"sensors": sensors},
                messages.WARNING,
            )
        return HttpResponseRedirect(back)


def _percent(value: Any) -> str:
    return f"{value:.1%}" if isinstance(value, int | float) else "—"


def _check_context(planogram: Planogram) -> dict[str, Any]:
    report = planogram.check_report or {}
    warnings = [{**w, "accuracy_pct": _percent(w["predicted_accuracy"])} for w in check_warnings(report)]
    return {
        "planogram_warnings": warnings,
        "planogram_accuracy": _percent(report.get("overall_predicted_accuracy")),
        "planogram_notes": report.get("notes", []),
        "planogram_checked": bool(report),
    }


# The track pages live in their own module; importing it registers them with both consoles.
from openvend.consoles.admin import tracks as _tracks  # noqa: E402, F401
