"""Planogram design: how well can a layout's weight changes be decoded, and a layout that decodes well.

`check` predicts, per sensor, which small combinations of SKUs produce nearly the same weight change
(given unit-weight spread and load-cell noise) and the probability that a random 1–3 item session on
that sensor decodes exactly. `optimize` assigns SKUs to sensors to maximise that probability under
per-sensor capacity limits.

Model: a combination `c` (units per SKU) changes a sensor group by N(Σ c_i·w_i, Σ c_i·σ_i² + σ_noise²).
Sensors bridged by a placement form one group (the split of a bridging item is unknown, their sum is
not), with the group's noise adding up in quadrature. Decoding is maximum likelihood over all
combinations of up to `max_items` units; in one dimension the region where a combination wins is
bounded by its neighbours in weight order, so P(correct) is a difference of two normal CDFs.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Z_CONFUSABLE = 3.0  # two combinations closer than this many combined sd are reported confusable
TIE_G = 1e-6


def _phi(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


@dataclass(frozen=True)
class _Unit:
    sku: str
    weight: float
    var: float
    cap: int  # units available on the group (bounds the combinations)


@dataclass(frozen=True)
class _Combo:
    counts: tuple[int, ...]
    mean: float
    sd: float


def _combos(units: Sequence[_Unit], noise_var: float, max_items: int) -> list[_Combo]:
    out = []
    ranges = [range(min(u.cap, max_items) + 1) for u in units]
    for counts in itertools.product(*ranges):
        if sum(counts) > max_items:
            continue
        mean = sum(c * u.weight for c, u in zip(counts, units, strict=True))
        var = noise_var + sum(c * u.var for c, u in zip(counts, units, strict=True))
        out.append(_Combo(counts, mean, math.sqrt(var)))
    out.sort(key=lambda c: (c.mean, c.counts))
    return out


def _session_prior(counts: tuple[int, ...], n_skus: int) -> float:
    """P(counts) for a random session: 1..3 items equally likely, each unit an SKU drawn uniformly."""
    n = sum(counts)
    multinomial = math.factorial(n)
    for c in counts:
        multinomial //= math.factorial(c)
    return multinomial / n_skus**n


def group_accuracy(units: Sequence[_Unit], noise_sd_g: float, *, items: int = 3, max_items: int = 3) -> float:
    """P(a random 1..`items` unit session on this group decodes exactly)."""
    if not units:
        return 1.0
    combos = _combos(units, noise_sd_g**2, max(items, max_items))
    # Clusters of identical means: whichever member wins is a coin toss.
    clusters: list[list[_Combo]] = []
    for combo in combos:
        if clusters and combo.mean - clusters[-1][0].mean <= TIE_G:
            clusters[-1].append(combo)
        else:
            clusters.append([combo])
    total = 0.0
    norm = 0.0
    for i, cluster in enumerate(clusters):
        sd = sum(c.sd for c in cluster) / len(cluster)
        mean = cluster[0].mean
        lo, hi = -math.inf, math.inf
        if i > 0:
            prev = clusters[i - 1]
            psd = sum(c.sd for c in prev) / len(prev)
            lo = prev[0].mean + (mean - prev[0].mean) * psd / (psd + sd)
        if i + 1 < len(clusters):
            nxt = clusters[i + 1]
            nsd = sum(c.sd for c in nxt) / len(nxt)
            hi = mean + (nxt[0].mean - mean) * sd / (sd + nsd)
        for combo in cluster:
            n = sum(combo.counts)
            if not 1 <= n <= items:
                continue
            prior = _session_prior(combo.counts, len(units)) / items
            p_in = _phi((hi - combo.mean) / combo.sd) - _phi((lo - combo.mean) / combo.sd)
            total += prior * p_in / len(cluster)
            norm += prior
    return total / norm if norm else 1.0


def _items(units: Sequence[_Unit], counts: Iterable[int]) -> list[dict[str, Any]]:
    return [{"sku": u.sku, "qty": c} for u, c in zip(units, counts, strict=True) if c]


def _confusable(units: Sequence[_Unit], noise_sd_g: float, items: int) -> list[dict[str, Any]]:
    combos = [c for c in _combos(units, noise_sd_g**2, items) if sum(c.counts) <= items]
    pairs = []
    max_sd = max((c.sd for c in combos), default=0.0)
    # Sorted by mean: once the gap exceeds Z·(a.sd + the largest sd) no later b can be close.
    for i, a in enumerate(combos):
        for b in combos[i + 1 :]:
            sd = math.sqrt(a.sd**2 + b.sd**2)
            gap = b.mean - a.mean
            if gap >= Z_CONFUSABLE * sd:
                if gap >= Z_CONFUSABLE * (a.sd + max_sd):
                    break
                continue
            if sum(a.counts) == 0 and sum(b.counts) == 0:
                continue
            pairs.append(
                {
                    "a": _items(units, a.counts),
                    "b": _items(units, b.counts),
                    "delta_g": round(gap, 3),
                    "separation_sd": round(gap / sd, 2),
                }
            )
    pairs.sort(key=lambda p: (p["separation_sd"], str(p["a"]), str(p["b"])))
    return pairs


# ---------------------------------------------------------------------------------------------- check


def _as_dict(planogram: Any) -> Mapping[str, Any]:
    return planogram.to_dict() if hasattr(planogram, "to_dict") else planogram


def _groups(planogram: Mapping[str, Any]) -> list[list[str]]:
    """Sensors joined by bridging placements, in planogram order."""
    order = [s["id"] for s in planogram["sensors"]]
    parent = {sid: sid for sid in order}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for sku in planogram["skus"]:
        for placement in sku.get("placements", ()):
            first = find(placement["sensors"][0])
            for other in placement["sensors"][1:]:
                parent[find(other)] = first
    groups: dict[str, list[str]] = {}
    for sid in order:
        groups.setdefault(find(sid), []).append(sid)
    return list(groups.values())


def _group_units(planogram: Mapping[str, Any], group: Sequence[str]) -> list[_Unit]:
    members = set(group)
    units = []
    for sku in planogram["skus"]:
        cap = sum(p["count"] for p in sku.get("placements", ()) if members & set(p["sensors"]))
        if cap > 0:
            sd = float(sku.get("unit_weight_sd_g", 0.0))
            units.append(_Unit(sku["sku"], float(sku["unit_weight_g"]), sd * sd, cap))
    return units


def _intrinsic_notes(planogram: Mapping[str, Any], noise_sd_g: float, items: int) -> list[str]:
    """SKUs whose own multiples overlap: no placement can separate k from k+1 units of them."""
    notes = []
    for sku in planogram["skus"]:
        w, sd = float(sku["unit_weight_g"]), float(sku.get("unit_weight_sd_g", 0.0))
        for k in range(1, items):
            spread = math.sqrt(k * sd * sd + (k + 1) * sd * sd + 2 * noise_sd_g**2)
            if w < Z_CONFUSABLE * spread:
                notes.append(
                    f"{sku['sku']}: {k} and {k + 1} units are within {Z_CONFUSABLE:g} sd of each other "
                    f"({w:g} g apart, combined sd {spread:.2f} g); no placement can separate them"
                )
                break
    return notes


def check(planogram: Any, *, items: int = 3, max_items: int = 3, top: int = 10) -> dict[str, Any]:
    """Confusable combinations of up to `items` units per sensor and the predicted exact-decode rate of
    a random 1..`items` unit session, per sensor and overall (sensors weighted by their SKU count, as
    customers pick SKUs, not sensors)."""
    plan = _as_dict(planogram)
    noise = {s["id"]: float(s["noise_sd_g"]) for s in plan["sensors"]}
    rows: list[dict[str, Any]] = []
    weighted = 0.0
    weight = 0
    confusable_total = 0
    for group in _groups(plan):
        units = _group_units(plan, group)
        group_noise = math.sqrt(sum(noise[s] ** 2 for s in group))
        accuracy = group_accuracy(units, group_noise, items=items, max_items=max_items)
        pairs = _confusable(units, group_noise, items) if units else []
        confusable_total += len(pairs)
        if units:
            weighted += accuracy * len(units)
            weight += len(units)
        for sid in group:
            rows.append(
                {
                    "sensor": sid,
                    "group": list(group),
                    "skus": [u.sku for u in units],
                    "predicted_accuracy": round(accuracy, 6),
                    "confusable_count": len(pairs),
                    "confusable": pairs[:top],
                }
            )
    overall = weighted / weight if weight else 1.0
    notes = []
    worst_noise = max(noise.values(), default=0.0)
    notes.extend(_intrinsic_notes(plan, worst_noise, items))
    perfect = confusable_total == 0 and not notes
    if confusable_total:
        crowded = sorted({r["sensor"] for r in rows if r["confusable_count"]})
        notes.append(
            f"perfect separation not achieved: {confusable_total} confusable combination pair(s) on "
            f"{len(crowded)} sensor(s): {', '.join(crowded)}"
        )
    return {
        "cabinet": plan.get("cabinet", ""),
        "items": items,
        "z_confusable": Z_CONFUSABLE,
        "sensors": rows,
        "overall_predicted_accuracy": round(overall, 6),
        "perfect_separation": perfect,
        "notes": notes,
    }


# ------------------------------------------------------------------------------------------- optimize


@dataclass(frozen=True)
class _Lot:
    """Units of one product that go onto one sensor together."""

    sku: str
    weight: float
    var: float
    units: int


@dataclass
class _Layout:
    sensors: list[Mapping[str, Any]]
    assign: list[int]  # lot index -> sensor index

    def lots_on(self, sensor: int) -> list[int]:
        return [i for i, s in enumerate(self.assign) if s == sensor]


def _capacity_ok(sensor: Mapping[str, Any], lots: Sequence[_Lot]) -> bool:
    """`capacity_units` bounds units on the sensor; `capacity_g` (load rating) bounds their weight."""
    cap_units = sensor.get("capacity_units")
    if cap_units is not None and sum(lot.units for lot in lots) > cap_units:
        return False
    cap_g = sensor.get("capacity_g")
    return cap_g is None or sum(lot.units * lot.weight for lot in lots) <= cap_g


class _Scorer:
    def __init__(self, lots: Sequence[_Lot], sensors: Sequence[Mapping[str, Any]], items: int) -> None:
        self.lots = lots
        self.sensors = sensors
        self.items = items
        self.cache: dict[tuple[int, tuple[int, ...]], float] = {}

    def sensor_score(self, sensor: int, lot_ids: Sequence[int]) -> float:
        """Σ over the sensor's SKUs of P(exact): the objective counts a sensor once per SKU on it."""
        key = (sensor, tuple(sorted(lot_ids)))
        if key not in self.cache:
            merged: dict[str, _Unit] = {}
            for i in key[1]:
                lot = self.lots[i]
                prev = merged.get(lot.sku)
                units = lot.units + (prev.cap if prev else 0)
                merged[lot.sku] = _Unit(lot.sku, lot.weight, lot.var, units)
            units_list = [merged[k] for k in sorted(merged)]
            noise = float(self.sensors[sensor]["noise_sd_g"])
            acc = group_accuracy(units_list, noise, items=self.items, max_items=self.items)
            # Tie-breaker only: between equally decodable layouts prefer fewer SKUs per sensor, which
            # leaves room for a misplaced return to stand out.
            crowding = len(units_list) * (len(units_list) - 1) / 2
            self.cache[key] = acc * len(units_list) - 1e-7 * crowding
        return self.cache[key]


