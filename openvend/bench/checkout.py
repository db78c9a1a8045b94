"""`openvend bench checkout`: whole shopping visits, paid with WeChat payscore, through the real broker,
gateway processes, PostgreSQL and the WeChat sandbox, against `pgbench` TPC-B on the same server.

One shopper stands at each simulated cabinet (Mosquitto, protocol v1). A visit: the shopper scans
(`session_start`), the gateway's dispatcher sends the open-door command, the cabinet opens, reports
the weight of 1–3 units taken and closes 0.2 s later; the gateway stores the events, settles the
session on one of its settler threads once the door-closed batch has committed (recognition, order,
stock, payment), opens the payscore service order and completes it at the sandbox (the immediate
task backend sends the charge in that thread), which deducts and answers DONE (the payment is paid);
its notification reaches the web process afterwards.

Phases: saturation (every cabinet visits back to back) gives completed sessions/s; latency (the
cabinets together at half that rate) gives door-close → paid and door-open latency; then pgbench
TPC-B runs alone on the same PostgreSQL server. Knobs: BENCH_CHECKOUT_CABINETS (default 16),
BENCH_CHECKOUT_SECONDS per phase (default 30), BENCH_CHECKOUT_RATE (sessions/s for the latency
phase; default half the saturation rate), BENCH_CHECKOUT_GATEWAYS (default 1),
BENCH_CHECKOUT_ROUTING (how several gateways split the cabinets: partitioned, the default, or shared),
BENCH_CHECKOUT_DISPATCH_S (the dispatcher's poll interval, default the gateway's own),
BENCH_CHECKOUT_SETTLERS (the gateway's settler threads, default the gateway's own; 0 settles through
the task backend, i.e. inline on the ingest thread), BENCH_CHECKOUT_BATCH_WAIT_S (how long the
gateway's ingest waits to fill a batch, default the gateway's own), BENCH_CHECKOUT_PROVIDER_RTT_MS
(a network round trip added to each of the gateway's provider calls, default 0: the sandbox is
local), BENCH_PGBENCH_SECONDS (default 10), BENCH_PGBENCH_CLIENTS (default 4). The report splits
each phase's CPU between the processes (`checkout_cpu`) and gives the physical floor, the CPU of the
RSA signatures the payment protocol needs per visit, and the ceiling it puts on visits/s
(`checkout_floor`). Last line: one JSON object.
"""

from __future__ import annotations

import gc
import glob
import json
import math
import multiprocessing
import os
import platform
import re
import secrets
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from openvend.bench.checkout_floor import floor_lines, signature_floor
from openvend.bench.checkout_world import (
    SANDBOX_TIME_SCALE,
    build_world,
    gateway_child,
    recreate_database,
    sign_up_shoppers,
    web_child,
)

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/openvend_bench_checkout"
CABINETS = int(os.environ.get("BENCH_CHECKOUT_CABINETS", "16"))
SECONDS = float(os.environ.get("BENCH_CHECKOUT_SECONDS", "30"))
RATE = float(os.environ.get("BENCH_CHECKOUT_RATE", "0"))
GATEWAYS = int(os.environ.get("BENCH_CHECKOUT_GATEWAYS", "1"))
# "partitioned": each gateway owns a share of the cabinets; "shared": a shared subscription.
ROUTING = os.environ.get("BENCH_CHECKOUT_ROUTING", "partitioned")
DISPATCH_S = os.environ.get("BENCH_CHECKOUT_DISPATCH_S", "")
SETTLERS = os.environ.get("BENCH_CHECKOUT_SETTLERS", "")
BATCH_WAIT_S = os.environ.get("BENCH_CHECKOUT_BATCH_WAIT_S", "")
PROVIDER_RTT_MS = float(os.environ.get("BENCH_CHECKOUT_PROVIDER_RTT_MS", "0"))
PGBENCH_SECONDS = int(os.environ.get("BENCH_PGBENCH_SECONDS", "10"))
PGBENCH_CLIENTS = int(os.environ.get("BENCH_PGBENCH_CLIENTS", "4"))
PGBENCH_SCALE = 10  # ten branches: four clients do not queue on one branch row
WARMUP_S = 3.0
TARGET_SESSIONS_PER_S = 1000
TARGET_RATIO = 0.5
TARGET_CLOSE_TO_PAID_P99_MS = 150
TARGET_DOOR_OPEN_P99_MS = 50


