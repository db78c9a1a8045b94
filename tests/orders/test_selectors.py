"""Reading orders: by session, restricted to what a user may see, and the merged timeline."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from openvend.accounts.models import Role
from openvend.devices.models import Device
from openvend.orders.models import Order
from openvend.orders.selectors import order_for_session, order_timeline, orders_for
from tests.orders.conftest import COLA_G, Store
from tests.world import World

pytestmark = pytest.mark.django_db


def _grant(world: World, role_code: str) -> None:
    role = Role.objects.get(merchant=world.merchant, code=role_code)
    role.permissions = [*role.permissions, "orders.view_order"]
    role.save(update_fields=["permissions"])


def _order(store: Store, settled: Callable[..., Any]) -> Order:
    session = store.start(store.shopper(balance_fen=1000))
    settled(lambda: store.visit(session, [("s1-1", -COLA_G)]))
    found = order_for_session(session)
    assert found is not None
    return found


def test_orders_for_follows_permission_merchant_and_data_scope(
    store: Store, settled: Callable[..., Any], world_a: World, world_b: World
) -> None:
    order = _order(store, settled)
    scoped = next(
        role.code for role in Role.objects.filter(merchant=world_a.merchant).exclude(data_scope="all")
    )
    assert list(orders_for(world_a.user("replenisher"))) == []  # replenishers may not see orders
    for world, code in ((world_a, "merchant_admin"), (world_a, scoped), (world_b, "merchant_admin")):
        _grant(world, code)
    assert list(orders_for(world_a.user("merchant_admin"))) == [order]
    assert list(orders_for(world_a.user(scoped))) == [order]
    assert list(orders_for(world_b.user("merchant_admin"))) == []
    Device.objects.filter(pk=store.device.pk).update(site=world_a.sites["sz-1"])  # out of the scope
    assert list(orders_for(world_a.user(scoped))) == []
    assert list(orders_for(world_a.user("merchant_admin"))) == [order]


def test_the_timeline_merges_session_and_payment_events_by_time(
    store: Store, settled: Callable[..., Any]
) -> None:
    order = _order(store, settled)
    timeline = order_timeline(order)
    assert [entry.at for entry in timeline] == sorted(entry.at for entry in timeline)
    assert [(e.source, e.kind) for e in timeline] == [
        ("session", "created"),
        ("session", "door_command"),
        ("session", "door_opened"),
        ("session", "door_closed"),
        ("session", "recognition_started"),
        ("session", "order_charging"),
        ("payment", "created"),
        ("payment", "charge_scheduled"),
        ("payment", "charge_sent"),
        ("payment", "charge_response"),
        ("session", "order_paid"),
    ]
    assert {e.reference for e in timeline if e.source == "payment"} == {f"{order.number}-01"}
