"""Parts of the recognition benchmark: the session generator's calibration, the two baselines on
tiny hand-made cases, and the scoring."""

from __future__ import annotations

import itertools
import random
import statistics
from typing import Any

import pytest

from openvend.bench import recognition as bench
from openvend.recognition import baselines, generator


def test_cv_distribution_hits_the_calibration_targets() -> None:
    rng = random.Random(0)
    cvs = sorted(generator.draw_cv(rng) for _ in range(20_000))
    assert statistics.median(cvs) == pytest.approx(0.013, rel=0.05)
    assert cvs[int(0.9 * len(cvs))] == pytest.approx(0.046, rel=0.07)
    above = sum(cv > 0.05 for cv in cvs) / len(cvs)
    assert 0.07 <= above <= 0.11


def test_catalogue_is_realistic() -> None:
    skus = [c.sku for c in generator.CATALOGUE]
    assert len(skus) >= 40 and len(set(skus)) == len(skus)
    ranges = {"can": (200.0, 360.0), "bottle": (380.0, 650.0), "chips": (40.0, 155.0)}
    for item in generator.CATALOGUE:
        lo, hi = ranges.get(item.category, (10.0, 1000.0))
        assert lo <= item.unit_weight_g <= hi, item
    bars = sorted(
        c.unit_weight_g for c in generator.CATALOGUE if c.sku.startswith("BAR-") and c.unit_weight_g < 60
    )
    close = [b - a for a, b in itertools.pairwise(bars) if b - a <= 5.0]
    assert len(close) >= 5


def _plan(noise: float = 1.0) -> dict[str, Any]:
    def sku(name: str, grams: float, sd: float, sensor: str) -> dict[str, Any]:
        placement = [{"sensors": [sensor], "count": 10}]
        return {
            "sku": name,
            "name": name,
            "unit_weight_g": grams,
            "unit_weight_sd_g": sd,
            "placements": placement,
        }

    return {
        "cabinet": "t",
        "sensors": [{"id": s, "shelf": 1, "noise_sd_g": noise} for s in ("S1", "S2")],
        "skus": [sku("A", 50.0, 0.0, "S1"), sku("B", 355.0, 0.0, "S2")],
    }


def test_generator_is_deterministic_and_its_deltas_add_up() -> None:
    plan = _plan(noise=1e-9)
    spec = generator.SessionSpec(put_back_rate=0.0, misplace_rate=0.0)
    first = generator.generate_sessions(plan, 200, seed=4, spec=spec)
    assert first == generator.generate_sessions(plan, 200, seed=4, spec=spec)
    weights = {"A": 50.0, "B": 355.0}
    for evidence, truth in first:
        assert 1 <= sum(i["qty"] for i in truth["items"]) <= 3
        expected = -sum(weights[i["sku"]] * i["qty"] for i in truth["items"])
        assert sum(evidence["deltas_g"].values()) == pytest.approx(expected, abs=0.05)


def test_misplaced_returns_show_on_another_sensor_and_cost_nothing() -> None:
    spec = generator.SessionSpec(put_back_rate=0.0, misplace_rate=1.0)
    sessions = generator.generate_sessions(_plan(), 50, seed=1, spec=spec)
    assert all(truth["misplaced"] for _, truth in sessions)
    # The extra unit went back: the truth counts only the 1–3 units kept.
    assert all(1 <= sum(i["qty"] for i in truth["items"]) <= 3 for _, truth in sessions)


def test_streams_settle_to_the_deltas() -> None:
    noise = generator.StreamNoise(spike_rate=0.0, drift_g_per_s=0.0, creep_fraction=0.0)
    spec = generator.SessionSpec(streams=True, stream_noise=noise, put_back_rate=0.0, misplace_rate=0.0)
    evidence, truth = generator.generate_sessions(_plan(noise=0.5), 1, seed=2, spec=spec)[0]
    stream = evidence["streams"]["S1"]
    assert stream["hz"] == 10.0 and len(stream["samples_g"]) >= 45
    assert len({len(s["samples_g"]) for s in evidence["streams"].values()}) == 1
    deltas = baselines.settled_deltas(evidence)
    taken = {i["sku"]: i["qty"] for i in truth["items"]}
    assert deltas["S1"] == pytest.approx(-50.0 * taken.get("A", 0), abs=2.0)
    assert deltas["S2"] == pytest.approx(-355.0 * taken.get("B", 0), abs=2.0)


