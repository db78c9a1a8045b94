"""Stock-taking by scan: snapshot, counting, submission, approval (one delta movement per differing
line) or rejection (nothing posted), the states, who may approve, and the discrepancy report."""

from __future__ import annotations

from io import BytesIO
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import translation
from django.utils.translation import gettext
from openpyxl import load_workbook

from openvend.audit.models import AuditLogEntry
from openvend.core.errors import OpenVendError
from openvend.inventory import ledger, selectors
from openvend.inventory.models import StockLevel, StockMovement, StockTake, StockTakeLine
from openvend.inventory.stocktake_services import (
    stocktake_approve,
    stocktake_count,
    stocktake_reject,
    stocktake_start,
    stocktake_submit,
)
from tests.inventory.stock_world import Shop, build_shop, product
from tests.world import World


@pytest.fixture
def shop(world_a: World) -> Shop:
    return build_shop(world_a, "T")


def _lines(take: StockTake) -> dict[tuple[str, int], tuple[int, int]]:
    return {
        (line.product.sku, line.lane): (line.expected, line.counted)
        for line in take.lines.select_related("product")
    }


def _refused(code: str, fn: Any, **kwargs: Any) -> None:
    movements = list(StockMovement.objects.values_list())
    lines = list(StockTakeLine.objects.values_list())
    takes = list(StockTake.objects.values_list())
    with pytest.raises(OpenVendError) as refused:
        fn(**kwargs)
    assert refused.value.code == code
    assert list(StockMovement.objects.values_list()) == movements
    assert list(StockTakeLine.objects.values_list()) == lines
    assert list(StockTake.objects.values_list()) == takes


def test_start_snapshots_the_ledger_and_the_tracks(shop: Shop, world_a: World) -> None:
    ledger.post_movement(device=shop.vending, product=shop.cola, lane=1, quantity=6, kind="replenishment")
    take = stocktake_start(actor=world_a.user("replenisher"), device=shop.vending)
    assert take.state == "counting"
    assert take.counted_by_id == world_a.users["replenisher"].pk
    # Track 1 holds 6 in the ledger; track 2 (water) is planned but empty.
    assert _lines(take) == {("T-cola", 1): (6, 0), ("T-water", 2): (0, 0)}
    entry = AuditLogEntry.objects.get(object_type="inventory.stocktake", object_id=str(take.pk))
    assert (entry.action, entry.after["lines"], entry.after["state"]) == ("create", 2, "counting")


def test_scan_type_submit_approve_posts_exact_deltas(shop: Shop, world_a: World) -> None:
    counter, approver = world_a.user("replenisher"), world_a.user("store_manager")
    ledger.post_movement(device=shop.cabinet, product=shop.cola, quantity=10, kind="replenishment")
    ledger.post_movement(device=shop.cabinet, product=shop.water, quantity=4, kind="replenishment")
    take = stocktake_start(actor=counter, device=shop.cabinet)
    for _ in range(8):  # eight cans scanned with the barcode scanner
        line = stocktake_count(actor=counter, take=take, barcode_or_product="6901234567892", increment=1)
    assert (line.expected, line.counted, line.difference) == (10, 8, -2)
    stocktake_count(actor=counter, take=take, barcode_or_product=shop.cola, increment=-1)  # one scanned twice
    stocktake_count(actor=counter, take=take, barcode_or_product=shop.water.pk, counted=4)
    assert _lines(take) == {("T-cola", 0): (10, 7), ("T-water", 0): (4, 4)}

    stocktake_submit(actor=counter, take=take)
    # A shopper buys a can between the count and the approval: that sale must survive.
    ledger.post_movement(device=shop.cabinet, product=shop.cola, quantity=-1, kind="sale")
    movements = stocktake_approve(approver=approver, take=take, reason="monthly count")

    assert len(movements) == 1
    adjustment = movements[0]
    line = take.lines.get(product=shop.cola)
    assert (adjustment.kind, adjustment.quantity, adjustment.balance_after) == ("stocktake", -3, 6)
    assert adjustment.idempotency_key == f"stocktake:{take.pk}:{line.pk}"
    assert (adjustment.source_type, adjustment.source_id) == ("inventory.stocktake", str(take.pk))
    assert (adjustment.actor_id, adjustment.reason) == (approver.pk, "monthly count")
    assert StockLevel.objects.get(device=shop.cabinet, product=shop.cola).on_hand == 6
    assert StockLevel.objects.get(device=shop.cabinet, product=shop.water).on_hand == 4
    take.refresh_from_db()
    assert (take.state, take.approver_id, take.reason) == ("approved", approver.pk, "monthly count")
    assert take.submitted_at is not None and take.decided_at is not None
    decided = AuditLogEntry.objects.filter(object_type="inventory.stocktake", action="update").latest("id")
    assert (decided.before["state"], decided.after["state"]) == ("submitted", "approved")
    assert decided.actor_id == approver.pk


