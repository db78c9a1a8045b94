"""Console pages: prices, product templates and sellable lists."""

from __future__ import annotations
