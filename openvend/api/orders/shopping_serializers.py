"""Serializers for shopping sessions with their event timeline, and the merchant's blacklist."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from openvend.consumers.models import Consumer
from openvend.shopping.models import (
    BlacklistEntry,
    BlacklistRule,
    SessionMedia,
    ShoppingEvent,
    ShoppingSession,
)


class ShoppingEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = ShoppingEvent
        fields = ["id", "kind", "from_state", "to_state", "detail", "created_at"]
        read_only_fields = fields


class SessionMediaSerializer(serializers.ModelSerializer):
    """A photo or video clip a cabinet camera took of the visit: a link to the merchant's storage."""

    class Meta:
        model = SessionMedia
        fields = [
            "id",
            "camera",
            "kind",
            "url",
            "captured_at",
            "received_at",
            "sha256",
            "size_bytes",
            "duration_ms",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "captured_at": {"help_text": "Machine time of the capture (a clip: its start)."},
            "received_at": {"help_text": "When the cloud received the device's report."},
        }


SESSION_FIELDS = [
    "id",
    "merchant",
    "device",
    "site",
    "consumer",
    "flow",
    "state",
    "payment_method",
    "opened_at",
    "closed_at",
    "ended_at",
    "door_alarm_at",
    "created_at",
]


class ShoppingSessionSerializer(serializers.ModelSerializer):
    class Meta:
        model = ShoppingSession
        fields = SESSION_FIELDS
        read_only_fields = fields


class ShoppingSessionDetailSerializer(serializers.ModelSerializer):
    """A session with its weight evidence, its photos and clips, and every event of its timeline,
    oldest first."""

    events = ShoppingEventSerializer(many=True, read_only=True)
    media = SessionMediaSerializer(many=True, read_only=True)

    class Meta:
        model = ShoppingSession
        fields = [*SESSION_FIELDS, "sensor_deltas_g", "media", "events"]
        read_only_fields = fields


class ShopperField(serializers.PrimaryKeyRelatedField):
    """A shopper by id: only one who has an order at the caller's merchant (others do not exist)."""

    def get_queryset(self) -> Any:
        request = self.context.get("request")
        merchant_id: Any = getattr(getattr(request, "user", None), "merchant_id", None)
        return Consumer.objects.filter(orders__merchant_id=merchant_id).distinct()


class BlacklistEntrySerializer(serializers.ModelSerializer):
    consumer = ShopperField()

    class Meta:
        model = BlacklistEntry
        fields = [
            "id",
            "merchant",
            "consumer",
            "reason",
            "source",
            "active",
            "until",
            "rule",
            "created_by",
            "created_at",
        ]
        read_only_fields = ["id", "merchant", "source", "active", "rule", "created_by", "created_at"]


class BlacklistRuleSerializer(serializers.ModelSerializer):
    class Meta:
        model = BlacklistRule
        fields = ["id", "merchant", "kind", "threshold", "window_days", "ban_days", "active", "created_at"]
        read_only_fields = ["id", "merchant", "created_at"]
