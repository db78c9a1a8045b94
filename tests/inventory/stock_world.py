"""Devices and products for the stock ledger and stock-take tests, made through the real services."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from openvend.catalog.models import Product
from openvend.devices import services as devices
from openvend.devices.models import Device, DeviceKind
from openvend.inventory.models import Track
from tests.devices.factories import activated_device

VENDING_TRACKS = 4


def vending_kind() -> DeviceKind:
    kind, _created = DeviceKind.objects.get_or_create(
        code="test-vending-4",
        defaults={"name": "Vending 4 tracks", "type": "vending_machine", "tracks": VENDING_TRACKS},
    )
    return kind


def vending_machine(world: Any, code: str, *, site: str = "sh-1") -> Device:
    devices.device_register(actor=None, code=code, kind=vending_kind())
    device, _secret = devices.device_activate(
        actor=None, merchant=world.merchant, code=code, name=f"Vending {code}", site=world.sites[site]
    )
    return device


def product(world: Any, sku: str, *, barcode: str = "", price_fen: int = 350) -> Product:
    return Product.objects.create(
        merchant=world.merchant,
        sku=sku,
        name=f"商品 {sku}",
        barcode=barcode,
        unit_weight_g=Decimal("500.00"),
        default_price_fen=price_fen,
    )


@dataclass
class Shop:
    """One merchant's cabinet and vending machine in Shanghai, a cabinet in Shenzhen (outside the
    scoped staff's view), and two products (cola with a real EAN-13, water)."""

    cabinet: Device
    vending: Device
    far_cabinet: Device
    cola: Product
    water: Product


def build_shop(world: Any, prefix: str) -> Shop:
    cabinet, _secret = activated_device(world, f"{prefix}CAB1")
    far, _secret = activated_device(world, f"{prefix}CAB9", site="sz-1")
    vending = vending_machine(world, f"{prefix}VEND1")
    cola = product(world, f"{prefix}-cola", barcode="6901234567892", price_fen=350)
    water = product(world, f"{prefix}-water", barcode="6920202888883", price_fen=200)
    Track.objects.create(merchant=world.merchant, device=vending, number=1, product=cola)
    Track.objects.create(merchant=world.merchant, device=vending, number=2, product=water)
    return Shop(cabinet=cabinet, vending=vending, far_cabinet=far, cola=cola, water=water)
