from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from unfold.admin import TabularInline
from unfold.decorators import action, display

from openvend.consoles.admin.base import ConsoleModelAdmin, is_platform, register
from openvend.consoles.sites import merchant_console, platform_console
from openvend.core.errors import OpenVendError
from openvend.devices import alarms, commands, services
from openvend.devices.choices import AlarmSeverity, AlarmStatus, CommandKind, CommandStatus
from openvend.devices.models import Alarm, Command, Device, DeviceKind, DeviceRegistration

SEVERITY_COLOURS = {
    AlarmSeverity.CRITICAL: "danger",
    AlarmSeverity.MAJOR: "warning",
    AlarmSeverity.MINOR: "info",
}
STATUS_COLOURS = {
    AlarmStatus.OPEN: "danger",
    AlarmStatus.ACKNOWLEDGED: "warning",
    AlarmStatus.CLEARED: "success",
}
COMMAND_COLOURS = {
    CommandStatus.PENDING: "info",
    CommandStatus.SENT: "info",
    CommandStatus.SUCCEEDED: "success",
    CommandStatus.FAILED: "danger",
    CommandStatus.EXPIRED: "warning",
}


@register(DeviceKind, platform_console)
class DeviceKindAdmin(ConsoleModelAdmin):
    merchant_field = None
    list_display = ["code", "name", "type", "doors", "shelves", "sensors_per_shelf", "tracks", "has_camera"]
    list_filter = ["type"]


@register(DeviceRegistration, platform_console)
class DeviceRegistrationAdmin(ConsoleModelAdmin):
    merchant_field = None
    list_display = ["code", "kind", "batch", "created_at"]
    list_filter = ["kind", "batch"]
    search_fields = ["code", "batch"]


class AlarmInline(TabularInline):
    model = Alarm
    fields = ["kind", "severity", "status", "opened_at", "last_seen_at", "occurrences"]
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True
    verbose_name_plural = _("Recent alarms")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).order_by("-opened_at")


class CommandInline(TabularInline):
    model = Command
    fields = ["kind", "status", "created_at", "finished_at", "result_code", "created_by"]
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    verbose_name_plural = _("Recent commands")


