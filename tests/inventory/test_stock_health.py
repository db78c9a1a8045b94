"""The dashboard's stock health: every planned position classified, scoped to what the user sees."""

from __future__ import annotations

import json
import re

from django.utils import timezone

from openvend.inventory import ledger
from openvend.inventory.health import stock_health, waiting_work
from openvend.inventory.models import Planogram, PlanogramSlot, ReplenishmentOrder, StockTake
from tests.conftest import console_login
from tests.inventory.stock_world import build_shop
from tests.world import PASSWORD


def _active_planogram(shop, world) -> None:
    plan = Planogram.objects.create(
        merchant=world.merchant,
        device=shop.cabinet,
        version=1,
        status="active",
        effective_from=timezone.now(),
    )
    PlanogramSlot.objects.create(
        planogram=plan, shelf=1, sensors=["s1-1"], product=shop.cola, capacity=8, par_level=6
    )
    PlanogramSlot.objects.create(
        planogram=plan, shelf=1, sensors=["s1-2"], product=shop.cola, capacity=8, par_level=4
    )
    PlanogramSlot.objects.create(
        planogram=plan, shelf=2, sensors=["s2-1"], product=shop.water, capacity=6, par_level=5
    )


def test_positions_are_classified_and_scoped(world_a, world_b) -> None:
    shop = build_shop(world_a, "H")
    _active_planogram(shop, world_a)
    # Cabinet: cola par 6 + 4 = 10, 10 on hand → full; water par 5, 2 on hand → below par.
    ledger.post_movement(device=shop.cabinet, product=shop.cola, quantity=10, kind="replenishment")
    ledger.post_movement(device=shop.cabinet, product=shop.water, quantity=2, kind="replenishment")
    # Vending: track 1 (cola, par 10) never stocked → empty; track 2 (water) 10 → full.
    ledger.post_movement(device=shop.vending, product=shop.water, lane=2, quantity=10, kind="replenishment")
    # The far cabinet has no planogram: an oversold sale still counts, as a position to check.
    ledger.post_movement(device=shop.far_cabinet, product=shop.cola, quantity=-1, kind="sale")
    build_shop(world_b, "O")  # another merchant's positions never count

    admin = world_a.user("merchant_admin")
    assert stock_health(admin) == {"full": 2, "below_par": 1, "empty": 1, "oversold": 1}
    # Scoped staff (Shanghai) do not see the Shenzhen cabinet's oversold position.
    assert stock_health(world_a.user("replenisher")) == {"full": 2, "below_par": 1, "empty": 1, "oversold": 0}

    StockTake.objects.create(
        merchant=world_a.merchant, device=shop.cabinet, counted_by=admin, state="submitted"
    )
    ReplenishmentOrder.objects.create(
        merchant=world_a.merchant, device=shop.cabinet, number="RP-H-1", state="picking"
    )
    ReplenishmentOrder.objects.create(
        merchant=world_a.merchant, device=shop.cabinet, number="RP-H-2", state="completed"
    )
    assert waiting_work(admin) == {"stocktakes_to_approve": 1, "open_orders": 1}


def test_dashboard_charts_the_stock_health(world_a, client) -> None:
    shop = build_shop(world_a, "D")
    _active_planogram(shop, world_a)
    assert console_login(client, world_a.users["merchant_admin"].username, PASSWORD)
    page = client.get("/console/").content.decode()
    assert 'id="stock-chart"' in page
    data = re.search(r'<script id="stock-data" type="application/json">(.*?)</script>', page, re.S)
    assert data is not None
    rows = json.loads(data.group(1))
    # Two cabinet positions and two tracks, none stocked yet.
    assert [(row["key"], row["value"]) for row in rows] == [
        ("full", 0),
        ("below_par", 0),
        ("empty", 4),
        ("oversold", 0),
    ]


def test_waiting_work_is_shown_only_to_those_who_can_act_on_it(world_a, client) -> None:
    build_shop(world_a, "W")
    seen = {}
    for role in ("merchant_admin", "replenisher", "finance"):
        client.logout()
        assert console_login(client, world_a.users[role].username, PASSWORD)
        page = client.get("/console/").content.decode()
        seen[role] = ("待审批盘点" in page, "未完成补货单" in page)
    # Finance cannot open replenishment orders, replenishers cannot approve stock-takes: a zero on a
    # card they cannot act on would mislead.
    assert seen == {"merchant_admin": (True, True), "replenisher": (False, True), "finance": (False, False)}
