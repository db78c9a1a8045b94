"""Property tests: noiseless decoding, stock bounds, invariance to sensor names."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openvend.recognition.model import Evidence, Placement, Planogram, Sensor, Sku, recognize

# Weights chosen so that no combination of up to 3 units collides within a few grams.
WEIGHTS = (31.0, 52.0, 71.0, 118.0, 197.0, 355.0)


def planogram(names: tuple[str, ...] = ("a", "b", "c")) -> Planogram:
    sensors = tuple(Sensor(n, i, 0.5) for i, n in enumerate(names))
    skus = tuple(
        Sku(f"k{i}", f"K{i}", w, 0.1, (Placement((names[i % len(names)],), 3),))
        for i, w in enumerate(WEIGHTS)
    )
    return Planogram("p", sensors, skus)


PLAN = planogram()
takes = st.dictionaries(st.integers(0, len(WEIGHTS) - 1), st.integers(1, 3), max_size=3)


def deltas(plan: Planogram, taken: dict[int, int]) -> dict[str, float]:
    out = {s.id: 0.0 for s in plan.sensors}
    for k, n in taken.items():
        sku = plan.skus[k]
        out[sku.placements[0].sensors[0]] -= n * sku.unit_weight_g
    return out


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(takes)
def test_noiseless_evidence_decodes_exactly(taken: dict[int, int]) -> None:
    if sum(taken.values()) > 6:
        return
    r = recognize(PLAN, Evidence("s", deltas_g=deltas(PLAN, taken)))
    assert dict(r.items) == {f"k{k}": n for k, n in taken.items()}


@settings(max_examples=40, deadline=None)
@given(st.dictionaries(st.sampled_from(["a", "b", "c"]), st.floats(-1200, 0), max_size=3))
def test_never_takes_more_than_the_shelf_holds(d: dict[str, float]) -> None:
    r = recognize(PLAN, Evidence("s", deltas_g=d))
    for items in (r.items, *(a for a, _ in r.alternatives)):
        for sku, qty in items:
            assert qty <= PLAN.sku(sku).stock


@settings(max_examples=25, deadline=None)
@given(takes, st.permutations(["x", "y", "z"]))
def test_relabelling_sensors_does_not_change_the_answer(taken: dict[int, int], names: list[str]) -> None:
    renamed = planogram(tuple(names))
    a = recognize(PLAN, Evidence("s", deltas_g={k: v + 0.3 for k, v in deltas(PLAN, taken).items()}))
    b = recognize(renamed, Evidence("s", deltas_g={k: v + 0.3 for k, v in deltas(renamed, taken).items()}))
    assert a.items == b.items and a.decision == b.decision
    assert abs(a.confidence - b.confidence) < 1e-9
