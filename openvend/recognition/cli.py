"""`openvend recognize`: planogram + evidence JSON lines in, result JSON lines out. No Django."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TextIO

from openvend.recognition.model import Evidence, Planogram, recognize


def run_recognize(planogram: str, evidence: str, *, threshold: float = 0.99, out: str | None = None) -> int:
    plan = Planogram.from_dict(json.loads(Path(planogram).read_text(encoding="utf-8")))
    sink: TextIO = open(out, "w", encoding="utf-8") if out else sys.stdout  # noqa: SIM115
    reviewed = total = 0
    try:
        with open(evidence, encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                try:
                    ev = Evidence.from_dict(json.loads(line))
                except (ValueError, KeyError, TypeError) as exc:
                    print(f"{evidence}:{number}: {exc}", file=sys.stderr)
                    return 2
                result = recognize(plan, ev, threshold=threshold)
                total += 1
                reviewed += result.decision == "review"
                sink.write(json.dumps(result.to_dict(), ensure_ascii=False) + "\n")
    finally:
        if out:
            sink.close()
    print(f"{total} sessions, {total - reviewed} accepted, {reviewed} to review", file=sys.stderr)
    return 0