def _binary(name: str) -> str | None:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin")
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pgbench_tps(database_url: str, binary: str) -> float:
    """TPC-B (pgbench's default script) on a scratch database of the same server, dropped afterwards."""
    from urllib.parse import urlparse

    import psycopg

    parsed = urlparse(database_url)
    name = f"{parsed.path.lstrip('/')}_pgbench"
    scratch = parsed._replace(path=f"/{name}").geturl()
    recreate_database(scratch)
    try:
        subprocess.run(
            [binary, "-i", "-q", "-s", str(PGBENCH_SCALE), scratch], check=True, capture_output=True
        )
        run = subprocess.run(
            [binary, "-c", str(PGBENCH_CLIENTS), "-j", "2", "-T", str(PGBENCH_SECONDS), scratch],
            check=True,
            capture_output=True,
            text=True,
        )
    finally:
        with psycopg.connect(parsed._replace(path="/postgres").geturl(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    found = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", run.stdout)
    if found is None:
        raise RuntimeError(f"pgbench printed no tps: {run.stdout[-500:]}")
    return float(found.group(1))


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _outcomes(visits: list[dict[str, Any]]) -> dict[str, Any]:
    """What became of the visits, from the database: states, exact totals, and the two latencies."""
    from openvend.orders.models import Order
    from openvend.shopping.models import ShoppingSession

    ids = [v["session_id"] for v in visits]
    states = dict(ShoppingSession.objects.filter(pk__in=ids).values_list("pk", "state"))
    orders = {
        row["session_id"]: row
        for row in Order.objects.filter(session_id__in=ids).values(
            "session_id", "state", "total_fen", "paid_fen", "payment__paid_at"
        )
    }
    by_state: dict[str, int] = {}
    exact = wrong = 0
    close_to_paid, door_open, scans, after_scans = [], [], [], []
    for visit in visits:
        state = states.get(visit["session_id"], "missing")
        by_state[state] = by_state.get(state, 0) + 1
        order = orders.get(visit["session_id"])
        if visit["command_at"] is not None:
            door_open.append(visit["command_at"] - visit["scanned_at"])
            # The scan itself, then the commit → dispatcher → broker → cabinet leg.
            scans.append(visit["scan_done_at"] - visit["scanned_at"])
            after_scans.append(visit["command_at"] - visit["scan_done_at"])
        if order is None or order["state"] != "paid":
            continue
        if order["total_fen"] == order["paid_fen"] == visit["expected_fen"]:
            exact += 1
        else:
            wrong += 1
        if visit["closed_at"] is not None and order["payment__paid_at"] is not None:
            close_to_paid.append(order["payment__paid_at"].timestamp() - visit["closed_at"])
    return {
        "visits": len(visits),
        "states": by_state,
        "paid_exact": exact,
        "paid_wrong_total": wrong,
        "close_to_paid_ms": {
            "p50": _pct(close_to_paid, 0.5) * 1000,
            "p99": _pct(close_to_paid, 0.99) * 1000,
            "n": len(close_to_paid),
        },
        "door_open_ms": {
            "p50": _pct(door_open, 0.5) * 1000,
            "p99": _pct(door_open, 0.99) * 1000,
            "n": len(door_open),
            "scan_p50": _pct(scans, 0.5) * 1000,
            "scan_p99": _pct(scans, 0.99) * 1000,
            "after_scan_p50": _pct(after_scans, 0.5) * 1000,
            "after_scan_p99": _pct(after_scans, 0.99) * 1000,
        },
    }


def _profile(reports: list[dict[str, Any]], sessions: int) -> dict[str, Any]:
    """Per completed session, summed over every process: statements and provider calls, with time."""
    total: dict[str, dict[str, float]] = {}
    for report in reports:
        for kind, figures in report.get("tally", {}).items():
            key = f"{report['role']}: {kind}"
            entry = total.setdefault(key, {"count": 0, "seconds": 0.0})
            entry["count"] += figures["count"]
            entry["seconds"] += figures["seconds"]
    per = max(1, sessions)
    rows = sorted(total.items(), key=lambda item: -item[1]["seconds"])
    return {
        key: {
            "per_session": round(v["count"] / per, 2),
            "ms_per_session": round(1000 * v["seconds"] / per, 2),
        }
        for key, v in rows
    }


def _collect(out: Any, roles: int, timeout: float) -> list[dict[str, Any]]:
    import queue

    reports: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(reports) < roles and time.monotonic() < deadline:
        try:
            reports.append(out.get(timeout=max(0.1, deadline - time.monotonic())))
        except queue.Empty:
            break
    return reports


def run(database_url: str) -> dict[str, Any]:
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    from openvend.bench.checkout_floor import SignatureCounter
    from openvend.bench.checkout_load import load_child
    from openvend.demo.payments import configure_demo_payments
    from openvend.gateway.broker.process import MosquittoProcess
    from openvend.sandbox.alipay import AlipaySandbox
    from openvend.sandbox.wechat import WeChatSandbox

    settings.MQTT_GATEWAY_PASSWORD = secrets.token_urlsafe(16)
    workdir = Path(tempfile.mkdtemp(prefix="openvend-bench-checkout-"))
    merchant, credentials = build_world(workdir, CABINETS)
    broker = MosquittoProcess(_binary("mosquitto") or "mosquitto", workdir, timeout=10).start()
    url = f"mqtt://127.0.0.1:{broker.port}"
    web_port = _free_port()
    ctx = multiprocessing.get_context("fork")
    stop, out, inbox = ctx.Event(), ctx.Queue(), ctx.Queue()
    gateway_config: dict[str, Any] = {
        "url": url,
        "username": settings.MQTT_GATEWAY_USERNAME,
        "password": settings.MQTT_GATEWAY_PASSWORD,
    }
    if ROUTING == "shared":
        gateway_config["shared_group"] = "bench"
    if DISPATCH_S:
        gateway_config["dispatch_every_s"] = float(DISPATCH_S)
    if SETTLERS:
        gateway_config["settle_workers"] = int(SETTLERS)
    if BATCH_WAIT_S:
        gateway_config["batch_wait_s"] = float(BATCH_WAIT_S)
    plan = {"seconds": SECONDS, "rate": RATE, "warmup_s": WARMUP_S}
    connection.close()
    # The children are forked from this process after it built the world (migrations, seed): frozen,
    # that heap is never walked by their garbage collector, as in processes started afresh (unfrozen,
    # each full collection in the gateway took about 150 ms, stopping every thread).
    gc.collect()
    gc.freeze()
    children = [ctx.Process(target=web_child, args=(web_port, stop, out))]
    children += [
        ctx.Process(
            target=gateway_child,
            args=(_partitioned(gateway_config, index), stop, out, PROVIDER_RTT_MS / 1000),
        )
        for index in range(GATEWAYS)
    ]
    loader = ctx.Process(target=load_child, args=(url, credentials, plan, inbox, out))
    for child in [*children, loader]:
        child.start()
    wechat, alipay = (
        WeChatSandbox(time_scale=SANDBOX_TIME_SCALE),
        AlipaySandbox(time_scale=SANDBOX_TIME_SCALE),
    )
    wechat.start()
    alipay.start()
    try:
        configure_demo_payments(wechat, alipay, f"http://127.0.0.1:{web_port}")
        roles = {os.getpid(): "main (payment sandboxes)", children[0].pid: "web (notifications)"}
        roles.update({child.pid: "gateway" for child in children[1:]})
        if broker.process is not None:
            roles[broker.process.pid] = "mosquitto"
        consumers = sign_up_shoppers(merchant, wechat, CABINETS)
        # From here on every payment signature belongs to a visit (sign-up made the authorisations).
        signatures = SignatureCounter().install()
        inbox.put({"consumers": consumers, "roles": roles})
        reports = _collect(out, 1, 2 * SECONDS + 900)
        stop.set()
        reports += _collect(out, GATEWAYS + 1, 60)
        for child in [*children, loader]:
            child.join(timeout=30)
            if child.is_alive():
                child.kill()
    finally:
        stop.set()
        wechat.stop()
        alipay.stop()
        broker.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    load = next((r for r in reports if r["role"] == "load"), None)
    if load is None:
        raise RuntimeError("the load process reported nothing")
    signatures.uninstall()
    from openvend.payments.models import Payment

    paid = Payment.objects.filter(paid_at__isnull=False).count()
    return {"load": load, "reports": reports, "signatures": signatures, "paid": paid}


def _partitioned(config: dict[str, Any], index: int) -> dict[str, Any]:
    if ROUTING == "shared" or GATEWAYS == 1:
        return config
    return {**config, "partition": (index, GATEWAYS)}


def _verdict(met: bool) -> str:
    return "MET" if met else "NOT MET"


def main() -> int:
    os.environ.setdefault("DATABASE_URL", DEFAULT_DB)
    database_url = os.environ["DATABASE_URL"]
    tools = {name: _binary(name) for name in ("mosquitto", "pgbench")}
    missing = [name for name, path in tools.items() if path is None]
    if missing or not database_url.startswith("postgres"):
        print(f"this benchmark needs PostgreSQL at DATABASE_URL and {', '.join(tools)} ({missing} missing)")
        return 2
    load_before = os.getloadavg()
    recreate_database(database_url)
    outcome = run(database_url)
    load_after = os.getloadavg()
    tps = pgbench_tps(database_url, str(tools["pgbench"]))
    load = outcome["load"]
    saturation, latency = load["saturation"], load["latency"]
    rate = saturation["completed_per_s"]
    sat = _outcomes(saturation["visits"])
    lat = _outcomes(latency["visits"])
    achieved = len(latency["visits"]) / max(1e-9, latency["t1"] - latency["t0"])
    completed = sat["states"].get("completed", 0) + lat["states"].get("completed", 0)
    profile = _profile(outcome["reports"], completed)
    ratio = rate / tps if tps else float("nan")
    floor = signature_floor(outcome["signatures"], outcome["paid"], tps)
    targets = {
        "sessions_per_s_ge_1000": rate >= TARGET_SESSIONS_PER_S,
        "ratio_ge_0.5_pgbench": ratio >= TARGET_RATIO,
        "close_to_paid_p99_le_150ms_at_half_load": lat["close_to_paid_ms"]["p99"]
        <= TARGET_CLOSE_TO_PAID_P99_MS,
        "door_open_p99_le_50ms": lat["door_open_ms"]["p99"] <= TARGET_DOOR_OPEN_P99_MS,
    }
    lines = [
        f"checkout benchmark: {CABINETS} cabinets, {GATEWAYS} gateway processes ({ROUTING}), PostgreSQL, "
        f"Mosquitto, WeChat payscore sandbox; {SECONDS:g} s per phase; load average "
        f"{load_before[0]:.2f} before, {load_after[0]:.2f} after; gateway {_settings_note()}",
        f"saturation: {rate:.1f} completed sessions/s ({len(saturation['visits'])} visits, states "
        f"{sat['states']}, {sat['paid_exact']} paid exactly, {sat['paid_wrong_total']} wrong total, "
        f"{len(saturation['errors'])} refused scans)",
        f"  door-open p50/p99 {sat['door_open_ms']['p50']:.0f}/{sat['door_open_ms']['p99']:.0f} ms; "
        f"door-close -> paid p50/p99 {sat['close_to_paid_ms']['p50']:.0f}/"
        f"{sat['close_to_paid_ms']['p99']:.0f} ms",
        f"latency phase at {latency['target_per_s']:.1f} sessions/s (achieved {achieved:.1f}): "
        f"{len(latency['visits'])} visits, states {lat['states']}, {lat['paid_exact']} paid exactly",
        f"  door-close -> paid p50 {lat['close_to_paid_ms']['p50']:.0f} ms, "
        f"p99 {lat['close_to_paid_ms']['p99']:.0f} ms (n={lat['close_to_paid_ms']['n']})",
        f"  door-open (scan -> command at the cabinet) p50 {lat['door_open_ms']['p50']:.0f} ms, "
        f"p99 {lat['door_open_ms']['p99']:.0f} ms (n={lat['door_open_ms']['n']}); the scan "
        f"{lat['door_open_ms']['scan_p50']:.0f}/{lat['door_open_ms']['scan_p99']:.0f} ms, "
        f"its commit to the cabinet {lat['door_open_ms']['after_scan_p50']:.0f}/"
        f"{lat['door_open_ms']['after_scan_p99']:.0f} ms (p50/p99)",
        *[
            f"  refused scan x{n}: {message}"
            for message, n in Counter(saturation["errors"] + latency["errors"]).most_common(3)
        ],
        f"pgbench TPC-B (scale {PGBENCH_SCALE}, {PGBENCH_CLIENTS} clients, {PGBENCH_SECONDS} s): "
        f"{tps:.0f} tps",
        f"ratio completed sessions/s / pgbench tps: {ratio:.4f}",
        *floor_lines(floor, rate, target_per_s=TARGET_SESSIONS_PER_S, target_ratio=TARGET_RATIO, tps=tps),
        "profile per completed session (count, ms), top 12 and the garbage collections:",
        *[
            f"  {key:<60} {v['per_session']:>7.2f} {v['ms_per_session']:>9.2f}"
            for n, (key, v) in enumerate(profile.items())
            if n < 12 or " gc " in key
        ],
        *_cpu_lines("saturation", saturation["cpu"]),
        *_cpu_lines("latency phase", latency["cpu"]),
        f"gateway: {_gateway_stats(outcome['reports'])}",
        *[f"target {key}: {_verdict(met)}" for key, met in targets.items()],
    ]
    print("\n".join(lines))
    summary = {
        "benchmark": "checkout",
        "cabinets": CABINETS,
        "gateways": GATEWAYS,
        "routing": ROUTING,
        "seconds_per_phase": SECONDS,
        "dispatch_every_s": float(DISPATCH_S) if DISPATCH_S else None,
        "settle_workers": int(SETTLERS) if SETTLERS else None,
        "batch_wait_s": float(BATCH_WAIT_S) if BATCH_WAIT_S else None,
        "provider_rtt_ms": PROVIDER_RTT_MS,
        "completed_per_s": round(rate, 2),
        "pgbench_tps": round(tps, 1),
        "ratio": round(ratio, 5),
        "floor": floor,
        "latency_phase_rate_per_s": round(latency["target_per_s"], 2),
        "latency_phase_achieved_per_s": round(achieved, 2),
        "close_to_paid_p50_ms": round(lat["close_to_paid_ms"]["p50"], 1),
        "close_to_paid_p99_ms": round(lat["close_to_paid_ms"]["p99"], 1),
        "door_open_p50_ms": round(lat["door_open_ms"]["p50"], 1),
        "door_open_p99_ms": round(lat["door_open_ms"]["p99"], 1),
        "saturation": {k: v for k, v in sat.items()},
        "latency": {k: v for k, v in lat.items()},
        "refused_scans": len(saturation["errors"]) + len(latency["errors"]),
        "profile": {k: v for n, (k, v) in enumerate(profile.items()) if n < 20 or " gc " in k},
        "cpu": {"saturation": saturation["cpu"], "latency": latency["cpu"]},
        "gateway_stats": _gateway_stats(outcome["reports"]),
        "targets": {k: _verdict(v) for k, v in targets.items()},
        "load_average": [round(load_before[0], 2), round(load_after[0], 2)],
        "machine": f"{platform.machine()} {os.cpu_count()} cpu, Python {platform.python_version()}",
    }
    print(json.dumps(_clean(summary), allow_nan=False))
    return 0


def _settings_note() -> str:
    chosen = {
        "settler threads": SETTLERS or "default",
        "batch wait s": BATCH_WAIT_S or "default",
        "dispatcher poll s": DISPATCH_S or "default",
        "provider round trip ms": f"{PROVIDER_RTT_MS:g}",
    }
    return ", ".join(f"{name} {value}" for name, value in chosen.items())


def _cpu_lines(phase: str, cpu: dict[str, Any]) -> list[str]:
    roles = cpu["roles"]
    return [
        f"CPU, {phase} ({cpu['wall_s']:g} s, machine {cpu['machine_busy_pct']:g}% busy; "
        "share of the machine, ms per completed session):",
        *[
            f"  {role:<34} {v['pct_of_machine']:>5.1f}% {v['ms_per_session']:>9.2f}"
            for role, v in roles.items()
        ],
    ]


def _gateway_stats(reports: list[dict[str, Any]]) -> dict[str, int]:
    total: Counter[str] = Counter()
    for report in reports:
        if report["role"] == "gateway":
            total.update(report.get("stats", {}))
    keep = ("received", "stored", "settles_queued", "settled", "settle_errors", "errors", "retries")
    return {key: int(total[key]) for key in keep if key in total}


def _clean(obj: Any) -> Any:
    if isinstance(obj, float):
        return None if math.isnan(obj) else obj  # JSON has no NaN: a figure with no samples is null
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    return obj
