from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from unfold.contrib.filters.admin import RangeDateTimeFilter
from unfold.decorators import display

from openvend.audit.models import AuditLogEntry
from openvend.consoles.admin.base import ConsoleModelAdmin, register
from openvend.consoles.sites import merchant_console, platform_console


@register(AuditLogEntry, platform_console, merchant_console)
class AuditLogAdmin(ConsoleModelAdmin):
    """Read-only: the log is append-only everywhere, the console included."""

    list_display = [
        "created_at",
        "actor_username",
        "action",
        "object_type",
        "object_repr",
        "changed",
        "channel",
        "ip_address",
    ]
    list_filter = ["action", "channel", "object_type", ("created_at", RangeDateTimeFilter)]
    list_filter_submit = True
    search_fields = ["actor_username", "object_repr", "object_id", "message"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "created_at",
        "actor_username",
        "action",
        "object_type",
        "object_id",
        "object_repr",
        "channel",
        "ip_address",
        "message",
        "changes_table",
    ]
    fields = readonly_fields

    @display(description=_("changed fields"))
    def changed(self, obj: AuditLogEntry) -> str:
        return ", ".join(obj.changed_fields)

    @display(description=_("before → after"))
    def changes_table(self, obj: AuditLogEntry) -> Any:
        before, after = obj.before or {}, obj.after or {}
        keys = obj.changed_fields or sorted(set(before) | set(after))
        rows = "".join(
            format_html(
                "<tr><th class='pr-4 text-left'>{}</th><td class='pr-4'>{}</td><td>{}</td></tr>",
                key,
                json.dumps(before.get(key), ensure_ascii=False),
                json.dumps(after.get(key), ensure_ascii=False),
            )
            for key in keys
        )
        # Each row was escaped by format_html above.
        return mark_safe(f"<table>{rows}</table>") if rows else "—"  # noqa: S308

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
