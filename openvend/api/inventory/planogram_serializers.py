"""Serializers for planograms, their slots and vending tracks."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from openvend.api.viewsets import ScopedRelatedField
from openvend.catalog.models import Product
from openvend.devices.models import Device
from openvend.inventory.models import Planogram, PlanogramSlot, Track
from openvend.inventory.planogram_selectors import check_warnings
from openvend.inventory.recognition_export import COUNT_SOURCES


class PlanogramSlotSerializer(serializers.ModelSerializer):
    planogram = ScopedRelatedField(queryset=Planogram.objects.all())
    product = ScopedRelatedField(queryset=Product.objects.all())
    sensors = serializers.ListField(child=serializers.CharField(max_length=20), min_length=1, max_length=16)
    capacity = serializers.IntegerField(min_value=1)
    par_level = serializers.IntegerField(min_value=0)

    class Meta:
        model = PlanogramSlot
        fields = ["id", "planogram", "shelf", "sensors", "product", "capacity", "par_level"]
        validators: list[Any] = []  # the slot services own every rule (par ≤ capacity included)


class CheckSummarySerializer(serializers.Serializer):
    """The recognition check of a version at its par levels, with the sensors that need attention."""

    overall_predicted_accuracy = serializers.FloatField(allow_null=True)
    perfect_separation = serializers.BooleanField(allow_null=True)
    notes = serializers.ListField(child=serializers.CharField())
    warnings = serializers.ListField(child=serializers.DictField())

    @staticmethod
    def build(report: dict[str, Any] | None) -> dict[str, Any]:
        report = report or {}
        return {
            "overall_predicted_accuracy": report.get("overall_predicted_accuracy"),
            "perfect_separation": report.get("perfect_separation"),
            "notes": list(report.get("notes", [])),
            "warnings": check_warnings(report),
        }


class PlanogramSerializer(serializers.ModelSerializer):
    device = ScopedRelatedField(queryset=Device.objects.all())
    device_code = serializers.CharField(source="device.code", read_only=True)
    slots = PlanogramSlotSerializer(many=True, read_only=True)
    check = serializers.SerializerMethodField()
    copy_in_force = serializers.BooleanField(
        write_only=True,
        required=False,
        default=False,
        help_text="Start from the slots of the version in force.",
    )
    copy_from = ScopedRelatedField(
        queryset=Planogram.objects.all(),
        write_only=True,
        required=False,
        allow_null=True,
        default=None,
        help_text="Start from the slots of this version of the same device.",
    )

    class Meta:
        model = Planogram
        fields = [
            "id",
            "merchant",
            "device",
            "device_code",
            "version",
            "status",
            "effective_from",
            "effective_to",
            "note",
            "created_by",
            "created_at",
            "slots",
            "check",
            "copy_in_force",
            "copy_from",
        ]
        read_only_fields = [
            "merchant",
            "version",
            "status",
            "effective_from",
            "effective_to",
            "created_by",
            "created_at",
        ]
        validators: list[Any] = []  # versions are numbered by the service, not by the client

    def get_check(self, obj: Planogram) -> dict[str, Any]:
        return CheckSummarySerializer.build(obj.check_report)


class PlanogramCheckSerializer(serializers.Serializer):
    summary = CheckSummarySerializer()
    report = serializers.DictField(help_text="The full `openvend planogram check` report.")


class RecognitionQuerySerializer(serializers.Serializer):
    counts = serializers.ChoiceField(choices=list(COUNT_SOURCES), default="par")


class TrackSerializer(serializers.ModelSerializer):
    device = ScopedRelatedField(queryset=Device.objects.all())
    device_code = serializers.CharField(source="device.code", read_only=True)
    product = ScopedRelatedField(queryset=Product.objects.all(), allow_null=True, required=False)
    price_fen = serializers.IntegerField(min_value=0, allow_null=True, required=False)
    capacity = serializers.IntegerField(min_value=1, required=False)
    par_level = serializers.IntegerField(min_value=0, required=False)

    class Meta:
        model = Track
        fields = [
            "id",
            "merchant",
            "device",
            "device_code",
            "number",
            "product",
            "price_fen",
            "capacity",
            "par_level",
            "enabled",
            "updated_at",
        ]
        read_only_fields = ["merchant", "updated_at"]
        validators: list[Any] = []  # the track services refuse duplicates and par > capacity


class TrackGenerateSerializer(serializers.Serializer):
    device = ScopedRelatedField(queryset=Device.objects.all())


class TrackCloneSerializer(serializers.Serializer):
    source_device = serializers.IntegerField()
    target_devices = serializers.ListField(child=serializers.IntegerField(), min_length=1, max_length=500)
    numbers = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        allow_null=True,
        default=None,
        help_text="Only these track numbers (default: all of the source's tracks).",
    )


class TrackCloneResultSerializer(serializers.Serializer):
    targets = serializers.IntegerField()
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