def _split_lots(products: Sequence[Mapping[str, Any]], sensors: Sequence[Mapping[str, Any]]) -> list[_Lot]:
    caps = [s.get("capacity_units") for s in sensors]
    largest = None if any(c is None for c in caps) else max(int(c) for c in caps if c is not None)
    lots = []
    for p in products:
        units = int(p.get("units", 1))
        sd = float(p.get("unit_weight_sd_g", 0.0))
        chunk = units if largest is None or largest <= 0 else largest
        remaining = units
        while True:
            take = min(chunk, remaining) if remaining > 0 else 0
            lots.append(_Lot(str(p["sku"]), float(p["unit_weight_g"]), sd * sd, take))
            remaining -= take
            if remaining <= 0:
                break
    return lots


def _total(scorer: _Scorer, layout: _Layout) -> float:
    return sum(scorer.sensor_score(s, layout.lots_on(s)) for s in range(len(layout.sensors)))


def _greedy(
    scorer: _Scorer, lots: Sequence[_Lot], sensors: Sequence[Mapping[str, Any]], rng: random.Random
) -> _Layout:
    layout = _Layout(list(sensors), [-1] * len(lots))
    on: list[list[int]] = [[] for _ in sensors]
    # Hardest first: lots whose weight has the most near neighbours, then heavy before light.
    crowd = [sum(1 for o in lots if abs(o.weight - lot.weight) < 10.0) for lot in lots]
    jitter = [rng.random() for _ in lots]
    order = sorted(range(len(lots)), key=lambda i: (-crowd[i], -lots[i].weight, jitter[i]))
    rotation = rng.randrange(len(sensors)) if sensors else 0
    for i in order:
        best_key: tuple[float, int, int] | None = None
        chosen = -1
        for k in range(len(sensors)):
            s = (k + rotation) % len(sensors)
            candidate = [*on[s], i]
            if not _capacity_ok(sensors[s], [lots[j] for j in candidate]):
                continue
            gain = scorer.sensor_score(s, candidate) - scorer.sensor_score(s, on[s])
            key = (gain, -len(on[s]), -k)
            if best_key is None or key > best_key:
                best_key, chosen = key, s
        if chosen < 0:
            raise ValueError(f"no sensor has room for {lots[i].units} units of {lots[i].sku}")
        on[chosen].append(i)
        layout.assign[i] = chosen
    return layout


