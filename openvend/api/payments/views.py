"""REST resources for payments and refunds.

- /payments/: read-only, with filters (state, method, provider, site, order, created). The detail
  carries the refunds and the event timeline. `POST {id}/refunds/` (amount_fen, reason) requests a
  refund (permission `payments.refund_payment`); `POST {id}/sync/` asks the provider for the
  payment's result and applies it (permission `payments.sync_payment`).
- /refunds/: read-only list of refunds.

Payments change only through the payment services; every change made here is audited there.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from openvend.api.payments.serializers import (
    PaymentDetailSerializer,
    PaymentSerializer,
    RefundRequestSerializer,
    RefundSerializer,
)
from openvend.core.errors import ConflictError, OpenVendError
from openvend.payments import selectors
from openvend.payments.errors import InvalidTransition, PaymentError
from openvend.payments.models import Payment, PaymentEvent, Refund
from openvend.payments.services.reconcile import sync_payment
from openvend.payments.services.refunds import request_refund


def _api_error(exc: PaymentError) -> OpenVendError:
    """The payment services' refusals in the API's one error shape."""
    if isinstance(exc, InvalidTransition):
        return ConflictError("payments.invalid_transition", str(exc))
    return OpenVendError(getattr(exc, "code", "payments.error"), str(exc))


class _ReadOnly(viewsets.GenericViewSet):
    """A method the resource does not offer answers 405, not 403 (the role check would run first)."""

    def check_permissions(self, request: Request) -> None:
        if getattr(self, "action", None) is None and request.method != "OPTIONS":
            raise exceptions.MethodNotAllowed(request.method or "")
        super().check_permissions(request)


class PaymentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, _ReadOnly):
    """Payments: one attempt to collect an order's amount through one method, with its state."""

    queryset = Payment.objects.all()
    serializer_class = PaymentSerializer
    filterset_fields = {
        "state": ["exact"],
        "method": ["exact"],
        "provider": ["exact"],
        "site": ["exact"],
        "order_ref": ["exact"],
        "created_at": ["gte", "lt"],
    }
    search_fields = ["out_trade_no", "order_ref"]
    ordering_fields = ["created_at", "amount_fen"]
    permission_actions = {"refunds": "refund", "sync": "sync"}

    def get_queryset(self) -> Any:
        qs = selectors.payments_for(self.request.user).order_by("-pk")
        if self.action != "list":
            events = Prefetch("events", queryset=PaymentEvent.objects.order_by("id"))
            qs = qs.prefetch_related(events, "refunds")
        return qs

    def get_serializer_class(self) -> Any:
        return PaymentSerializer if self.action == "list" else PaymentDetailSerializer

    def _detail(self, payment: Payment) -> Response:
        return Response(PaymentDetailSerializer(self.get_queryset().get(pk=payment.pk)).data)

    @extend_schema(request=RefundRequestSerializer, responses={201: RefundSerializer})
    @action(detail=True, methods=["post"])
    def refunds(self, request: Request, pk: str | None = None) -> Response:
        payment: Payment = self.get_object()
        body = RefundRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            refund = request_refund(
                payment=payment,
                amount_fen=body.validated_data["amount_fen"],
                reason=body.validated_data["reason"],
                actor=request.user,
            )
        except PaymentError as exc:
            raise _api_error(exc) from exc
        refund.refresh_from_db()
        return Response(RefundSerializer(refund).data, status=201)

    @extend_schema(request=None, responses=PaymentDetailSerializer)
    @action(detail=True, methods=["post"])
    def sync(self, request: Request, pk: str | None = None) -> Response:
        payment: Payment = self.get_object()
        try:
            sync_payment(payment, actor=request.user)
        except PaymentError as exc:
            raise _api_error(exc) from exc
        return self._detail(payment)


class RefundViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, _ReadOnly):
    """Refunds of payments, partial or whole; requested through POST /payments/{id}/refunds/."""

    queryset = Refund.objects.all()
    serializer_class = RefundSerializer
    filterset_fields = {"state": ["exact"], "payment": ["exact"], "created_at": ["gte", "lt"]}
    search_fields = ["out_refund_no", "payment__out_trade_no"]

    def get_queryset(self) -> Any:
        return Refund.objects.restrict(self.request.user, "view").select_related("payment").order_by("-pk")


def register(router: DefaultRouter) -> None:
    """Add this area's resources to the API router."""
    router.register("payments", PaymentViewSet, basename="payment")
    router.register("refunds", RefundViewSet, basename="refund")
