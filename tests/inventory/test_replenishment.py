"""Replenishment suggestions, the order lifecycle with its movements, and pick lists — exact numbers."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from io import BytesIO

import pytest
from django.utils import timezone, translation
from openpyxl import load_workbook

from openvend.audit.models import AuditLogEntry
from openvend.core.errors import ConflictError, OpenVendError
from openvend.inventory import replenishment_services as services
from openvend.inventory.choices import MovementKind, ReplenishmentState
from openvend.inventory.models import ReplenishmentLine, ReplenishmentOrder, StockMovement
from openvend.inventory.replenishment_selectors import open_orders, pick_list, replenishment_suggestions
from openvend.inventory.selectors import on_hand
from tests.devices.factories import activated_device
from tests.inventory.replenishment_factories import planogram, product, sell, stock, track


@pytest.fixture
def shop(world_a):
    """Cabinet RP-CAB1: cola on two slots (par 6+4, capacity 10+5), water (par 8, capacity 8),
    juice on track 1 (par 5, capacity 6). A draft planogram's tea and a disabled track are ignored."""
    device, _secret = activated_device(world_a, "RP-CAB1")
    cola, water, juice, tea = (product(world_a, sku) for sku in ("COLA", "WATER", "JUICE", "TEA"))
    planogram(device, [(cola, ["s1-1"], 10, 6), (cola, ["s1-2"], 5, 4), (water, ["s2-1"], 8, 8)])
    planogram(device, [(tea, ["s1-1"], 10, 10)], status="draft", version=2)
    track(device, 1, juice, capacity=6, par=5)
    track(device, 2, tea, capacity=6, par=6, enabled=False)
    stock(device, cola, 12)
    sell(device, cola, 7)  # on hand 5, 1 unit/day over 7 days
    stock(device, water, 8)
    sell(device, water, 4)  # on hand 4, 4/7 unit/day
    return world_a, device, cola, water, juice


def _by_sku(suggestions):
    return {(s.product.sku, s.lane): s for s in suggestions}


def test_suggestions_follow_the_formula_exactly(shop) -> None:
    _world, device, *_ = shop
    rows = _by_sku(replenishment_suggestions(device))
    assert set(rows) == {("COLA", 0), ("WATER", 0), ("JUICE", 1)}
    cola = rows[("COLA", 0)]
    # par 10 − on hand 5 − in transit 0 + 1/day × 1 day = 6; room 15 − 5 = 10
    assert (cola.par, cola.capacity, cola.on_hand, cola.in_transit) == (10, 15, 5, 0)
    assert (cola.velocity, cola.expected_sales, cola.suggested) == (Decimal(1), Decimal(1), 6)
    water = rows[("WATER", 0)]
    # 8 − 4 + 4/7 = 4.57 → 5, capped by the room left: 8 − 4 = 4
    assert (water.on_hand, water.suggested) == (4, 4)
    assert water.velocity == Decimal(4) / Decimal(7)
    juice = rows[("JUICE", 1)]
    assert (juice.par, juice.capacity, juice.on_hand, juice.suggested) == (5, 6, 0, 5)


def test_suggestions_subtract_in_transit_and_scale_with_lead_time(shop) -> None:
    world, device, cola, _water, _juice = shop
    order = ReplenishmentOrder.objects.create(
        merchant=world.merchant, device=device, number="RP-T-1", state=ReplenishmentState.IN_TRANSIT
    )
    ReplenishmentLine.objects.create(order=order, product=cola, quantity=2)
    draft = ReplenishmentOrder.objects.create(merchant=world.merchant, device=device, number="RP-T-2")
    ReplenishmentLine.objects.create(order=draft, product=cola, quantity=50)  # a plan, not stock
    rows = _by_sku(replenishment_suggestions(device, lead_days=3))
    # 10 − 5 − 2 + 1 × 3 = 6; room 15 − 5 − 2 = 8
    assert (rows[("COLA", 0)].in_transit, rows[("COLA", 0)].suggested) == (2, 6)
    # velocity window: 14 days halves it — 10 − 5 − 2 + 0.5 × 1 = 3.5 → 4 (half up)
    rows = _by_sku(replenishment_suggestions(device, days=14))
    assert rows[("COLA", 0)].velocity == Decimal("0.5")
    assert rows[("COLA", 0)].suggested == 4
    # sales older than the window do not count: 10 − 5 − 2 = 3
    later = timezone.now() + timedelta(days=8)
    assert _by_sku(replenishment_suggestions(device, now=later))[("COLA", 0)].suggested == 3


