"""Products, devices and tracks for the pricing and selling tests.

Products are created directly (the library's own services are another area's); devices go
through the real activation service."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from openvend.catalog.models import Product
from openvend.devices import services as devices
from openvend.devices.models import Device, DeviceKind
from openvend.inventory.models import Track
from tests.devices.factories import activated_device


def product(world: Any, sku: str, *, price_fen: int = 350, name: str = "") -> Product:
    return Product.objects.create(
        merchant=world.merchant,
        sku=sku,
        name=name or f"Product {sku}",
        unit_weight_g=Decimal("500.00"),
        default_price_fen=price_fen,
    )


def cabinet(world: Any, code: str, *, site: str = "sh-1") -> Device:
    device, _secret = activated_device(world, code, site=site)
    return device


def quiet_cabinet(world: Any, code: str, *, site: str = "sh-1") -> Device:
    """A device made without the activation service, so it leaves no audit row (for tests that
    count audit rows around one request)."""
    from openvend.devices.models import DeviceRegistration
    from tests.devices.factories import gravity_kind

    registration = DeviceRegistration.objects.create(code=code, kind=gravity_kind())
    return Device.objects.create(
        merchant=world.merchant,
        registration=registration,
        code=code,
        kind=registration.kind,
        name=code,
        site=world.sites[site],
    )


def vending_kind() -> DeviceKind:
    kind, _created = DeviceKind.objects.get_or_create(
        code="test-vending-10", defaults={"name": "Vending 10", "type": "vending_machine", "tracks": 10}
    )
    return kind


def vending_machine(world: Any, code: str, *, site: str = "sh-1") -> Device:
    devices.device_register(actor=None, code=code, kind=vending_kind())
    device, _secret = devices.device_activate(
        actor=None, merchant=world.merchant, code=code, name=f"Vending {code}", site=world.sites[site]
    )
    return device


def track(device: Device, number: int, item: Product, *, price_fen: int | None) -> Track:
    return Track.objects.create(
        merchant_id=device.merchant_id, device=device, number=number, product=item, price_fen=price_fen
    )
