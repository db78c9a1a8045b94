"""Reading replenishment: par levels, suggestions (建议补货), what is in transit, pick lists and
whether a device is being restocked right now."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import QuerySet, Sum
from django.utils import timezone

from openvend.inventory.choices import MovementKind, PlanogramStatus, ReplenishmentState, RestockState
from openvend.inventory.models import (
    PlanogramSlot,
    ReplenishmentLine,
    ReplenishmentOrder,
    RestockSession,
    StockLevel,
    StockMovement,
    Track,
)

DEFAULT_VELOCITY_DAYS = 7
DEFAULT_LEAD_DAYS = 1
# Stock already on its way: picked or loaded, not yet placed. Drafts are plans, not stock.
IN_TRANSIT_STATES = (ReplenishmentState.PICKING, ReplenishmentState.IN_TRANSIT)
OPEN_ORDER_STATES = (ReplenishmentState.DRAFT, ReplenishmentState.PICKING, ReplenishmentState.IN_TRANSIT)
LIVE_RESTOCK_STATES = (RestockState.OPENING, RestockState.OPEN, RestockState.CLOSED)
# The door may be open: the door command is on its way, or the device reported the door open.
DOOR_OPEN_RESTOCK_STATES = (RestockState.OPENING, RestockState.OPEN)

Position = tuple[int, int]  # (product id, lane)


@dataclass(frozen=True)
class ParLevel:
    product_id: int
    lane: int
    par: int
    capacity: int


@dataclass(frozen=True)
class Suggestion:
    device: Any
    product: Any
    lane: int
    par: int
    capacity: int
    on_hand: int
    in_transit: int
    velocity: Decimal  # units sold per day
    expected_sales: Decimal  # until the visit
    suggested: int


def planned_positions(devices: Any) -> dict[tuple[int, int, int], ParLevel]:
    """(device id, product id, lane) → par and capacity, for many devices in two queries: the active
    planogram's slots summed per product (lane 0), plus every enabled track holding a product
    (lane = track number). `devices` is a queryset or a list of devices or ids."""
    pars: dict[tuple[int, int, int], ParLevel] = {}
    slot_totals = (
        PlanogramSlot.objects.filter(planogram__device__in=devices, planogram__status=PlanogramStatus.ACTIVE)
        .values("planogram__device_id", "product_id")
        .annotate(par=Sum("par_level"), capacity=Sum("capacity"))
    )
    for row in slot_totals:
        key = (row["planogram__device_id"], row["product_id"], 0)
        pars[key] = ParLevel(row["product_id"], 0, int(row["par"]), int(row["capacity"]))
    tracks = Track.objects.filter(device__in=devices, enabled=True, product__isnull=False)
    for device_id, product_id, number, par, capacity in tracks.values_list(
        "device_id", "product_id", "number", "par_level", "capacity"
    ):
        pars[(device_id, product_id, number)] = ParLevel(product_id, number, par, capacity)
    return pars


def par_levels(device: Any) -> dict[Position, ParLevel]:
    """Par and capacity per position of one device (see `planned_positions`)."""
    return {(p, lane): par for (_d, p, lane), par in planned_positions([device.pk]).items()}


def in_transit_quantities(device: Any) -> dict[Position, int]:
    """Units on this device's orders that are being picked or are on the way."""
    rows = (
        ReplenishmentLine.objects.filter(order__device=device, order__state__in=IN_TRANSIT_STATES)
        .values("product_id", "lane")
        .annotate(total=Sum("quantity"))
    )
    return {(row["product_id"], row["lane"]): int(row["total"]) for row in rows}


def units_sold(device: Any, *, days: int, now: datetime | None = None) -> dict[Position, int]:
    """Units sold per position over the last `days` days (sales are negative movements)."""
    since = (now or timezone.now()) - timedelta(days=days)
    rows = (
        StockMovement.objects.filter(device=device, kind=MovementKind.SALE, created_at__gte=since)
        .values("product_id", "lane")
        .annotate(total=Sum("quantity"))
    )
    return {(row["product_id"], row["lane"]): -int(row["total"]) for row in rows}


