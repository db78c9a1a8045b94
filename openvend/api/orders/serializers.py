"""Serializers for orders, their lines, correction orders, customer appeals and the bodies of the
staff actions. Amounts are integer fen; lines are given as product id → units, in full."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from openvend.api.orders.shopping_serializers import SessionMediaSerializer
from openvend.orders.models import Appeal, Correction, Order, OrderLine, OrderPolicy


class OrderLineSerializer(serializers.ModelSerializer):
    sku = serializers.CharField(source="product.sku", read_only=True)
    name = serializers.CharField(source="product.name", read_only=True)

    class Meta:
        model = OrderLine
        fields = ["id", "product", "sku", "name", "quantity", "unit_price_fen", "amount_fen"]
        read_only_fields = fields


class CorrectionSerializer(serializers.ModelSerializer):
    order_number = serializers.CharField(source="order.number", read_only=True)

    class Meta:
        model = Correction
        fields = [
            "id",
            "merchant",
            "number",
            "order",
            "order_number",
            "kind",
            "appeal",
            "reason",
            "lines",
            "delta_fen",
            "state",
            "refund",
            "payment",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields


class AppealSerializer(serializers.ModelSerializer):
    order_number = serializers.CharField(source="order.number", read_only=True)

    class Meta:
        model = Appeal
        fields = [
            "id",
            "merchant",
            "order",
            "order_number",
            "consumer",
            "reason",
            "message",
            "claimed_lines",
            "state",
            "answer",
            "handled_by",
            "handled_at",
            "created_at",
        ]
        read_only_fields = fields


ORDER_FIELDS = [
    "id",
    "merchant",
    "number",
    "session",
    "device",
    "site",
    "consumer",
    "state",
    "total_fen",
    "paid_fen",
    "refunded_fen",
    "payment",
    "line_source",
    "abnormal_reason",
    "is_abnormal",
    "resolution",
    "resolved_by",
    "resolved_at",
    "escalated_at",
    "paid_at",
    "created_at",
]


class OrderSerializer(serializers.ModelSerializer):
    is_abnormal = serializers.BooleanField(
        read_only=True, help_text="Waiting for staff: a reason, no resolution."
    )

    class Meta:
        model = Order
        fields = ORDER_FIELDS
        read_only_fields = fields


class TimelineEntrySerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    # Shadows Field.source on the class only; DRF sets each instance's own `source` when binding.
    source = serializers.CharField(help_text='"session" or "payment".')  # type: ignore[assignment]
    kind = serializers.CharField()
    from_state = serializers.CharField()
    to_state = serializers.CharField()
    detail = serializers.JSONField()
    reference = serializers.CharField(
        help_text="The payment attempt's out_trade_no; empty for session events."
    )


class OrderDetailSerializer(OrderSerializer):
    """An order with its lines, payment attempts, corrections, appeals, the recognition evidence (with
    the session's photos and clips) and the merged timeline of its session and payment attempts,
    oldest first."""

    lines = OrderLineSerializer(many=True, read_only=True)
    media = SessionMediaSerializer(many=True, read_only=True, source="session.media")
    corrections = CorrectionSerializer(many=True, read_only=True)
    appeals = AppealSerializer(many=True, read_only=True)
    payment_attempts = serializers.SerializerMethodField()
    timeline = serializers.SerializerMethodField()

    class Meta:
        model = Order
        fields = [
            *ORDER_FIELDS,
            "recognition",
            "media",
            "lines",
            "payment_attempts",
            "corrections",
            "appeals",
            "timeline",
        ]
        read_only_fields = fields

    def get_payment_attempts(self, order: Order) -> list[int]:
        """Ids of every payment attempt of the order (GET /payments/{id}/ for each), first first."""
        from openvend.payments.models import Payment

        attempts = Payment.objects.filter(merchant_id=order.merchant_id, order_ref=order.number)
        return list(attempts.order_by("attempt", "id").values_list("id", flat=True))

    def get_timeline(self, order: Order) -> Any:
        from openvend.orders.selectors import order_timeline

        return TimelineEntrySerializer(order_timeline(order), many=True).data


def _lines_field(help_text: str, **kwargs: Any) -> serializers.DictField:
    return serializers.DictField(child=serializers.IntegerField(min_value=0), help_text=help_text, **kwargs)


def _product_ids(value: dict[str, int]) -> dict[int, int]:
    try:
        return {int(product): units for product, units in value.items()}
    except ValueError:
        raise serializers.ValidationError(_("Product ids are whole numbers.")) from None


class OrderReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=200)


class OrderLinesSerializer(OrderReasonSerializer):
    lines = _lines_field("Product id → units as actually taken, in full (0 removes a line).")

    def validate_lines(self, value: dict[str, int]) -> dict[int, int]:
        return _product_ids(value)


class OrderRefundSerializer(OrderReasonSerializer):
    amount_fen = serializers.IntegerField(min_value=1, help_text="How much to refund, in fen.")


class AppealUpholdSerializer(serializers.Serializer):
    lines = _lines_field(
        "The order's lines as they should have been; default: what the shopper claims.", required=False
    )
    refund_fen = serializers.IntegerField(min_value=1, required=False, help_text="Or refund this amount.")
    answer = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")

    def validate_lines(self, value: dict[str, int]) -> dict[int, int]:
        return _product_ids(value)


class AppealRejectSerializer(serializers.Serializer):
    answer = serializers.CharField(max_length=500)


class OrderPolicySerializer(serializers.ModelSerializer):
    class Meta:
        model = OrderPolicy
        fields = ["unpaid_after_h", "unpaid_action", "checkout_within_min", "appeal_within_days"]
