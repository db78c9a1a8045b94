"""Console pages: the product library, categories, manufacturers and new-product applications."""

from __future__ import annotations
