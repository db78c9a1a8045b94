"""The search must stay exact when it gets faster: same MAP items and decisions as the reference
outputs in data/speed_regression.json, confidence equal up to float noise (and never higher).

The fixture was recorded once from the reference implementation (`python -m
tests.recognition.test_speed_regression` rewrites it: only do that for an intended change of the
model, never to make a speed-up pass)."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from openvend.recognition import generator
from openvend.recognition.model import Evidence, Planogram, recognize
from tests.recognition.synth import cabinet, session

FIXTURE = Path(__file__).parent / "data" / "speed_regression.json"
TOL = 1e-6


def cases() -> list[tuple[Planogram, Evidence]]:
    """Fixed-seed sessions of various sizes: 8 shelves × 4 sensors and 30 SKUs (a quarter bridging),
    0–3 and 0–6 units, with vision, put-backs and misplaced returns; plus a smaller cabinet."""
    plan = cabinet(random.Random(1))
    out: list[tuple[Planogram, Evidence]] = []
    rng = random.Random(11)
    for i in range(50):
        out.append((plan, session(rng, plan, f"a{i}", max_takes=3)[0]))
    for i in range(50):
        out.append((plan, session(rng, plan, f"b{i}", max_takes=6)[0]))
    for i in range(20):
        out.append((plan, session(rng, plan, f"v{i}", max_takes=4, vision=True)[0]))
    spec = generator.SessionSpec(max_items=6, put_back_rate=0.15, misplace_rate=0.15)
    for ev, _ in generator.generate_sessions(plan.to_dict(), 50, seed=12, spec=spec):
        out.append((plan, Evidence.from_dict(ev)))
    small = cabinet(random.Random(13), shelves=4, per_shelf=4, skus=16)
    for ev, _ in generator.generate_sessions(small.to_dict(), 30, seed=14, spec=spec):
        out.append((small, Evidence.from_dict(ev)))
    return out


def outputs() -> list[dict[str, Any]]:
    rows = []
    for plan, ev in cases():
        r = recognize(plan, ev)
        rows.append(
            {
                "session": ev.session,
                "items": [[s, q] for s, q in r.items],
                "decision": r.decision,
                "confidence": r.confidence,
            }
        )
    return rows


def test_outputs_match_the_reference() -> None:
    expected = json.loads(FIXTURE.read_text())
    got = outputs()
    assert len(got) == len(expected) == 200
    for g, e in zip(got, expected, strict=True):
        assert g["session"] == e["session"]
        assert g["items"] == e["items"], g["session"]
        assert g["decision"] == e["decision"], g["session"]
        assert abs(g["confidence"] - e["confidence"]) <= TOL, (g["session"], g["confidence"], e["confidence"])
        assert g["confidence"] <= e["confidence"] + TOL, g["session"]


if __name__ == "__main__":
    FIXTURE.write_text(json.dumps(outputs(), indent=0) + "\n")
