from openvend.inventory.models.ledger import StockLevel, StockMovement
from openvend.inventory.models.planograms import Planogram, PlanogramSlot, Track
from openvend.inventory.models.replenishment import (
    ReplenishmentLine,
    ReplenishmentOrder,
    RestockEvent,
    RestockLine,
    RestockSession,
)
from openvend.inventory.models.stocktake import StockTake, StockTakeLine

__all__ = [
    "Planogram",
    "PlanogramSlot",
    "ReplenishmentLine",
    "ReplenishmentOrder",
    "RestockEvent",
    "RestockLine",
    "RestockSession",
    "StockLevel",
    "StockMovement",
    "StockTake",
    "StockTakeLine",
    "Track",
]
