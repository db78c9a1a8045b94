"""What a restock visit's weight changes say was put in: units per product from its sensors."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from openvend.inventory.choices import PlanogramStatus
from openvend.inventory.models import PlanogramSlot


@dataclass(frozen=True)
class _Group:
    sensors: frozenset[str]
    slots: tuple[Any, ...]


def _sensor_groups(slots: list[Any]) -> list[_Group]:
    """Slots that share a weight sensor (a product bridging two sensors, 跨称) form one group:
    the group's sensors are read together."""
    groups: list[_Group] = []
    for slot in slots:
        sensors = frozenset(slot.sensors or [])
        touching = [g for g in groups if g.sensors & sensors]
        merged = _Group(
            sensors=sensors.union(*(g.sensors for g in touching)),
            slots=(*[s for g in touching for s in g.slots], slot),
        )
        groups = [g for g in groups if g not in touching] + [merged]
    return groups


def sensor_quantities(device: Any, deltas_g: dict[str, Any]) -> dict[int, int | None]:
    """Units placed per product (lane 0) by the weight change of its sensors: Σ Δg / unit weight,
    rounded half up. A group of sensors shared by several products cannot be attributed (None).
    Empty when the cabinet has no active planogram or the sensors reported nothing."""
    if not deltas_g:
        return {}
    slots = list(
        PlanogramSlot.objects.filter(planogram__device=device, planogram__status=PlanogramStatus.ACTIVE)
        .select_related("product")
        .order_by("id")
    )
    result: dict[int, int | None] = {}
    for group in _sensor_groups(slots):
        products = {slot.product_id: slot.product for slot in group.slots}
        if len(products) != 1:
            for product_id in products:
                result[product_id] = None
            continue
        product_id, product = next(iter(products.items()))
        try:
            grams = sum((Decimal(str(deltas_g.get(s, 0))) for s in group.sensors), Decimal(0))
        except InvalidOperation:
            result[product_id] = None
            continue
        weight = Decimal(product.unit_weight_g or 0)
        if weight <= 0 or (product_id in result and result[product_id] is None):
            result[product_id] = None
            continue
        units = int((grams / weight).quantize(Decimal(1), rounding=ROUND_HALF_UP))
        result[product_id] = (result.get(product_id) or 0) + units
    return result
