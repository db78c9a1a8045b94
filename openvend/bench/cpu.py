"""CPU time per process from /proc, for benchmarks that split one machine between the broker,
the load generators, our processes and the database: where the cores went, per message."""

from __future__ import annotations

import os
from collections.abc import Iterable

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process (also of an exited, not yet reaped child); 0 if gone."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    # After the command name: state is field 3, utime and stime fields 14 and 15 of stat(5).
    return (int(fields[11]) + int(fields[12])) / _TICKS


def total_cpu(pids: Iterable[int]) -> float:
    return sum(cpu_seconds(pid) for pid in pids)


def postgres_backends(connection: object, database: str) -> list[int]:
    """Server processes serving `database`, other than the asking connection's own."""
    with connection.cursor() as cursor:  # type: ignore[attr-defined]
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [database]
        )
        return [int(pid) for (pid,) in cursor.fetchall()]


def per_message_us(seconds: float, messages: int) -> float:
    return seconds / messages * 1e6 if messages else 0.0
