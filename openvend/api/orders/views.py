"""REST resources for orders, customer appeals and correction orders.

- /orders/: read-only, with filters (state, abnormal, abnormal_reason, device, site, consumer,
  created). The detail carries the lines, payment attempts, corrections, appeals, recognition
  evidence, the session's photos and clips (`media`) and the merged timeline. Staff actions, each
  a POST on the order (permission `orders.resolve_order`, refund `orders.refund_order`): `confirm/`,
  `adjust/` (lines, reason), `waive/` (reason), `charge/`, `refund/` (amount_fen, reason),
  `supplement/` (lines, reason).
- /appeals/: read-only; `POST {id}/uphold/` (lines or refund_fen, answer) and `POST {id}/reject/`
  (answer), permission `orders.handle_appeal`.
- /corrections/: read-only list of correction orders.

Orders change only through the order services, which audit every change and refuse a wrong state
(409) or bad input (400) with nothing changed.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Q, QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from openvend.api.orders.serializers import (
    AppealRejectSerializer,
    AppealSerializer,
    AppealUpholdSerializer,
    CorrectionSerializer,
    OrderDetailSerializer,
    OrderLinesSerializer,
    OrderReasonSerializer,
    OrderRefundSerializer,
    OrderSerializer,
)
from openvend.orders import appeal_services, staff_services
from openvend.orders.models import Appeal, Correction, Order
from openvend.orders.selectors import orders_for

RESOLVE = {name: "resolve" for name in ("confirm", "adjust", "waive", "charge", "supplement")}


class ReadOnlyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """A method the resource does not offer answers 405, not 403 (the role check would run first)."""

    def check_permissions(self, request: Request) -> None:
        if getattr(self, "action", None) is None and request.method != "OPTIONS":
            raise exceptions.MethodNotAllowed(request.method or "")
        super().check_permissions(request)


class OrderFilter(django_filters.FilterSet):
    abnormal = django_filters.BooleanFilter(
        method="filter_abnormal", label="Waiting for staff: an abnormal reason and no resolution."
    )
    created_at__gte = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_at__lt = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Order
        fields = ["state", "abnormal_reason", "device", "site", "consumer"]

    def filter_abnormal(self, queryset: QuerySet, name: str, value: bool) -> QuerySet:
        waiting = Q(resolution="") & ~Q(abnormal_reason="")
        return queryset.filter(waiting) if value else queryset.exclude(waiting)


class OrderViewSet(ReadOnlyViewSet):
    """Orders: what one shopping session sold, at what price, and how it is being paid."""

    queryset = Order.objects.all()
    serializer_class = OrderSerializer
    filterset_class = OrderFilter
    search_fields = ["number"]
    ordering_fields = ["created_at", "total_fen"]
    permission_actions = {**RESOLVE, "refund": "refund"}

    def get_queryset(self) -> Any:
        qs = orders_for(self.request.user).select_related("site").order_by("-pk")
        if self.action != "list":
            qs = qs.prefetch_related(
                "lines__product", "corrections__order", "appeals__order", "session__media"
            )
        return qs

    def get_serializer_class(self) -> Any:
        return OrderSerializer if self.action == "list" else OrderDetailSerializer

    def _detail(self, order: Order) -> Response:
        return Response(OrderDetailSerializer(self.get_queryset().get(pk=order.pk)).data)

    @extend_schema(request=None, responses=OrderDetailSerializer)
    @action(detail=True, methods=["post"])
    def confirm(self, request: Request, pk: str | None = None) -> Response:
        order = staff_services.order_confirm(actor=request.user, order=self.get_object())
        return self._detail(order)

    @extend_schema(request=OrderLinesSerializer, responses=OrderDetailSerializer)
    @action(detail=True, methods=["post"])
    def adjust(self, request: Request, pk: str | None = None) -> Response:
        order: Order = self.get_object()
        body = OrderLinesSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        staff_services.order_adjust(actor=request.user, order=order, **body.validated_data)
        return self._detail(order)

    @extend_schema(request=OrderReasonSerializer, responses=OrderDetailSerializer)
    @action(detail=True, methods=["post"])
    def waive(self, request: Request, pk: str | None = None) -> Response:
        order: Order = self.get_object()
        body = OrderReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        staff_services.order_waive(actor=request.user, order=order, reason=body.validated_data["reason"])
        return self._detail(order)

    @extend_schema(request=None, responses=OrderDetailSerializer)
    @action(detail=True, methods=["post"])
    def charge(self, request: Request, pk: str | None = None) -> Response:
        order = staff_services.order_charge(actor=request.user, order=self.get_object())
        return self._detail(order)

    @extend_schema(request=OrderRefundSerializer, responses={201: CorrectionSerializer})
    @action(detail=True, methods=["post"])
    def refund(self, request: Request, pk: str | None = None) -> Response:
        order: Order = self.get_object()
        body = OrderRefundSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        correction = staff_services.order_refund(actor=request.user, order=order, **body.validated_data)
        correction.refresh_from_db()
        return Response(CorrectionSerializer(correction).data, status=201)

    @extend_schema(request=OrderLinesSerializer, responses={201: CorrectionSerializer})
    @action(detail=True, methods=["post"])
    def supplement(self, request: Request, pk: str | None = None) -> Response:
        order: Order = self.get_object()
        body = OrderLinesSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        correction = staff_services.order_raise_supplement(
            actor=request.user, order=order, **body.validated_data
        )
        correction.refresh_from_db()
        return Response(CorrectionSerializer(correction).data, status=201)


class AppealViewSet(ReadOnlyViewSet):
    """Customer appeals (客户申诉): a shopper disputes an order; customer service upholds or rejects."""

    queryset = Appeal.objects.all()
    serializer_class = AppealSerializer
    filterset_fields = {
        "state": ["exact"],
        "reason": ["exact"],
        "order": ["exact"],
        "created_at": ["gte", "lt"],
    }
    search_fields = ["order__number"]
    permission_actions = {"uphold": "handle", "reject": "handle"}

    def get_queryset(self) -> Any:
        return Appeal.objects.restrict(self.request.user, "view").select_related("order").order_by("-pk")

    @extend_schema(request=AppealUpholdSerializer, responses={201: CorrectionSerializer})
    @action(detail=True, methods=["post"])
    def uphold(self, request: Request, pk: str | None = None) -> Response:
        appeal: Appeal = self.get_object()
        body = AppealUpholdSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        correction = appeal_services.appeal_uphold(actor=request.user, appeal=appeal, **body.validated_data)
        correction.refresh_from_db()
        return Response(CorrectionSerializer(correction).data, status=201)

    @extend_schema(request=AppealRejectSerializer, responses=AppealSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str | None = None) -> Response:
        appeal: Appeal = self.get_object()
        body = AppealRejectSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        appeal_services.appeal_reject(actor=request.user, appeal=appeal, answer=body.validated_data["answer"])
        return Response(AppealSerializer(self.get_queryset().get(pk=appeal.pk)).data)


class CorrectionViewSet(ReadOnlyViewSet):
    """Correction orders (修正订单): an order's lines put right and the difference settled."""

    queryset = Correction.objects.all()
    serializer_class = CorrectionSerializer
    filterset_fields = {
        "kind": ["exact"],
        "state": ["exact"],
        "order": ["exact"],
        "created_at": ["gte", "lt"],
    }
    search_fields = ["number", "order__number"]

    def get_queryset(self) -> Any:
        return Correction.objects.restrict(self.request.user, "view").select_related("order").order_by("-pk")


def register(router: DefaultRouter) -> None:
    """Add this area's resources to the API router."""
    router.register("orders", OrderViewSet, basename="order")
    router.register("appeals", AppealViewSet, basename="appeal")
    router.register("corrections", CorrectionViewSet, basename="correction")
