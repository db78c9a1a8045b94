"""Where the checkout benchmark's CPU goes, per phase: each of our processes (gateway, web, the load
with its cabinets, the broker, the main process with the payment sandboxes), the PostgreSQL backends
serving the benchmark's database, PostgreSQL's own background processes, and everything else the
machine ran meanwhile (on a shared machine: other jobs). Read from /proc through psutil.

A snapshot maps each process to its CPU seconds so far (user + system, all threads); the split of a
phase is the difference of two snapshots. A process that ended within the phase is missed (its
last seconds are lost), which only short-lived PostgreSQL backends do here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PG_BACKGROUND = ("checkpointer", "background writer", "walwriter", "autovacuum", "wal writer")
LOAD_ROLE = "load: cabinets (MQTT clients)"
SHOPPERS_ROLE = "load: shoppers (scans, polls)"


@dataclass
class CpuSnapshot:
    at: float
    machine_busy_s: float
    by_pid: dict[int, tuple[str, float]] = field(default_factory=dict)


def _role_of_postgres(title: str, database: str) -> str | None:
    if f" {database} " in f" {title} ":
        return "postgres backends"
    if any(kind in title for kind in PG_BACKGROUND):
        return "postgres background"
    return None  # another database's backend: not ours


def snapshot(roles: dict[int, str], database: str) -> CpuSnapshot:
    """CPU seconds of the processes in `roles` (pid → role), of PostgreSQL's processes for `database`,
    and of the whole machine (busy = all but idle and iowait)."""
    import time

    import psutil

    times = psutil.cpu_times()
    busy = sum(times) - times.idle - getattr(times, "iowait", 0.0)
    snap = CpuSnapshot(at=time.monotonic(), machine_busy_s=busy)
    for pid, role in roles.items():
        try:
            cpu = psutil.Process(pid).cpu_times()
        except psutil.Error:
            continue
        snap.by_pid[pid] = (role, cpu.user + cpu.system)
    for proc in psutil.process_iter(["pid", "name", "cmdline", "cpu_times"]):
        info = proc.info
        if info["name"] != "postgres" and not (info["cmdline"] or [""])[0].startswith("postgres"):
            continue
        pg_role = _role_of_postgres(" ".join(info["cmdline"] or []), database)
        if pg_role is None or info["cpu_times"] is None:
            continue
        snap.by_pid[info["pid"]] = (pg_role, info["cpu_times"].user + info["cpu_times"].system)
    return snap


def split(before: CpuSnapshot, after: CpuSnapshot, sessions: int, shoppers_s: float = 0.0) -> dict[str, Any]:
    """CPU per role between two snapshots: seconds, share of the machine's capacity over the
    interval, and milliseconds per completed session. `shoppers_s`: the part of the load process
    its shoppers' threads spent (the scans), told apart from its cabinets."""
    import os

    wall = max(1e-9, after.at - before.at)
    capacity = wall * (os.cpu_count() or 1)
    by_role: dict[str, float] = {}
    for pid, (role, seconds) in after.by_pid.items():
        start = before.by_pid.get(pid, (role, 0.0))[1]
        by_role[role] = by_role.get(role, 0.0) + max(0.0, seconds - start)
    if LOAD_ROLE in by_role:
        shoppers_s = min(shoppers_s, by_role[LOAD_ROLE])
        by_role[LOAD_ROLE] -= shoppers_s
        by_role[SHOPPERS_ROLE] = shoppers_s
    machine = max(0.0, after.machine_busy_s - before.machine_busy_s)
    by_role["other (not this benchmark)"] = max(0.0, machine - sum(by_role.values()))
    per = max(1, sessions)
    return {
        "wall_s": round(wall, 2),
        "machine_busy_pct": round(100 * machine / capacity, 1),
        "roles": {
            role: {
                "cpu_s": round(seconds, 2),
                "pct_of_machine": round(100 * seconds / capacity, 1),
                "ms_per_session": round(1000 * seconds / per, 2),
            }
            for role, seconds in sorted(by_role.items(), key=lambda item: -item[1])
        },
    }
