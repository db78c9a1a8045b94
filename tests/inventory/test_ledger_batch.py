"""Several positions of one device posted as one step (a visit's sale lines): the same movements,
balances, refusals and idempotency as posting each line alone, in a fixed number of statements."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from openvend.core.errors import ConflictError, OpenVendError
from openvend.inventory import ledger
from openvend.inventory.ledger import Posting, Source
from openvend.inventory.models import StockLevel, StockMovement
from openvend.inventory.selectors import on_hand
from tests.inventory.stock_world import Shop, build_shop, product
from tests.world import World

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(world_a: World) -> Shop:
    shop = build_shop(world_a, "B")
    for item, count in ((shop.cola, 5), (shop.water, 1)):
        ledger.post_movement(device=shop.cabinet, product=item, quantity=count, kind="replenishment")
    return shop


def _sale(shop: Shop, cola: int, water: int, key: str = "order:7") -> list[StockMovement]:
    return ledger.post_movements(
        device=shop.cabinet,
        postings=[
            Posting(shop.cola, -cola, f"{key}:cola"),
            Posting(shop.water, -water, f"{key}:water"),
        ],
        kind="sale",
        reason="order 7",
        source=Source("orders.order", "7"),
    )


def test_every_line_moves_its_position_and_records_the_balance(shop: Shop) -> None:
    cola, water = _sale(shop, 2, 3)

    assert (cola.quantity, cola.balance_after, cola.oversold) == (-2, 3, False)
    assert (water.quantity, water.balance_after, water.oversold) == (-3, -2, True)  # the cabinet took it
    assert (cola.kind, cola.reason, cola.source_type, cola.source_id) == (
        "sale",
        "order 7",
        "orders.order",
        "7",
    )
    for movement in (cola, water):
        level = StockLevel.objects.get(device=shop.cabinet, product=movement.product, lane=0)
        assert (level.on_hand, level.last_movement_id) == (movement.balance_after, movement.pk)
    assert on_hand(device=shop.cabinet, product=shop.cola) == 3
    assert on_hand(device=shop.cabinet, product=shop.water) == -2


def test_the_statements_do_not_grow_with_the_lines(shop: Shop, world_a: World) -> None:
    chips = product(world_a, "B-chips")
    ledger.post_movement(device=shop.cabinet, product=chips, quantity=4, kind="replenishment")
    with CaptureQueriesContext(connection) as three_lines:
        ledger.post_movements(
            device=shop.cabinet,
            postings=[
                Posting(shop.cola, -1, "o:1"),
                Posting(shop.water, -1, "o:2"),
                Posting(chips, -1, "o:3"),
            ],
            kind="sale",
        )
    # Key check, savepoint, one lock for every level, one insert, one update, release.
    assert len(three_lines) == 6, [q["sql"][:60] for q in three_lines.captured_queries]


def test_posting_the_same_event_again_moves_nothing(shop: Shop) -> None:
    first = _sale(shop, 2, 1)
    again = _sale(shop, 2, 1)
    assert [m.pk for m in again] == [m.pk for m in first]
    assert StockMovement.objects.filter(kind="sale").count() == 2
    assert on_hand(device=shop.cabinet, product=shop.cola) == 3


def test_a_different_event_under_a_used_key_is_refused_and_moves_nothing(shop: Shop) -> None:
    _sale(shop, 2, 1)
    with pytest.raises(ConflictError) as refused:
        _sale(shop, 1, 1)
    assert refused.value.code == "inventory.key_reused"
    assert StockMovement.objects.filter(kind="sale").count() == 2
    assert on_hand(device=shop.cabinet, product=shop.cola) == 3


def test_a_track_that_cannot_cover_one_line_refuses_the_whole_event(shop: Shop) -> None:
    vending = shop.vending
    ledger.post_movement(device=vending, product=shop.cola, lane=1, quantity=3, kind="replenishment")
    ledger.post_movement(device=vending, product=shop.water, lane=2, quantity=1, kind="replenishment")
    before = StockMovement.objects.count()
    with pytest.raises(ConflictError) as refused:
        ledger.post_movements(
            device=vending,
            postings=[Posting(shop.cola, -2, "v:1", lane=1), Posting(shop.water, -2, "v:2", lane=2)],
            kind="sale",
        )
    assert refused.value.code == "inventory.out_of_stock"
    assert StockMovement.objects.count() == before
    assert on_hand(device=vending, product=shop.cola, lane=1) == 3
    assert on_hand(device=vending, product=shop.water, lane=2) == 1


def test_a_position_named_twice_is_refused_before_anything_moves(shop: Shop) -> None:
    with pytest.raises(OpenVendError) as refused:
        ledger.post_movements(
            device=shop.cabinet,
            postings=[Posting(shop.cola, -1, "d:1"), Posting(shop.cola, -1, "d:2")],
            kind="sale",
        )
    assert refused.value.code == "inventory.bad_state"
    assert on_hand(device=shop.cabinet, product=shop.cola) == 5


def test_a_position_without_stock_yet_gets_its_level(shop: Shop, world_a: World) -> None:
    gum = product(world_a, "B-gum")
    (cola, fresh) = ledger.post_movements(
        device=shop.cabinet,
        postings=[Posting(shop.cola, -1, "f:1"), Posting(gum, -1, "f:2")],
        kind="sale",
    )
    assert (cola.balance_after, fresh.balance_after, fresh.oversold) == (4, -1, True)
    assert StockLevel.objects.get(device=shop.cabinet, product=gum).on_hand == -1
