"""Vision as one more likelihood term, per SKU.

A vision provider reports q units of a SKU moved with a score s in [0, 1]. We model its reports as
independent per SKU given the true net count n:

    P(q | n, s) = r(s)                                  if q == n
                = (1 - r(s)) · (1 - β) · β^(|q-n|-1) / 2  otherwise (two-sided geometric)

with r(s) = R_MIN + (R_MAX - R_MIN)·s: a score-0 report is barely better than chance and even a
score-1 report is wrong 1 time in 20, because cameras miss occluded or stacked items. SKUs the
provider does not list (when it listed anything) are read as "q = 0" with score UNLISTED_SCORE: the
absence of a detection is weaker evidence than a detection. The factor multiplies the weight
posterior of each joint hypothesis; agreement raises its share, disagreement lowers it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from openvend.recognition.model import VisionCount

R_MIN = 0.5
R_MAX = 0.95
BETA = 0.3
UNLISTED_SCORE = 0.3


def hit_rate(score: float) -> float:
    return R_MIN + (R_MAX - R_MIN) * min(1.0, max(0.0, score))


def log_factor(q: int, n: int, score: float) -> float:
    r = hit_rate(score)
    if q == n:
        return math.log(r)
    d = abs(q - n)
    return math.log((1 - r) * (1 - BETA) / 2) + (d - 1) * math.log(BETA)


class VisionModel:
    """Vision reports of one session, ready to score hypotheses given as {sku: net units}."""

    def __init__(self, vision: Iterable[VisionCount]):
        self.reports: dict[str, tuple[int, float]] = {}
        for v in vision:
            q, s = self.reports.get(v.sku, (0, 0.0))
            self.reports[v.sku] = (q + v.qty, max(s, v.score))

    def __bool__(self) -> bool:
        return bool(self.reports)

    def log_score(self, items: Mapping[str, int], skus: Iterable[str]) -> float:
        """Sum over `skus` (every SKU any scored hypothesis moves, plus the reported ones, so all
        hypotheses are scored on the same set) of log P(report | n)."""
        total = 0.0
        for sku in skus:
            q, s = self.reports.get(sku, (0, UNLISTED_SCORE))
            total += log_factor(q, items.get(sku, 0), s)
        return total

    def log_max(self, skus: Iterable[str]) -> float:
        """Highest log score any hypothesis can reach on `skus`: bounds the vision-weighted mass of
        hypotheses the weight search did not enumerate."""
        return sum(math.log(hit_rate(self.reports.get(sku, (0, UNLISTED_SCORE))[1])) for sku in skus)
