"""Serializers for the product library. Money is integer fen; weights are decimal grams."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from openvend.api.viewsets import ScopedRelatedField
from openvend.catalog.application_services import APPLICATION_FIELDS, REVIEW_FIELDS
from openvend.catalog.choices import ProductStatus
from openvend.catalog.models import Category, Manufacturer, Product, ProductApplication


class CategorySerializer(serializers.ModelSerializer):
    # The metaclass moves declared fields off the class; the stubs still see Field.parent.
    parent = ScopedRelatedField(  # type: ignore[assignment]
        queryset=Category.objects.all(), allow_null=True, required=False
    )

    class Meta:
        model = Category
        fields = ["id", "merchant", "name", "parent", "sort_order", "created_at", "updated_at"]
        read_only_fields = ["merchant", "created_at", "updated_at"]
        # Uniqueness is the service's to check (a clear per-field message, per library).
        validators: list = []


class ManufacturerSerializer(serializers.ModelSerializer):
    class Meta:
        model = Manufacturer
        fields = ["id", "merchant", "name", "contact", "phone", "created_at", "updated_at"]
        read_only_fields = ["merchant", "created_at", "updated_at"]
        validators: list = []


class ProductSerializer(serializers.ModelSerializer):
    category = ScopedRelatedField(queryset=Category.objects.all(), allow_null=True, required=False)
    manufacturer = ScopedRelatedField(queryset=Manufacturer.objects.all(), allow_null=True, required=False)
    default_price_fen = serializers.IntegerField(
        min_value=0, help_text="Integer fen per unit; per 100 g for products sold by weight."
    )
    category_name = serializers.CharField(source="category.name", read_only=True, default=None)
    manufacturer_name = serializers.CharField(source="manufacturer.name", read_only=True, default=None)

    class Meta:
        model = Product
        fields = [
            "id",
            "merchant",
            "sku",
            "name",
            "barcode",
            "category",
            "category_name",
            "manufacturer",
            "manufacturer_name",
            "specification",
            "unit",
            "image",
            "kind",
            "unit_weight_g",
            "unit_weight_sd_g",
            "shelf_life_days",
            "is_exception",
            "default_price_fen",
            "status",
            "source",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["merchant", "source", "created_at", "updated_at"]
        # The service validates the whole product at once, so every problem is reported together.
        extra_kwargs: dict[str, dict[str, Any]] = {"barcode": {"validators": []}}
        validators: list = []


class PlatformProductSerializer(ProductSerializer):
    adopted = serializers.BooleanField(
        read_only=True, default=False, help_text="The caller's merchant already holds a copy."
    )

    class Meta(ProductSerializer.Meta):
        fields = [*ProductSerializer.Meta.fields, "adopted"]
        read_only_fields = ProductSerializer.Meta.fields


class ProductStatusSerializer(serializers.Serializer):
    ids = serializers.ListField(child=serializers.IntegerField(), min_length=1, max_length=1000)
    status = serializers.ChoiceField(choices=ProductStatus.choices)


class ProductStatusResultSerializer(serializers.Serializer):
    changed = serializers.IntegerField()


class ImportRequestSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="An .xlsx workbook (or .csv) in the export's layout.")
    dry_run = serializers.BooleanField(default=True)


class ImportRowSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text="Spreadsheet row: the header is row 1.")
    sku = serializers.CharField()
    name = serializers.CharField()
    action = serializers.ChoiceField(choices=["new", "update", "unchanged", "invalid"])


class ImportErrorSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text="Spreadsheet row; 0 for the whole file.")
    field = serializers.CharField(help_text="Column name; empty for the whole row.")
    message = serializers.CharField()


class ImportResultSerializer(serializers.Serializer):
    dry_run = serializers.BooleanField()
    saved = serializers.BooleanField()
    has_errors = serializers.BooleanField()
    totals = serializers.DictField(child=serializers.IntegerField())
    rows = ImportRowSerializer(many=True)
    errors = ImportErrorSerializer(many=True)  # type: ignore[assignment]  # a field, not .errors
    ignored_columns = serializers.ListField(child=serializers.CharField())


class ProductApplicationSerializer(serializers.ModelSerializer):
    suggested_price_fen = serializers.IntegerField(min_value=0, help_text="Integer fen.")

    class Meta:
        model = ProductApplication
        fields = [
            "id",
            "merchant",
            *APPLICATION_FIELDS,
            *REVIEW_FIELDS,
            "created_at",
        ]
        read_only_fields = [
            "merchant",
            "status",
            "applicant",
            "reviewed_by",
            "reviewed_at",
            "review_note",
            "product",
            "created_at",
        ]


class ApproveSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class RejectSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=300)
