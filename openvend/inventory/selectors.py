"""Reading stock: on-hand per position is the `StockLevel` row, which equals the sum of its movements."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from io import BytesIO
from typing import Any

from django.db.models import F, Sum
from django.utils.translation import gettext_lazy as _

from openvend.inventory.choices import PlanogramStatus, StockTakeState
from openvend.inventory.models import (
    Planogram,
    PlanogramSlot,
    StockLevel,
    StockMovement,
    StockTake,
    StockTakeLine,
    Track,
)

OPEN_STOCKTAKE_STATES = (StockTakeState.COUNTING, StockTakeState.SUBMITTED)


def on_hand(*, device: Any, product: Any, lane: int = 0) -> int:
    level = StockLevel.objects.filter(device=device, product=product, lane=lane).only("on_hand").first()
    return level.on_hand if level is not None else 0


def on_hand_by_product(*, device: Any, product_ids: Iterable[int], lane: int = 0) -> dict[int, int]:
    """On-hand of many products at one position kind in one query: product id → units (0 when the
    position was never stocked)."""
    wanted = set(product_ids)
    rows = StockLevel.objects.filter(device=device, lane=lane, product_id__in=wanted).values_list(
        "product_id", "on_hand"
    )
    found = dict(rows)
    return {product_id: found.get(product_id, 0) for product_id in wanted}


def ledger_sum(*, device: Any, product: Any, lane: int = 0) -> int:
    """The same figure recomputed from the movements (what the invariant checks compare with)."""
    total = StockMovement.objects.filter(device=device, product=product, lane=lane).aggregate(
        s=Sum("quantity")
    )
    return int(total["s"] or 0)


# --- Stock-takes ---------------------------------------------------------------------------


def open_stocktake(device: Any) -> StockTake | None:
    """The stock-take still being counted or waiting for approval on this device, if any."""
    return StockTake.objects.filter(device=device, state__in=OPEN_STOCKTAKE_STATES).order_by("-pk").first()


def stocktake_positions(device: Any) -> dict[tuple[int, int], int]:
    """(product id, lane) → on hand in the ledger, for every position a count should cover: whatever
    the ledger holds for the device plus what the active planogram and the tracks say belongs there."""
    positions: dict[tuple[int, int], int] = {
        (level.product_id, level.lane): level.on_hand for level in StockLevel.objects.filter(device=device)
    }
    active = Planogram.objects.filter(device=device, status=PlanogramStatus.ACTIVE).first()
    if active is not None:
        for product_id in PlanogramSlot.objects.filter(planogram=active).values_list("product_id", flat=True):
            positions.setdefault((product_id, 0), 0)
    for number, product_id in Track.objects.filter(device=device, product__isnull=False).values_list(
        "number", "product_id"
    ):
        positions.setdefault((product_id, number), 0)
    return positions


@dataclass(frozen=True)
class DiscrepancyRow:
    line_id: int
    sku: str
    product: str
    lane: int
    expected: int
    counted: int
    difference: int
    unit_price_fen: int

    @property
    def value_fen(self) -> int:
        """The difference valued at the product's default price (fen; negative for a shortage)."""
        return self.difference * self.unit_price_fen


def stocktake_report(take: StockTake) -> list[DiscrepancyRow]:
    """The discrepancy report: every line whose count differs from the ledger's snapshot."""
    lines = StockTakeLine.objects.filter(stock_take=take).exclude(counted=F("expected"))
    return [
        DiscrepancyRow(
            line_id=line.pk,
            sku=line.product.sku,
            product=line.product.name,
            lane=line.lane,
            expected=line.expected,
            counted=line.counted,
            difference=line.counted - line.expected,
            unit_price_fen=line.product.default_price_fen,
        )
        for line in lines.select_related("product").order_by("lane", "product__sku")
    ]


REPORT_HEADER = (
    _("SKU"),
    _("product"),
    _("lane"),
    _("expected"),
    _("counted"),
    _("difference"),
    _("value at default price (fen)"),
)


def stocktake_report_xlsx(take: StockTake) -> bytes:
    """The discrepancy report as an Excel workbook, one row per differing line plus a total."""
    from openpyxl import Workbook

    rows = stocktake_report(take)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = str(_("Discrepancies"))[:31]
    sheet.append([str(label) for label in REPORT_HEADER])
    for row in rows:
        sheet.append(
            [row.sku, row.product, row.lane, row.expected, row.counted, row.difference, row.value_fen]
        )
    sheet.append(
        [str(_("Total")), "", "", "", "", sum(r.difference for r in rows), sum(r.value_fen for r in rows)]
    )
    buffer = BytesIO()
    book.save(buffer)
    return buffer.getvalue()
