"""REST resources for planograms and vending tracks.

- /planograms/: versions per cabinet. POST creates a draft (optionally copying the version in force
  or a given version); PATCH edits the note; DELETE discards a draft. `POST {id}/activate/` puts a
  draft in force, `GET {id}/recognition/?counts=par|on_hand` is the recognition planogram JSON and
  `GET {id}/check/` the recognition check stored when the version last changed.
- /planogram-slots/: slots of drafts (flat, filter by `planogram`). Writing a slot is changing its
  planogram, so it takes the planogram's `change` permission.
- /tracks/: vending tracks; `POST /tracks/generate/` creates a machine's tracks 1..n and
  `POST /tracks/clone/` copies one machine's tracks onto machines of the same kind.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from openvend.api.inventory.planogram_serializers import (
    CheckSummarySerializer,
    PlanogramCheckSerializer,
    PlanogramSerializer,
    PlanogramSlotSerializer,
    RecognitionQuerySerializer,
    TrackCloneResultSerializer,
    TrackCloneSerializer,
    TrackGenerateSerializer,
    TrackSerializer,
)
from openvend.api.viewsets import TenantViewSet
from openvend.devices.models import Device
from openvend.inventory import planogram_services, track_services
from openvend.inventory.models import Planogram, PlanogramSlot, Track
from openvend.inventory.recognition_export import recognition_planogram

SLOT_WRITES = {"create": "change", "update": "change", "partial_update": "change", "destroy": "change"}


class PlanogramViewSet(TenantViewSet):
    """Planogram versions of weighing cabinets, with the recognition check's warnings."""

    queryset = Planogram.objects.all()
    serializer_class = PlanogramSerializer
    filterset_fields = ["device", "status"]
    permission_actions = {"activate": "change", "recognition": "view", "check": "view"}

    def get_queryset(self) -> Any:
        return super().get_queryset().select_related("device__kind").prefetch_related("slots")

    def create_object(self, data: dict[str, Any]) -> Planogram:
        return planogram_services.planogram_draft_create(
            actor=self.actor,
            device=data["device"],
            copy_from=data.get("copy_from"),
            copy_in_force=bool(data.get("copy_in_force")),
            note=data.get("note", ""),
        )

    def update_object(self, instance: Planogram, data: dict[str, Any]) -> Planogram:
        return planogram_services.planogram_update(actor=self.actor, planogram=instance, data=data)

    def delete_object(self, instance: Planogram) -> None:
        planogram_services.planogram_draft_delete(actor=self.actor, planogram=instance)

    @extend_schema(request=None, responses=PlanogramSerializer)
    @action(detail=True, methods=["post"])
    def activate(self, request: Request, pk: str | None = None) -> Response:
        planogram = planogram_services.planogram_activate(actor=request.user, planogram=self.get_object())
        return Response(PlanogramSerializer(planogram, context=self.get_serializer_context()).data)

    @extend_schema(parameters=[RecognitionQuerySerializer], responses={200: dict})
    @action(detail=True, methods=["get"])
    def recognition(self, request: Request, pk: str | None = None) -> Response:
        query = RecognitionQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        return Response(recognition_planogram(self.get_object(), counts=query.validated_data["counts"]))

    @extend_schema(responses=PlanogramCheckSerializer)
    @action(detail=True, methods=["get"])
    def check(self, request: Request, pk: str | None = None) -> Response:
        report = self.get_object().check_report or {}
        return Response({"summary": CheckSummarySerializer.build(report), "report": report})


class PlanogramSlotViewSet(TenantViewSet):
    """Slots of planogram drafts: which product rests on which weight sensors, capacity and par."""

    queryset = PlanogramSlot.objects.all()
    serializer_class = PlanogramSlotSerializer
    permission_model = Planogram
    permission_actions = SLOT_WRITES
    filterset_fields = ["planogram", "product", "shelf"]

    def get_queryset(self) -> Any:
        visible = Planogram.objects.restrict(self.request.user, "view")
        return (
            PlanogramSlot.objects.filter(planogram__in=visible)
            .select_related("planogram", "product")
            .order_by("planogram_id", "shelf", "id")
        )

    def _changeable(self, planogram: Planogram) -> Planogram:
        if not Planogram.objects.restrict(self.request.user, "change").filter(pk=planogram.pk).exists():
            raise Http404
        return planogram

    def create_object(self, data: dict[str, Any]) -> PlanogramSlot:
        planogram = self._changeable(data.pop("planogram"))
        return planogram_services.planogram_slot_add(actor=self.actor, planogram=planogram, **data)

    def update_object(self, instance: PlanogramSlot, data: dict[str, Any]) -> PlanogramSlot:
        self._changeable(instance.planogram)
        data.pop("planogram", None)  # a slot stays in its version
        return planogram_services.planogram_slot_update(actor=self.actor, slot=instance, data=data)

    def delete_object(self, instance: PlanogramSlot) -> None:
        self._changeable(instance.planogram)
        planogram_services.planogram_slot_remove(actor=self.actor, slot=instance)


class TrackViewSet(TenantViewSet):
    """Vending-machine tracks (货道): product, price, capacity, par level. Stock is in the ledger."""

    queryset = Track.objects.all()
    serializer_class = TrackSerializer
    filterset_fields = ["device", "number", "product", "enabled"]
    permission_actions = {"generate": "add", "clone": "change"}

    def get_queryset(self) -> Any:
        return super().get_queryset().select_related("device", "product").order_by("device_id", "number")

    def create_object(self, data: dict[str, Any]) -> Track:
        device = data.pop("device")
        return track_services.track_create(actor=self.actor, device=device, number=data.pop("number"), **data)

    def update_object(self, instance: Track, data: dict[str, Any]) -> Track:
        data.pop("device", None)  # a track stays on its machine and keeps its number
        data.pop("number", None)
        return track_services.track_update(actor=self.actor, track=instance, data=data)

    def delete_object(self, instance: Track) -> None:
        track_services.track_delete(actor=self.actor, track=instance)

    @extend_schema(request=TrackGenerateSerializer, responses=TrackSerializer(many=True))
    @action(detail=False, methods=["post"])
    def generate(self, request: Request) -> Response:
        body = TrackGenerateSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        created = track_services.tracks_generate(actor=request.user, device=body.validated_data["device"])
        return Response(TrackSerializer(created, many=True).data, status=201)

    @extend_schema(request=TrackCloneSerializer, responses=TrackCloneResultSerializer)
    @action(detail=False, methods=["post"])
    def clone(self, request: Request) -> Response:
        body = TrackCloneSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        ids = {body.validated_data["source_device"], *body.validated_data["target_devices"]}
        devices = {d.pk: d for d in Device.objects.restrict(request.user, "view").filter(pk__in=ids)}
        if len(devices) != len(ids):
            raise Http404  # another merchant's machine, or one outside the caller's scope
        result = track_services.tracks_clone(
            actor=request.user,
            source_device=devices[body.validated_data["source_device"]],
            target_devices=[devices[pk] for pk in body.validated_data["target_devices"]],
            numbers=body.validated_data["numbers"],
        )
        return Response(TrackCloneResultSerializer(result).data)


def register(router: DefaultRouter) -> None:
    """Add this area's resources to the API router."""
    router.register("planograms", PlanogramViewSet, basename="planogram")
    router.register("planogram-slots", PlanogramSlotViewSet, basename="planogramslot")
    router.register("tracks", TrackViewSet, basename="track")
