"""A planogram version in the recognition engine's planogram format (docs/recognition.md).

Every weight sensor of the device kind is listed, loaded or not, so evidence from any sensor of the
cabinet is understood. Each product becomes one SKU whose placements are its slots in shelf order.

Counts ("how many units rest there") come from one of two sources:
- `par` (design time, the default): each slot's par level, i.e. the cabinet as it will be after a
  full restock. This is what the planogram check runs on when a draft changes or is activated.
- `on_hand` (run time): the ledger's on-hand of the product in the cabinet (lane 0) spread over its
  slots in shelf order, filling each up to its capacity. Units beyond the total capacity (an
  over-full cabinet or a ledger that over-counts) are added to the last slot rather than dropped:
  recognition must never believe fewer units are there than the ledger says, or a real take of
  the surplus would look unexplained. A negative on-hand (oversold) counts as zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings

from openvend.inventory.models import Planogram, PlanogramSlot

COUNTS_PAR = "par"
COUNTS_ON_HAND = "on_hand"
COUNT_SOURCES = (COUNTS_PAR, COUNTS_ON_HAND)


def load_cell_noise_sd_g() -> float:
    return float(getattr(settings, "OPENVEND_LOAD_CELL_NOISE_SD_G", 1.0))


def sensor_shelf(sensor_id: str) -> int:
    """'s2-3' → 2 (the device kind names sensors s<shelf>-<n>, both from 1)."""
    return int(sensor_id[1:].split("-", 1)[0])


def ordered_slots(planogram: Planogram) -> list[PlanogramSlot]:
    """Slots in shelf order: by shelf, then by where their first sensor sits on it."""
    order = {sid: i for i, sid in enumerate(planogram.device.kind.sensor_ids)}
    slots = list(planogram.slots.select_related("product"))
    return sorted(slots, key=lambda s: (s.shelf, min(order.get(x, 1 << 30) for x in s.sensors), s.pk))


def _spread(total: int, slots: Sequence[PlanogramSlot]) -> list[int]:
    remaining = max(total, 0)
    counts = []
    for slot in slots:
        count = min(remaining, slot.capacity)
        counts.append(count)
        remaining -= count
    if remaining and counts:
        counts[-1] += remaining
    return counts


def _counts(planogram: Planogram, slots: Sequence[PlanogramSlot], source: str) -> dict[int, int]:
    if source == COUNTS_PAR:
        return {slot.pk: slot.par_level for slot in slots}
    if source != COUNTS_ON_HAND:
        raise ValueError(f"counts must be one of {COUNT_SOURCES}, got {source!r}")
    from openvend.inventory.selectors import on_hand_by_product

    by_product: dict[int, list[PlanogramSlot]] = {}
    for slot in slots:
        by_product.setdefault(slot.product_id, []).append(slot)
    totals = on_hand_by_product(device=planogram.device, product_ids=by_product, lane=0)
    counts: dict[int, int] = {}
    for product_id, product_slots in by_product.items():
        for slot, count in zip(product_slots, _spread(totals[product_id], product_slots), strict=True):
            counts[slot.pk] = count
    return counts


def recognition_planogram(
    planogram: Planogram, *, counts: str = COUNTS_PAR, slots: Sequence[PlanogramSlot] | None = None
) -> dict[str, Any]:
    """The version as `openvend.recognition.model.Planogram.from_dict` reads it. `slots`: the
    version's `ordered_slots`, when the caller already has them (settling reads them once)."""
    device = planogram.device
    noise = load_cell_noise_sd_g()
    slots = ordered_slots(planogram) if slots is None else slots
    unit_counts = _counts(planogram, slots, counts)
    skus: dict[int, dict[str, Any]] = {}
    for slot in slots:
        product = slot.product
        sku = skus.get(product.pk)
        if sku is None:
            sku = skus[product.pk] = {
                "sku": product.sku,
                "name": product.name,
                "unit_weight_g": float(product.unit_weight_g),
                "unit_weight_sd_g": float(product.unit_weight_sd_g),
                "placements": [],
            }
        sku["placements"].append({"sensors": list(slot.sensors), "count": unit_counts[slot.pk]})
    return {
        "cabinet": device.code,
        "sensors": [
            {"id": sid, "shelf": sensor_shelf(sid), "noise_sd_g": noise} for sid in device.kind.sensor_ids
        ],
        "skus": list(skus.values()),
    }


def recognition_check(planogram: Planogram) -> dict[str, Any]:
    """The recognition planogram check on the version at its par levels (the designed layout)."""
    from openvend.recognition.planogram import check

    return check(recognition_planogram(planogram, counts=COUNTS_PAR))
