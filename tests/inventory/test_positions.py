"""The one position rule (`positions.check_position`): cabinets lane 0, vending machines an existing
track of that very product, and stock already held at a position may always be taken out, moved
away or counted there — through the rule itself and through manual movements and stock-takes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.utils import translation

from openvend.core.errors import OpenVendError
from openvend.devices import services as devices
from openvend.devices.models import Device, DeviceKind
from openvend.inventory import ledger
from openvend.inventory.models import StockLevel, StockMovement, StockTakeLine, Track
from openvend.inventory.movement_services import movement_remove, movement_transfer
from openvend.inventory.positions import allowed_lanes, check_position
from openvend.inventory.stocktake_services import (
    stocktake_approve,
    stocktake_count,
    stocktake_start,
    stocktake_submit,
)
from tests.inventory.stock_world import Shop, build_shop, product
from tests.world import World

CABINET_LANE = "This device keeps its stock in lane 0."
ON_TRACKS = "A vending machine keeps its stock on its tracks: say which track."
NOT_A_LANE = "A lane is 0 or a track number."


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    with translation.override("en"):
        yield


@pytest.fixture
def shop(world_a: World) -> Shop:
    """Vending machine of a 4-track kind with only tracks 1 (cola) and 2 (water); two cabinets."""
    return build_shop(world_a, "P")


def _cabinet_with_tracks_in_its_kind(world: World) -> Device:
    """A gravity + vision cabinet whose kind says 3 tracks: still a cabinet, so lane 0 only."""
    kind, _created = DeviceKind.objects.get_or_create(
        code="test-hybrid-3-tracks", defaults={"name": "Hybrid", "type": "hybrid_cabinet", "tracks": 3}
    )
    devices.device_register(actor=None, code="PHYB1", kind=kind)
    device, _secret = devices.device_activate(
        actor=None, merchant=world.merchant, code="PHYB1", site=world.sites["sh-1"]
    )
    return device


def _refusal(device: Any, prod: Any, lane: Any, *, putting_in: bool = True) -> tuple[str, str, dict]:
    with pytest.raises(OpenVendError) as refused:
        check_position(device, prod, lane, putting_in=putting_in)
    return refused.value.code, refused.value.message, refused.value.fields


def _bad_lane(message: str) -> tuple[str, str, dict]:
    return ("inventory.bad_lane", message, {"lane": [message]})


def _ledger() -> list[tuple[Any, ...]]:
    return [
        *StockMovement.objects.order_by("pk").values_list(),
        *StockLevel.objects.order_by("pk").values_list("device_id", "product_id", "lane", "on_hand"),
    ]


def test_the_rule_without_stock_at_the_position(shop: Shop, world_a: World, world_b: World) -> None:
    hybrid = _cabinet_with_tracks_in_its_kind(world_a)
    Track.objects.create(merchant=world_a.merchant, device=shop.vending, number=4, product=None)
    theirs = product(world_b, "B-cola")
    for putting_in in (True, False):
        # Cabinets: lane 0, any product of the owner's library; never a track, whatever the kind says.
        for cabinet in (shop.cabinet, hybrid):
            check_position(cabinet, shop.cola, 0, putting_in=putting_in)
            check_position(cabinet, shop.water, 0, putting_in=putting_in)
            for lane in (1, 3):
                assert _refusal(cabinet, shop.cola, lane, putting_in=putting_in) == _bad_lane(CABINET_LANE)
        # Vending machine: the existing track of this very product, never lane 0.
        check_position(shop.vending, shop.cola, 1, putting_in=putting_in)
        check_position(shop.vending, shop.water, 2, putting_in=putting_in)
        refusals = [
            (shop.cola, 0, ON_TRACKS),
            (shop.water, 1, "Track 1 does not hold 商品 P-water."),
            (shop.cola, 2, "Track 2 does not hold 商品 P-cola."),
            (shop.cola, 3, "This device has no track 3."),  # the kind has 4, the machine has 1, 2, 4
            (shop.cola, 4, "Track 4 does not hold 商品 P-cola."),  # an empty track
            (shop.cola, 9, "This device has no track 9."),
        ]
        for prod, lane, message in refusals:
            assert _refusal(shop.vending, prod, lane, putting_in=putting_in) == _bad_lane(message)
        for device in (shop.cabinet, shop.vending):
            for not_a_lane in (-1, True, "1", None):
                refusal = _refusal(device, shop.cola, not_a_lane, putting_in=putting_in)
                assert refusal == _bad_lane(NOT_A_LANE)
        assert _refusal(shop.cabinet, theirs, 0, putting_in=putting_in) == (
            "inventory.other_merchant",
            "Stock can only hold products from the device owner's own library.",
            {"product": ["Not found."]},
        )
    assert (allowed_lanes(shop.cabinet), allowed_lanes(hybrid), allowed_lanes(shop.vending)) == (
        [0],
        [0],
        [1, 2, 4],
    )


def test_stock_held_at_a_position_may_be_taken_out_or_counted_but_not_added_to(shop: Shop) -> None:
    # Cola filled on track 1, then the track is given to water; leftovers also sit where the rule
    # never allowed them (posted straight to the ledger): the machine's lane 0, the cabinet's lane 3.
    ledger.post_movement(device=shop.vending, product=shop.cola, lane=1, quantity=2, kind="replenishment")
    Track.objects.filter(device=shop.vending, number=1).update(product=shop.water)
    ledger.post_movement(device=shop.vending, product=shop.cola, lane=0, quantity=1, kind="replenishment")
    ledger.post_movement(device=shop.cabinet, product=shop.cola, lane=3, quantity=3, kind="replenishment")
    leftovers = [
        (shop.vending, 1, "Track 1 does not hold 商品 P-cola."),
        (shop.vending, 0, ON_TRACKS),
        (shop.cabinet, 3, CABINET_LANE),
    ]
    for device, lane, message in leftovers:
        check_position(device, shop.cola, lane, putting_in=False)
        assert _refusal(device, shop.cola, lane) == _bad_lane(message)
    # Only that product's own balance counts: water holds nothing on the cabinet's lane 3.
    assert _refusal(shop.cabinet, shop.water, 3, putting_in=False) == _bad_lane(CABINET_LANE)
    # Once the balance is back to 0 the exception is gone.
    ledger.post_movement(device=shop.cabinet, product=shop.cola, lane=3, quantity=-3, kind="removal")
    assert _refusal(shop.cabinet, shop.cola, 3, putting_in=False) == _bad_lane(CABINET_LANE)
    # An oversold (negative) balance is stock the ledger holds too: it may be counted and corrected.
    ledger.post_movement(device=shop.vending, product=shop.cola, lane=0, quantity=-2, kind="sale")
    assert StockLevel.objects.get(device=shop.vending, product=shop.cola, lane=0).on_hand == -1
    check_position(shop.vending, shop.cola, 0, putting_in=False)


def test_manual_movements_follow_the_rule_and_clear_leftovers(shop: Shop, world_a: World) -> None:
    admin = world_a.user("merchant_admin")
    ledger.post_movement(device=shop.cabinet, product=shop.cola, quantity=10, kind="replenishment")
    ledger.post_movement(device=shop.vending, product=shop.cola, lane=1, quantity=4, kind="replenishment")
    Track.objects.filter(device=shop.vending, number=1).update(product=shop.water)
    ledger.post_movement(device=shop.cabinet, product=shop.cola, lane=3, quantity=2, kind="replenishment")

    before = _ledger()
    refused: list[tuple[dict[str, Any], str]] = [
        ({"device": shop.vending, "lane": 3, "quantity": 1}, "This device has no track 3."),
        ({"device": shop.vending, "lane": 2, "quantity": 1}, "Track 2 does not hold 商品 P-cola."),
        ({"device": shop.cabinet, "lane": 1, "quantity": 1}, CABINET_LANE),
    ]
    for kwargs, message in refused:
        with pytest.raises(OpenVendError) as caught:
            movement_remove(actor=admin, product=shop.cola, reason="x", **kwargs)
        assert (caught.value.code, caught.value.message) == ("inventory.bad_lane", message)
    # Nothing may be put where the rule has no place for it, leftovers or not.
    into: list[tuple[dict[str, Any], str]] = [
        ({"to_device": shop.vending, "to_lane": 1}, "Track 1 does not hold 商品 P-cola."),
        ({"to_device": shop.vending, "to_lane": 3}, "This device has no track 3."),
        ({"to_device": shop.far_cabinet, "to_lane": 3}, CABINET_LANE),
    ]
    for kwargs, message in into:
        with pytest.raises(OpenVendError) as caught:
            movement_transfer(
                actor=admin, product=shop.cola, quantity=1, from_device=shop.cabinet, reason="x", **kwargs
            )
        assert (caught.value.code, caught.value.message) == ("inventory.bad_lane", message)
    assert _ledger() == before

    # Leftover cola on water's track 1 comes out; the cabinet's stray lane 3 moves to its shelves.
    removed = movement_remove(
        actor=admin, device=shop.vending, product=shop.cola, lane=1, quantity=4, reason="wrong track"
    )
    assert (removed.kind, removed.lane, removed.quantity, removed.balance_after) == ("removal", 1, -4, 0)
    out, inn = movement_transfer(
        actor=admin,
        product=shop.cola,
        quantity=2,
        from_device=shop.cabinet,
        from_lane=3,
        to_device=shop.cabinet,
        to_lane=0,
        reason="onto the shelf",
    )
    assert [(m.kind, m.lane, m.quantity, m.balance_after) for m in (out, inn)] == [
        ("transfer_out", 3, -2, 0),
        ("transfer_in", 0, 2, 12),
    ]
    # Emptied, those positions are closed again.
    with pytest.raises(OpenVendError) as caught:
        movement_remove(actor=admin, device=shop.cabinet, product=shop.cola, lane=3, quantity=1, reason="x")
    assert (caught.value.code, caught.value.message) == ("inventory.bad_lane", CABINET_LANE)


def test_a_stock_take_counts_leftovers_and_adds_lines_only_where_the_rule_allows(
    shop: Shop, world_a: World
) -> None:
    counter, approver = world_a.user("replenisher"), world_a.user("store_manager")
    ledger.post_movement(device=shop.cabinet, product=shop.cola, quantity=5, kind="replenishment")
    ledger.post_movement(device=shop.cabinet, product=shop.cola, lane=3, quantity=2, kind="replenishment")
    take = stocktake_start(actor=counter, device=shop.cabinet)
    assert sorted(take.lines.values_list("lane", "expected")) == [(0, 5), (3, 2)]

    # The stray lane 3 is counted like any other line: nothing is there any more.
    line = stocktake_count(actor=counter, take=take, barcode_or_product=shop.cola, lane=3, counted=0)
    assert (line.lane, line.expected, line.counted) == (3, 2, 0)
    stocktake_count(actor=counter, take=take, barcode_or_product=shop.cola, lane=0, counted=5)

    # A product found where nothing was expected gets a line on the shelves, never on a track.
    lines_before = list(StockTakeLine.objects.order_by("pk").values_list())
    for lane in (1, 3):
        with pytest.raises(OpenVendError) as caught:
            stocktake_count(actor=counter, take=take, barcode_or_product=shop.water, lane=lane, counted=1)
        assert (caught.value.code, caught.value.message) == ("inventory.bad_lane", CABINET_LANE)
    assert list(StockTakeLine.objects.order_by("pk").values_list()) == lines_before
    found = stocktake_count(actor=counter, take=take, barcode_or_product=shop.water, increment=1)
    assert (found.lane, found.expected, found.counted) == (0, 0, 1)

    # Units posted to a stray position after the count started may be counted there as well.
    ledger.post_movement(device=shop.cabinet, product=shop.water, lane=2, quantity=1, kind="replenishment")
    stray = stocktake_count(actor=counter, take=take, barcode_or_product=shop.water, lane=2, counted=0)
    assert (stray.lane, stray.expected, stray.counted) == (2, 1, 0)

    stocktake_submit(actor=counter, take=take)
    movements = stocktake_approve(approver=approver, take=take, reason="monthly count")
    assert sorted((m.product_id, m.lane, m.quantity, m.balance_after) for m in movements) == sorted(
        [(shop.cola.pk, 3, -2, 0), (shop.water.pk, 0, 1, 1), (shop.water.pk, 2, -1, 0)]
    )