@register(Device, platform_console, merchant_console)
class DeviceAdmin(ConsoleModelAdmin):
    list_display = [
        "code",
        "name",
        "site",
        "online_badge",
        "door",
        "lock",
        "temperature",
        "last_seen",
        "service_expires_at",
    ]
    list_filter = ["status", "state__online", "site", "group", "kind"]
    search_fields = ["code", "name", "site__name"]
    list_select_related = ["state", "site", "kind"]
    fields = [
        "code",
        "name",
        "kind",
        "site",
        "group",
        "status",
        "default_flow",
        "service_expires_at",
        "foreign_object_lock",
        "locked_by_foreign_object",
        "live_state",
        "qr_link",
    ]
    readonly_fields = [
        "code",
        "kind",
        "service_expires_at",
        "foreign_object_lock",
        "locked_by_foreign_object",
        "live_state",
        "qr_link",
    ]
    inlines = [AlarmInline, CommandInline]
    list_before_template = "consoles/live_refresh.html"
    actions_detail = ["cmd_open_door", "cmd_lock", "cmd_unlock", "cmd_reboot", "cmd_self_test"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # devices arrive by activation (code or QR), not by typing a form

    @display(description=_("online"), label={"online": "success", "offline": "danger"})
    def online_badge(self, obj: Device) -> Any:
        online = getattr(getattr(obj, "state", None), "online", False)
        return ("online", _("Online")) if online else ("offline", _("Offline"))

    @display(description=_("door"))
    def door(self, obj: Device) -> str:
        return obj.state.get_door_display() if hasattr(obj, "state") else "—"

    @display(description=_("lock"))
    def lock(self, obj: Device) -> str:
        return obj.state.get_lock_display() if hasattr(obj, "state") else "—"

    @display(description=_("temperature (°C)"))
    def temperature(self, obj: Device) -> Any:
        return getattr(getattr(obj, "state", None), "temperature_c", None) or "—"

    @display(description=_("last report"))
    def last_seen(self, obj: Device) -> Any:
        return getattr(getattr(obj, "state", None), "last_seen_at", None) or "—"

    @display(description=_("live state"))
    def live_state(self, obj: Device) -> str:
        state = getattr(obj, "state", None)
        if state is None:
            return "—"
        parts = [
            f"{_('online') if state.online else _('offline')}",
            f"{_('door')}: {state.get_door_display()}",
            f"{_('lock')}: {state.get_lock_display()}",
            f"{_('camera')}: {state.get_camera_display()}",
            f"{_('temperature (°C)')}: {state.temperature_c if state.temperature_c is not None else '—'}",
            f"{_('signal (dBm)')}: {state.rssi_dbm if state.rssi_dbm is not None else '—'}",
            f"{_('firmware')}: {state.firmware or '—'}",
            f"{_('last report (server time)')}: {state.last_seen_at or '—'}",
            f"{_('clock skew (ms)')}: {state.clock_skew_ms if state.clock_skew_ms is not None else '—'}",
        ]
        return " · ".join(parts)

    @display(description=_("QR code"))
    def qr_link(self, obj: Device) -> Any:
        from django.utils.html import format_html

        url = reverse(f"{self.admin_site.name}:devices_device_qr", args=[obj.pk])
        return format_html(
            '<a class="text-primary-600" href="{}" download>{}</a>', url, _("Download QR code (SVG)")
        )

    def get_urls(self) -> list[Any]:
        from django.urls import path

        return [
            path(
                "<int:object_id>/qr.svg", self.admin_site.admin_view(self.qr_view), name="devices_device_qr"
            ),
            *super().get_urls(),
        ]

    def qr_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        import qrcode
        import qrcode.image.svg

        device = get_object_or_404(self.get_queryset(request), pk=object_id)
        token = services.device_qr_token(device)
        image = qrcode.make(
            request.build_absolute_uri(reverse("mobile:scan", args=[token])),
            image_factory=qrcode.image.svg.SvgPathImage,
        )
        response = HttpResponse(image.to_string(), content_type="image/svg+xml")
        response["Content-Disposition"] = f'attachment; filename="{device.code}.svg"'
        return response

    def _command(
        self, request: HttpRequest, object_id: Any, kind: str, params: dict | None = None
    ) -> HttpResponse:
        device = get_object_or_404(self.get_queryset(request), pk=object_id)
        try:
            commands.command_send(actor=request.user, device=device, kind=kind, params=params or {})
        except OpenVendError as exc:
            self.message_user(request, exc.message, messages.ERROR)
        else:
            self.message_user(request, _("Command sent: %(kind)s") % {"kind": CommandKind(kind).label})
        return HttpResponseRedirect(
            reverse(f"{self.admin_site.name}:devices_device_change", args=[object_id])
        )

    @action(description=_("Open door"), url_path="open-door", permissions=["open_door"])
    def cmd_open_door(self, request: HttpRequest, object_id: Any) -> HttpResponse:
        return self._command(request, object_id, CommandKind.OPEN_DOOR, {"door": 1, "mode": "staff"})

    @action(description=_("Lock"), url_path="lock", permissions=["command"])
    def cmd_lock(self, request: HttpRequest, object_id: Any) -> HttpResponse:
        return self._command(request, object_id, CommandKind.LOCK)

    @action(description=_("Unlock"), url_path="unlock", permissions=["command"])
    def cmd_unlock(self, request: HttpRequest, object_id: Any) -> HttpResponse:
        return self._command(request, object_id, CommandKind.UNLOCK)

    @action(description=_("Reboot"), url_path="reboot", permissions=["command"])
    def cmd_reboot(self, request: HttpRequest, object_id: Any) -> HttpResponse:
        return self._command(request, object_id, CommandKind.REBOOT)

    @action(description=_("Self-test"), url_path="self-test", permissions=["command"])
    def cmd_self_test(self, request: HttpRequest, object_id: Any) -> HttpResponse:
        return self._command(request, object_id, CommandKind.SELF_TEST)

    def has_open_door_permission(self, request: HttpRequest, object_id: Any = None) -> bool:
        return bool(request.user.has_perm(commands.required_permission(CommandKind.OPEN_DOOR)))

    def has_command_permission(self, request: HttpRequest, object_id: Any = None) -> bool:
        return bool(request.user.has_perm("devices.command_device"))

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        try:
            data = {f: getattr(obj, f) for f in form.changed_data}
            fresh = Device.objects.get(pk=obj.pk)
            services.device_update(actor=request.user, device=fresh, data=data)
        except OpenVendError as exc:
            self.message_user(request, exc.message, messages.ERROR)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        return None  # the device service above audited and re-checked the save


@register(Alarm, platform_console, merchant_console)
class AlarmAdmin(ConsoleModelAdmin):
    list_display = [
        "opened_at",
        "device",
        "kind",
        "severity_badge",
        "status_badge",
        "occurrences",
        "last_seen_at",
    ]
    list_filter = ["status", "severity", "kind"]
    search_fields = ["device__code", "device__name"]
    list_select_related = ["device"]
    readonly_fields = [
        "device",
        "kind",
        "severity",
        "status",
        "opened_at",
        "last_seen_at",
        "occurrences",
        "acknowledged_at",
        "acknowledged_by",
        "cleared_at",
        "cleared_by",
        "detail",
    ]
    fields = readonly_fields
    actions = ["acknowledge", "clear"]
    actions_list = ["clear_all"]
    list_before_template = "consoles/live_refresh.html"

    @display(description=_("severity"), label=SEVERITY_COLOURS)
    def severity_badge(self, obj: Alarm) -> Any:
        return obj.severity, obj.get_severity_display()

    @display(description=_("status"), label=STATUS_COLOURS)
    def status_badge(self, obj: Alarm) -> Any:
        return obj.status, obj.get_status_display()

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def _each(self, request: HttpRequest, queryset: QuerySet, fn: Any) -> None:
        done = 0
        for alarm in queryset:
            try:
                fn(actor=request.user, alarm=alarm)
                done += 1
            except OpenVendError as exc:
                self.message_user(request, f"{alarm}: {exc.message}", messages.WARNING)
        if done:
            self.message_user(request, _("%(count)d alarm(s) updated.") % {"count": done})

    @action(description=_("Acknowledge"), permissions=["change"])
    def acknowledge(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._each(request, queryset, alarms.alarm_acknowledge)

    @action(description=_("Clear"), permissions=["change"])
    def clear(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._each(request, queryset, alarms.alarm_clear)

    @action(description=_("Clear all"), url_path="clear-all", permissions=["change"])
    def clear_all(self, request: HttpRequest) -> HttpResponse:
        scoped = Alarm.objects.restrict(request.user, "change")
        cleared = alarms.alarms_clear_all(actor=request.user, alarms=scoped)
        self.message_user(request, _("%(count)d alarm(s) cleared.") % {"count": cleared})
        return HttpResponseRedirect(reverse(f"{self.admin_site.name}:devices_alarm_changelist"))

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The form is read-only; "change" here means acknowledging and clearing.
        return bool(request.user.has_perm("devices.change_alarm")) and not is_platform(self.admin_site)


@register(Command, platform_console, merchant_console)
class CommandAdmin(ConsoleModelAdmin):
    list_display = [
        "created_at",
        "device",
        "kind",
        "status_badge",
        "result_code",
        "created_by",
        "finished_at",
    ]
    list_filter = ["status", "kind"]
    search_fields = ["device__code"]
    list_select_related = ["device", "created_by"]
    readonly_fields = [
        "device",
        "kind",
        "params",
        "status",
        "created_at",
        "expires_at",
        "sent_at",
        "finished_at",
        "result_code",
        "result_message",
        "result_data",
        "created_by",
    ]
    fields = readonly_fields

    @display(description=_("status"), label=COMMAND_COLOURS)
    def status_badge(self, obj: Command) -> Any:
        return obj.status, obj.get_status_display()

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
