"""Manual movements (correction, removal, transfer): a reason, the permission and the data scope."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import PermissionDenied

from openvend.audit.models import AuditLogEntry
from openvend.core.errors import OpenVendError
from openvend.inventory import ledger
from openvend.inventory.models import StockLevel, StockMovement
from openvend.inventory.movement_services import movement_correct, movement_remove, movement_transfer
from tests.inventory.stock_world import Shop, build_shop
from tests.world import World


@pytest.fixture
def shop(world_a: World) -> Shop:
    shop = build_shop(world_a, "M")
    ledger.post_movement(device=shop.cabinet, product=shop.cola, quantity=10, kind="replenishment")
    ledger.post_movement(device=shop.far_cabinet, product=shop.cola, quantity=10, kind="replenishment")
    return shop


def _rows() -> list[tuple[Any, ...]]:
    return list(StockMovement.objects.order_by("pk").values_list())


def test_removal_needs_a_reason_and_is_audited(shop: Shop, world_a: World) -> None:
    ops = world_a.user("operations")
    before = _rows()
    for reason in ("", "   "):
        with pytest.raises(OpenVendError) as refused:
            movement_remove(actor=ops, device=shop.cabinet, product=shop.cola, quantity=1, reason=reason)
        assert refused.value.code == "inventory.reason_required"
    with pytest.raises(OpenVendError) as refused:
        movement_remove(actor=ops, device=shop.cabinet, product=shop.cola, quantity=0, reason="x")
    assert refused.value.code == "inventory.zero_quantity"
    assert _rows() == before
    removed = movement_remove(actor=ops, device=shop.cabinet, product=shop.cola, quantity=3, reason=" 破损 ")
    assert (removed.kind, removed.quantity, removed.balance_after, removed.reason) == (
        "removal",
        -3,
        7,
        "破损",
    )
    entry = AuditLogEntry.objects.get(object_type="inventory.stockmovement", object_id=str(removed.pk))
    assert (entry.actor_id, entry.before, entry.after["on_hand"]) == (ops.pk, {"on_hand": 10}, 7)


def test_only_posters_within_their_scope(shop: Shop, world_a: World, world_b: World) -> None:
    before = _rows()
    for user in (world_a.user("replenisher"), world_a.user("store_manager"), world_a.user("finance")):
        with pytest.raises(PermissionDenied):
            movement_remove(actor=user, device=shop.cabinet, product=shop.cola, quantity=1, reason="x")
    # Operations is scoped to Shanghai: the Shenzhen cabinet is not theirs to touch.
    ops = world_a.user("operations")
    with pytest.raises(PermissionDenied):
        movement_remove(actor=ops, device=shop.far_cabinet, product=shop.cola, quantity=1, reason="x")
    with pytest.raises(PermissionDenied):
        movement_transfer(
            actor=ops,
            product=shop.cola,
            quantity=1,
            from_device=shop.cabinet,
            to_device=shop.far_cabinet,
            reason="x",
        )
    with pytest.raises(PermissionDenied):
        movement_remove(
            actor=world_b.user("merchant_admin"),
            device=shop.cabinet,
            product=shop.cola,
            quantity=1,
            reason="x",
        )
    assert _rows() == before


def test_transfer_checks_lanes_and_moves_both_legs(shop: Shop, world_a: World) -> None:
    admin = world_a.user("merchant_admin")
    before = _rows()
    # Into the machine: not lane 0, not track 5 (none), not track 3 (the kind has 4 tracks but the
    # machine has only tracks 1 and 2), not track 2 (water's); out of the cabinet: lane 0 only.
    for kwargs in (
        {"to_lane": 0},
        {"to_lane": 5},
        {"to_lane": 3},
        {"to_lane": 2},
        {"from_lane": 1, "to_lane": 1},
    ):
        with pytest.raises(OpenVendError) as refused:
            movement_transfer(
                actor=admin,
                product=shop.cola,
                quantity=1,
                from_device=shop.cabinet,
                to_device=shop.vending,
                reason="x",
                **kwargs,
            )
        assert refused.value.code == "inventory.bad_lane"
    assert _rows() == before
    out, inn = movement_transfer(
        actor=admin,
        product=shop.cola,
        quantity=4,
        from_device=shop.cabinet,
        to_device=shop.vending,
        to_lane=1,
        reason="fill track 1",
    )
    assert (out.quantity, inn.quantity, inn.lane, inn.reason) == (-4, 4, 1, "fill track 1")
    assert StockLevel.objects.get(device=shop.vending, product=shop.cola, lane=1).on_hand == 4


def test_correction_reverses_once(shop: Shop, world_a: World) -> None:
    admin = world_a.user("merchant_admin")
    sale = ledger.post_movement(device=shop.cabinet, product=shop.cola, quantity=-2, kind="sale")
    with pytest.raises(OpenVendError):
        movement_correct(actor=admin, movement=sale, reason="")
    fixed = movement_correct(actor=admin, movement=sale, reason="refunded, back on the shelf")
    assert (fixed.quantity, fixed.corrects_id, fixed.balance_after) == (2, sale.pk, 10)
    with pytest.raises(OpenVendError) as refused:
        movement_correct(actor=admin, movement=sale, reason="again")
    assert refused.value.code == "inventory.already_corrected"
