"""Idempotency keys: the same event posted twice moves stock once; a different event under a used
key is refused and changes nothing."""

from __future__ import annotations

import pytest

from openvend.core.errors import ConflictError
from openvend.inventory import ledger
from openvend.inventory.models import StockMovement
from openvend.inventory.selectors import on_hand
from tests.inventory.stock_world import build_shop


def test_a_repeated_event_is_posted_once(world_a) -> None:
    shop = build_shop(world_a, "K")
    first = ledger.post_movement(
        device=shop.cabinet,
        product=shop.cola,
        quantity=4,
        kind="replenishment",
        idempotency_key="order:1:line:1",
    )
    again = ledger.post_movement(
        device=shop.cabinet,
        product=shop.cola,
        quantity=4,
        kind="replenishment",
        idempotency_key="order:1:line:1",
    )
    assert again.pk == first.pk
    assert on_hand(device=shop.cabinet, product=shop.cola) == 4
    assert StockMovement.objects.count() == 1


@pytest.mark.parametrize(
    "change", [{"quantity": 5}, {"kind": "return"}, {"lane": 1}, {"product": "water"}, {"device": "vending"}]
)
def test_a_different_event_under_a_used_key_is_refused(world_a, change) -> None:
    shop = build_shop(world_a, "R")
    ledger.post_movement(
        device=shop.cabinet,
        product=shop.cola,
        quantity=4,
        kind="replenishment",
        idempotency_key="order:2:line:1",
    )
    posting = {
        "device": shop.cabinet,
        "product": shop.cola,
        "quantity": 4,
        "kind": "replenishment",
        "lane": 0,
    }
    posting.update(change)
    if change.get("product") == "water":
        posting["product"] = shop.water
    if change.get("device") == "vending":
        posting["device"] = shop.vending
    with pytest.raises(ConflictError) as refused:
        ledger.post_movement(**posting, idempotency_key="order:2:line:1")
    assert refused.value.code == "inventory.key_reused"
    assert StockMovement.objects.count() == 1
    assert on_hand(device=shop.cabinet, product=shop.cola) == 4
    assert on_hand(device=shop.cabinet, product=shop.water) == 0
