"""Registering and activating simulated devices through the ordinary device services, so they are
indistinguishable from real ones to the rest of the platform."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from openvend.devices import services
from openvend.devices.choices import DeviceType
from openvend.devices.models import Device, DeviceKind, DeviceRegistration
from openvend.merchants.models import Merchant

SIM_KIND_CODE = "sim-gravity-4x4"


def simulator_kind() -> DeviceKind:
    """The standard simulated cabinet: a gravity cabinet with 4 shelves of 4 load cells and a camera."""
    kind, _created = DeviceKind.objects.get_or_create(
        code=SIM_KIND_CODE,
        defaults={
            "name": "Simulated gravity cabinet 4×4",
            "type": DeviceType.GRAVITY_CABINET,
            "shelves": 4,
            "sensors_per_shelf": 4,
            "has_camera": True,
        },
    )
    return kind


def simulator_codes(count: int, prefix: str = "SIM") -> list[str]:
    return [f"{prefix}-{n:04d}" for n in range(1, count + 1)]


@transaction.atomic
def provision_devices(
    merchant: Merchant,
    count: int,
    *,
    prefix: str = "SIM",
    kind: DeviceKind | None = None,
    site: Any = None,
) -> list[dict[str, str]]:
    """Devices {prefix}-0001 … for `merchant`, each with a fresh broker secret.

    Idempotent: a code that already exists keeps its device (and history) and only gets a new
    secret, because secrets are never stored and the caller needs working ones. One transaction,
    so the broker's credential files are regenerated once, after the last device."""
    if count < 0:
        raise ValueError("count must not be negative")
    kind = kind or simulator_kind()
    provisioned = []
    for code in simulator_codes(count, prefix):
        device = Device.objects.filter(code=code).first()
        if device is not None:
            if device.merchant_id != merchant.pk:
                raise ValueError(f"device {code} belongs to another merchant; choose another prefix")
            secret = services.device_credentials_rotate(actor=None, device=device)
        else:
            if not DeviceRegistration.objects.filter(code=code).exists():
                services.device_register(actor=None, code=code, kind=kind)
            _device, secret = services.device_activate(
                actor=None, merchant=merchant, code=code, name=f"Simulated {code}", site=site
            )
        provisioned.append({"code": code, "secret": secret})
    return provisioned


def cameras_of(codes: list[str]) -> dict[str, bool]:
    """Whether each device's kind has a camera (a vision cabinet)."""
    return dict(Device.objects.filter(code__in=codes).values_list("code", "kind__has_camera"))


def sensors_of(codes: list[str]) -> dict[str, list[str]]:
    """Each device's load-cell ids, from its kind's geometry."""
    devices = Device.objects.filter(code__in=codes).select_related("kind")
    return {device.code: device.kind.sensor_ids for device in devices}
