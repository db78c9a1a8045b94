"""Devices, products, planograms and tracks for the replenishment tests, made with the ORM
directly (the planogram services are written elsewhere) and the real device services."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from openvend.catalog.models import Product
from openvend.devices.models import Device, DeviceKind
from openvend.inventory.choices import MovementKind, PlanogramStatus
from openvend.inventory.ledger import post_movement
from openvend.inventory.models import Planogram, PlanogramSlot, Track


def product(world: Any, sku: str, *, weight_g: str = "500.00") -> Product:
    return Product.objects.create(
        merchant=world.merchant,
        sku=sku,
        name=f"商品 {sku}",
        unit_weight_g=Decimal(weight_g),
        default_price_fen=350,
    )


def planogram(
    device: Device,
    slots: list[tuple[Product, list[str], int, int]],
    *,
    status: str = "active",
    version: int = 1,
) -> Planogram:
    """slots: (product, sensors, capacity, par)."""
    plan = Planogram.objects.create(merchant=device.merchant, device=device, version=version, status=status)
    for shelf, (prod, sensors, capacity, par) in enumerate(slots, start=1):
        PlanogramSlot.objects.create(
            planogram=plan, shelf=shelf, sensors=sensors, product=prod, capacity=capacity, par_level=par
        )
    return plan


def track(
    device: Device, number: int, prod: Product, *, capacity: int, par: int, enabled: bool = True
) -> Track:
    return Track.objects.create(
        merchant=device.merchant,
        device=device,
        number=number,
        product=prod,
        capacity=capacity,
        par_level=par,
        enabled=enabled,
    )


def stock(device: Device, prod: Product, quantity: int, *, lane: int = 0) -> None:
    post_movement(device=device, product=prod, lane=lane, quantity=quantity, kind=MovementKind.REPLENISHMENT)


def sell(device: Device, prod: Product, units: int, *, lane: int = 0) -> None:
    for _ in range(units):
        post_movement(device=device, product=prod, lane=lane, quantity=-1, kind=MovementKind.SALE)


def camera_less_kind() -> DeviceKind:
    kind, _created = DeviceKind.objects.get_or_create(
        code="test-gravity-nocam",
        defaults={
            "name": "Gravity, no camera",
            "type": "gravity_cabinet",
            "shelves": 2,
            "sensors_per_shelf": 2,
        },
    )
    return kind


__all__ = ["PlanogramStatus", "camera_less_kind", "planogram", "product", "sell", "stock", "track"]