def _local_search(
    scorer: _Scorer, layout: _Layout, lots: Sequence[_Lot], rng: random.Random, max_passes: int = 30
) -> None:
    n_sensors = len(layout.sensors)
    for _ in range(max_passes):
        improved = False
        order = list(range(len(lots)))
        rng.shuffle(order)
        for i in order:  # relocate one lot
            src = layout.assign[i]
            src_lots = layout.lots_on(src)
            src_without = [j for j in src_lots if j != i]
            base_src = scorer.sensor_score(src, src_lots)
            for dst in range(n_sensors):
                if dst == src:
                    continue
                dst_lots = layout.lots_on(dst)
                if not _capacity_ok(layout.sensors[dst], [lots[j] for j in [*dst_lots, i]]):
                    continue
                before = base_src + scorer.sensor_score(dst, dst_lots)
                after = scorer.sensor_score(src, src_without) + scorer.sensor_score(dst, [*dst_lots, i])
                if after > before + 1e-12:
                    layout.assign[i] = dst
                    improved = True
                    break
        for i, j in itertools.combinations(order, 2):  # swap two lots
            si, sj = layout.assign[i], layout.assign[j]
            if si == sj or lots[i].sku == lots[j].sku:
                continue
            li, lj = layout.lots_on(si), layout.lots_on(sj)
            new_i = [x for x in li if x != i] + [j]
            new_j = [x for x in lj if x != j] + [i]
            if not (
                _capacity_ok(layout.sensors[si], [lots[x] for x in new_i])
                and _capacity_ok(layout.sensors[sj], [lots[x] for x in new_j])
            ):
                continue
            before = scorer.sensor_score(si, li) + scorer.sensor_score(sj, lj)
            after = scorer.sensor_score(si, new_i) + scorer.sensor_score(sj, new_j)
            if after > before + 1e-12:
                layout.assign[i], layout.assign[j] = sj, si
                improved = True
        if not improved:
            return


