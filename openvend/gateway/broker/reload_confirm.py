"""A second SIGHUP after every credentials change, so that a lost signal cannot leave Mosquitto on
old files.

Mosquitto 2 logs "Reloading config.", reads its files, and only then clears its reload flag: a SIGHUP
that lands while another writer's reload is under way is lost. Such a reload began before our files
were written, so it may have read the old ones. A reload that begins after the write reads ours, and
any reload under way at the write is over well within ``CONFIRM_AFTER_S``; one more SIGHUP that late
therefore always yields a reload of our files. Changes in quick succession share one confirmation,
sent ``CONFIRM_AFTER_S`` after the last of them.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

CONFIRM_AFTER_S = 1.0


class ReloadConfirmer:
    """Sends ``signal(pid_file)`` once per pid file, ``delay`` seconds after its last ``schedule``."""

    def __init__(self, signal: Callable[[str], object], delay: float = CONFIRM_AFTER_S) -> None:
        self._signal = signal
        self.delay = delay
        self._due: dict[str, float] = {}
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None

    def schedule(self, pid_file: str | os.PathLike[str]) -> None:
        with self._lock:
            self._due[os.fspath(pid_file)] = time.monotonic() + self.delay
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="mosquitto-reload-confirm", daemon=True
                )
                self._thread.start()
            self._wake.notify()

    def pending(self) -> int:
        """Pid files still to be signalled, counting one being signalled now."""
        with self._lock:
            return len(self._due) + int(self._thread is not None and not self._due)

    def drain(self) -> None:
        """Wait for the confirmations still due: a process that exits before them (a one-off sync
        from the command line) would take them with it."""
        deadline = time.monotonic() + self.delay + 5.0
        while self.pending() and time.monotonic() < deadline:
            time.sleep(0.02)

    def _run(self) -> None:
        while True:
            with self._lock:
                if not self._due:
                    self._thread = None
                    return
                now = time.monotonic()
                ready = [path for path, due in self._due.items() if due <= now]
                if not ready:
                    self._wake.wait(min(self._due.values()) - now)
                    continue
                for path in ready:
                    del self._due[path]
            for path in ready:  # outside the lock: a slow signal must not hold up new changes
                self._signal(path)