def test_full_device_and_negative_on_hand(shop) -> None:
    _world, device, cola, water, _juice = shop
    stock(device, cola, 10)  # 15 on hand = capacity
    rows = _by_sku(replenishment_suggestions(device))
    assert rows[("COLA", 0)].suggested == 0
    sell(device, water, 6)  # cabinet oversold: on hand −2 counts as 0 → 8 − 0 + 10/7 → capped at 8
    assert on_hand(device=device, product=water) == -2
    rows = _by_sku(replenishment_suggestions(device))
    assert (rows[("WATER", 0)].on_hand, rows[("WATER", 0)].suggested) == (0, 8)


def test_device_without_par_levels_has_no_suggestions(world_a) -> None:
    device, _secret = activated_device(world_a, "RP-EMPTY")
    assert replenishment_suggestions(device) == []
    with pytest.raises(OpenVendError) as exc:
        services.replenishment_orders_from_suggestions(actor=world_a.user("operations"), devices=[device])
    assert exc.value.code == "inventory.nothing_to_replenish"
    assert ReplenishmentOrder.objects.count() == 0


def test_order_lifecycle_posts_placed_quantities_once(shop) -> None:
    world, device, cola, water, juice = shop
    ops, replenisher = world.user("operations"), world.user("replenisher")
    [order] = services.replenishment_orders_from_suggestions(
        actor=ops, devices=[device], assignee=replenisher, route="徐汇早班"
    )
    today = timezone.localdate().strftime("%Y%m%d")
    assert order.number == f"RP{today}-0001"
    assert (order.state, order.assignee_id, order.route, order.created_by_id) == (
        "draft",
        replenisher.pk,
        "徐汇早班",
        ops.pk,
    )
    lines = {(line.product.sku, line.lane): line for line in order.lines.select_related("product")}
    assert {k: line.quantity for k, line in lines.items()} == {
        ("COLA", 0): 6,
        ("WATER", 0): 4,
        ("JUICE", 1): 5,
    }
    created = AuditLogEntry.objects.get(object_type="inventory.replenishmentorder", action="create")
    assert created.after["number"] == order.number and len(created.after["lines"]) == 3

    # Invalid transitions: a clear error and nothing changes.
    audit_count = AuditLogEntry.objects.count()
    for bad in (services.replenishment_order_dispatch, services.replenishment_order_complete):
        with pytest.raises(ConflictError) as exc:
            bad(actor=replenisher, order=order)
        assert exc.value.code == "inventory.bad_transition"
    order.refresh_from_db()
    assert order.state == "draft" and AuditLogEntry.objects.count() == audit_count

    order = services.replenishment_order_start_picking(actor=replenisher, order=order)
    assert order.state == "picking" and order.picked_at is not None
    # Picked stock is in transit: the suggestion for cola drops from 6 to 0.
    assert _by_sku(replenishment_suggestions(device))[("COLA", 0)].suggested == 0
    order = services.replenishment_order_dispatch(actor=replenisher, order=order)
    assert order.state == "in_transit" and order.dispatched_at is not None

    # Bad placed quantities refuse the whole completion.
    with pytest.raises(OpenVendError) as exc:
        services.replenishment_order_complete(
            actor=replenisher, order=order, placed={lines[("COLA", 0)].pk: -1}
        )
    assert exc.value.code == "inventory.bad_quantity"
    with pytest.raises(OpenVendError):
        services.replenishment_order_complete(actor=replenisher, order=order, placed={987654: 1})
    order.refresh_from_db()
    assert order.state == "in_transit"
    assert StockMovement.objects.filter(kind=MovementKind.REPLENISHMENT).count() == 2  # the fixture's

    result = services.replenishment_order_complete(
        actor=replenisher,
        order=order,
        placed={lines[("COLA", 0)].pk: 4, str(lines[("JUICE", 1)].pk): 0},  # water: as planned
    )
    assert result.order.state == "completed" and not result.already_completed
    assert [(m.product.sku, m.lane, m.quantity, m.kind) for m in result.movements] == [
        ("COLA", 0, 4, "replenishment"),
        ("WATER", 0, 4, "replenishment"),
    ]
    assert {m.idempotency_key for m in result.movements} == {
        f"replenish:{order.pk}:{lines[('COLA', 0)].pk}",
        f"replenish:{order.pk}:{lines[('WATER', 0)].pk}",
    }
    assert all(
        m.source_type == "inventory.replenishmentorder" and m.source_id == str(order.pk)
        for m in result.movements
    )
    assert sorted((d.line.product.sku, d.planned, d.placed) for d in result.discrepancies) == [
        ("COLA", 6, 4),
        ("JUICE", 5, 0),
    ]
    assert on_hand(device=device, product=cola) == 9
    assert on_hand(device=device, product=water) == 8
    assert on_hand(device=device, product=juice, lane=1) == 0
    entry = AuditLogEntry.objects.filter(object_id=str(order.pk), action="update").latest("id")
    assert (entry.before["state"], entry.after["state"]) == ("in_transit", "completed")
    assert [line["placed"] for line in entry.after["lines"]] == [4, 4, 0]

    # Completing twice changes nothing and answers with the first result.
    movements, audits = StockMovement.objects.count(), AuditLogEntry.objects.count()
    again = services.replenishment_order_complete(
        actor=replenisher, order=order, placed={lines[("COLA", 0)].pk: 6}
    )
    assert again.already_completed
    assert [m.pk for m in again.movements] == [m.pk for m in result.movements]
    assert (StockMovement.objects.count(), AuditLogEntry.objects.count()) == (movements, audits)
    assert on_hand(device=device, product=cola) == 9
    with pytest.raises(ConflictError):
        services.replenishment_order_cancel(actor=replenisher, order=order)


