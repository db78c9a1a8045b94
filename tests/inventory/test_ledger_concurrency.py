"""Real concurrent postings on PostgreSQL: each thread has its own connection and they start together.

SQLite serialises writers on the whole database, so these races only mean something on PostgreSQL,
where the position's row lock (SELECT … FOR UPDATE) is what prevents lost updates and double vends.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.db.models import Sum

from openvend.core.errors import OpenVendError
from openvend.inventory import ledger
from openvend.inventory.models import StockLevel, StockMovement
from tests.concurrency import race
from tests.inventory.stock_world import Shop, build_shop
from tests.world import World

THREADS = 8

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="Row locks only race on PostgreSQL; SQLite serialises every writer (PostgreSQL pass).",
    ),
]


def _sum(**where: Any) -> int:
    return int(StockMovement.objects.filter(**where).aggregate(s=Sum("quantity"))["s"] or 0)


@pytest.fixture
def shop(world_a: World) -> Shop:
    return build_shop(world_a, "C")


def test_only_one_of_many_vends_of_the_last_unit_succeeds(shop: Shop) -> None:
    where = {"device": shop.vending, "product": shop.cola, "lane": 1}
    ledger.post_movement(quantity=1, kind="replenishment", **where)

    def vend() -> Any:
        return ledger.post_movement(quantity=-1, kind="sale", **where)

    results = race([vend] * THREADS)
    sold = [r for r in results if isinstance(r, StockMovement)]
    refused = [r for r in results if isinstance(r, OpenVendError)]
    assert len(sold) == 1, results
    assert len(refused) == THREADS - 1
    assert {r.code for r in refused} == {"inventory.out_of_stock"}
    assert StockLevel.objects.get(**where).on_hand == 0 == _sum(**where)
    assert StockMovement.objects.filter(kind="sale", **where).count() == 1


def test_every_cabinet_sale_of_the_last_unit_is_recorded_as_oversold(shop: Shop) -> None:
    where = {"device": shop.cabinet, "product": shop.cola, "lane": 0}
    ledger.post_movement(quantity=1, kind="replenishment", **where)

    def take() -> Any:
        return ledger.post_movement(quantity=-1, kind="sale", **where)

    results = race([take] * THREADS)
    assert all(isinstance(r, StockMovement) for r in results), results
    sales = StockMovement.objects.filter(kind="sale", **where)
    assert sales.count() == THREADS
    # Serialised by the lock: balances 0, -1, …, 1-N, and every sale after the first is oversold.
    assert sorted(sales.values_list("balance_after", flat=True)) == list(range(1 - THREADS, 1))
    assert sales.filter(oversold=True).count() == THREADS - 1
    assert StockLevel.objects.get(**where).on_hand == 1 - THREADS == _sum(**where)


def test_concurrent_replenishments_and_sales_lose_no_update(shop: Shop) -> None:
    where = {"device": shop.cabinet, "product": shop.water, "lane": 0}
    ledger.post_movement(quantity=20, kind="replenishment", **where)
    quantities = [5, -2, 3, -1, 4, -3, 2, -1]

    def post(quantity: int) -> Callable[[], Any]:
        kind = "replenishment" if quantity > 0 else "sale"
        return lambda: ledger.post_movement(quantity=quantity, kind=kind, **where)

    results = race([post(q) for q in quantities])
    assert all(isinstance(r, StockMovement) for r in results), results
    assert StockLevel.objects.get(**where).on_hand == 20 + sum(quantities) == _sum(**where)
    running = 0
    for quantity, balance in (
        StockMovement.objects.filter(**where).order_by("pk").values_list("quantity", "balance_after")
    ):
        running += quantity
        assert balance == running


def test_the_same_idempotency_key_posted_at_once_moves_stock_once(shop: Shop) -> None:
    where = {"device": shop.cabinet, "product": shop.cola, "lane": 0}

    def deliver() -> Any:
        return ledger.post_movement(quantity=6, kind="replenishment", idempotency_key="restock:42", **where)

    results = race([deliver] * THREADS)
    assert all(isinstance(r, StockMovement) for r in results), results
    assert len({r.pk for r in results}) == 1
    assert StockLevel.objects.get(**where).on_hand == 6 == _sum(**where)


def test_events_posting_the_same_positions_in_any_order_lose_no_update(shop: Shop) -> None:
    for item in (shop.cola, shop.water):
        ledger.post_movement(device=shop.cabinet, product=item, quantity=50, kind="replenishment")

    def visit(n: int) -> Callable[[], Any]:
        lines = [ledger.Posting(shop.cola, -1, f"o{n}:cola"), ledger.Posting(shop.water, -2, f"o{n}:water")]
        # Half the events name the positions the other way round: the levels lock in one order.
        ordered = lines if n % 2 else lines[::-1]
        return lambda: ledger.post_movements(device=shop.cabinet, postings=ordered, kind="sale")

    results = race([visit(n) for n in range(THREADS)])
    assert all(isinstance(r, list) for r in results), results
    cola = {"device": shop.cabinet, "product": shop.cola, "lane": 0}
    water = {"device": shop.cabinet, "product": shop.water, "lane": 0}
    assert StockLevel.objects.get(**cola).on_hand == 50 - THREADS == _sum(**cola)
    assert StockLevel.objects.get(**water).on_hand == 50 - 2 * THREADS == _sum(**water)


def test_one_event_posted_at_once_from_many_threads_moves_stock_once(shop: Shop) -> None:
    lines = [ledger.Posting(shop.cola, -1, "o1:cola"), ledger.Posting(shop.water, -1, "o1:water")]

    def deliver() -> Any:
        return ledger.post_movements(device=shop.cabinet, postings=lines, kind="sale")

    results = race([deliver] * THREADS)
    assert all(isinstance(r, list) for r in results), results
    assert len({tuple(m.pk for m in r) for r in results}) == 1
    assert StockMovement.objects.filter(kind="sale").count() == 2
    assert StockLevel.objects.get(device=shop.cabinet, product=shop.cola).on_hand == -1
