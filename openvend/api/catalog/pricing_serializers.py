"""Serializers for prices, price quotes, product templates and sellable lists. Money is integer fen."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from openvend.api.viewsets import ScopedRelatedField
from openvend.catalog.models import PriceRule, Product, ProductTemplate, SellableItem
from openvend.devices.models import Device
from openvend.merchants.models import Site


class PriceRuleSerializer(serializers.ModelSerializer):
    """A price for one product: merchant-wide, for one site, or for one device, over a period.

    `scope` decides which target is set: merchant → neither `site` nor `device`; site → `site`;
    device → `device`. New rules are `active`, or `pending` when the merchant's price changes
    need platform review. Only pending rules can be edited or deleted; to change a price in
    force create a new rule (the newer one wins) or withdraw the old one."""

    product = ScopedRelatedField(queryset=Product.objects.all())
    site = ScopedRelatedField(queryset=Site.objects.all(), allow_null=True, required=False, default=None)
    device = ScopedRelatedField(queryset=Device.objects.all(), allow_null=True, required=False, default=None)
    product_sku = serializers.CharField(source="product.sku", read_only=True)
    price_fen = serializers.IntegerField(min_value=0)
    member_price_fen = serializers.IntegerField(min_value=0, allow_null=True, required=False, default=None)

    class Meta:
        model = PriceRule
        fields = [
            "id",
            "merchant",
            "product",
            "product_sku",
            "scope",
            "site",
            "device",
            "price_fen",
            "member_price_fen",
            "effective_from",
            "effective_to",
            "status",
            "note",
            "created_by",
            "created_at",
            "reviewed_by",
            "reviewed_at",
            "review_note",
        ]
        read_only_fields = [
            "merchant",
            "status",
            "created_by",
            "created_at",
            "reviewed_by",
            "reviewed_at",
            "review_note",
        ]
        extra_kwargs = {"effective_from": {"required": False}}


class PriceRuleUpdateSerializer(serializers.ModelSerializer):
    """What a pending rule lets you change: amounts, period and note."""

    price_fen = serializers.IntegerField(min_value=0, required=False)
    member_price_fen = serializers.IntegerField(min_value=0, allow_null=True, required=False)

    class Meta:
        model = PriceRule
        fields = ["price_fen", "member_price_fen", "effective_from", "effective_to", "note"]


class PriceReviewSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class PriceQuoteQuerySerializer(serializers.Serializer):
    """`GET /api/v1/price-quote/?device=&product=&at=&member=&track=`: what `product` costs on
    `device` at instant `at` (default now), for a member or not; `track` (a vending track id on
    that device) lets a track's own price win. Unknown or another merchant's ids are 404."""

    device = serializers.IntegerField()
    product = serializers.IntegerField()
    at = serializers.DateTimeField(required=False)
    member = serializers.BooleanField(required=False, default=False)
    track = serializers.IntegerField(required=False)


class PriceQuoteSerializer(serializers.Serializer):
    """`source` says what decided: track, device, site, merchant (a rule, `rule_id`) or default."""

    device = serializers.IntegerField()
    product = serializers.IntegerField()
    at = serializers.DateTimeField()
    member = serializers.BooleanField()
    price_fen = serializers.IntegerField()
    list_price_fen = serializers.IntegerField()
    source = serializers.CharField()  # type: ignore[assignment]  # the field, not Field.source
    rule_id = serializers.IntegerField(allow_null=True)


class ProductTemplateSerializer(serializers.ModelSerializer):
    """A named list of products (`products`: ids, in display order) to put on many devices.
    An empty `device_type` fits any device."""

    products = serializers.ListField(
        child=ScopedRelatedField(queryset=Product.objects.all()), required=False, write_only=True
    )

    class Meta:
        model = ProductTemplate
        fields = ["id", "merchant", "name", "device_type", "note", "products", "created_at", "updated_at"]
        read_only_fields = ["merchant", "created_at", "updated_at"]

    def to_representation(self, instance: ProductTemplate) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["products"] = list(instance.items.values_list("product_id", flat=True))
        return data


class TemplateApplySerializer(serializers.Serializer):
    """merge: add missing products and re-enable listed ones; replace: also remove what the
    template does not list. Every device must be visible to you and of the template's type."""

    devices = serializers.ListField(child=ScopedRelatedField(queryset=Device.objects.all()), min_length=1)
    mode = serializers.ChoiceField(choices=["merge", "replace"], default="merge")


class ApplyCountsSerializer(serializers.Serializer):
    device = serializers.IntegerField()
    added = serializers.IntegerField()
    kept = serializers.IntegerField()
    removed = serializers.IntegerField()


class TemplateApplyResultSerializer(serializers.Serializer):
    mode = serializers.CharField()
    devices = ApplyCountsSerializer(many=True)


class SellableItemSerializer(serializers.ModelSerializer):
    """One product a device may sell. Only `enabled` changes after creation."""

    device = ScopedRelatedField(queryset=Device.objects.all())
    product = ScopedRelatedField(queryset=Product.objects.all())
    product_sku = serializers.CharField(source="product.sku", read_only=True)
    device_code = serializers.CharField(source="device.code", read_only=True)

    class Meta:
        model = SellableItem
        fields = [
            "id",
            "merchant",
            "device",
            "device_code",
            "product",
            "product_sku",
            "enabled",
            "template",
            "created_at",
        ]
        read_only_fields = ["merchant", "template", "created_at"]


class SellableEnabledSerializer(serializers.Serializer):
    enabled = serializers.BooleanField()


class SellableBulkAddSerializer(serializers.Serializer):
    devices = serializers.ListField(child=ScopedRelatedField(queryset=Device.objects.all()), min_length=1)
    products = serializers.ListField(child=ScopedRelatedField(queryset=Product.objects.all()), min_length=1)


class SellableBulkSerializer(serializers.Serializer):
    items = serializers.ListField(child=ScopedRelatedField(queryset=SellableItem.objects.all()), min_length=1)
    enabled = serializers.BooleanField(required=False)


class BulkResultSerializer(serializers.Serializer):
    changed = serializers.IntegerField()
