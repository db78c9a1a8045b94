from __future__ import annotations

from enum import StrEnum


class OrderErrorCode(StrEnum):
    NOT_SETTLEABLE = "orders.not_settleable"
