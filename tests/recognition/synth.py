"""Synthetic cabinets and sessions drawn from the recognition model itself (for tests and timing)."""

from __future__ import annotations

import random

from openvend.recognition.model import Evidence, Placement, Planogram, Sensor, Sku, VisionCount


def cabinet(
    rng: random.Random, shelves: int = 8, per_shelf: int = 4, skus: int = 30, noise: float = 1.0
) -> Planogram:
    sensors = tuple(Sensor(f"s{s}-{i}", s, noise) for s in range(shelves) for i in range(per_shelf))
    out = []
    for k in range(skus):
        shelf = k % shelves
        i = rng.randrange(per_shelf)
        ids: tuple[str, ...] = (f"s{shelf}-{i}",)
        if i + 1 < per_shelf and rng.random() < 0.25:  # some items bridge two load cells
            ids = (f"s{shelf}-{i}", f"s{shelf}-{i + 1}")
        w = round(rng.uniform(25, 600), 1)
        out.append(Sku(f"k{k}", f"Item {k}", w, round(0.01 * w, 2), (Placement(ids, rng.randint(3, 10)),)))
    return Planogram("bench", sensors, tuple(out))


def session(
    rng: random.Random,
    p: Planogram,
    name: str,
    max_takes: int = 3,
    put_back: float = 0.1,
    vision: bool = False,
) -> tuple[Evidence, dict[str, int]]:
    """A session with 0..max_takes units taken (sometimes one put back), noisy weights, split items."""
    deltas = {s.id: rng.gauss(0.0, s.noise_sd_g) for s in p.sensors}
    truth: dict[str, int] = {}
    for _ in range(rng.randint(0, max_takes)):
        sku = rng.choice(p.skus)
        if truth.get(sku.sku, 0) >= sku.placements[0].count:
            continue
        truth[sku.sku] = truth.get(sku.sku, 0) + 1
        _move(rng, deltas, sku, sku.placements[0].sensors, -1)
    if rng.random() < put_back:
        sku = rng.choice(p.skus)
        truth[sku.sku] = truth.get(sku.sku, 0) - 1
        _move(rng, deltas, sku, sku.placements[0].sensors, +1)
    truth = {k: v for k, v in truth.items() if v}
    seen = tuple(VisionCount(k, v, 0.9) for k, v in truth.items()) if vision else ()
    return Evidence(name, deltas_g=deltas, vision=seen), truth


def _move(rng: random.Random, deltas: dict[str, float], sku: Sku, ids: tuple[str, ...], sign: int) -> None:
    w = rng.gauss(sku.unit_weight_g, sku.unit_weight_sd_g)
    f = rng.random() if len(ids) == 2 else 1.0
    deltas[ids[0]] += sign * w * f
    if len(ids) == 2:
        deltas[ids[1]] += sign * w * (1 - f)
