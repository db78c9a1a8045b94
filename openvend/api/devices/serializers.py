from django.conf import settings
from rest_framework import serializers

from openvend.api.viewsets import ScopedRelatedField
from openvend.devices.choices import CommandKind
from openvend.devices.models import (
    Alarm,
    AlarmSettings,
    Command,
    Device,
    DeviceKind,
    DeviceRegistration,
    DeviceState,
)
from openvend.merchants.models import DeviceGroup, Site


class DeviceKindSerializer(serializers.ModelSerializer):
    sensor_ids = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = DeviceKind
        fields = [
            "id",
            "code",
            "name",
            "type",
            "doors",
            "shelves",
            "sensors_per_shelf",
            "tracks",
            "warehouses",
            "has_camera",
            "sensor_ids",
        ]


class DeviceRegistrationSerializer(serializers.ModelSerializer):
    kind = ScopedRelatedField(queryset=DeviceKind.objects.all())
    activated = serializers.SerializerMethodField()

    class Meta:
        model = DeviceRegistration
        fields = ["id", "code", "kind", "batch", "created_at", "activated"]
        read_only_fields = ["created_at"]

    def get_activated(self, obj: DeviceRegistration) -> bool:
        return hasattr(obj, "device")


class DeviceStateSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeviceState
        fields = [
            "online",
            "last_seen_at",
            "last_machine_ts",
            "clock_skew_ms",
            "door",
            "lock",
            "camera",
            "temperature_c",
            "humidity_pct",
            "rssi_dbm",
            "firmware",
            "weights_g",
        ]


class DeviceSerializer(serializers.ModelSerializer):
    site = ScopedRelatedField(queryset=Site.objects.all(), allow_null=True, required=False)
    group = ScopedRelatedField(queryset=DeviceGroup.objects.all(), allow_null=True, required=False)
    state = DeviceStateSerializer(read_only=True)
    kind: serializers.SlugRelatedField = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = Device
        fields = [
            "id",
            "merchant",
            "code",
            "name",
            "kind",
            "site",
            "group",
            "status",
            "default_flow",
            "activated_at",
            "service_expires_at",
            "foreign_object_lock",
            "locked_by_foreign_object",
            "state",
        ]
        read_only_fields = [
            "merchant",
            "code",
            "activated_at",
            "service_expires_at",
            "foreign_object_lock",
            "locked_by_foreign_object",
        ]


class ActivateSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=32)
    name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    site = ScopedRelatedField(queryset=Site.objects.all(), allow_null=True, required=False, default=None)
    group = ScopedRelatedField(
        queryset=DeviceGroup.objects.all(), allow_null=True, required=False, default=None
    )


class CredentialsSerializer(serializers.Serializer):
    """Shown once: only a hash is kept."""

    username = serializers.CharField()
    secret = serializers.CharField()
    mqtt_url = serializers.CharField()

    @staticmethod
    def build(device: Device, secret: str) -> dict:
        return {"username": device.code, "secret": secret, "mqtt_url": settings.MQTT_URL or "embedded"}


class ActivationResultSerializer(serializers.Serializer):
    device = DeviceSerializer()
    credentials = CredentialsSerializer()


class GrantSerializer(serializers.Serializer):
    days = serializers.IntegerField(min_value=1, max_value=3650)
    note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class QrSerializer(serializers.Serializer):
    token = serializers.CharField()
    url = serializers.CharField()


class CommandSerializer(serializers.ModelSerializer):
    kind: serializers.ChoiceField = serializers.ChoiceField(choices=CommandKind.choices)
    ttl_s = serializers.IntegerField(min_value=5, max_value=86400, default=60, write_only=True)

    class Meta:
        model = Command
        fields = [
            "id",
            "device",
            "kind",
            "params",
            "ttl_s",
            "status",
            "created_at",
            "expires_at",
            "sent_at",
            "finished_at",
            "result_code",
            "result_message",
            "result_data",
            "created_by",
        ]
        read_only_fields = [
            "device",
            "status",
            "created_at",
            "expires_at",
            "sent_at",
            "finished_at",
            "result_code",
            "result_message",
            "result_data",
            "created_by",
        ]


class AlarmSerializer(serializers.ModelSerializer):
    device_code = serializers.CharField(source="device.code", read_only=True)

    class Meta:
        model = Alarm
        fields = [
            "id",
            "device",
            "device_code",
            "kind",
            "severity",
            "status",
            "opened_at",
            "last_seen_at",
            "occurrences",
            "acknowledged_at",
            "acknowledged_by",
            "cleared_at",
            "cleared_by",
            "detail",
        ]


class AlarmSettingsSerializer(serializers.ModelSerializer):
    webhook_secret = serializers.CharField(write_only=True, required=False, allow_blank=True, max_length=200)
    has_webhook_secret = serializers.SerializerMethodField()

    class Meta:
        model = AlarmSettings
        fields = [
            "temperature_min_c",
            "temperature_max_c",
            "debounce_samples",
            "offline_after_s",
            "door_open_max_s",
            "webhook_url",
            "webhook_secret",
            "has_webhook_secret",
        ]

    def get_has_webhook_secret(self, obj: AlarmSettings) -> bool:
        return bool(obj.webhook_secret)
