"""Serializers for payments, their event timeline and refunds. Amounts are integer fen."""

from __future__ import annotations

from rest_framework import serializers

from openvend.payments.models import Payment, PaymentEvent, Refund


class PaymentEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = PaymentEvent
        fields = ["id", "kind", "from_state", "to_state", "refund", "detail", "actor", "created_at"]
        read_only_fields = fields


class RefundSerializer(serializers.ModelSerializer):
    out_trade_no = serializers.CharField(source="payment.out_trade_no", read_only=True)

    class Meta:
        model = Refund
        fields = [
            "id",
            "merchant",
            "payment",
            "out_trade_no",
            "sequence",
            "out_refund_no",
            "amount_fen",
            "reason",
            "state",
            "provider_refund_id",
            "failure_code",
            "succeeded_at",
            "requested_by",
            "created_at",
        ]
        read_only_fields = fields


PAYMENT_FIELDS = [
    "id",
    "merchant",
    "order_ref",
    "attempt",
    "out_trade_no",
    "method",
    "provider",
    "state",
    "amount_fen",
    "refunded_fen",
    "description",
    "site",
    "consumer",
    "provider_trade_no",
    "failure_code",
    "failure_message",
    "paid_at",
    "created_at",
]


class PaymentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Payment
        fields = PAYMENT_FIELDS
        read_only_fields = fields


class PaymentDetailSerializer(serializers.ModelSerializer):
    """A payment with its refunds and every event of its timeline, oldest first."""

    events = PaymentEventSerializer(many=True, read_only=True)
    refunds = RefundSerializer(many=True, read_only=True)

    class Meta:
        model = Payment
        fields = [*PAYMENT_FIELDS, "payer_id", "next_check_at", "refunds", "events"]
        read_only_fields = fields


class RefundRequestSerializer(serializers.Serializer):
    amount_fen = serializers.IntegerField(min_value=1, help_text="How much to refund, in fen.")
    reason = serializers.CharField(max_length=80, help_text="Shown to the shopper by some providers.")
