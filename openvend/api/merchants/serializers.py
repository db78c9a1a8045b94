from typing import Any

from django.utils.translation import gettext as _
from rest_framework import serializers

from openvend.api.viewsets import ScopedRelatedField
from openvend.merchants.models import DeviceGroup, Merchant, OrgUnit, Site


class MerchantSerializer(serializers.ModelSerializer):
    class Meta:
        model = Merchant
        fields = [
            "id",
            "name",
            "code",
            "kind",
            "status",
            "contact_name",
            "contact_phone",
            "default_language",
            "review_note",
            "reviewed_at",
            "created_at",
        ]
        read_only_fields = ["status", "review_note", "reviewed_at", "created_at"]


class ReviewSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class OrgUnitSerializer(serializers.ModelSerializer):
    parent = ScopedRelatedField(queryset=OrgUnit.objects.all(), allow_null=True, required=False)  # type: ignore[assignment]
    merchant = ScopedRelatedField(queryset=Merchant.objects.all(), required=False)

    class Meta:
        model = OrgUnit
        # Uniqueness per merchant is checked by the service, which knows the merchant.
        validators: list = []
        fields = ["id", "merchant", "parent", "name", "path", "created_at"]
        read_only_fields = ["path", "created_at"]


class SiteSerializer(serializers.ModelSerializer):
    org_unit = ScopedRelatedField(queryset=OrgUnit.objects.all(), allow_null=True, required=False)
    merchant = ScopedRelatedField(queryset=Merchant.objects.all(), required=False)

    class Meta:
        model = Site
        # Uniqueness per merchant is checked by the service, which knows the merchant.
        validators: list = []
        fields = [
            "id",
            "merchant",
            "org_unit",
            "name",
            "code",
            "province",
            "city",
            "district",
            "address",
            "latitude",
            "longitude",
            "contact_phone",
            "is_active",
            "opens_at",
            "closes_at",
            "created_at",
        ]
        read_only_fields = ["created_at"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """Business hours: both times (different) or neither — what the database's check says, as a
        400 with the reason instead of an integrity error."""
        current = self.instance
        opens = attrs.get("opens_at", current.opens_at if current else None)
        closes = attrs.get("closes_at", current.closes_at if current else None)
        if (opens is None) != (closes is None) or (opens is not None and opens == closes):
            raise serializers.ValidationError(
                {"closes_at": _("Give both the opening and the closing time (different), or neither.")}
            )
        return attrs


class DeviceGroupSerializer(serializers.ModelSerializer):
    org_unit = ScopedRelatedField(queryset=OrgUnit.objects.all(), allow_null=True, required=False)
    merchant = ScopedRelatedField(queryset=Merchant.objects.all(), required=False)

    class Meta:
        model = DeviceGroup
        # Uniqueness per merchant is checked by the service, which knows the merchant.
        validators: list = []
        fields = ["id", "merchant", "org_unit", "name", "note", "created_at"]
        read_only_fields = ["created_at"]
