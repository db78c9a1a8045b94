"""The morning check of a whole fleet's stock, in a fixed number of queries however many devices:
every planned position (a product on the active planogram, or an enabled track's product) is
full, below par, empty, or oversold (negative: the ledger cannot explain a sale)."""

from __future__ import annotations

from typing import Any

from openvend.devices.models import Device
from openvend.inventory.choices import StockTakeState
from openvend.inventory.models import ReplenishmentOrder, StockLevel, StockTake
from openvend.inventory.replenishment_selectors import OPEN_ORDER_STATES, planned_positions

HEALTH_KEYS = ("full", "below_par", "empty", "oversold")


def stock_health(user: Any) -> dict[str, int]:
    """Positions of the devices `user` may see, by state (see the module docstring)."""
    device_ids = Device.objects.restrict(user, "view").values("pk")
    pars = {position: planned.par for position, planned in planned_positions(device_ids).items()}
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