def test_cancel_from_each_open_state_and_numbering(shop) -> None:
    world, device, *_ = shop
    ops = world.user("operations")
    today = timezone.localdate().strftime("%Y%m%d")
    numbers = []
    for steps in (
        (),
        (services.replenishment_order_start_picking,),
        (services.replenishment_order_start_picking, services.replenishment_order_dispatch),
    ):
        [order] = services.replenishment_orders_from_suggestions(actor=ops, devices=[device])
        for step in steps:
            order = step(actor=ops, order=order)
        order = services.replenishment_order_cancel(actor=ops, order=order)
        assert order.state == "cancelled"
        numbers.append(order.number)
    assert numbers == [f"RP{today}-0001", f"RP{today}-0002", f"RP{today}-0003"]
    assert StockMovement.objects.filter(kind=MovementKind.REPLENISHMENT).count() == 2  # the fixture's only


def test_assignee_must_belong_to_the_device_owner(shop, world_b) -> None:
    world, device, *_ = shop
    with pytest.raises(OpenVendError) as exc:
        services.replenishment_orders_from_suggestions(
            actor=world.user("operations"), devices=[device], assignee=world_b.user("replenisher")
        )
    assert exc.value.code == "inventory.bad_assignee"
    assert ReplenishmentOrder.objects.count() == 0
    # Someone who cannot see the device cannot order for it either.
    with pytest.raises(OpenVendError) as exc:
        services.replenishment_orders_from_suggestions(actor=world_b.user("operations"), devices=[device])
    assert exc.value.code == "core.not_found"
    assert ReplenishmentOrder.objects.count() == 0


