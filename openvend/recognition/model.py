"""Data model and public API of weight/vision recognition in grab-and-go cabinets.

Everything here is plain data: frozen dataclasses that round-trip through the JSON formats in
docs/recognition.md. The heavy lifting lives in extraction.py, likelihood.py, decompose.py and
fusion.py; `recognize` and `likelihood_sd` are re-exported here so callers need one import.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Items = tuple[tuple[str, int], ...]
"""Per-SKU net units taken out (negative = put in), sorted by SKU, zero counts omitted."""

Decision = Literal["accept", "review"]


def _positive(value: float, what: str) -> float:
    value = float(value)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{what} must be a positive number, got {value!r}")
    return value


def _non_negative(value: float, what: str) -> float:
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{what} must be a non-negative number, got {value!r}")
    return value


@dataclass(frozen=True)
class Sensor:
    id: str
    shelf: int
    noise_sd_g: float

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("sensor id must be a non-empty string")
        _positive(self.noise_sd_g, f"sensor {self.id}: noise_sd_g")


@dataclass(frozen=True)
class Placement:
    """`count` units of one SKU resting on `sensors`; with several sensors each item's weight splits
    between them in an unknown proportion (an item bridging two load cells)."""

    sensors: tuple[str, ...]
    count: int

    def __post_init__(self) -> None:
        if not self.sensors:
            raise ValueError("a placement needs at least one sensor")
        if len(set(self.sensors)) != len(self.sensors):
            raise ValueError(f"placement lists a sensor twice: {list(self.sensors)}")
        if int(self.count) != self.count or self.count < 0:
            raise ValueError(f"placement count must be a non-negative integer, got {self.count!r}")


@dataclass(frozen=True)
class Sku:
    sku: str
    name: str
    unit_weight_g: float
    unit_weight_sd_g: float
    placements: tuple[Placement, ...]

    def __post_init__(self) -> None:
        if not self.sku:
            raise ValueError("sku must be a non-empty string")
        _positive(self.unit_weight_g, f"SKU {self.sku}: unit_weight_g")
        _non_negative(self.unit_weight_sd_g, f"SKU {self.sku}: unit_weight_sd_g")

    @property
    def stock(self) -> int:
        return sum(p.count for p in self.placements)


@dataclass(frozen=True)
class Planogram:
    cabinet: str
    sensors: tuple[Sensor, ...]
    skus: tuple[Sku, ...]

    def __post_init__(self) -> None:
        ids = [s.id for s in self.sensors]
        if len(set(ids)) != len(ids):
            raise ValueError(f"cabinet {self.cabinet}: duplicate sensor ids")
        known = set(ids)
        seen: set[str] = set()
        for sku in self.skus:
            if sku.sku in seen:
                raise ValueError(f"cabinet {self.cabinet}: duplicate SKU {sku.sku}")
            seen.add(sku.sku)
            for placement in sku.placements:
                unknown = [s for s in placement.sensors if s not in known]
                if unknown:
                    raise ValueError(f"SKU {sku.sku}: placement on unknown sensor ids {unknown}")

    def sensor(self, sensor_id: str) -> Sensor:
        for s in self.sensors:
            if s.id == sensor_id:
                return s
        raise KeyError(sensor_id)

    def sku(self, sku: str) -> Sku:
        for s in self.skus:
            if s.sku == sku:
                return s
        raise KeyError(sku)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Planogram:
        try:
            sensors = tuple(
                Sensor(id=str(s["id"]), shelf=int(s["shelf"]), noise_sd_g=float(s["noise_sd_g"]))
                for s in d["sensors"]
            )
            skus = tuple(
                Sku(
                    sku=str(k["sku"]),
                    name=str(k.get("name", k["sku"])),
                    unit_weight_g=float(k["unit_weight_g"]),
                    unit_weight_sd_g=float(k.get("unit_weight_sd_g", 0.0)),
                    placements=tuple(
                        Placement(sensors=tuple(str(x) for x in p["sensors"]), count=_int(p["count"]))
                        for p in k.get("placements", ())
                    ),
                )
                for k in d["skus"]
            )
            return cls(cabinet=str(d.get("cabinet", "")), sensors=sensors, skus=skus)
        except KeyError as exc:
            raise ValueError(f"planogram is missing field {exc.args[0]!r}") from None

    def to_dict(self) -> dict[str, Any]:
        return {
            "cabinet": self.cabinet,
            "sensors": [{"id": s.id, "shelf": s.shelf, "noise_sd_g": s.noise_sd_g} for s in self.sensors],
            "skus": [
                {
                    "sku": k.sku,
                    "name": k.name,
                    "unit_weight_g": k.unit_weight_g,
                    "unit_weight_sd_g": k.unit_weight_sd_g,
                    "placements": [{"sensors": list(p.sensors), "count": p.count} for p in k.placements],
                }
                for k in self.skus
            ],
        }


def _int(value: Any) -> int:
    if isinstance(value, bool) or int(value) != value:
        raise ValueError(f"expected an integer, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class Stream:
    """Raw load-cell readings of one sensor over a session, in grams, at `hz` samples per second."""

    hz: float
    samples_g: tuple[float, ...]

    def __post_init__(self) -> None:
        _positive(self.hz, "stream hz")


@dataclass(frozen=True)
class VisionCount:
    """A vision provider's claim: `qty` units of `sku` taken out (negative = put in), with its `score`
    in [0, 1]."""

    sku: str
    qty: int
    score: float

    def __post_init__(self) -> None:
        if not 0.0 <= self.score <= 1.0:
            raise ValueError(f"vision score for {self.sku} must lie in [0, 1], got {self.score!r}")


@dataclass(frozen=True)
class Evidence:
    """One closed-door session: either net weight changes per sensor or raw streams (or both, in which
    case the deltas win), plus optional vision counts. An empty `vision` means no vision provider ran;
    when it is non-empty, SKUs it does not list are read as "vision saw none of these move"."""

    session: str
    deltas_g: Mapping[str, float] | None = None
    streams: Mapping[str, Stream] | None = None
    vision: tuple[VisionCount, ...] = ()

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Evidence:
        if "session" not in d:
            raise ValueError("evidence is missing field 'session'")
        deltas = d.get("deltas_g")
        streams = d.get("streams")
        if deltas is None and streams is None:
            raise ValueError(f"session {d['session']}: evidence needs 'deltas_g' or 'streams'")
        vision = d.get("vision") or ()
        return cls(
            session=str(d["session"]),
            deltas_g=None if deltas is None else {str(k): float(v) for k, v in deltas.items()},
            streams=None
            if streams is None
            else {
                str(k): Stream(hz=float(v["hz"]), samples_g=tuple(float(x) for x in v["samples_g"]))
                for k, v in streams.items()
            },
            vision=tuple(
                VisionCount(sku=str(v["sku"]), qty=_int(v["qty"]), score=float(v.get("score", 1.0)))
                for v in vision
            ),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"session": self.session}
        if self.deltas_g is not None:
            out["deltas_g"] = dict(self.deltas_g)
        if self.streams is not None:
            out["streams"] = {
                k: {"hz": s.hz, "samples_g": list(s.samples_g)} for k, s in self.streams.items()
            }
        if self.vision:
            out["vision"] = [{"sku": v.sku, "qty": v.qty, "score": v.score} for v in self.vision]
        return out


@dataclass(frozen=True)
class Result:
    session: str
    decision: Decision
    confidence: float
    items: Items
    alternatives: tuple[tuple[Items, float], ...] = ()
    reason: str = ""
    # Diagnostics that are not part of the result line format (kept out of to_dict).
    extraction_sd_g: Mapping[str, float] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "session": self.session,
            "decision": self.decision,
            "confidence": round(self.confidence, 6),
            "items": [{"sku": s, "qty": q} for s, q in self.items],
            "alternatives": [
                {"items": [{"sku": s, "qty": q} for s, q in items], "p": round(p, 6)}
                for items, p in self.alternatives
            ],
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Action:
    """One hypothesised move: `qty` units of `sku` taken from (qty > 0) or put onto (qty < 0) a
    placement resting on `sensors`. Used by `likelihood_sd` and by the decomposer's hypotheses."""

    sku: str
    sensors: tuple[str, ...]
    qty: int


def recognize(
    planogram: Planogram, evidence: Evidence, *, threshold: float = 0.99, max_items: int = 6
) -> Result:
    """Decide what a session took out: MAP decomposition of the weight changes over integer counts,
    fused with vision when present, with the posterior probability of the answer as confidence.
    `max_items` bounds the number of unit moves (takes + put-backs) considered per session."""
    from openvend.recognition.engine import run

    return run(planogram, evidence, threshold=threshold, max_items=max_items)


def likelihood_sd(
    planogram: Planogram,
    actions: Sequence[Action],
    *,
    extraction_sd_g: Mapping[str, float] | None = None,
) -> tuple[dict[str, float], dict[str, float]]:
    """Predicted per-sensor delta (grams) and its standard deviation under `actions`, marginally per
    sensor. See likelihood.py for the joint model (the unknown split of bridging items is
    anti-correlated between the two sensors, so their sum is much sharper than each part)."""
    from openvend.recognition.likelihood import predict_marginal

    return predict_marginal(planogram, actions, extraction_sd_g=extraction_sd_g)
