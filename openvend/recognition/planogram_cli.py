"""Bodies of `openvend planogram check` and `openvend planogram optimize` (no Django needed)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, TextIO

from openvend.recognition import planogram as design


def _load(path: str) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def run_check(planogram_path: str, *, out: TextIO | None = None) -> int:
    """Print the check report as JSON. Exit 0 whatever it finds: the report is the answer."""
    report = design.check(_load(planogram_path))
    print(json.dumps(report, indent=2, ensure_ascii=False), file=out or sys.stdout)
    return 0


def run_optimize(
    products_path: str,
    sensors_path: str,
    *,
    out_path: str | None = None,
    seed: int = 0,
    cabinet: str = "optimized",
    out: TextIO | None = None,
) -> int:
    """Print (or write to `out_path`) an optimised planogram; a one-line summary goes to stderr."""
    products = _load(products_path)
    sensors = _load(sensors_path)
    if isinstance(sensors, dict):  # accept a planogram-like {"sensors": [...]} as well
        sensors = sensors["sensors"]
    try:
        plan = design.optimize(products, sensors, seed=seed, cabinet=cabinet)
    except ValueError as exc:
        print(f"cannot optimise: {exc}", file=sys.stderr)
        return 2
    text = json.dumps(plan, indent=2, ensure_ascii=False)
    if out_path:
        Path(out_path).write_text(text + "\n", encoding="utf-8")
    else:
        print(text, file=out or sys.stdout)
    report = design.check(plan)
    print(
        f"predicted accuracy {report['overall_predicted_accuracy']:.4%}; "
        f"perfect separation: {'yes' if report['perfect_separation'] else 'no'}",
        file=sys.stderr,
    )
    return 0