def test_order_update_assigns_and_is_refused_once_closed(shop) -> None:
    world, device, *_ = shop
    ops, replenisher = world.user("operations"), world.user("replenisher")
    [order] = services.replenishment_orders_from_suggestions(actor=ops, devices=[device])
    order = services.replenishment_order_update(
        actor=ops, order=order, data={"assignee": replenisher, "route": "R2"}
    )
    entry = AuditLogEntry.objects.filter(object_id=str(order.pk), action="update").latest("id")
    assert (entry.before["assignee"], entry.after["assignee"], entry.after["route"]) == (
        None,
        replenisher.pk,
        "R2",
    )
    services.replenishment_order_cancel(actor=ops, order=order)
    with pytest.raises(ConflictError):
        services.replenishment_order_update(actor=ops, order=order, data={"route": "R3"})
    order.refresh_from_db()
    assert order.route == "R2"


def test_pick_list_groups_by_device_and_totals_per_product(shop) -> None:
    world, device, cola, _water, _juice = shop
    other, _secret = activated_device(world, "RP-CAB2", site="sh-2")
    planogram(other, [(cola, ["s1-1"], 12, 9)])
    ops, replenisher = world.user("operations"), world.user("replenisher")
    orders = services.replenishment_orders_from_suggestions(
        actor=ops, devices=[device, other], assignee=replenisher, route="A"
    )
    assert [o.device.code for o in orders] == ["RP-CAB1", "RP-CAB2"]
    # An order for someone else, and a completed one of theirs, stay off the list.
    [foreign] = services.replenishment_orders_from_suggestions(actor=ops, devices=[other], route="B")
    picks = pick_list(open_orders(assignee=replenisher))
    assert [group.device.code for group in picks.devices] == ["RP-CAB1", "RP-CAB2"]
    assert [(line.product.sku, line.lane, line.quantity) for line in picks.devices[0].lines] == [
        ("COLA", 0, 6),
        ("WATER", 0, 4),
        ("JUICE", 1, 5),
    ]
    assert [(line.product.sku, line.quantity) for line in picks.devices[1].lines] == [("COLA", 9)]
    assert [(t.product.sku, t.quantity) for t in picks.totals] == [("COLA", 15), ("JUICE", 5), ("WATER", 4)]
    assert picks.total_units == 24
    assert [g.device.code for g in pick_list(open_orders(route="B")).devices] == ["RP-CAB2"]
    assert foreign.assignee is None

    with translation.override("en"):
        book = load_workbook(BytesIO(services.pick_list_workbook(picks)))
    assert book.sheetnames == ["By device", "Pre-kitting totals"]
    assert len(book.sheetnames) == 2
    by_device, totals = (list(book[name].iter_rows(values_only=True)) for name in book.sheetnames)
    assert by_device[0] == ("Device code", "Device", "Site", "Order", "Lane", "SKU", "Product", "Quantity")
    assert [row[0] for row in by_device[1:]] == ["RP-CAB1"] * 3 + ["RP-CAB2"]
    assert [(row[3], row[4], row[5], row[7]) for row in by_device[1:]] == [
        (orders[0].number, 0, "COLA", 6),
        (orders[0].number, 0, "WATER", 4),
        (orders[0].number, 1, "JUICE", 5),
        (orders[1].number, 0, "COLA", 9),
    ]
    assert [(row[0], row[3]) for row in totals[1:]] == [
        ("COLA", 15),
        ("JUICE", 5),
        ("WATER", 4),
        ("Total", 24),
    ]


