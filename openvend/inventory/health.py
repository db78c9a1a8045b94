"""The morning check of a whole fleet's stock, in a fixed number of queries however many devices:
every planned position (a product on the active planogram, or an enabled track's product) is
full, below par, empty, or oversold (negative: the ledger cannot explain a sale)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.db.models import Sum

from openvend.devices.models import Device
from openvend.inventory.choices import PlanogramStatus, ReplenishmentState, StockTakeState
from openvend.inventory.models import PlanogramSlot, ReplenishmentOrder, StockLevel, StockTake, Track

HEALTH_KEYS = ("full", "below_par", "empty", "oversold")
OPEN_ORDER_STATES = (ReplenishmentState.DRAFT, ReplenishmentState.PICKING, ReplenishmentState.IN_TRANSIT)


def _pars(device_ids: Any) -> dict[tuple[int, int, int], int]:
    pars: dict[tuple[int, int, int], int] = defaultdict(int)
    slots = (
        PlanogramSlot.objects.filter(
            planogram__device__in=device_ids, planogram__status=PlanogramStatus.ACTIVE
        )
        .values("planogram__device_id", "product_id")
        .annotate(par=Sum("par_level"))
    )
    for row in slots:
        pars[(row["planogram__device_id"], row["product_id"], 0)] += row["par"]
    tracks = Track.objects.filter(device__in=device_ids, enabled=True, product__isnull=False)
    for device_id, product_id, number, par in tracks.values_list(
        "device_id", "product_id", "number", "par_level"
    ):
        pars[(device_id, product_id, number)] = par
    return pars


def stock_health(user: Any) -> dict[str, int]:
    """Positions of the devices `user` may see, by state (see the module docstring)."""
    device_ids = Device.objects.restrict(user, "view").values("pk")
    pars = _pars(device_ids)
    on_hand = {
        (d, p, lane): qty
        for d, p, lane, qty in StockLevel.objects.filter(device__in=device_ids).values_list(
            "device_id", "product_id", "lane", "on_hand"
        )
    }
    counts = dict.fromkeys(HEALTH_KEYS, 0)
    for position in set(pars) | {pos for pos, qty in on_hand.items() if qty < 0}:
        qty, par = on_hand.get(position, 0), pars.get(position, 0)
        key = "oversold" if qty < 0 else "empty" if qty == 0 else "below_par" if qty < par else "full"
        counts[key] += 1
    return counts


def waiting_work(user: Any) -> dict[str, int]:
    """What waits on somebody: stock-takes to approve and replenishment orders not yet completed."""
    return {
        "stocktakes_to_approve": StockTake.objects.restrict(user, "view")
        .filter(state=StockTakeState.SUBMITTED)
        .count(),
        "open_orders": ReplenishmentOrder.objects.restrict(user, "view")
        .filter(state__in=OPEN_ORDER_STATES)
        .count(),
    }