def test_discrepancy_report_and_its_workbook(shop: Shop, world_a: World) -> None:
    counter = world_a.user("replenisher")
    ledger.post_movement(device=shop.cabinet, product=shop.cola, quantity=10, kind="replenishment")
    ledger.post_movement(device=shop.cabinet, product=shop.water, quantity=4, kind="replenishment")
    take = stocktake_start(actor=counter, device=shop.cabinet)
    stocktake_count(actor=counter, take=take, barcode_or_product=shop.cola, counted=7)
    stocktake_count(actor=counter, take=take, barcode_or_product=shop.water, counted=4)
    stray = product(world_a, "T-gum", barcode="6921234567890", price_fen=150)
    stocktake_count(actor=counter, take=take, barcode_or_product="6921234567890", increment=1)

    rows = selectors.stocktake_report(take)
    assert [(r.sku, r.lane, r.expected, r.counted, r.difference, r.value_fen) for r in rows] == [
        ("T-cola", 0, 10, 7, -3, -1050),
        ("T-gum", 0, 0, 1, 1, 150),
    ]
    # The workbook is written in the active language; pin it rather than inherit it from earlier tests.
    with translation.override("zh-hans"):
        sheet = load_workbook(BytesIO(selectors.stocktake_report_xlsx(take))).active
        header = tuple(
            gettext(label)
            for label in (
                "SKU",
                "product",
                "lane",
                "expected",
                "counted",
                "difference",
                "value at default price (fen)",
            )
        )
        total = gettext("Total")
    values = list(sheet.iter_rows(values_only=True))
    assert values[0] == header
    assert values[1] == ("T-cola", "商品 T-cola", 0, 10, 7, -3, -1050)
    assert values[2] == ("T-gum", stray.name, 0, 0, 1, 1, 150)
    assert values[3] == (total, None, None, None, None, -2, -900)


def test_reject_posts_nothing_and_frees_the_device(shop: Shop, world_a: World) -> None:
    counter, approver = world_a.user("replenisher"), world_a.user("operations")
    ledger.post_movement(device=shop.cabinet, product=shop.cola, quantity=5, kind="replenishment")
    take = stocktake_start(actor=counter, device=shop.cabinet)
    _refused("inventory.stocktake_open", stocktake_start, actor=counter, device=shop.cabinet)
    stocktake_submit(actor=counter, take=take)
    before = list(StockMovement.objects.values_list())
    stocktake_reject(approver=approver, take=take, note="recount the top shelf")
    assert list(StockMovement.objects.values_list()) == before
    take.refresh_from_db()
    assert (take.state, take.decision_note, take.approver_id) == (
        "rejected",
        "recount the top shelf",
        approver.pk,
    )
    assert stocktake_start(actor=counter, device=shop.cabinet).pk != take.pk


def test_states_are_enforced(shop: Shop, world_a: World) -> None:
    counter, approver = world_a.user("replenisher"), world_a.user("store_manager")
    take = stocktake_start(actor=counter, device=shop.cabinet)
    _refused("inventory.bad_state", stocktake_approve, approver=approver, take=take, reason="x")
    _refused("inventory.bad_state", stocktake_reject, approver=approver, take=take)
    stocktake_submit(actor=counter, take=take)
    _refused("inventory.bad_state", stocktake_submit, actor=counter, take=take)
    _refused(
        "inventory.bad_state",
        stocktake_count,
        actor=counter,
        take=take,
        barcode_or_product=shop.cola,
        counted=1,
    )
    stocktake_approve(approver=approver, take=take, reason="")  # nothing differs: no reason needed
    for fn, kwargs in (
        (stocktake_approve, {"approver": approver, "reason": "again"}),
        (stocktake_reject, {"approver": approver}),
        (stocktake_submit, {"actor": counter}),
    ):
        _refused("inventory.bad_state", fn, take=take, **kwargs)
    assert StockMovement.objects.count() == 0


def test_bad_counts_are_refused_and_change_nothing(shop: Shop, world_a: World, world_b: World) -> None:
    counter = world_a.user("replenisher")
    ledger.post_movement(device=shop.vending, product=shop.cola, lane=1, quantity=3, kind="replenishment")
    ledger.post_movement(device=shop.vending, product=shop.cola, lane=3, quantity=2, kind="replenishment")
    take = stocktake_start(actor=counter, device=shop.vending)
    theirs = product(world_b, "B-cola", barcode="6901234567892")
    cases: list[tuple[str, dict[str, Any]]] = [
        ("inventory.unknown_barcode", {"barcode_or_product": "0000000000000", "increment": 1}),
        ("inventory.unknown_barcode", {"barcode_or_product": theirs, "increment": 1}),
        ("inventory.bad_lane", {"barcode_or_product": shop.cola, "increment": 1}),  # in lanes 1 and 3
        ("inventory.bad_lane", {"barcode_or_product": shop.cola, "lane": 9, "counted": 1}),
        ("inventory.bad_lane", {"barcode_or_product": shop.cola, "lane": 0, "counted": 1}),
        ("inventory.would_go_negative", {"barcode_or_product": shop.cola, "lane": 1, "increment": -1}),
        ("inventory.would_go_negative", {"barcode_or_product": shop.cola, "lane": 1, "counted": -2}),
        ("inventory.bad_state", {"barcode_or_product": shop.cola, "lane": 1}),
    ]
    for code, kwargs in cases:
        _refused(code, stocktake_count, actor=counter, take=take, **kwargs)
    line = stocktake_count(actor=counter, take=take, barcode_or_product=shop.cola, lane=3, counted=2)
    assert (line.expected, line.counted) == (2, 2)