def test_an_order_being_restocked_cannot_be_completed_directly(shop) -> None:
    from openvend.devices.models import DeviceState
    from openvend.inventory import restock_services as restock

    world, device, cola, water, juice = shop
    replenisher = world.user("replenisher")
    [order] = services.replenishment_orders_from_suggestions(
        actor=world.user("operations"), devices=[device], assignee=replenisher
    )
    services.replenishment_order_start_picking(actor=replenisher, order=order)
    services.replenishment_order_dispatch(actor=replenisher, order=order)
    session = restock.restock_start(actor=replenisher, device=device, order=order)
    DeviceState.objects.filter(device=device).update(door="closed")

    def unchanged() -> tuple:
        order.refresh_from_db()
        return (
            order.state,
            sorted(order.lines.values_list("product__sku", "lane", "placed_quantity")),
            StockMovement.objects.count(),
            AuditLogEntry.objects.filter(object_type="inventory.replenishmentorder").count(),
        )

    before = unchanged()
    assert before[0] == "in_transit"
    for step in ("opening", "closed"):
        if step == "closed":
            restock.restock_door_closed(actor=replenisher, session=session)
        with pytest.raises(ConflictError) as exc:
            services.replenishment_order_complete(actor=replenisher, order=order)
        assert exc.value.code == "inventory.order_being_restocked"
        assert order.number in exc.value.message and str(session.pk) in exc.value.message
        assert unchanged() == before, step

    # Once the session completes it settles the order: the stock is posted exactly once.
    restock.restock_complete(actor=replenisher, session=session, counts=[(cola, 0, 5), (water, 0, 4)])
    order.refresh_from_db()
    assert order.state == "completed"
    posted = StockMovement.objects.filter(kind=MovementKind.REPLENISHMENT, device=device)
    assert sorted(
        (m.product.sku, m.quantity) for m in posted.filter(source_type="inventory.restocksession")
    ) == [("COLA", 5), ("WATER", 4)]
    assert not posted.filter(source_type="inventory.replenishmentorder").exists()
    again = services.replenishment_order_complete(actor=replenisher, order=order)
    assert again.already_completed and again.movements == []
    assert (on_hand(device=device, product=cola), on_hand(device=device, product=water)) == (10, 8)

    # A cancelled session no longer stands in the way of completing an order by hand.
    [second] = services.replenishment_orders_from_suggestions(
        actor=world.user("operations"), devices=[device]
    )
    services.replenishment_order_start_picking(actor=replenisher, order=second)
    services.replenishment_order_dispatch(actor=replenisher, order=second)
    restock.restock_cancel(
        actor=replenisher, session=restock.restock_start(actor=replenisher, device=device, order=second)
    )
    done = services.replenishment_order_complete(actor=replenisher, order=second)
    assert done.order.state == "completed"
    assert [(m.product.sku, m.lane, m.quantity) for m in done.movements] == [("COLA", 0, 1), ("JUICE", 1, 5)]
    assert (on_hand(device=device, product=cola), on_hand(device=device, product=juice, lane=1)) == (11, 5)


def test_an_order_being_restocked_cannot_be_cancelled(shop) -> None:
    from openvend.devices.models import DeviceState
    from openvend.inventory import restock_services as restock

    world, device, *_ = shop
    replenisher, operations = world.user("replenisher"), world.user("operations")
    [order] = services.replenishment_orders_from_suggestions(
        actor=operations, devices=[device], assignee=replenisher
    )
    session = restock.restock_start(actor=replenisher, device=device, order=order)
    DeviceState.objects.filter(device=device).update(door="closed")

    def state() -> tuple:
        order.refresh_from_db()
        return (
            order.state,
            sorted(order.lines.values_list("product__sku", "lane", "quantity", "placed_quantity")),
            StockMovement.objects.count(),
            AuditLogEntry.objects.filter(object_type="inventory.replenishmentorder").count(),
        )

    before = state()
    assert before[0] == "draft"
    for step in ("opening", "closed"):
        if step == "closed":
            restock.restock_door_closed(actor=replenisher, session=session)
        with pytest.raises(ConflictError) as exc, translation.override("en"):
            services.replenishment_order_cancel(actor=operations, order=order)
        assert exc.value.code == "inventory.order_being_restocked"
        assert exc.value.message == (
            f"Order {order.number} is being restocked (restock session {session.pk}): it cannot be "
            "cancelled now. Cancel the session first, or let it complete."
        )
        assert state() == before, step

    # Once the session is cancelled the order may be cancelled, with its audit row.
    restock.restock_cancel(actor=replenisher, session=session)
    cancelled = services.replenishment_order_cancel(actor=operations, order=order)
    assert cancelled.state == "cancelled"
    entry = AuditLogEntry.objects.filter(
        object_type="inventory.replenishmentorder", object_id=str(order.pk)
    ).latest("id")
    assert (entry.actor_id, (entry.before or {})["state"], (entry.after or {})["state"]) == (
        operations.pk,
        "draft",
        "cancelled",
    )
    assert StockMovement.objects.count() == before[2]
