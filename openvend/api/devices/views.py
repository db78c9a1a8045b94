from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from openvend.api.devices.serializers import (
    ActivateSerializer,
    ActivationResultSerializer,
    AlarmSerializer,
    AlarmSettingsSerializer,
    CommandSerializer,
    CredentialsSerializer,
    DeviceKindSerializer,
    DeviceRegistrationSerializer,
    DeviceSerializer,
    GrantSerializer,
    QrSerializer,
)
from openvend.api.viewsets import TenantViewSet
from openvend.audit.services import audited_delete
from openvend.devices import alarms, commands, services
from openvend.devices.alarms import settings_for
from openvend.devices.choices import ServiceGrantKind
from openvend.devices.models import Alarm, AlarmSettings, Command, Device, DeviceKind, DeviceRegistration


class DeviceKindViewSet(viewsets.ReadOnlyModelViewSet):
    """Device models and their geometry: shelves × weight sensors, doors, tracks, warehouses."""

    queryset = DeviceKind.objects.all()
    serializer_class = DeviceKindSerializer
    filterset_fields = ["type"]

    def get_queryset(self) -> Any:
        return DeviceKind.objects.restrict(self.request.user, "view").order_by("code")


class DeviceRegistrationViewSet(TenantViewSet):
    """Device codes the platform maintains (设备维护). Only registered codes can be activated."""

    queryset = DeviceRegistration.objects.all()
    serializer_class = DeviceRegistrationSerializer
    filterset_fields = ["kind", "batch"]
    search_fields = ["code", "batch"]

    def create_object(self, data: dict[str, Any]) -> DeviceRegistration:
        return services.device_register(actor=self.actor, **data)

    def update_object(self, instance: DeviceRegistration, data: dict[str, Any]) -> DeviceRegistration:
        from openvend.audit.services import audited_update

        audited_update(actor=self.actor, instance=instance, data={"batch": data.get("batch", instance.batch)})
        return instance

    def delete_object(self, instance: DeviceRegistration) -> None:
        audited_delete(actor=self.actor, instance=instance)


class DeviceViewSet(TenantViewSet):
    """A merchant's devices with their live state. Activation issues per-device broker credentials."""

    queryset = Device.objects.all()
    serializer_class = DeviceSerializer
    filterset_fields = ["site", "group", "status", "kind__code", "state__online"]
    search_fields = ["code", "name", "site__name"]
    http_method_names = ["get", "post", "patch", "head", "options"]
    permission_actions = {
        "activate": "add",
        "rotate_credentials": "change",
        "revoke_credentials": "change",
        "qr": "view",
        "grant_time": "view",
        "send_command": "view",
    }

    def get_queryset(self) -> Any:
        return super().get_queryset().select_related("state", "kind")

    def update_object(self, instance: Device, data: dict[str, Any]) -> Device:
        return services.device_update(actor=self.actor, device=instance, data=data)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        raise PermissionDenied("Devices are added by activation: POST /api/v1/devices/activate/.")

    @extend_schema(request=ActivateSerializer, responses=ActivationResultSerializer)
    @action(detail=False, methods=["post"])
    def activate(self, request: Request) -> Response:
        body = ActivateSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        user: Any = request.user
        if user.merchant is None:
            raise PermissionDenied("Devices are activated by the merchant that will own them.")
        device, secret = services.device_activate(actor=user, merchant=user.merchant, **body.validated_data)
        return Response(
            {
                "device": DeviceSerializer(device).data,
                "credentials": CredentialsSerializer.build(device, secret),
            },
            status=201,
        )

    @extend_schema(request=None, responses=CredentialsSerializer)
    @action(detail=True, methods=["post"], url_path="rotate-credentials")
    def rotate_credentials(self, request: Request, pk: str | None = None) -> Response:
        device = self.get_object()
        secret = services.device_credentials_rotate(actor=request.user, device=device)
        return Response(CredentialsSerializer.build(device, secret))

    @extend_schema(request=None, responses=DeviceSerializer)
    @action(detail=True, methods=["post"], url_path="revoke-credentials")
    def revoke_credentials(self, request: Request, pk: str | None = None) -> Response:
        device = self.get_object()
        services.device_credentials_revoke(actor=request.user, device=device)
        return Response(DeviceSerializer(device).data)

    @extend_schema(responses=QrSerializer)
    @action(detail=True, methods=["get"])
    def qr(self, request: Request, pk: str | None = None) -> Response:
        device = self.get_object()
        token = services.device_qr_token(device, request.query_params.get("flow"))
        url = request.build_absolute_uri(reverse("mobile:scan", args=[token]))
        return Response({"token": token, "url": url})

    @extend_schema(request=GrantSerializer, responses=DeviceSerializer)
    @action(detail=True, methods=["post"], url_path="grant-time")
    def grant_time(self, request: Request, pk: str | None = None) -> Response:
        if not request.user.has_perm("devices.add_deviceservicegrant"):
            raise PermissionDenied()
        device = self.get_object()
        body = GrantSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.device_service_grant(
            actor=request.user, device=device, kind=ServiceGrantKind.GIFT, **body.validated_data
        )
        return Response(DeviceSerializer(device).data)

    @extend_schema(request=CommandSerializer, responses=CommandSerializer)
    @action(detail=True, methods=["post"], url_path="commands")
    def send_command(self, request: Request, pk: str | None = None) -> Response:
        device = self.get_object()
        body = CommandSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        kind = body.validated_data["kind"]
        if not request.user.has_perm(commands.required_permission(kind)):
            raise PermissionDenied()
        command = commands.command_send(
            actor=request.user,
            device=device,
            kind=kind,
            params=body.validated_data.get("params") or {},
            ttl_s=body.validated_data["ttl_s"],
        )
        return Response(CommandSerializer(command).data, status=201)


