"""Serializers of the stock resources: levels, movements (read, and the manual-movement request),
stock-takes with their lines, and the stock-take actions' bodies."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from openvend.api.viewsets import ScopedRelatedField
from openvend.catalog.models import Product
from openvend.devices.models import Device
from openvend.inventory.models import StockLevel, StockMovement, StockTake, StockTakeLine


class StockLevelSerializer(serializers.ModelSerializer):
    device_code = serializers.CharField(source="device.code", read_only=True)
    product_sku = serializers.CharField(source="product.sku", read_only=True)
    product_name = serializers.CharField(source="product.name", read_only=True)
    negative = serializers.SerializerMethodField(help_text=_("Oversold: the ledger holds less than zero."))

    class Meta:
        model = StockLevel
        fields = [
            "id",
            "device",
            "device_code",
            "product",
            "product_sku",
            "product_name",
            "lane",
            "on_hand",
            "negative",
            "last_movement",
            "updated_at",
        ]
        read_only_fields = fields

    def get_negative(self, obj: StockLevel) -> bool:
        return obj.on_hand < 0


class StockMovementSerializer(serializers.ModelSerializer):
    device_code = serializers.CharField(source="device.code", read_only=True)
    product_sku = serializers.CharField(source="product.sku", read_only=True)

    class Meta:
        model = StockMovement
        fields = [
            "id",
            "device",
            "device_code",
            "product",
            "product_sku",
            "lane",
            "quantity",
            "kind",
            "balance_after",
            "oversold",
            "reason",
            "actor",
            "source_type",
            "source_id",
            "corrects",
            "created_at",
        ]
        read_only_fields = fields


class ManualMovementSerializer(serializers.Serializer):
    """A movement posted by hand. `correction` needs `corrects`; `removal` needs device, product,
    quantity (units taken out); `transfer` also needs `to_device` (and `to_lane`)."""

    OPERATIONS = (
        ("correction", _("Correct (reverse) a movement")),
        ("removal", _("Remove expired or damaged units")),
        ("transfer", _("Transfer units to another device or lane")),
    )

    operation = serializers.ChoiceField(choices=OPERATIONS)
    reason = serializers.CharField(max_length=200)
    corrects = ScopedRelatedField(queryset=StockMovement.objects.all(), required=False)
    device = ScopedRelatedField(queryset=Device.objects.all(), required=False)
    product = ScopedRelatedField(queryset=Product.objects.all(), required=False)
    lane = serializers.IntegerField(min_value=0, default=0)
    quantity = serializers.IntegerField(min_value=1, required=False)
    to_device = ScopedRelatedField(queryset=Device.objects.all(), required=False)
    to_lane = serializers.IntegerField(min_value=0, default=0)

    NEEDS = {
        "correction": ("corrects",),
        "removal": ("device", "product", "quantity"),
        "transfer": ("device", "product", "quantity", "to_device"),
    }

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        missing = [name for name in self.NEEDS[attrs["operation"]] if attrs.get(name) is None]
        if missing:
            raise serializers.ValidationError({name: [_("Required for this operation.")] for name in missing})
        return attrs


class StockTakeLineSerializer(serializers.ModelSerializer):
    product_sku = serializers.CharField(source="product.sku", read_only=True)
    product_name = serializers.CharField(source="product.name", read_only=True)
    barcode = serializers.CharField(source="product.barcode", read_only=True)
    difference = serializers.IntegerField(read_only=True)

    class Meta:
        model = StockTakeLine
        fields = [
            "id",
            "product",
            "product_sku",
            "product_name",
            "barcode",
            "lane",
            "expected",
            "counted",
            "difference",
        ]
        read_only_fields = fields


class StockTakeSerializer(serializers.ModelSerializer):
    device = ScopedRelatedField(queryset=Device.objects.all())
    lines = StockTakeLineSerializer(many=True, read_only=True)

    class Meta:
        model = StockTake
        fields = [
            "id",
            "device",
            "state",
            "counted_by",
            "approver",
            "submitted_at",
            "decided_at",
            "reason",
            "decision_note",
            "created_at",
            "lines",
        ]
        read_only_fields = [f for f in fields if f != "device"]


class StockTakeCountSerializer(serializers.Serializer):
    """One scan (`barcode`, adds one unless told otherwise) or a typed count for a product."""

    barcode = serializers.CharField(max_length=32, required=False)
    product = ScopedRelatedField(queryset=Product.objects.all(), required=False)
    lane = serializers.IntegerField(min_value=0, required=False, allow_null=True, default=None)
    counted = serializers.IntegerField(min_value=0, required=False)
    increment = serializers.IntegerField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("barcode" in attrs) == ("product" in attrs):
            raise serializers.ValidationError({"barcode": [_("Give a barcode or a product, not both.")]})
        if "counted" in attrs and "increment" in attrs:
            raise serializers.ValidationError({"counted": [_("Give a count or an increment, not both.")]})
        if "counted" not in attrs and "increment" not in attrs:
            attrs["increment"] = 1  # a bare scan adds one unit
        return attrs


class StockTakeDecisionSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class StockTakeRejectSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class StockTakeDiscrepancySerializer(serializers.Serializer):
    line_id = serializers.IntegerField()
    sku = serializers.CharField()
    product = serializers.CharField()
    lane = serializers.IntegerField()
    expected = serializers.IntegerField()
    counted = serializers.IntegerField()
    difference = serializers.IntegerField()
    unit_price_fen = serializers.IntegerField()
    value_fen = serializers.IntegerField()