def test_divide_and_round_on_single_sku_sensors() -> None:
    result = baselines.divide_and_round(_plan(), {"session": "x", "deltas_g": {"S1": -100.0, "S2": -355.0}})
    assert result["items"] == [{"sku": "A", "qty": 2}, {"sku": "B", "qty": 1}]
    assert result["decision"] == "accept" and result["confidence"] == pytest.approx(1.0)
    noisy = baselines.divide_and_round(_plan(), {"session": "x", "deltas_g": {"S1": -112.0, "S2": 0.3}})
    assert noisy["items"] == [{"sku": "A", "qty": 2}] and noisy["decision"] == "review"


def test_divide_and_round_cannot_see_two_skus_on_one_sensor() -> None:
    plan = _plan()
    plan["skus"][1]["placements"][0]["sensors"] = ["S1"]
    result = baselines.divide_and_round(plan, {"session": "x", "deltas_g": {"S1": -405.0, "S2": 0.0}})
    assert result["items"] == [{"sku": "A", "qty": 8}]  # truth: one A and one B


def test_aim3s_picks_the_likeliest_sku_and_count_per_event() -> None:
    result = baselines.aim3s(_plan(), {"session": "x", "deltas_g": {"S1": -100.4, "S2": -354.6}})
    assert result["items"] == [{"sku": "A", "qty": 2}, {"sku": "B", "qty": 1}]
    assert result["decision"] == "accept"


def test_aim3s_nets_out_a_misplaced_return() -> None:
    result = baselines.aim3s(_plan(), {"session": "x", "deltas_g": {"S1": -50.2, "S2": 49.9}})
    assert result["items"] == []


def test_aim3s_uses_vision_to_break_a_weight_tie() -> None:
    plan = _plan()
    plan["skus"][1].update(unit_weight_g=50.4, placements=[{"sensors": ["S1"], "count": 10}])
    evidence: dict[str, Any] = {"session": "x", "deltas_g": {"S1": -50.2, "S2": 0.0}}
    assert baselines.aim3s(plan, evidence)["decision"] == "review"
    evidence["vision"] = [{"sku": "B", "qty": 1, "score": 0.95}]
    assert baselines.aim3s(plan, evidence)["items"] == [{"sku": "B", "qty": 1}]


def test_score_counts_exact_matches_units_money_and_calibration() -> None:
    truths = [{"items": [{"sku": "BAR-SNK50", "qty": 2}]}, {"items": [{"sku": "CAN-COK330", "qty": 1}]}]
    results = [
        {"decision": "accept", "confidence": 1.0, "items": [{"sku": "BAR-SNK50", "qty": 2}]},
        {"decision": "review", "confidence": 0.5, "items": [{"sku": "CAN-PEP330", "qty": 1}]},
    ]
    m = bench.score(results, truths, [0.001, 0.003])
    assert m["exact"] == 0.5
    assert m["precision"] == m["recall"] == pytest.approx(2 / 3)
    assert m["money_err_fen_mean"] == 0.0  # both cans cost 350 fen
    assert m["coverage"] == 0.5 and m["accepted_exact"] == 1.0 and m["accepted_predicted"] == 1.0
    assert m["brier"] == pytest.approx(0.125)
    assert m["ece"] == pytest.approx(0.25)
    assert m["risk_coverage"]["1"] == 0.5


def test_adversarial_planogram_pairs_look_alikes_on_shelf_one() -> None:
    plan = bench.adversarial()
    where = {k["sku"]: k["placements"][0]["sensors"][0] for k in plan["skus"]}
    assert len(plan["skus"]) == 30 and len(plan["sensors"]) == 16
    for sensor, (a, b) in zip(("S1A", "S1B", "S1C", "S1D"), bench.ADVERSARIAL_PAIRS, strict=True):
        assert where[a] == where[b] == sensor


def test_targets_are_undecided_on_too_few_sessions_and_judged_on_enough() -> None:
    def fig(n: int, exact: float) -> dict[str, Any]:
        m = {"sessions": n, "exact": exact, "review": 0.0, "coverage": 1.0, "latency_ms_p99": 1.0}
        return m | {"accepted_exact": exact, "accepted_predicted": exact}

    def figures(n: int) -> dict[str, dict[str, Any]]:
        tiers = ("opt-σ1", "adversarial", "latency")
        return {t: {"ours": fig(n, 0.999), "divide-round": fig(n, 0.9), "aim3s": fig(n, 0.95)} for t in tiers}

    few = bench.targets(figures(10))
    assert few["opt_s1_exact_ge_99.5_and_review_le_1"]["met"] is None
    assert few["latency_p99_le_5ms_8x4_30sku_6items"]["met"] is None
    enough = bench.targets(figures(1000))
    assert all(v["met"] is True for k, v in enough.items() if k != "evaluated")