def test_counter_may_not_approve_their_own_count_unless_merchant_admin(shop: Shop, world_a: World) -> None:
    manager = world_a.user("store_manager")
    ledger.post_movement(device=shop.cabinet, product=shop.cola, quantity=5, kind="replenishment")
    take = stocktake_start(actor=manager, device=shop.cabinet)
    stocktake_count(actor=manager, take=take, barcode_or_product=shop.cola, counted=4)
    stocktake_submit(actor=manager, take=take)
    _refused("inventory.self_approval", stocktake_approve, approver=manager, take=take, reason="mine")
    _refused(
        "inventory.reason_required",
        stocktake_approve,
        approver=world_a.user("operations"),
        take=take,
        reason=" ",
    )

    admin = world_a.user("merchant_admin")
    own = stocktake_start(actor=admin, device=shop.vending)
    stocktake_count(actor=admin, take=own, barcode_or_product=shop.water, counted=2)
    stocktake_submit(actor=admin, take=own)
    [movement] = stocktake_approve(approver=admin, take=own, reason="found two")
    assert (movement.quantity, movement.lane, movement.product_id) == (2, 2, shop.water.pk)


def test_permissions_and_scope(shop: Shop, world_a: World, world_b: World) -> None:
    for role in ("customer_service", "finance"):
        with pytest.raises(PermissionDenied):
            stocktake_start(actor=world_a.user(role), device=shop.cabinet)
    # Scoped to Shanghai: the Shenzhen cabinet is out of reach.
    with pytest.raises(PermissionDenied):
        stocktake_start(actor=world_a.user("replenisher"), device=shop.far_cabinet)
    with pytest.raises(PermissionDenied):
        stocktake_start(actor=world_b.user("merchant_admin"), device=shop.cabinet)
    take = stocktake_start(actor=world_a.user("replenisher"), device=shop.cabinet)
    stocktake_submit(actor=world_a.user("replenisher"), take=take)
    with pytest.raises(PermissionDenied):  # a replenisher counts but does not approve
        stocktake_approve(approver=world_a.user("replenisher"), take=take, reason="x")
    with pytest.raises(PermissionDenied):
        stocktake_approve(approver=world_b.user("merchant_admin"), take=take, reason="x")
    assert StockTake.objects.get(pk=take.pk).state == "submitted"


def test_approval_that_would_take_a_track_below_zero_posts_nothing(shop: Shop, world_a: World) -> None:
    counter = world_a.user("replenisher")
    where = {"device": shop.vending, "product": shop.cola, "lane": 1}
    ledger.post_movement(quantity=5, kind="replenishment", **where)
    take = stocktake_start(actor=counter, device=shop.vending)
    stocktake_count(actor=counter, take=take, barcode_or_product=shop.cola, counted=1)  # delta −4
    stocktake_count(actor=counter, take=take, barcode_or_product=shop.water, counted=3)  # delta +3
    stocktake_submit(actor=counter, take=take)
    for _ in range(3):
        ledger.post_movement(quantity=-1, kind="sale", **where)  # 2 left: −4 cannot be applied
    _refused(
        "inventory.would_go_negative",
        stocktake_approve,
        approver=world_a.user("operations"),
        take=take,
        reason="r",
    )
    assert StockLevel.objects.get(**where).on_hand == 2


def test_a_sale_while_counting_is_not_subtracted_twice(shop: Shop, world_a: World) -> None:
    """7 on hand when the count starts; 2 sold while counting; the counter finds the 5 that are
    there. The shelf and the ledger already agree: approval must post nothing (not leave 3)."""
    counter, approver = world_a.user("replenisher"), world_a.user("store_manager")
    ledger.post_movement(device=shop.cabinet, product=shop.cola, quantity=7, kind="replenishment")
    take = stocktake_start(actor=counter, device=shop.cabinet)
    ledger.post_movement(device=shop.cabinet, product=shop.cola, quantity=-2, kind="sale")
    stocktake_count(actor=counter, take=take, barcode_or_product=shop.cola, counted=5)
    stocktake_submit(actor=counter, take=take)
    assert _lines(take)[("T-cola", 0)] == (5, 5)
    assert stocktake_approve(approver=approver, take=take, reason="weekly count") == []
    assert selectors.on_hand(device=shop.cabinet, product=shop.cola) == 5
