"""Event extraction from raw load-cell streams."""

from __future__ import annotations

import random

import pytest

from openvend.recognition.extraction import extract_stream
from openvend.recognition.model import Evidence, Planogram, Stream, recognize

HZ = 50.0


def stream(levels: list[tuple[float, float]], noise: float = 0.5, seed: int = 1) -> list[float]:
    """Piecewise-constant load: [(seconds, grams), …] plus Gaussian noise."""
    rng = random.Random(seed)
    out: list[float] = []
    for seconds, grams in levels:
        out += [grams + rng.gauss(0, noise) for _ in range(int(seconds * HZ))]
    return out


def test_step_with_spikes() -> None:
    x = stream([(2, 1000.0), (1, 700.0), (2, 948.0)])
    x[20] += 400.0  # a knock on the cabinet
    x[200] -= 300.0
    delta, sd = extract_stream(Stream(HZ, tuple(x)))
    assert delta == pytest.approx(-52.0, abs=1.0)
    assert sd < 1.0


def test_hand_resting_on_the_shelf_leaves_no_trace() -> None:
    x = stream([(2, 500.0), (1.5, 1400.0), (2, 429.0)])  # hand pressed, lifted, a bag of chips gone
    delta, _ = extract_stream(Stream(HZ, tuple(x)))
    assert delta == pytest.approx(-71.0, abs=1.0)


def test_drift_is_removed() -> None:
    rng = random.Random(3)
    base = [800.0 + 0.5 * i / HZ + rng.gauss(0, 0.3) for i in range(int(6 * HZ))]  # 0.5 g/s thermal drift
    x = [
        v - (52.0 if i > 3.5 * HZ else 0.0) + (200.0 if 2.5 * HZ < i < 3.5 * HZ else 0)
        for i, v in enumerate(base)
    ]
    delta, _ = extract_stream(Stream(HZ, tuple(x)))
    assert delta == pytest.approx(-52.0, abs=1.5)


def test_no_stable_ending_is_uncertain() -> None:
    x = stream([(2, 500.0)]) + [500.0 + 30.0 * ((i // 3) % 2) for i in range(int(HZ))]
    _, sd = extract_stream(Stream(HZ, tuple(x)))
    assert sd > 5.0


def test_recognize_from_streams() -> None:
    plan = Planogram.from_dict(
        {
            "cabinet": "c",
            "sensors": [
                {"id": "a", "shelf": 0, "noise_sd_g": 1.0},
                {"id": "b", "shelf": 1, "noise_sd_g": 1.0},
            ],
            "skus": [
                {"sku": "choc", "name": "Choc", "unit_weight_g": 52.0, "unit_weight_sd_g": 0.5,
                 "placements": [{"sensors": ["a"], "count": 5}]},
                {"sku": "chips", "name": "Chips", "unit_weight_g": 71.0, "unit_weight_sd_g": 1.0,
                 "placements": [{"sensors": ["b"], "count": 5}]},
            ],
        }
    )  # fmt: skip
    streams = {
        "a": Stream(HZ, tuple(stream([(2, 600.0), (1, 900.0), (2, 548.0)]))),
        "b": Stream(HZ, tuple(stream([(5, 300.0)], seed=2))),
    }
    r = recognize(plan, Evidence("s", streams=streams))
    assert r.items == (("choc", 1),) and r.decision == "accept"
