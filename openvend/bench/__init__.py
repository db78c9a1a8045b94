"""Benchmarks behind `openvend bench <name>`: each prints its figures beside an in-run baseline
and a ratio, and ends with one JSON line."""

from __future__ import annotations

import importlib

BENCHMARKS = {
    "tenancy": "openvend.bench.tenancy",
    "telemetry": "openvend.bench.telemetry",
    "recognition": "openvend.bench.recognition",
    "checkout": "openvend.bench.checkout",
}


def run_benchmark(name: str, *, list_only: bool = False) -> int:
    if list_only or not name:
        for key in sorted(BENCHMARKS):
            print(key)
        return 0 if list_only else 2
    if name not in BENCHMARKS:
        print(f"Unknown benchmark {name!r}. Known: {', '.join(sorted(BENCHMARKS))}")
        return 2
    return int(importlib.import_module(BENCHMARKS[name]).main() or 0)