class CommandViewSet(viewsets.ReadOnlyModelViewSet):
    """Commands sent to devices, with their ACK or timeout."""

    queryset = Command.objects.all()
    serializer_class = CommandSerializer
    filterset_fields = ["device", "kind", "status"]

    def get_queryset(self) -> Any:
        return Command.objects.restrict(self.request.user, "view").order_by("-created_at")


class AlarmViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Device alarms: acknowledge, clear, and clear every live one at once."""

    queryset = Alarm.objects.all()
    serializer_class = AlarmSerializer
    filterset_fields = ["device", "kind", "severity", "status"]
    permission_actions = {"acknowledge": "change", "clear": "change", "clear_all": "change"}

    def get_queryset(self) -> Any:
        return (
            Alarm.objects.restrict(self.request.user, "view").select_related("device").order_by("-opened_at")
        )

    @extend_schema(request=None, responses=AlarmSerializer)
    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Request, pk: str | None = None) -> Response:
        alarm = alarms.alarm_acknowledge(actor=request.user, alarm=self.get_object())
        return Response(AlarmSerializer(alarm).data)

    @extend_schema(request=None, responses=AlarmSerializer)
    @action(detail=True, methods=["post"])
    def clear(self, request: Request, pk: str | None = None) -> Response:
        alarm = alarms.alarm_clear(actor=request.user, alarm=self.get_object())
        return Response(AlarmSerializer(alarm).data)

    @extend_schema(request=None, responses={200: dict})
    @action(detail=False, methods=["post"], url_path="clear-all")
    def clear_all(self, request: Request) -> Response:
        scoped = Alarm.objects.restrict(request.user, "change")
        cleared = alarms.alarms_clear_all(actor=request.user, alarms=self.filter_queryset(scoped))
        return Response({"cleared": cleared})


class AlarmSettingsViewSet(viewsets.GenericViewSet):
    """The caller's merchant's alarm thresholds and signed webhook."""

    queryset = AlarmSettings.objects.all()
    serializer_class = AlarmSettingsSerializer
    pagination_class = None

    @extend_schema(responses=AlarmSettingsSerializer)
    def list(self, request: Request) -> Response:
        return Response(AlarmSettingsSerializer(settings_for(self._merchant_id())).data)

    @extend_schema(request=AlarmSettingsSerializer, responses=AlarmSettingsSerializer)
    @action(detail=False, methods=["patch"], url_path="update")
    def update_settings(self, request: Request) -> Response:
        if not request.user.has_perm("devices.change_alarmsettings"):
            raise PermissionDenied()
        body = AlarmSettingsSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        found = alarms.alarm_settings_update(
            actor=request.user, merchant_id=self._merchant_id(), data=body.validated_data
        )
        return Response(AlarmSettingsSerializer(found).data)

    def _merchant_id(self) -> int:
        user: Any = self.request.user
        if user.merchant_id is None:
            raise PermissionDenied("Alarm settings belong to a merchant.")
        return int(user.merchant_id)