def optimize(
    products: Sequence[Mapping[str, Any]],
    sensors: Sequence[Mapping[str, Any]],
    *,
    seed: int = 0,
    items: int = 3,
    cabinet: str = "optimized",
) -> dict[str, Any]:
    """A planogram placing every product on sensors so that random 1..`items` unit sessions decode
    exactly as often as possible (see `check`). Capacity per sensor: optional `capacity_units`
    (units it may hold) and/or `capacity_g` (grams); a product with more units than the largest
    `capacity_units` is split into lots on several sensors. Deterministic for a given seed."""
    if not sensors:
        raise ValueError("optimize needs at least one sensor")
    rng = random.Random(seed)  # noqa: S311 - tie-breaking, not security
    lots = _split_lots(products, sensors)
    scorer = _Scorer(lots, sensors, items)
    layout = _greedy(scorer, lots, sensors, rng)
    _local_search(scorer, layout, lots, rng)
    placements: dict[str, dict[str, int]] = {}
    for i, lot in enumerate(lots):
        sid = str(sensors[layout.assign[i]]["id"])
        by_sensor = placements.setdefault(lot.sku, {})
        by_sensor[sid] = by_sensor.get(sid, 0) + lot.units
    order = {str(s["id"]): k for k, s in enumerate(sensors)}
    skus = []
    for p in products:
        placed = placements[str(p["sku"])]
        skus.append(
            {
                "sku": str(p["sku"]),
                "name": str(p.get("name", p["sku"])),
                "unit_weight_g": float(p["unit_weight_g"]),
                "unit_weight_sd_g": float(p.get("unit_weight_sd_g", 0.0)),
                "placements": [
                    {"sensors": [sid], "count": count}
                    for sid, count in sorted(placed.items(), key=lambda x: order[x[0]])
                ],
            }
        )
    return {"cabinet": cabinet, "sensors": [dict(s) for s in sensors], "skus": skus}


def naive(
    products: Sequence[Mapping[str, Any]], sensors: Sequence[Mapping[str, Any]], *, cabinet: str = "naive"
) -> dict[str, Any]:
    """Products in catalogue order filling sensors in turn, ignoring weights: what a merchandiser
    grouping by category does. A reference for `optimize`."""
    per = math.ceil(len(products) / len(sensors))
    skus = []
    for k, p in enumerate(products):
        sid = str(sensors[min(k // per, len(sensors) - 1)]["id"])
        skus.append(
            {
                "sku": str(p["sku"]),
                "name": str(p.get("name", p["sku"])),
                "unit_weight_g": float(p["unit_weight_g"]),
                "unit_weight_sd_g": float(p.get("unit_weight_sd_g", 0.0)),
                "placements": [{"sensors": [sid], "count": int(p.get("units", 1))}],
            }
        )
    return {"cabinet": cabinet, "sensors": [dict(s) for s in sensors], "skus": skus}
