"""The joint list of `engine._combine` (NumPy, with its shortcuts) and the per-item sums of
`engine._by_items` equal, bit for bit, ranking every pair one by one in plain Python: all pairs
with p·q ≥ JOINT_FLOOR, a stable sort by p·q in generation order (row by row, each by column),
the first JOINT_CAP kept, net units summed per SKU in dicts."""

from __future__ import annotations

import random

import pytest

from openvend.recognition.compiled import Compiled, Prior
from openvend.recognition.engine import JOINT_CAP, JOINT_FLOOR, Part, _by_items, _combine

N_SKUS = 7
Reference = list[tuple[float, dict[int, int], int, float]]


def reference_combine(parts: list[Part]) -> Reference:
    joint: Reference = [(1.0, {}, 0, 0.0)]
    for probs in parts:
        pairs = [
            (p * q, i, j)
            for i, (p, _, _, _) in enumerate(joint)
            for j, (q, _, _, _) in enumerate(probs)
            if p * q >= JOINT_FLOOR
        ]
        pairs.sort(key=lambda c: -c[0])
        out: Reference = []
        for value, i, j in pairs[:JOINT_CAP]:
            _, counts, units, grams = joint[i]
            _, key, u, g = probs[j]
            merged = dict(counts)
            for k, n in key:
                merged[k] = merged.get(k, 0) + n
            out.append((value, merged, units + u, grams + g))
        joint = out
    return joint


def reference_by_items(
    sku_ids: tuple[str, ...], prior: Prior, joint: Reference, max_items: int
) -> tuple[dict[tuple[tuple[str, int], ...], tuple[float, float]], float]:
    lost = max(0.0, 1.0 - sum(j[0] for j in joint))
    by_items: dict[tuple[tuple[str, int], ...], tuple[float, float]] = {}
    for p, counts, units, grams in joint:
        unmatched = sum(-n for n in counts.values() if n < 0)
        p *= prior.unmatched_put_in**unmatched if unmatched else 1.0
        if units > max_items:
            lost += p
            continue
        key = tuple(sorted((sku_ids[k], n) for k, n in counts.items() if n))
        old = by_items.get(key, (0.0, grams))
        by_items[key] = (old[0] + p, old[1] if old[0] >= p else grams)
    return by_items, lost


def random_part(rng: random.Random) -> Part:
    """A component's entries, best first: mostly one dominant entry and a tail ~1e-6 below it (a
    sensor that did not move), sometimes a spread, with repeated values so that ties occur."""
    size = rng.choice([1, 2, 4, 4, 6, 30, 300])
    if rng.random() < 0.6:
        raw = [1.0] + [
            rng.choice([1e-6, 2e-6, 3e-7, 1e-9, 1e-13]) * rng.choice([1, 1, 0.5]) for _ in range(size - 1)
        ]
    else:
        raw = [rng.choice([1.0, 0.5, 0.25, 0.125, 1e-3, 1e-5]) for _ in range(size)]
    total = sum(raw) * (1 + rng.random() * 1e-3)
    probs = sorted((r / total for r in raw), reverse=True)
    part: Part = []
    for q in probs:
        moves = {rng.randrange(N_SKUS): rng.choice([-2, -1, 1, 1, 2, 3]) for _ in range(rng.randint(0, 2))}
        key = tuple(sorted(moves.items()))
        part.append((q, key, rng.randint(0, 3), rng.choice([0.0, 0, 52.4, -118.1, 355.0, 0.1])))
    return part


def dense(counts: dict[int, int]) -> list[int]:
    return [counts.get(k, 0) for k in range(N_SKUS)]


@pytest.mark.parametrize("seed", range(40))
def test_combine_ranks_like_all_pairs_one_by_one(seed: int) -> None:
    rng = random.Random(seed)
    parts = [random_part(rng) for _ in range(rng.randint(1, 12))]
    expected = reference_combine(parts)
    joint = _combine(parts, N_SKUS)
    assert joint.p.tolist() == [e[0] for e in expected]
    assert joint.counts.tolist() == [dense(e[1]) for e in expected]
    assert joint.units.tolist() == [e[2] for e in expected]
    assert joint.grams.tolist() == [e[3] for e in expected]

    comp = Compiled(None, (), tuple(f"sku{k}" for k in range(N_SKUS)), ())  # type: ignore[arg-type]
    for max_items in (2, 6, 40):
        got = _by_items(comp, Prior(), joint, max_items)
        want = reference_by_items(comp.sku_ids, Prior(), expected, max_items)
        assert got == want
        assert list(got[0]) == list(want[0])  # same first-seen order (ties in p keep it)


def test_some_cases_fill_the_cap_and_some_cut_at_the_floor() -> None:
    """The random cases above exercise both limits of the ranking."""
    full = floored = 0
    for seed in range(40):
        rng = random.Random(seed)
        parts = [random_part(rng) for _ in range(rng.randint(1, 12))]
        joint = reference_combine(parts)
        full += len(joint) == JOINT_CAP
        floored += 0 < len(joint) < JOINT_CAP
    assert full >= 5 and floored >= 5


def test_the_best_entry_shortcut_drops_what_falls_under_the_floor() -> None:
    """Only the best entry of the second component can pair with anything (0.6·1e-13 is under the
    floor): the joint hypothesis at 2.5e-12 falls under it (·0.3) and is dropped; then nothing is
    left at all."""
    first: Part = [(0.6, ((0, 1),), 1, -52.0), (0.4, ((1, 1),), 1, -53.0), (2.5e-12, ((2, -1),), 1, 31.0)]
    second: Part = [(0.3, ((3, 2),), 2, -100.0), (1e-13, (), 0, 0.0)]
    joint = _combine([first, second], N_SKUS)
    assert joint.p.tolist() == [0.6 * 0.3, 0.4 * 0.3]
    assert joint.counts.tolist() == [[1, 0, 0, 2, 0, 0, 0], [0, 1, 0, 2, 0, 0, 0]]
    assert joint.units.tolist() == [3, 3]
    assert joint.grams.tolist() == [-52.0 + -100.0, -53.0 + -100.0]
    assert joint.p.tolist() == [e[0] for e in reference_combine([first, second])]

    tiny: Part = [(1e-12, (), 0, 0.0)]
    assert len(_combine([first, second, tiny], N_SKUS).p) == 0
    assert len(_combine([first, second, tiny, first], N_SKUS).p) == 0
