from __future__ import annotations

import django_filters
from rest_framework import serializers, viewsets

from openvend.audit.models import AuditLogEntry


class AuditLogEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditLogEntry
        fields = [
            "id",
            "merchant",
            "actor",
            "actor_username",
            "action",
            "object_type",
            "object_id",
            "object_repr",
            "before",
            "after",
            "changed_fields",
            "channel",
            "ip_address",
            "message",
            "created_at",
        ]


class AuditLogFilter(django_filters.FilterSet):
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = AuditLogEntry
        fields = ["action", "channel", "object_type", "object_id", "actor", "actor_username"]


class AuditLogViewSet(viewsets.ReadOnlyModelViewSet):
    """The audit log (系统日志): every login and change, with before and after values. Read-only."""

    queryset = AuditLogEntry.objects.all()
    serializer_class = AuditLogEntrySerializer
    filterset_class = AuditLogFilter
    search_fields = ["actor_username", "object_repr", "message"]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return AuditLogEntry.objects.restrict(self.request.user, "view").order_by("-created_at", "-id")
