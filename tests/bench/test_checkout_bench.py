"""`openvend bench checkout` at a tiny size: it runs end to end on PostgreSQL with Mosquitto and the
WeChat sandbox, every visit it paid was charged exactly, its floor counts the protocol's signatures,
and its last line is one JSON object."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from django.db import connection

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.mqtt,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="The benchmark measures PostgreSQL."),
    pytest.mark.skipif(shutil.which("pgbench") is None, reason="pgbench is not installed here."),
]


def _scratch_url() -> str:
    db = connection.settings_dict
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host, port = db.get("HOST") or "127.0.0.1", db.get("PORT") or 5432
    # Named after this run's test database, so parallel runs on one server do not collide.
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}_checkout_bench"


def _drop(url: str) -> None:
    from urllib.parse import urlparse

    import psycopg

    parsed = urlparse(url)
    with psycopg.connect(parsed._replace(path="/postgres").geturl(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parsed.path.lstrip("/")}" WITH (FORCE)')


def test_a_tiny_checkout_bench_ends_with_its_figures_as_json() -> None:
    env = {
        **os.environ,
        "DATABASE_URL": _scratch_url(),
        "BENCH_CHECKOUT_CABINETS": "2",
        "BENCH_CHECKOUT_SECONDS": "4",
        "BENCH_CHECKOUT_DISPATCH_S": "0.05",
        "BENCH_PGBENCH_SECONDS": "1",
        "BENCH_PGBENCH_CLIENTS": "2",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    try:
        run = subprocess.run(
            [sys.executable, "-m", "openvend", "bench", "checkout"],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        _drop(env["DATABASE_URL"])
    assert run.returncode == 0, run.stderr[-3000:]
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert summary["benchmark"] == "checkout"
    assert {
        "completed_per_s",
        "pgbench_tps",
        "ratio",
        "close_to_paid_p50_ms",
        "close_to_paid_p99_ms",
        "door_open_p50_ms",
        "door_open_p99_ms",
        "profile",
        "targets",
        "floor",
    } <= set(summary)
    # Each paid visit: two signed requests (open and complete the payscore order), their two signed
    # answers and one signed notification.
    floor = summary["floor"]
    assert floor["signatures_per_visit"] == 5.0
    assert floor["sign_us"] > floor["verify_us"] > 0
    per_visit_ms = 5 * (floor["sign_us"] + floor["verify_us"]) / 1000
    assert abs(floor["cpu_ms_per_visit"] - per_visit_ms) < 0.01
    assert abs(floor["ceiling_per_s"] - floor["cores"] * 1000 / per_visit_ms) < 1
    assert set(summary["targets"]) == {
        "sessions_per_s_ge_1000",
        "ratio_ge_0.5_pgbench",
        "close_to_paid_p99_le_150ms_at_half_load",
        "door_open_p99_le_50ms",
    }
    assert set(summary["targets"].values()) <= {"MET", "NOT MET"}
    assert summary["completed_per_s"] > 0 and summary["pgbench_tps"] > 0
    for phase in ("saturation", "latency"):
        figures = summary[phase]
        # Door-open split into the scan and what follows its commit; each part within the whole.
        door_open = figures["door_open_ms"]
        assert (
            0 < door_open["scan_p50"] <= door_open["p99"]
            and 0 < door_open["after_scan_p50"] <= door_open["p99"]
        )
        assert figures["paid_wrong_total"] == 0
        assert figures["paid_exact"] == figures["states"].get("completed", 0)
    assert summary["saturation"]["paid_exact"] > 0
    # Every door closing went to the gateway's settlers, and each was settled without an error.
    stats = summary["gateway_stats"]
    assert stats["settled"] == stats["settles_queued"] > 0 and stats.get("settle_errors", 0) == 0
    for phase in ("saturation", "latency"):
        roles = summary["cpu"][phase]["roles"]
        assert {"gateway", "web (notifications)", "postgres backends"} <= set(roles)
        assert all(figures["cpu_s"] >= 0 for figures in roles.values())
