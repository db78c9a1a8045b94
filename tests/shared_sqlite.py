"""One thread at a time on the in-memory SQLite connection a live server shares with the test.

Django hands the live server's request threads the test's own in-memory connection (there is no
other copy of the database). Its transaction state — `in_atomic_block`, the savepoint stack,
`needs_rollback` — lives on that one object, so a notification handled in the server while the test
opens a transaction of its own interleaves the two: one thread's savepoint lands in the other's
transaction and the connection ends up marked for rollback. On PostgreSQL each thread has its own
connection and none of this arises.

While a live server runs on SQLite, a thread holds `_LOCK` for as long as any transaction block of its
own is open and for each statement it runs outside one. The lock is re-entrant, so nested blocks
and the statements inside them pass straight through.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.db import transaction
from django.db.backends import utils

# A thread that waits this long is stuck behind a transaction that waits for it in turn.
WAIT_S = 30.0

_LOCK = threading.RLock()


def _acquire() -> None:
    if not _LOCK.acquire(timeout=WAIT_S):
        raise RuntimeError(
            f"Waited {WAIT_S:.0f} s for the shared SQLite connection: another thread's transaction "
            "is waiting for this thread."
        )


def _holding(method: Callable[..., Any]) -> Callable[..., Any]:
    def guarded(*args: Any, **kwargs: Any) -> Any:
        _acquire()
        try:
            return method(*args, **kwargs)
        finally:
            _LOCK.release()

    return guarded


@contextmanager
def one_thread_at_a_time() -> Iterator[None]:
    enter, exit_ = transaction.Atomic.__enter__, transaction.Atomic.__exit__
    execute, executemany = utils.CursorWrapper.execute, utils.CursorWrapper.executemany

    def atomic_enter(self: transaction.Atomic) -> Any:
        _acquire()
        try:
            return enter(self)
        except BaseException:
            _LOCK.release()
            raise

    def atomic_exit(self: transaction.Atomic, *exc_info: Any) -> Any:
        try:
            return exit_(self, *exc_info)
        finally:
            _LOCK.release()

    transaction.Atomic.__enter__ = atomic_enter  # type: ignore[method-assign]
    transaction.Atomic.__exit__ = atomic_exit  # type: ignore[method-assign]
    utils.CursorWrapper.execute = _holding(execute)  # type: ignore[method-assign]
    utils.CursorWrapper.executemany = _holding(executemany)  # type: ignore[method-assign]
    try:
        yield
    finally:
        transaction.Atomic.__enter__ = enter  # type: ignore[method-assign]
        transaction.Atomic.__exit__ = exit_  # type: ignore[method-assign]
        utils.CursorWrapper.execute = execute  # type: ignore[method-assign]
        utils.CursorWrapper.executemany = executemany  # type: ignore[method-assign]
