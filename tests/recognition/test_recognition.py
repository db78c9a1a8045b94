"""Exact outcomes, formats and calibration of weight/vision recognition."""

from __future__ import annotations

import json
import random
import subprocess
import sys

import pytest

from openvend.recognition.cli import run_recognize
from openvend.recognition.model import (
    Action,
    Evidence,
    Planogram,
    VisionCount,
    likelihood_sd,
    recognize,
)
from tests.recognition.synth import cabinet, session

PLAN = {
    "cabinet": "C1",
    "sensors": [{"id": f"s{i}", "shelf": i // 2, "noise_sd_g": 1.0} for i in range(6)],
    "skus": [
        {"sku": "choc", "name": "Chocolate bar", "unit_weight_g": 52.0, "unit_weight_sd_g": 0.8,
         "placements": [{"sensors": ["s0"], "count": 6}]},
        {"sku": "gum", "name": "Gum", "unit_weight_g": 31.0, "unit_weight_sd_g": 0.5,
         "placements": [{"sensors": ["s0"], "count": 6}]},
        {"sku": "chips", "name": "Chips", "unit_weight_g": 71.0, "unit_weight_sd_g": 1.5,
         "placements": [{"sensors": ["s1"], "count": 4}]},
        {"sku": "cola", "name": "Cola 330 ml", "unit_weight_g": 355.0, "unit_weight_sd_g": 3.0,
         "placements": [{"sensors": ["s2", "s3"], "count": 6}]},
        {"sku": "water", "name": "Water 500 ml", "unit_weight_g": 520.0, "unit_weight_sd_g": 4.0,
         "placements": [{"sensors": ["s4"], "count": 6}]},
        {"sku": "tea", "name": "Tea 500 ml", "unit_weight_g": 521.0, "unit_weight_sd_g": 4.0,
         "placements": [{"sensors": ["s4"], "count": 6}]},
    ],
}  # fmt: skip


@pytest.fixture(scope="module")
def plan() -> Planogram:
    return Planogram.from_dict(PLAN)


def decide(plan: Planogram, deltas: dict[str, float], vision: tuple[VisionCount, ...] = ()):
    return recognize(plan, Evidence("t", deltas_g=deltas, vision=vision))


def test_single_candy_bar(plan: Planogram) -> None:
    r = decide(plan, {"s0": -52.4})
    assert r.items == (("choc", 1),) and r.decision == "accept" and r.confidence > 0.99


def test_two_skus_on_one_sensor_separate_by_weight(plan: Planogram) -> None:
    assert decide(plan, {"s0": -83.3}).items == (("choc", 1), ("gum", 1))
    assert decide(plan, {"s0": -62.2}).items == (("gum", 2),)
    assert decide(plan, {"s0": -104.5}).items == (("choc", 2),)


def test_put_back(plan: Planogram) -> None:
    r = decide(plan, {"s1": 70.6})
    assert r.items == (("chips", -1),) and r.decision == "accept"


def test_put_back_onto_another_sensor(plan: Planogram) -> None:
    # A chocolate bar taken from s0 and left on the chips sensor: nothing bought.
    r = decide(plan, {"s0": -52.1, "s1": 52.3})
    assert r.items == ()


def test_item_split_across_two_sensors(plan: Planogram) -> None:
    for split in (0.1, 0.5, 0.85):
        r = decide(plan, {"s2": -355.0 * split, "s3": -355.0 * (1 - split) + 0.7})
        assert r.items == (("cola", 1),) and r.decision == "accept", split


def test_several_shelves_at_once(plan: Planogram) -> None:
    r = decide(plan, {"s0": -83.0, "s1": -142.3, "s2": -400.0, "s3": -310.5})
    assert r.items == (("chips", 2), ("choc", 1), ("cola", 2), ("gum", 1))


def test_review_when_two_hypotheses_are_within_noise(plan: Planogram) -> None:
    r = decide(plan, {"s4": -520.5})
    assert r.decision == "review"
    assert "two hypotheses within 1.0 g" in r.reason
    assert {r.items, r.alternatives[0][0]} == {(("water", 1),), (("tea", 1),)}


def test_vision_agreement_raises_and_disagreement_lowers_confidence(plan: Planogram) -> None:
    base = decide(plan, {"s4": -520.5})
    agree = decide(plan, {"s4": -520.5}, (VisionCount("water", 1, 0.95),))
    assert agree.items == (("water", 1),) and agree.confidence > base.confidence
    clear = decide(plan, {"s0": -52.2})
    against = decide(plan, {"s0": -52.2}, (VisionCount("gum", 1, 0.9),))
    assert against.confidence < clear.confidence
    assert "vision disagrees" in against.reason


def test_unexplained_weight_goes_to_review(plan: Planogram) -> None:
    r = decide(plan, {"s1": -900.0})
    assert r.decision == "review" and "not explained" in r.reason


def test_formats_round_trip_and_validation(plan: Planogram) -> None:
    assert Planogram.from_dict(plan.to_dict()) == plan
    ev = Evidence.from_dict(
        {"session": "a", "deltas_g": {"s0": -1}, "vision": [{"sku": "choc", "qty": 1, "score": 0.5}]}
    )
    assert Evidence.from_dict(ev.to_dict()) == ev
    bad = json.loads(json.dumps(PLAN))
    bad["skus"][0]["placements"][0]["sensors"] = ["nope"]
    with pytest.raises(ValueError, match="unknown sensor ids"):
        Planogram.from_dict(bad)
    bad = json.loads(json.dumps(PLAN))
    bad["skus"][0]["placements"][0]["count"] = -1
    with pytest.raises(ValueError, match="non-negative integer"):
        Planogram.from_dict(bad)
    bad = json.loads(json.dumps(PLAN))
    bad["skus"][0]["unit_weight_g"] = 0
    with pytest.raises(ValueError, match="positive"):
        Planogram.from_dict(bad)
    with pytest.raises(ValueError, match="unknown sensor ids"):
        decide(plan, {"zz": 1.0})
    out = decide(plan, {"s0": -52.0}).to_dict()
    assert set(out) == {"session", "decision", "confidence", "items", "alternatives", "reason"}


def test_likelihood_sd_exposes_the_model(plan: Planogram) -> None:
    mean, sd = likelihood_sd(plan, [Action("cola", ("s2", "s3"), 1), Action("choc", ("s0",), 2)])
    assert mean["s0"] == pytest.approx(-104.0) and mean["s2"] == pytest.approx(-177.5)
    assert sd["s1"] == pytest.approx(1.0)
    assert sd["s2"] > 100  # the unknown split dominates a bridged sensor's own reading


def test_cli_writes_result_lines(tmp_path, plan: Planogram) -> None:
    (tmp_path / "p.json").write_text(json.dumps(PLAN))
    lines = [{"session": "a", "deltas_g": {"s0": -52.0}}, {"session": "b", "deltas_g": {"s4": -520.5}}]
    (tmp_path / "e.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    out = tmp_path / "r.jsonl"
    assert run_recognize(str(tmp_path / "p.json"), str(tmp_path / "e.jsonl"), out=str(out)) == 0
    results = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["decision"] for r in results] == ["accept", "review"]
    assert results[0]["items"] == [{"sku": "choc", "qty": 1}]


def test_recognition_never_imports_django() -> None:
    code = (
        "import sys, openvend.recognition.model as m, openvend.recognition.cli, openvend.recognition.engine;"
        "from openvend.cli import main;"
        "assert not [k for k in sys.modules if k.split('.')[0] in ('django', 'rest_framework')], 'django'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_confidence_is_calibrated_on_sessions_from_the_model() -> None:
    rng = random.Random(7)
    plan = cabinet(rng, shelves=4, per_shelf=4, skus=16)
    accepted, right, conf = 0, 0, 0.0
    for i in range(250):
        ev, truth = session(rng, plan, str(i))
        r = recognize(plan, ev)
        if r.decision == "accept":
            accepted += 1
            right += dict(r.items) == truth
            conf += r.confidence
    assert accepted > 100
    assert abs(conf / accepted - right / accepted) < 0.02
