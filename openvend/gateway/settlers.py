"""The gateway's settlers: a few threads that settle door-closed visits, so that the ingest thread
never waits on recognition, the order's transaction or the payment provider.

A door_closed event commits in an ingest batch; its on-commit hook (`shopping.services.settle_later`)
hands the session id to this pool instead of the task queue, and the batch is acknowledged at once.
Each settler has its own database connection and settles one session at a time with
`orders.services.settle_session`, which is safe to run twice and concurrently; the charge it
schedules after its own commit follows in the same thread (or in the task worker, if the task
backend queues it).

A visit whose device messages are not all stored yet (another gateway still holds one) is settled
again a little later (`shopping.evidence`): a timer thread puts it back in the queue when due.

Nothing here is durable: ids still queued when the process dies are lost, and the sweeper settles
every session left recognising (`orders.services.sessions_settle_overdue`), as it would after a
lost task.
"""

from __future__ import annotations

import heapq
import logging
import queue
import threading
import time
from collections import Counter

from django.db import close_old_connections, connection

logger = logging.getLogger(__name__)

_STOP = -1


class Settlers:
    """`workers` threads fed with session ids. While started, this process's door-closed sessions are
    settled here (see the module doc); `workers` 0 leaves them to the task queue."""

    def __init__(self, workers: int, stats: Counter[str] | None = None) -> None:
        self.workers = workers
        self.stats: Counter[str] = stats if stats is not None else Counter()
        self._queue: queue.Queue[int] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._later: list[tuple[float, int]] = []  # (monotonic due time, session id), a heap
        self._later_changed = threading.Condition()
        self._stopping = False
        self._timer: threading.Thread | None = None

    def start(self) -> Settlers:
        from openvend.shopping.services import settle_here

        if self.workers <= 0:
            return self
        for n in range(self.workers):
            thread = threading.Thread(target=self._run, name=f"gateway-settle-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)
        self._timer = threading.Thread(target=self._release_due, name="gateway-settle-later", daemon=True)
        self._timer.start()
        settle_here(self.submit)
        return self

    def submit(self, session_id: int) -> None:
        self.stats["settles_queued"] += 1
        self._queue.put(session_id)

    def submit_later(self, session_id: int, delay_s: float) -> None:
        with self._later_changed:
            heapq.heappush(self._later, (time.monotonic() + delay_s, session_id))
            self._later_changed.notify()

    @property
    def backlog(self) -> int:
        return self._queue.qsize() + len(self._later)

    def _release_due(self) -> None:
        with self._later_changed:
            while not self._stopping:
                now = time.monotonic()
                while self._later and self._later[0][0] <= now:
                    self._queue.put(heapq.heappop(self._later)[1])
                self._later_changed.wait(self._later[0][0] - now if self._later else None)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop taking work, settle what is queued (up to `timeout`), and end the threads. What is
        left unsettled is the sweeper's."""
        from openvend.shopping.services import settle_here

        if not self._threads:
            return
        settle_here(None, only_if=self.submit)
        with self._later_changed:  # what waits for its evidence is the sweeper's now
            self._stopping = True
            self._later_changed.notify()
        if self._timer is not None:
            self._timer.join(timeout / (len(self._threads) + 1))
        for _thread in self._threads:
            self._queue.put(_STOP)
        for thread in self._threads:
            thread.join(timeout / len(self._threads))
        self._threads.clear()

    def _run(self) -> None:
        from openvend.orders.services import settle_session_id
        from openvend.shopping.evidence import EvidencePending

        try:
            while (session_id := self._queue.get()) != _STOP:
                try:
                    settle_session_id(session_id)
                    self.stats["settled"] += 1
                except EvidencePending as pending:
                    self.stats["settles_waiting"] += 1
                    self.submit_later(session_id, pending.retry_in_s)
                except Exception:  # the sweeper settles it again later; this thread goes on
                    self.stats["settle_errors"] += 1
                    logger.exception("settling a session failed", extra={"session": session_id})
                    close_old_connections()
        finally:
            connection.close()  # this thread's own connection
