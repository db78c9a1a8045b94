"""Console pages: stock levels, the movement ledger and stock-takes."""

from __future__ import annotations
