"""Two published-style baselines for weight-based recognition, for the recognition benchmark.

- `divide_and_round`: per sensor, the SKU on it whose unit weight best divides the weight change,
  count rounded. What most vending firmware does; it cannot see two SKUs leaving one sensor.
- `aim3s`: after AIM3S (Ruiz et al., BuildSys 2019): per weight-change event, every SKU and count k
  is scored by N(Δ; k·w, k·σ_w² + σ_sensor²) × the prior of that SKU being on the plate (from the
  planogram, with a little mass for misplaced items) × the vision score when a camera reported;
  the best one wins. One SKU per event.

Both take the planogram and evidence as JSON-style dicts and return a result line dict with a
confidence in [0, 1] (for risk–coverage curves) and "accept" when it reaches the threshold.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

MISPLACED_PRIOR = 0.05  # AIM3S: mass for a product found on a plate the planogram does not put it on
NO_VISION_P = 0.05  # vision factor of an SKU the camera did not report
SETTLE_S = 1.0


def settled_deltas(evidence: Mapping[str, Any]) -> dict[str, float]:
    """Deltas as given, or from raw streams: median of the last second minus the first (medians
    shrug off spikes; the hand is off the shelf at both ends)."""
    if evidence.get("deltas_g") is not None:
        return {str(k): float(v) for k, v in evidence["deltas_g"].items()}
    out = {}
    for sid, stream in (evidence.get("streams") or {}).items():
        samples: Sequence[float] = stream["samples_g"]
        n = max(1, min(len(samples) // 4, round(float(stream["hz"]) * SETTLE_S)))
        out[str(sid)] = statistics.median(samples[-n:]) - statistics.median(samples[:n]) if samples else 0.0
    return out


def _normal_pdf(x: float, mean: float, sd: float) -> float:
    z = (x - mean) / sd
    return math.exp(-0.5 * z * z) / (sd * math.sqrt(2.0 * math.pi))


def _groups(planogram: Mapping[str, Any]) -> list[list[str]]:
    """Sensors joined by a bridging placement are one plate for both baselines."""
    parent = {s["id"]: s["id"] for s in planogram["sensors"]}

    def find(x: str) -> str:
        while parent[x] != x:
            x = parent[x]
        return x

    for sku in planogram["skus"]:
        for p in sku["placements"]:
            for other in p["sensors"][1:]:
                parent[find(other)] = find(p["sensors"][0])
    groups: dict[str, list[str]] = {}
    for sid in parent:
        groups.setdefault(find(sid), []).append(sid)
    return list(groups.values())


def _result(
    evidence: Mapping[str, Any], net: Counter[str], confidence: float, threshold: float, reason: str
) -> dict[str, Any]:
    items = [{"sku": sku, "qty": qty} for sku, qty in sorted(net.items()) if qty > 0]
    return {
        "session": evidence["session"],
        "decision": "accept" if confidence >= threshold else "review",
        "confidence": confidence,
        "items": items,
        "alternatives": [],
        "reason": reason,
    }


def _plates(planogram: Mapping[str, Any]) -> list[tuple[list[str], float, list[Mapping[str, Any]]]]:
    noise = {s["id"]: float(s["noise_sd_g"]) for s in planogram["sensors"]}
    plates = []
    for group in _groups(planogram):
        members = set(group)
        on = [k for k in planogram["skus"] if any(members & set(p["sensors"]) for p in k["placements"])]
        plates.append((group, math.sqrt(sum(noise[s] ** 2 for s in group)), on))
    return plates


def divide_and_round(
    planogram: Mapping[str, Any], evidence: Mapping[str, Any], *, threshold: float = 0.99
) -> dict[str, Any]:
    deltas = settled_deltas(evidence)
    net: Counter[str] = Counter()
    confidence = 1.0
    for group, sd, on in _plates(planogram):
        removed = -sum(deltas.get(s, 0.0) for s in group)
        lightest = min((float(k["unit_weight_g"]) for k in on), default=math.inf)
        if abs(removed) < max(3.0 * sd, 0.5 * lightest):
            continue  # nothing happened here
        best: tuple[float, float, str, int] | None = None
        for k in on:
            w = float(k["unit_weight_g"])
            count = round(removed / w)
            if count == 0:
                continue
            residual = abs(removed / w - count)
            key = (residual, w, str(k["sku"]), count)
            if best is None or key < best:
                best = key
        if best is None:
            confidence = 0.0
            continue
        residual, _, sku, count = best
        net[sku] += count
        # Half a unit off is a coin toss; on the unit is certain.
        confidence *= max(0.0, 1.0 - 2.0 * residual)
    return _result(evidence, net, confidence, threshold, "divide-and-round per sensor")


def _vision_factor(evidence: Mapping[str, Any], sku: str, qty: int) -> float:
    vision = evidence.get("vision") or []
    if not vision:
        return 1.0
    for v in vision:
        if v["sku"] == sku:
            score = float(v.get("score", 1.0))
            return score if int(v["qty"]) == qty else 0.5 * score
    return NO_VISION_P


def aim3s(
    planogram: Mapping[str, Any], evidence: Mapping[str, Any], *, threshold: float = 0.99, max_items: int = 6
) -> dict[str, Any]:
    deltas = settled_deltas(evidence)
    skus = planogram["skus"]
    net: Counter[str] = Counter()
    confidence = 1.0
    for group, sd, on in _plates(planogram):
        change = sum(deltas.get(s, 0.0) for s in group)
        lightest = min((float(k["unit_weight_g"]) for k in skus), default=math.inf)
        if abs(change) < max(3.0 * sd, 0.5 * lightest):
            continue
        on_ids = {str(k["sku"]) for k in on}
        off = len(skus) - len(on_ids)
        scores: list[tuple[float, str, int]] = []
        for k in skus:
            sku = str(k["sku"])
            prior = (1.0 - MISPLACED_PRIOR) / len(on_ids) if sku in on_ids else MISPLACED_PRIOR / max(1, off)
            w, sw = float(k["unit_weight_g"]), float(k.get("unit_weight_sd_g", 0.0))
            for count in range(1, max_items + 1):
                var = count * sw * sw + sd * sd
                like = _normal_pdf(abs(change), count * w, math.sqrt(var))
                qty = count if change < 0 else -count
                scores.append((like * prior * _vision_factor(evidence, sku, qty), sku, qty))
        total = sum(s for s, _, _ in scores)
        if total <= 0.0:
            confidence = 0.0
            continue
        best = max(scores, key=lambda x: (x[0], x[1]))
        net[best[1]] += best[2]
        confidence *= best[0] / total
    return _result(evidence, net, confidence, threshold, "AIM3S-style weight × placement prior per event")
