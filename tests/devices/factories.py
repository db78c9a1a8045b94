"""Devices for tests, made through the real services."""

from __future__ import annotations

from typing import Any

from openvend.devices import services
from openvend.devices.models import Device, DeviceKind


def gravity_kind() -> DeviceKind:
    kind, _created = DeviceKind.objects.get_or_create(
        code="test-gravity-2x2",
        defaults={
            "name": "Gravity 2×2",
            "type": "gravity_cabinet",
            "shelves": 2,
            "sensors_per_shelf": 2,
            "has_camera": True,
        },
    )
    return kind


def activated_device(world: Any, code: str, *, site: str = "sh-1") -> tuple[Device, str]:
    services.device_register(actor=None, code=code, kind=gravity_kind())
    return services.device_activate(
        actor=None, merchant=world.merchant, code=code, name=f"Cabinet {code}", site=world.sites[site]
    )
