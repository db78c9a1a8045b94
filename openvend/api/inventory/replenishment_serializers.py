"""Serializers for replenishment orders, suggestions, pick lists and restock sessions."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from openvend.api.viewsets import ScopedRelatedField
from openvend.catalog.models import Product
from openvend.devices.models import Device
from openvend.inventory.models import ReplenishmentLine, ReplenishmentOrder, RestockLine, RestockSession


@extend_schema_field(OpenApiTypes.INT)
class StaffField(serializers.PrimaryKeyRelatedField):
    """An active member of the caller's own merchant (a replenisher to assign an order to)."""

    @staticmethod
    def staff_of(user: Any) -> Any:
        from openvend.accounts.models import User

        merchant_id = getattr(user, "merchant_id", None)
        if merchant_id is None:
            return User.objects.none()
        return User.objects.filter(merchant_id=merchant_id, is_active=True)

    def get_queryset(self) -> Any:
        request = self.context.get("request")
        return self.staff_of(getattr(request, "user", None))


class ReplenishmentLineSerializer(serializers.ModelSerializer):
    product_sku = serializers.CharField(source="product.sku", read_only=True)
    product_name = serializers.CharField(source="product.name", read_only=True)

    class Meta:
        model = ReplenishmentLine
        fields = ["id", "product", "product_sku", "product_name", "lane", "quantity", "placed_quantity"]
        read_only_fields = fields


class ReplenishmentOrderSerializer(serializers.ModelSerializer):
    device_code = serializers.CharField(source="device.code", read_only=True)
    assignee = StaffField(allow_null=True, required=False)
    lines = ReplenishmentLineSerializer(many=True, read_only=True)

    class Meta:
        model = ReplenishmentOrder
        fields = [
            "id",
            "number",
            "device",
            "device_code",
            "state",
            "assignee",
            "route",
            "note",
            "created_by",
            "created_at",
            "picked_at",
            "dispatched_at",
            "completed_at",
            "lines",
        ]
        read_only_fields = [
            "number",
            "device",
            "state",
            "created_by",
            "created_at",
            "picked_at",
            "dispatched_at",
            "completed_at",
        ]


class FromSuggestionsSerializer(serializers.Serializer):
    devices = serializers.ListField(
        child=ScopedRelatedField(queryset=Device.objects.all()), min_length=1, max_length=200
    )
    assignee = StaffField(allow_null=True, required=False)
    route = serializers.CharField(max_length=60, required=False, allow_blank=True, default="")
    note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    days = serializers.IntegerField(min_value=1, max_value=90, default=7)
    lead_days = serializers.IntegerField(min_value=0, max_value=30, default=1)


class PlacedSerializer(serializers.Serializer):
    line = serializers.IntegerField()
    placed = serializers.IntegerField(min_value=0)


class CompleteOrderSerializer(serializers.Serializer):
    lines = PlacedSerializer(
        many=True, required=False, help_text="Placed per line; lines left out: as planned."
    )


class DiscrepancySerializer(serializers.Serializer):
    line = serializers.IntegerField(source="line.pk")
    product = serializers.IntegerField(source="line.product_id")
    lane = serializers.IntegerField(source="line.lane")
    planned = serializers.IntegerField()
    placed = serializers.IntegerField()


class CompletionSerializer(serializers.Serializer):
    order = ReplenishmentOrderSerializer()
    movements = serializers.SerializerMethodField()
    discrepancies = DiscrepancySerializer(many=True)
    already_completed = serializers.BooleanField()

    def get_movements(self, obj: Any) -> list[int]:
        return [m.pk for m in obj.movements]


class SuggestionSerializer(serializers.Serializer):
    device = serializers.IntegerField(source="device.pk")
    device_code = serializers.CharField(source="device.code")
    product = serializers.IntegerField(source="product.pk")
    product_sku = serializers.CharField(source="product.sku")
    product_name = serializers.CharField(source="product.name")
    lane = serializers.IntegerField()
    par = serializers.IntegerField()
    capacity = serializers.IntegerField()
    on_hand = serializers.IntegerField()
    in_transit = serializers.IntegerField()
    velocity = serializers.DecimalField(max_digits=12, decimal_places=3)
    expected_sales = serializers.DecimalField(max_digits=12, decimal_places=3)
    suggested = serializers.IntegerField()


class PickLineSerializer(serializers.Serializer):
    order = serializers.CharField(source="order.number")
    product = serializers.IntegerField(source="product.pk")
    product_sku = serializers.CharField(source="product.sku")
    product_name = serializers.CharField(source="product.name")
    lane = serializers.IntegerField()
    quantity = serializers.IntegerField()


class DevicePicksSerializer(serializers.Serializer):
    device = serializers.IntegerField(source="device.pk")
    device_code = serializers.CharField(source="device.code")
    device_name = serializers.CharField(source="device.name")
    lines = PickLineSerializer(many=True)


class KitTotalSerializer(serializers.Serializer):
    product = serializers.IntegerField(source="product.pk")
    product_sku = serializers.CharField(source="product.sku")
    product_name = serializers.CharField(source="product.name")
    quantity = serializers.IntegerField()


class PickListSerializer(serializers.Serializer):
    devices = DevicePicksSerializer(many=True)
    totals = KitTotalSerializer(many=True)
    total_units = serializers.IntegerField()


class RestockLineSerializer(serializers.ModelSerializer):
    product_sku = serializers.CharField(source="product.sku", read_only=True)

    class Meta:
        model = RestockLine
        fields = [
            "id",
            "product",
            "product_sku",
            "lane",
            "counted_quantity",
            "sensor_quantity",
            "posted_quantity",
            "discrepancy",
        ]
        read_only_fields = fields


class RestockSessionSerializer(serializers.ModelSerializer):
    device_code = serializers.CharField(source="device.code", read_only=True)
    lines = RestockLineSerializer(many=True, read_only=True)

    class Meta:
        model = RestockSession
        fields = [
            "id",
            "device",
            "device_code",
            "replenisher",
            "order",
            "state",
            "command",
            "sensor_deltas_g",
            "photo",
            "created_at",
            "opened_at",
            "closed_at",
            "completed_at",
            "has_discrepancy",
            "lines",
        ]
        read_only_fields = fields


class RestockStartSerializer(serializers.Serializer):
    device = ScopedRelatedField(queryset=Device.objects.all())
    order = ScopedRelatedField(queryset=ReplenishmentOrder.objects.all(), allow_null=True, required=False)


class CountSerializer(serializers.Serializer):
    product = ScopedRelatedField(queryset=Product.objects.all())
    lane = serializers.IntegerField(min_value=0, default=0)
    counted = serializers.IntegerField(min_value=0, allow_null=True)


class CountsSerializer(serializers.Serializer):
    counts = CountSerializer(many=True, required=False)


class PhotoSerializer(serializers.Serializer):
    photo = serializers.FileField()
