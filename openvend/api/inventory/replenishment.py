"""REST resources for replenishment orders, suggestions, pick lists and restock sessions."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from openvend.api.inventory.replenishment_serializers import (
    CompleteOrderSerializer,
    CompletionSerializer,
    CountSerializer,
    CountsSerializer,
    FromSuggestionsSerializer,
    PhotoSerializer,
    PickListSerializer,
    ReplenishmentOrderSerializer,
    RestockLineSerializer,
    RestockSessionSerializer,
    RestockStartSerializer,
    StaffField,
    SuggestionSerializer,
)
from openvend.api.viewsets import TenantViewSet
from openvend.consoles.export import XLSX
from openvend.devices.models import Device
from openvend.inventory import replenishment_selectors as selectors
from openvend.inventory import replenishment_services as services
from openvend.inventory import restock_services as restock
from openvend.inventory.models import ReplenishmentOrder, RestockSession
from openvend.inventory.restock_rules import check_may_act_on_restock


class ReplenishmentOrderViewSet(TenantViewSet):
    """Replenishment orders (补货单): created from suggestions, assigned, picked, dispatched, completed."""

    queryset = ReplenishmentOrder.objects.all()
    serializer_class = ReplenishmentOrderSerializer
    filterset_fields = ["device", "state", "assignee", "route"]
    search_fields = ["number", "device__code", "route"]
    http_method_names = ["get", "post", "patch", "head", "options"]
    permission_actions = {
        "from_suggestions": "add",
        "start_picking": "change",
        "dispatch_order": "change",
        "complete": "change",
        "cancel": "change",
    }

    def get_queryset(self) -> Any:
        return super().get_queryset().select_related("device").prefetch_related("lines__product")

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        raise ValidationError(
            {"non_field_errors": ["Orders are created from suggestions: POST from-suggestions/."]}
        )

    def update_object(self, instance: ReplenishmentOrder, data: dict[str, Any]) -> ReplenishmentOrder:
        return services.replenishment_order_update(actor=self.actor, order=instance, data=data)

    def _answer(self, order: ReplenishmentOrder) -> Response:
        return Response(
            ReplenishmentOrderSerializer(
                self.get_queryset().get(pk=order.pk), context=self.get_serializer_context()
            ).data
        )

    @extend_schema(request=FromSuggestionsSerializer, responses=ReplenishmentOrderSerializer(many=True))
    @action(detail=False, methods=["post"], url_path="from-suggestions")
    def from_suggestions(self, request: Request) -> Response:
        body = FromSuggestionsSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        orders = services.replenishment_orders_from_suggestions(actor=request.user, **body.validated_data)
        fresh = self.get_queryset().filter(pk__in=[o.pk for o in orders]).order_by("number")
        return Response(
            ReplenishmentOrderSerializer(fresh, many=True, context=self.get_serializer_context()).data,
            status=201,
        )

    @extend_schema(request=None, responses=ReplenishmentOrderSerializer)
    @action(detail=True, methods=["post"], url_path="start-picking")
    def start_picking(self, request: Request, pk: str | None = None) -> Response:
        return self._answer(
            services.replenishment_order_start_picking(actor=request.user, order=self.get_object())
        )

    @extend_schema(request=None, responses=ReplenishmentOrderSerializer)
    @action(detail=True, methods=["post"], url_path="dispatch")
    def dispatch_order(self, request: Request, pk: str | None = None) -> Response:
        return self._answer(
            services.replenishment_order_dispatch(actor=request.user, order=self.get_object())
        )

    @extend_schema(request=None, responses=ReplenishmentOrderSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        return self._answer(services.replenishment_order_cancel(actor=request.user, order=self.get_object()))

    @extend_schema(request=CompleteOrderSerializer, responses=CompletionSerializer)
    @action(detail=True, methods=["post"])
    def complete(self, request: Request, pk: str | None = None) -> Response:
        order = self.get_object()
        body = CompleteOrderSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        placed = {row["line"]: row["placed"] for row in body.validated_data.get("lines", [])}
        result = services.replenishment_order_complete(actor=request.user, order=order, placed=placed)
        result.order = self.get_queryset().get(pk=order.pk)
        return Response(CompletionSerializer(result, context=self.get_serializer_context()).data)


class ReplenishmentSuggestionViewSet(viewsets.GenericViewSet):
    """Suggested replenishment (建议补货) per device, product and lane; see the formula in
    `openvend.inventory.replenishment_selectors.replenishment_suggestions`."""

    queryset = ReplenishmentOrder.objects.all()  # the permission model: view replenishment orders
    serializer_class = SuggestionSerializer
    pagination_class = None
    filter_backends: list[Any] = []

    @extend_schema(
        parameters=[
            OpenApiParameter("device", OpenApiTypes.INT, many=True, required=True),
            OpenApiParameter("days", OpenApiTypes.INT),
            OpenApiParameter("lead_days", OpenApiTypes.INT),
        ],
        responses=SuggestionSerializer(many=True),
    )
    def list(self, request: Request) -> Response:
        ids = [v for raw in request.query_params.getlist("device") for v in raw.split(",") if v.strip()]
        if not ids or not all(v.strip().isdigit() for v in ids):
            raise ValidationError({"device": ["One or more device ids are required."]})
        wanted = {int(v) for v in ids}
        devices = list(Device.objects.restrict(request.user, "view").filter(pk__in=wanted).order_by("code"))
        if len(devices) != len(wanted):
            raise NotFound()
        days = _int_param(request, "days", 7, 1, 90)
        lead_days = _int_param(request, "lead_days", 1, 0, 30)
        rows = selectors.suggestions_for_devices(devices, days=days, lead_days=lead_days)
        return Response(SuggestionSerializer(rows, many=True).data)


def _int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ValidationError({name: [f"A whole number from {low} to {high}."]})
    return int(raw)


class PickListViewSet(viewsets.GenericViewSet):
    """Pick lists (拣货单): the open orders of one replenisher (default: the caller) or one route,
    grouped by device, with the pre-kitting totals per product (预配货)."""

    queryset = ReplenishmentOrder.objects.all()
    serializer_class = PickListSerializer
    pagination_class = None
    filter_backends: list[Any] = []
    permission_actions = {"xlsx": "view"}

    def _picks(self, request: Request) -> Any:
        scoped = ReplenishmentOrder.objects.restrict(request.user, "view")
        route = request.query_params.get("route", "").strip()
        assignee: Any = None
        raw = request.query_params.get("assignee", "").strip()
        if raw:
            staff = StaffField.staff_of(request.user)
            assignee = staff.filter(pk=int(raw) if raw.isdigit() else -1).first()
            if assignee is None:
                raise NotFound()
        elif not route:
            assignee = request.user
        return selectors.pick_list(selectors.open_orders(scoped, assignee=assignee, route=route or None))

    @extend_schema(
        parameters=[
            OpenApiParameter("assignee", OpenApiTypes.INT),
            OpenApiParameter("route", OpenApiTypes.STR),
        ],
        responses=PickListSerializer,
    )
    def list(self, request: Request) -> Response:
        return Response(PickListSerializer(self._picks(request)).data)

    @extend_schema(
        parameters=[
            OpenApiParameter("assignee", OpenApiTypes.INT),
            OpenApiParameter("route", OpenApiTypes.STR),
        ],
        responses={(200, XLSX): OpenApiTypes.BINARY},
    )
    @action(detail=False, methods=["get"])
    def xlsx(self, request: Request) -> HttpResponse:
        data = services.pick_list_workbook(self._picks(request))
        response = HttpResponse(data, content_type=XLSX)
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        response["Content-Disposition"] = f'attachment; filename="pick-list-{stamp}.xlsx"'
        return response


class RestockSessionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Free replenishment (自由补货): start opens the door in restock mode; close, count, complete."""

    queryset = RestockSession.objects.all()
    serializer_class = RestockSessionSerializer
    filterset_fields = ["device", "state", "replenisher", "has_discrepancy", "order"]
    parser_classes = [JSONParser, MultiPartParser, FormParser]
    permission_actions = {
        "start": "add",
        "close": "change",
        "count": "change",
        "complete": "change",
        "cancel": "change",
        "photo": "change",
    }

    def get_queryset(self) -> Any:
        qs = RestockSession.objects.restrict(self.request.user, "view")
        return qs.select_related("device").prefetch_related("lines__product").order_by("-created_at")

    def _session(self) -> RestockSession:
        """The session, if the caller may act on it: its replenisher or a supervisor (403 else)."""
        session = self.get_object()
        check_may_act_on_restock(self.request.user, session)
        return session

    def _answer(self, session: RestockSession, status: int = 200) -> Response:
        fresh = self.get_queryset().get(pk=session.pk)
        return Response(
            RestockSessionSerializer(fresh, context=self.get_serializer_context()).data, status=status
        )

    @extend_schema(request=RestockStartSerializer, responses=RestockSessionSerializer)
    @action(detail=False, methods=["post"])
    def start(self, request: Request) -> Response:
        body = RestockStartSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        session = restock.restock_start(actor=request.user, **body.validated_data)
        return self._answer(session, status=201)

    @extend_schema(request=None, responses=RestockSessionSerializer)
    @action(detail=True, methods=["post"])
    def close(self, request: Request, pk: str | None = None) -> Response:
        return self._answer(restock.restock_door_closed(actor=request.user, session=self._session()))

    @extend_schema(request=CountSerializer, responses=RestockLineSerializer)
    @action(detail=True, methods=["post"])
    def count(self, request: Request, pk: str | None = None) -> Response:
        session = self._session()
        body = CountSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        line = restock.restock_count(actor=request.user, session=session, **body.validated_data)
        return Response(RestockLineSerializer(line).data)

    @extend_schema(request=CountsSerializer, responses=RestockSessionSerializer)
    @action(detail=True, methods=["post"])
    def complete(self, request: Request, pk: str | None = None) -> Response:
        session = self._session()
        body = CountsSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        counts = [(c["product"], c["lane"], c["counted"]) for c in body.validated_data.get("counts", [])]
        with transaction.atomic():
            restock.restock_complete(actor=request.user, session=session, counts=counts)
        return self._answer(session)

    @extend_schema(request=None, responses=RestockSessionSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        return self._answer(restock.restock_cancel(actor=request.user, session=self._session()))

    @extend_schema(request={"multipart/form-data": PhotoSerializer}, responses=RestockSessionSerializer)
    @action(detail=True, methods=["post"])
    def photo(self, request: Request, pk: str | None = None) -> Response:
        session = self._session()
        body = PhotoSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self._answer(
            restock.restock_photo_upload(
                actor=request.user, session=session, photo=body.validated_data["photo"]
            )
        )


def register(router: DefaultRouter) -> None:
    """Add this area's resources to the API router."""
    router.register("replenishment-orders", ReplenishmentOrderViewSet, basename="replenishmentorder")
    router.register(
        "replenishment-suggestions", ReplenishmentSuggestionViewSet, basename="replenishmentsuggestion"
    )
    router.register("pick-lists", PickListViewSet, basename="picklist")
    router.register("restock-sessions", RestockSessionViewSet, basename="restocksession")
