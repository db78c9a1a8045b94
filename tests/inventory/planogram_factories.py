"""Products, vending machines and planograms for the planogram and track tests."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from openvend.catalog.models import Product
from openvend.devices import services
from openvend.devices.models import Device, DeviceKind


def product(world: Any, sku: str, weight: str = "45.00", sd: str = "1.00", *, name: str = "") -> Product:
    return Product.objects.create(
        merchant=world.merchant,
        sku=sku,
        name=name or sku,
        unit_weight_g=Decimal(weight),
        unit_weight_sd_g=Decimal(sd),
        default_price_fen=500,
    )


def vending_kind(code: str = "test-vending-6", tracks: int = 6) -> DeviceKind:
    kind, _created = DeviceKind.objects.get_or_create(
        code=code, defaults={"name": f"Vending {tracks}", "type": "vending_machine", "tracks": tracks}
    )
    return kind


def vending_machine(world: Any, code: str, *, kind: DeviceKind | None = None, site: str = "sh-1") -> Device:
    services.device_register(actor=None, code=code, kind=kind or vending_kind())
    device, _secret = services.device_activate(
        actor=None, merchant=world.merchant, code=code, name=f"Vending {code}", site=world.sites[site]
    )
    return device
