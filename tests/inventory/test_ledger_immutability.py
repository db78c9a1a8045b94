"""No movement is ever edited or deleted, whatever path is tried; the ledger's own edge rules."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction

from openvend.audit.models import AuditLogEntry
from openvend.core.errors import OpenVendError
from openvend.inventory import ledger
from openvend.inventory.choices import MovementKind
from openvend.inventory.errors import InventoryErrorCode
from openvend.inventory.models import StockLevel, StockMovement
from openvend.inventory.models.ledger import ImmutableError
from tests.inventory.stock_world import Shop, build_shop, product
from tests.world import World


@pytest.fixture
def shop(world_a: World) -> Shop:
    return build_shop(world_a, "I")


def _rows() -> list[tuple[Any, ...]]:
    return list(StockMovement.objects.order_by("pk").values_list())


def test_every_way_of_editing_or_deleting_a_movement_raises(shop: Shop) -> None:
    first = ledger.post_movement(device=shop.cabinet, product=shop.cola, quantity=5, kind="replenishment")
    ledger.post_movement(device=shop.cabinet, product=shop.cola, quantity=-2, kind="sale")
    before = _rows()
    attempts = [
        lambda: (setattr(first, "quantity", 50), first.save()),
        lambda: first.save(update_fields=["reason"]),
        lambda: StockMovement.objects.get(pk=first.pk).save(force_update=True),
        lambda: StockMovement.objects.filter(pk=first.pk).update(quantity=50),
        lambda: StockMovement.objects.all().update(reason="x"),
        lambda: StockMovement.objects.bulk_update([first], ["quantity"]),
        lambda: StockMovement.objects.filter(pk=first.pk).delete(),
        lambda: StockMovement.objects.all().delete(),
        lambda: shop.cabinet.stock_movements.all().delete(),
        lambda: shop.cabinet.stock_movements.update(quantity=1),
        lambda: first.delete(),
    ]
    for attempt in attempts:
        # Each in its own savepoint: bulk_update's own atomic block marks the transaction broken.
        with pytest.raises(ImmutableError), transaction.atomic():
            attempt()
    assert _rows() == before
    level = StockLevel.objects.get(device=shop.cabinet, product=shop.cola, lane=0)
    assert level.on_hand == 3


def test_a_correction_is_a_new_opposite_movement_and_only_once(shop: Shop, world_a: World) -> None:
    admin = world_a.user("merchant_admin")
    received = ledger.post_movement(device=shop.cabinet, product=shop.cola, quantity=6, kind="replenishment")
    correction = ledger.correct_movement(movement=received, actor=admin, reason="counted twice")
    assert (correction.quantity, correction.kind, correction.corrects_id) == (-6, "correction", received.pk)
    assert (correction.source_type, correction.source_id) == ("inventory.stockmovement", str(received.pk))
    assert correction.idempotency_key == f"correct:{received.pk}"
    entry = AuditLogEntry.objects.filter(
        object_type="inventory.stockmovement", object_id=str(correction.pk)
    ).get()
    assert entry.before == {"on_hand": 6}
    assert entry.after == {"on_hand": 0, "quantity": -6, "kind": "correction", "reason": "counted twice"}
    before = _rows()
    for target, code in (
        (received, "inventory.already_corrected"),
        (correction, "inventory.already_corrected"),
    ):
        with pytest.raises(OpenVendError) as refused:
            ledger.correct_movement(movement=target, actor=admin, reason="again")
        assert refused.value.code == code
    assert _rows() == before


def test_vending_track_refuses_the_sale_of_a_unit_it_does_not_hold(shop: Shop) -> None:
    ledger.post_movement(device=shop.vending, product=shop.cola, lane=1, quantity=1, kind="replenishment")
    sold = ledger.post_movement(device=shop.vending, product=shop.cola, lane=1, quantity=-1, kind="sale")
    assert (sold.balance_after, sold.oversold) == (0, False)
    before = _rows()
    with pytest.raises(OpenVendError) as refused:
        ledger.post_movement(device=shop.vending, product=shop.cola, lane=1, quantity=-1, kind="sale")
    assert refused.value.code == InventoryErrorCode.OUT_OF_STOCK
    assert refused.value.status_code == 409
    assert _rows() == before


def test_cabinet_records_an_oversold_sale_and_goes_negative(shop: Shop) -> None:
    sold = ledger.post_movement(device=shop.cabinet, product=shop.cola, quantity=-2, kind="sale")
    assert (sold.balance_after, sold.oversold) == (-2, True)
    assert StockLevel.objects.get(device=shop.cabinet, product=shop.cola, lane=0).on_hand == -2
    refill = ledger.post_movement(device=shop.cabinet, product=shop.cola, quantity=5, kind="replenishment")
    assert (refill.balance_after, refill.oversold) == (3, False)


def test_idempotency_key_returns_the_first_movement(shop: Shop) -> None:
    first = ledger.post_movement(
        device=shop.cabinet, product=shop.cola, quantity=4, kind="replenishment", idempotency_key="order:1"
    )
    again = ledger.post_movement(
        device=shop.cabinet, product=shop.cola, quantity=4, kind="replenishment", idempotency_key="order:1"
    )
    assert again.pk == first.pk
    assert StockMovement.objects.count() == 1
    assert StockLevel.objects.get(device=shop.cabinet, product=shop.cola).on_hand == 4


def test_bad_postings_are_refused_and_change_nothing(shop: Shop, world_a: World, world_b: World) -> None:
    theirs = product(world_b, "their-cola")
    cases = [
        (
            {"device": shop.cabinet, "product": shop.cola, "quantity": 0, "kind": "sale"},
            "inventory.zero_quantity",
        ),
        (
            {"device": shop.cabinet, "product": shop.cola, "quantity": 1, "kind": "gift"},
            "inventory.bad_state",
        ),
        (
            {"device": shop.cabinet, "product": theirs, "quantity": 1, "kind": "replenishment"},
            "inventory.other_merchant",
        ),
        (
            {"device": shop.cabinet, "product": shop.cola, "quantity": -1, "kind": "removal"},
            "inventory.would_go_negative",
        ),
    ]
    for kwargs, code in cases:
        with pytest.raises(OpenVendError) as refused:
            ledger.post_movement(**kwargs)
        assert refused.value.code == code
    assert StockMovement.objects.count() == 0
    assert StockLevel.objects.count() == 0


def test_transfer_between_devices_is_both_legs_or_neither(shop: Shop) -> None:
    ledger.post_movement(device=shop.cabinet, product=shop.cola, quantity=3, kind="replenishment")
    out, inn = ledger.transfer(
        product=shop.cola,
        quantity=2,
        from_device=shop.cabinet,
        to_device=shop.vending,
        to_lane=1,
        reason="move",
    )
    assert (out.quantity, out.kind, inn.quantity, inn.kind, inn.lane) == (
        -2,
        "transfer_out",
        2,
        "transfer_in",
        1,
    )
    before = _rows()
    for kwargs, code in (
        ({"quantity": 5, "to_lane": 1}, "inventory.would_go_negative"),
        ({"quantity": 0, "to_lane": 1}, "inventory.zero_quantity"),
    ):
        with pytest.raises(OpenVendError) as refused:
            ledger.transfer(product=shop.cola, from_device=shop.cabinet, to_device=shop.vending, **kwargs)
        assert refused.value.code == code
    with pytest.raises(OpenVendError) as refused:
        ledger.transfer(product=shop.cola, quantity=1, from_device=shop.cabinet, to_device=shop.cabinet)
    assert refused.value.code == "inventory.same_position"
    assert _rows() == before


def test_set_on_hand_posts_the_difference_or_nothing(shop: Shop) -> None:
    ledger.post_movement(device=shop.cabinet, product=shop.cola, quantity=7, kind="replenishment")
    assert ledger.set_on_hand(device=shop.cabinet, product=shop.cola, counted=7) is None
    counted = ledger.set_on_hand(device=shop.cabinet, product=shop.cola, counted=4, reason="count")
    assert counted is not None
    assert (counted.quantity, counted.kind, counted.balance_after) == (-3, MovementKind.STOCKTAKE, 4)
    with pytest.raises(OpenVendError):
        ledger.set_on_hand(device=shop.cabinet, product=shop.cola, counted=-1)
    assert StockMovement.objects.count() == 2
