"""REST resources for the stock ledger and stock-takes.

Stock levels are read-only; movements are listed and posted by hand through the movement services
(never edited: PUT, PATCH and DELETE answer 405); stock-takes are started, counted, submitted and
decided through the stock-take services."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, mixins, viewsets
from rest_framework.decorators import action
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from openvend.api.inventory.stock_serializers import (
    ManualMovementSerializer,
    StockLevelSerializer,
    StockMovementSerializer,
    StockTakeCountSerializer,
    StockTakeDecisionSerializer,
    StockTakeDiscrepancySerializer,
    StockTakeLineSerializer,
    StockTakeRejectSerializer,
    StockTakeSerializer,
)
from openvend.inventory import movement_services, selectors, stocktake_services
from openvend.inventory.models import StockLevel, StockMovement, StockTake

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class XlsxRenderer(BaseRenderer):
    media_type = XLSX
    format = "xlsx"
    charset = None
    render_style = "binary"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> Any:
        return data


class _ScopedReadMixin(viewsets.GenericViewSet):
    """A method the resource does not offer answers 405, not 403 (the role check would run first)."""

    def check_permissions(self, request: Request) -> None:
        if getattr(self, "action", None) is None and request.method != "OPTIONS":
            raise exceptions.MethodNotAllowed(request.method or "")
        super().check_permissions(request)


class StockLevelViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, _ScopedReadMixin):
    """On hand per device, product and lane (lane 0: a cabinet; n: track n). Negative means oversold."""

    queryset = StockLevel.objects.all()
    serializer_class = StockLevelSerializer
    filterset_fields = {"device": ["exact"], "product": ["exact"], "lane": ["exact"], "on_hand": ["lt", "gt"]}
    ordering_fields = ["on_hand", "lane", "updated_at"]

    def get_queryset(self) -> Any:
        return (
            StockLevel.objects.restrict(self.request.user, "view")
            .select_related("device", "product")
            .order_by("device_id", "lane", "product_id")
        )


class StockMovementViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, _ScopedReadMixin
):
    """The immutable stock ledger. POST posts a manual correction, removal or transfer."""

    queryset = StockMovement.objects.all()
    serializer_class = StockMovementSerializer
    filterset_fields = {
        "device": ["exact"],
        "product": ["exact"],
        "lane": ["exact"],
        "kind": ["exact"],
        "oversold": ["exact"],
        "created_at": ["gte", "lt"],
    }

    def get_queryset(self) -> Any:
        return (
            StockMovement.objects.restrict(self.request.user, "view")
            .select_related("device", "product")
            .order_by("-pk")
        )

    @extend_schema(request=ManualMovementSerializer, responses={201: StockMovementSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        body = ManualMovementSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        data = body.validated_data
        movement = movement_services.movement_manual(
            actor=request.user, operation=data["operation"], data=data
        )
        return Response(StockMovementSerializer(movement).data, status=201)


class StockTakeViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, _ScopedReadMixin
):
    """Stock-taking by scan (扫码盘点): start on a device, scan or type counts, submit, then an
    approver posts the differences to the ledger or rejects the count."""

    queryset = StockTake.objects.all()
    serializer_class = StockTakeSerializer
    filterset_fields = ["device", "state"]
    permission_actions = {
        "count": "change",
        "submit": "change",
        "approve": "approve",
        "reject": "approve",
        "report": "view",
    }

    def get_queryset(self) -> Any:
        return (
            StockTake.objects.restrict(self.request.user, "view")
            .prefetch_related("lines__product")
            .order_by("-pk")
        )

    def perform_create(self, serializer: Any) -> None:
        device = serializer.validated_data["device"]
        serializer.instance = stocktake_services.stocktake_start(actor=self.request.user, device=device)

    def _take(self) -> StockTake:
        take: StockTake = self.get_object()
        return take

    def _fresh(self, take: StockTake) -> Response:
        return Response(StockTakeSerializer(self.get_queryset().get(pk=take.pk)).data)

    @extend_schema(request=StockTakeCountSerializer, responses=StockTakeLineSerializer)
    @action(detail=True, methods=["post"])
    def count(self, request: Request, pk: str | None = None) -> Response:
        take = self._take()
        body = StockTakeCountSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        data = body.validated_data
        line = stocktake_services.stocktake_count(
            actor=request.user,
            take=take,
            barcode_or_product=data.get("product") or data.get("barcode"),
            lane=data.get("lane"),
            counted=data.get("counted"),
            increment=data.get("increment"),
        )
        return Response(StockTakeLineSerializer(line).data)

    @extend_schema(request=None, responses=StockTakeSerializer)
    @action(detail=True, methods=["post"])
    def submit(self, request: Request, pk: str | None = None) -> Response:
        take = stocktake_services.stocktake_submit(actor=request.user, take=self._take())
        return self._fresh(take)

    @extend_schema(request=StockTakeDecisionSerializer, responses=StockTakeSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str | None = None) -> Response:
        take = self._take()
        body = StockTakeDecisionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        stocktake_services.stocktake_approve(
            approver=request.user, take=take, reason=body.validated_data["reason"]
        )
        return self._fresh(take)

    @extend_schema(request=StockTakeRejectSerializer, responses=StockTakeSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str | None = None) -> Response:
        take = self._take()
        body = StockTakeRejectSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        stocktake_services.stocktake_reject(
            approver=request.user, take=take, note=body.validated_data["note"]
        )
        return self._fresh(take)

    @extend_schema(
        responses={
            (200, "application/json"): StockTakeDiscrepancySerializer(many=True),
            (200, XLSX): OpenApiTypes.BINARY,
        },
        parameters=[
            OpenApiParameter("format", str, enum=["json", "xlsx"], description="xlsx: an Excel workbook.")
        ],
    )
    @action(
        detail=True, methods=["get"], renderer_classes=[JSONRenderer, XlsxRenderer], pagination_class=None
    )
    def report(self, request: Request, pk: str | None = None, format: str | None = None) -> Any:
        """The discrepancy report: lines where the count differs from the ledger, valued in fen."""
        take = self._take()
        if getattr(request, "accepted_renderer", None) and request.accepted_renderer.format == "xlsx":
            response = HttpResponse(selectors.stocktake_report_xlsx(take), content_type=XLSX)
            response["Content-Disposition"] = f'attachment; filename="stocktake-{take.pk}.xlsx"'
            return response
        rows = selectors.stocktake_report(take)
        return Response([{**row.__dict__, "value_fen": row.value_fen} for row in rows])


def register(router: DefaultRouter) -> None:
    """Add this area's resources to the API router."""
    router.register("stock-levels", StockLevelViewSet, basename="stocklevel")
    router.register("stock-movements", StockMovementViewSet, basename="stockmovement")
    router.register("stock-takes", StockTakeViewSet, basename="stocktake")