def _whole_units(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def replenishment_suggestions(
    device: Any,
    *,
    days: int = DEFAULT_VELOCITY_DAYS,
    lead_days: int = DEFAULT_LEAD_DAYS,
    now: datetime | None = None,
) -> list[Suggestion]:
    """What to bring to `device`, per product and lane that has a par level.

        velocity        = units sold (SALE movements) in the last `days` days / `days`
        expected_sales  = velocity × `lead_days`            (sales until the visit)
        suggested       = max(0, par − on_hand − in_transit + expected_sales), rounded half up
                          to whole units, then capped so on_hand + in_transit + suggested ≤ capacity

    `in_transit` is what this device's orders in picking or in transit carry. A negative on-hand
    (an oversold cabinet) counts as 0: a shelf cannot hold fewer than no units, and the missing
    units are the stock-take's business, not the van's. Positions with nothing to bring are
    included with `suggested = 0` so the table shows the whole device.
    """
    if days <= 0:
        days = DEFAULT_VELOCITY_DAYS
    pars = par_levels(device)
    if not pars:
        return []
    levels = {
        (level.product_id, level.lane): level.on_hand
        for level in StockLevel.objects.filter(device=device).only("product_id", "lane", "on_hand")
    }
    transit = in_transit_quantities(device)
    sold = units_sold(device, days=days, now=now)
    from openvend.catalog.models import Product

    products = Product.objects.in_bulk([pid for pid, _lane in pars])
    suggestions = []
    for position in sorted(pars, key=lambda p: (p[1], products[p[0]].sku)):
        par = pars[position]
        on_hand = max(0, levels.get(position, 0))
        in_transit = transit.get(position, 0)
        velocity = Decimal(sold.get(position, 0)) / Decimal(days)
        expected = velocity * lead_days
        wanted = max(0, _whole_units(Decimal(par.par - on_hand - in_transit) + expected))
        room = max(0, par.capacity - on_hand - in_transit)
        suggestions.append(
            Suggestion(
                device=device,
                product=products[position[0]],
                lane=position[1],
                par=par.par,
                capacity=par.capacity,
                on_hand=on_hand,
                in_transit=in_transit,
                velocity=velocity,
                expected_sales=expected,
                suggested=min(wanted, room),
            )
        )
    return suggestions


def suggestions_for_devices(devices: Iterable[Any], **kwargs: Any) -> list[Suggestion]:
    return [s for device in devices for s in replenishment_suggestions(device, **kwargs)]


def open_orders(
    queryset: QuerySet[ReplenishmentOrder] | None = None,
    *,
    assignee: Any = None,
    route: str | None = None,
) -> QuerySet[ReplenishmentOrder]:
    """Orders not yet completed or cancelled, for one replenisher and/or one route."""
    qs = queryset if queryset is not None else ReplenishmentOrder.objects.all()
    qs = qs.filter(state__in=OPEN_ORDER_STATES)
    if assignee is not None:
        qs = qs.filter(assignee=assignee)
    if route:
        qs = qs.filter(route=route)
    return qs.select_related("device", "device__site", "assignee").order_by("device__code", "number")


@dataclass(frozen=True)
class PickLine:
    order: ReplenishmentOrder
    product: Any
    lane: int
    quantity: int


@dataclass
class DevicePicks:
    device: Any
    orders: list[ReplenishmentOrder] = field(default_factory=list)
    lines: list[PickLine] = field(default_factory=list)


@dataclass(frozen=True)
class KitTotal:
    """预配货: how many of one product to load for the whole round."""

    product: Any
    quantity: int


@dataclass
class PickList:
    devices: list[DevicePicks]
    totals: list[KitTotal]

    @property
    def total_units(self) -> int:
        return sum(t.quantity for t in self.totals)


def pick_list(orders: QuerySet[ReplenishmentOrder]) -> PickList:
    """The lines of `orders` grouped by device, and the pre-kitting totals per product across all."""
    lines = (
        ReplenishmentLine.objects.filter(order__in=orders)
        .select_related("order", "order__device", "order__device__site", "product")
        .order_by("order__device__code", "order__number", "lane", "product__sku")
    )
    by_device: dict[int, DevicePicks] = {}
    totals: dict[int, int] = defaultdict(int)
    products: dict[int, Any] = {}
    for line in lines:
        order = line.order
        group = by_device.setdefault(order.device_id, DevicePicks(device=order.device))
        if order not in group.orders:
            group.orders.append(order)
        group.lines.append(
            PickLine(order=order, product=line.product, lane=line.lane, quantity=line.quantity)
        )
        totals[line.product_id] += line.quantity
        products[line.product_id] = line.product
    kit = [
        KitTotal(product=products[pid], quantity=qty)
        for pid, qty in sorted(totals.items(), key=lambda item: products[item[0]].sku)
    ]
    return PickList(devices=list(by_device.values()), totals=kit)


def live_restock_session(device: Any) -> RestockSession | None:
    return (
        RestockSession.objects.filter(device=device, state__in=LIVE_RESTOCK_STATES)
        .select_related("replenisher", "order")
        .first()
    )


def restock_in_progress(device: Any) -> bool:
    """True while a restock visit may have `device`'s door open (opening or open): the shopping
    flow must refuse consumers then, or their goods would be mistaken for restocked ones.

    A closed session (door shut, the replenisher counting) does not count: its sensor changes were
    captured when the door closed and later weight events are ignored, so a shopper's visit cannot
    blur the restock — and counting may take a while, during which the device should keep selling.
    The session still keeps the device from a second restock (`live_restock_session`)."""
    return RestockSession.objects.filter(device=device, state__in=DOOR_OPEN_RESTOCK_STATES).exists()
