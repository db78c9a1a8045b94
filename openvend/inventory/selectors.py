"""Reading stock: on-hand per position is the `StockLevel` row, which equals the sum of its movements."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet, Sum

from openvend.inventory.models import StockLevel, StockMovement


def on_hand(*, device: Any, product: Any, lane: int = 0) -> int:
    level = StockLevel.objects.filter(device=device, product=product, lane=lane).only("on_hand").first()
    return level.on_hand if level is not None else 0


def ledger_sum(*, device: Any, product: Any, lane: int = 0) -> int:
    """The same figure recomputed from the movements (what the invariant checks compare with)."""
    total = StockMovement.objects.filter(device=device, product=product, lane=lane).aggregate(
        s=Sum("quantity")
    )
    return int(total["s"] or 0)


def device_stock(device: Any) -> QuerySet[StockLevel]:
    return StockLevel.objects.filter(device=device).select_related("product").order_by("lane", "product__sku")


def discrepant_levels() -> QuerySet[StockLevel]:
    """Positions the ledger cannot explain physically: negative on-hand after an oversold sale."""
    return StockLevel.objects.filter(on_hand__lt=0)
