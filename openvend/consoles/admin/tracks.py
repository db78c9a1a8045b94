"""Console pages: vending-machine tracks (货道). Read-only in the platform console.

Inline editing in the list, a "Clone to other machines" action with a form choosing the target
machines (same kind, within the user's scope), a "Generate tracks" page and the Excel export every
list has. Writes go through `openvend.inventory.track_services`, which validates and audits.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.admin import RelatedOnlyFieldListFilter, helpers
from django.db.models import IntegerField, OuterRef, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from unfold.decorators import action, display

from openvend.consoles.admin.base import ConsoleModelAdmin, is_platform, register
from openvend.consoles.admin.planogram_forms import TrackCloneForm, TrackForm, TrackGenerateForm
from openvend.consoles.sites import merchant_console, platform_console
from openvend.core.errors import OpenVendError
from openvend.inventory import track_services
from openvend.inventory.models import StockLevel, Track


def _can(request: HttpRequest, admin: Any, perm: str) -> bool:
    return not is_platform(admin.admin_site) and bool(request.user.has_perm(f"inventory.{perm}"))


@register(Track, platform_console, merchant_console)
class TrackAdmin(ConsoleModelAdmin):
    form = TrackForm
    list_display = ["device", "number", "product", "price_fen", "capacity", "par_level", "enabled", "on_hand"]
    list_editable = ["product", "price_fen", "capacity", "par_level", "enabled"]
    list_filter = [("device", RelatedOnlyFieldListFilter), "enabled", ("product", RelatedOnlyFieldListFilter)]
    search_fields = ["device__code", "device__name", "product__sku", "product__name"]
    list_select_related = ["device", "product"]
    ordering = ["device__code", "number"]
    fields = ["device", "number", "product", "price_fen", "capacity", "par_level", "enabled"]
    actions = ["clone_tracks"]
    actions_list = ["generate_tracks"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        stock = StockLevel.objects.filter(
            device=OuterRef("device"), product=OuterRef("product"), lane=OuterRef("number")
        ).values("on_hand")[:1]
        return (
            super().get_queryset(request).annotate(lane_on_hand=Subquery(stock, output_field=IntegerField()))
        )

    @display(description=_("on hand"), ordering="lane_on_hand")
    def on_hand(self, obj: Track) -> int:
        return getattr(obj, "lane_on_hand", None) or 0

    def has_add_permission(self, request: HttpRequest) -> bool:
        return _can(request, self, "add_track")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _can(request, self, "change_track")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _can(request, self, "delete_track")

    def has_generate_tracks_permission(self, request: HttpRequest) -> bool:
        return _can(request, self, "add_track")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ["device", "number"] if obj is not None else []

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is None and "device" in form.base_fields:
            form.base_fields["device"].queryset = form.base_fields["device"].queryset.filter(
                kind__type="vending_machine"
            )
        return form

    def get_changelist_form(self, request: HttpRequest, **kwargs: Any) -> Any:
        return TrackForm

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        data = {
            name: form.cleaned_data[name] for name in track_services.TRACK_FIELDS if name in form.cleaned_data
        }
        if change:
            fresh = Track.objects.get(pk=obj.pk)
            track_services.track_update(actor=request.user, track=fresh, data=data)
            return
        created = track_services.track_create(
            actor=request.user, device=form.cleaned_data["device"], number=form.cleaned_data["number"], **data
        )
        obj.pk = created.pk
        obj._state.adding = False

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        return None  # the track services audited and re-checked the save

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        track_services.track_delete(actor=request.user, track=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for track in queryset:
            try:
                track_services.track_delete(actor=request.user, track=track)
            except OpenVendError as exc:
                self.message_user(request, exc.message, messages.WARNING)

    @action(description=_("Clone to other machines"), permissions=["change"])
    def clone_tracks(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        tracks = list(queryset.select_related("device__kind"))
        if len({track.device_id for track in tracks}) != 1:
            self.message_user(request, _("Select tracks of one machine to clone."), messages.ERROR)
            return None
        source = tracks[0].device
        numbers = sorted(track.number for track in tracks)
        form = TrackCloneForm(
            request.POST if "apply" in request.POST else None, user=request.user, source=source
        )
        if "apply" in request.POST and form.is_valid():
            try:
                result = track_services.tracks_clone(
                    actor=request.user,
                    source_device=source,
                    target_devices=form.cleaned_data["target_devices"],
                    numbers=numbers,
                )
            except OpenVendError as exc:
                self.message_user(request, exc.message, messages.ERROR)
                return None
            self.message_user(
                request,
                _(
                    "Cloned %(tracks)s track(s) of %(source)s to %(targets)s machine(s): "
                    "%(created)s created, %(updated)s updated, %(unchanged)s already identical."
                )
                % {
                    "tracks": len(numbers),
                    "source": source.code,
                    "targets": result.targets,
                    "created": result.created,
                    "updated": result.updated,
                    "unchanged": result.unchanged,
                },
            )
            return None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Clone to other machines"),
            "form": form,
            "source": source,
            "numbers": numbers,
            "queryset": queryset,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "consoles/planograms/track_clone.html", context)

    @action(description=_("Generate tracks"), url_path="generate", permissions=["generate_tracks"])
    def generate_tracks(self, request: HttpRequest) -> HttpResponse:
        form = TrackGenerateForm(request.POST or None, user=request.user)
        if request.method == "POST" and form.is_valid():
            device = form.cleaned_data["device"]
            try:
                created = track_services.tracks_generate(actor=request.user, device=device)
            except OpenVendError as exc:
                self.message_user(request, exc.message, messages.ERROR)
            else:
                self.message_user(
                    request,
                    _("%(count)s track(s) created on %(device)s.")
                    % {"count": len(created), "device": device.code},
                )
                changelist = reverse(f"{self.admin_site.name}:inventory_track_changelist")
                return HttpResponseRedirect(f"{changelist}?device__id__exact={device.pk}")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Generate tracks"),
            "form": form,
        }
        return TemplateResponse(request, "consoles/planograms/track_generate.html", context)
