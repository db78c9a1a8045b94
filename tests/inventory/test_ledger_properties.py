"""The ledger against a plain Python model of its policy, over random sequences of postings.

After every step, for every position: `StockLevel.on_hand` equals the sum of its movements and the
model's figure, each movement's `balance_after` is the running sum, `oversold` marks exactly the
sales that left a position below zero, and a refused posting changed nothing at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from django.db import transaction
from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openvend.core.errors import OpenVendError
from openvend.inventory import ledger
from openvend.inventory.choices import MovementKind
from openvend.inventory.errors import InventoryErrorCode
from openvend.inventory.models import StockLevel, StockMovement
from tests.inventory.stock_world import Shop, build_shop
from tests.world import World

# (device, product, lane): a cabinet's own stock, two vending tracks, a second cabinet.
POSITIONS = (
    ("cabinet", "cola", 0),
    ("cabinet", "water", 0),
    ("vending", "cola", 1),
    ("vending", "cola", 2),
    ("far_cabinet", "cola", 0),
)
Position = tuple[str, str, int]

position = st.sampled_from(POSITIONS)
units = st.integers(min_value=1, max_value=4)
operation = st.one_of(
    st.tuples(st.just("sale"), position, units),
    st.tuples(st.just("replenish"), position, units),
    st.tuples(st.just("removal"), position, units),
    st.tuples(st.just("correct"), st.integers(min_value=0, max_value=40)),
    st.tuples(st.just("transfer"), position, position, units),
    st.tuples(st.just("count"), position, st.integers(min_value=0, max_value=6)),
    st.tuples(st.just("replay"), st.integers(min_value=0, max_value=40)),
)


class _Rollback(Exception):
    pass


@dataclass
class Model:
    """What the ledger should hold, by the documented policy."""

    on_hand: dict[Position, int] = field(default_factory=lambda: dict.fromkeys(POSITIONS, 0))
    # movement pk -> (position, quantity, is a correction, already corrected)
    movements: dict[int, tuple[Position, int, bool]] = field(default_factory=dict)
    corrected: set[int] = field(default_factory=set)
    keyed_sales: list[tuple[str, Position, int, int]] = field(default_factory=list)  # key, pos, q, pk


@pytest.fixture
def shop(world_a: World) -> Shop:
    return build_shop(world_a, "P")


def _resolve(shop: Shop, pos: Position) -> dict[str, Any]:
    device_name, product_name, lane = pos
    return {"device": getattr(shop, device_name), "product": getattr(shop, product_name), "lane": lane}


def _state() -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    movements = list(StockMovement.objects.order_by("pk").values_list())
    levels = list(StockLevel.objects.order_by("pk").values_list("pk", "on_hand", "last_movement_id"))
    return movements, levels


def _expect_refusal(code: str, fn: Any, **kwargs: Any) -> None:
    before = _state()
    with pytest.raises(OpenVendError) as refused:
        fn(**kwargs)
    assert refused.value.code == code
    assert _state() == before, "a refused posting changed the ledger"


def _check(shop: Shop, model: Model) -> None:
    assert StockMovement.objects.count() == len(model.movements)
    for pos in POSITIONS:
        where = _resolve(shop, pos)
        level = StockLevel.objects.filter(**where).first()
        total = StockMovement.objects.filter(**where).aggregate(s=Sum("quantity"))["s"] or 0
        assert (level.on_hand if level else 0) == total == model.on_hand[pos], pos
        running = 0
        for movement in StockMovement.objects.filter(**where).order_by("pk"):
            running += movement.quantity
            assert movement.balance_after == running
            assert movement.oversold == (movement.kind == MovementKind.SALE and running < 0)
            assert movement.kind != MovementKind.SALE or running >= 0 or pos[2] == 0  # tracks never oversell
        if level is not None and level.last_movement_id is not None:
            assert level.last_movement_id == max(m for m, (p, *_rest) in model.movements.items() if p == pos)


def _apply(shop: Shop, model: Model, step: int, op: tuple[Any, ...]) -> None:
    kind = op[0]
    if kind == "sale":
        pos, q = op[1], op[2]
        key = f"sale:{step}"
        if pos[2] > 0 and model.on_hand[pos] - q < 0:
            _expect_refusal(
                InventoryErrorCode.OUT_OF_STOCK,
                ledger.post_movement,
                quantity=-q,
                kind=MovementKind.SALE,
                idempotency_key=key,
                **_resolve(shop, pos),
            )
            return
        movement = ledger.post_movement(
            quantity=-q, kind=MovementKind.SALE, idempotency_key=key, **_resolve(shop, pos)
        )
        model.on_hand[pos] -= q
        model.movements[movement.pk] = (pos, -q, False)
        model.keyed_sales.append((key, pos, q, movement.pk))
    elif kind == "replenish":
        pos, q = op[1], op[2]
        movement = ledger.post_movement(quantity=q, kind=MovementKind.REPLENISHMENT, **_resolve(shop, pos))
        model.on_hand[pos] += q
        model.movements[movement.pk] = (pos, q, False)
    elif kind == "removal":
        pos, q = op[1], op[2]
        if model.on_hand[pos] - q < 0:
            _expect_refusal(
                InventoryErrorCode.WOULD_GO_NEGATIVE,
                ledger.post_movement,
                quantity=-q,
                kind=MovementKind.REMOVAL,
                reason="expired",
                **_resolve(shop, pos),
            )
            return
        movement = ledger.post_movement(quantity=-q, kind=MovementKind.REMOVAL, **_resolve(shop, pos))
        model.on_hand[pos] -= q
        model.movements[movement.pk] = (pos, -q, False)
    elif kind == "correct":
        if not model.movements:
            return
        pks = sorted(model.movements)
        target_pk = pks[op[1] % len(pks)]
        pos, q, is_correction = model.movements[target_pk]
        target = StockMovement.objects.get(pk=target_pk)
        if is_correction or target_pk in model.corrected:
            _expect_refusal(
                InventoryErrorCode.ALREADY_CORRECTED,
                ledger.correct_movement,
                movement=target,
                actor=None,
                reason="x",
            )
            return
        if -q < 0 and model.on_hand[pos] - q < 0:
            _expect_refusal(
                InventoryErrorCode.WOULD_GO_NEGATIVE,
                ledger.correct_movement,
                movement=target,
                actor=None,
                reason="x",
            )
            return
        movement = ledger.correct_movement(movement=target, actor=None, reason="typo")
        assert movement.corrects_id == target_pk and movement.quantity == -q
        model.on_hand[pos] -= q
        model.movements[movement.pk] = (pos, -q, True)
        model.corrected.add(target_pk)
    elif kind == "transfer":
        src, dst, q = op[1], op[2], op[3]
        arguments = {
            "product": _resolve(shop, src)["product"],
            "quantity": q,
            "from_device": _resolve(shop, src)["device"],
            "from_lane": src[2],
            "to_device": _resolve(shop, dst)["device"],
            "to_lane": dst[2],
        }
        if src[1] != dst[1]:
            return  # a transfer moves one product
        if src == dst:
            _expect_refusal(InventoryErrorCode.SAME_POSITION, ledger.transfer, **arguments)
            return
        if model.on_hand[src] - q < 0:
            _expect_refusal(InventoryErrorCode.WOULD_GO_NEGATIVE, ledger.transfer, **arguments)
            return
        out, inn = ledger.transfer(**arguments)
        assert inn.source_id == str(out.pk)
        model.on_hand[src] -= q
        model.on_hand[dst] += q
        model.movements[out.pk] = (src, -q, False)
        model.movements[inn.pk] = (dst, q, False)
    elif kind == "count":
        pos, counted = op[1], op[2]
        movement = ledger.set_on_hand(counted=counted, **_resolve(shop, pos))
        if counted == model.on_hand[pos]:
            assert movement is None
            return
        assert movement is not None and movement.kind == MovementKind.STOCKTAKE
        assert movement.quantity == counted - model.on_hand[pos]
        model.movements[movement.pk] = (pos, counted - model.on_hand[pos], False)
        model.on_hand[pos] = counted
    elif kind == "replay":
        if not model.keyed_sales:
            return
        key, pos, q, pk = model.keyed_sales[op[1] % len(model.keyed_sales)]
        before = _state()
        again = ledger.post_movement(
            quantity=-q, kind=MovementKind.SALE, idempotency_key=key, **_resolve(shop, pos)
        )
        assert again.pk == pk
        assert _state() == before, "replaying an idempotency key changed the ledger"


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(operation, min_size=1, max_size=25))
def test_ledger_follows_the_policy_model(shop: Shop, ops: list[tuple[Any, ...]]) -> None:
    # Each example runs in a savepoint rolled back at its end, so every example starts empty.
    try:
        with transaction.atomic():
            model = Model()
            _check(shop, model)
            for step, op in enumerate(ops):
                _apply(shop, model, step, op)
                _check(shop, model)
            raise _Rollback
    except _Rollback:
        pass
    assert StockMovement.objects.count() == 0
