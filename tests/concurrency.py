"""Racing database work for the PostgreSQL-only tests: row locks and unique inserts only race there."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


def race(jobs: list[Callable[[], Any]]) -> list[Any]:
    """Run the jobs at the same moment, one thread and one connection each; return result or error."""
    barrier = threading.Barrier(len(jobs))
    results: list[Any] = [None] * len(jobs)

    def run(index: int, job: Callable[[], Any]) -> None:
        from django.db import connection as own

        try:
            barrier.wait(timeout=30)
            results[index] = job()
        except Exception as exc:
            results[index] = exc
        finally:
            own.close()

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    return results
