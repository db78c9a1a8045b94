"""Console pages: replenishment suggestions, orders, pick lists and restock sessions."""

from __future__ import annotations
