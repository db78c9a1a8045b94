"""Console pages: planograms and vending tracks."""

from __future__ import annotations
