"""What the gateway's dispatcher waits on between passes: the command bell, or at most its poll interval.

A shopper waits in front of the cabinet for the open-door command, so the dispatcher must not sit out
a poll interval once a command is committed. `command_send` rings a bell (see
`openvend.devices.commands`) and the dispatcher runs its pass as soon as it hears it:

- PostgreSQL: a connection of the dispatcher's own LISTENs on the commands channel. A lost connection
  is opened again, followed at once by a pass, since a bell rung meanwhile was not heard.
- Other databases (the embedded SQLite demo): the after-commit wake of dispatchers in this process.

The poll stays the safety net for every bell missed (another process without NOTIFY, a connection
down). Several gateways all hear the bell; `commands_due` locks rows with SKIP LOCKED, so one of
them publishes each command.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from typing import Any, Protocol

from django.db import DEFAULT_DB_ALIAS, connections

from openvend.devices.commands import COMMANDS_CHANNEL, command_bell_register, command_bell_unregister

logger = logging.getLogger(__name__)

LISTENER_APPLICATION_NAME = "openvend-gateway-dispatch"
# How often a waiting dispatcher looks whether the gateway is stopping; no bearing on the wake itself.
STOP_CHECK_S = 0.5
CONNECT_TIMEOUT_S = 5
# A peer that vanished without closing the connection (a dropped network) is noticed by TCP
# keepalives within idle + interval * count seconds; until then the poll carries on.
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 3}


class Wakeup(Protocol):
    def wait(self, timeout: float) -> bool:
        """Block until a bell (True) or `timeout` seconds or a stop (False)."""
        ...

    def close(self) -> None: ...


class PollOnly:
    """No bell: a pass every poll interval."""

    def __init__(self, stop: threading.Event) -> None:
        self._stop = stop

    def wait(self, timeout: float) -> bool:
        self._stop.wait(timeout)
        return False

    def close(self) -> None:
        pass


class LocalBell:
    """Woken after commit by `command_send` in this same process."""

    def __init__(self, stop: threading.Event) -> None:
        self._stop = stop
        self._bell = threading.Event()
        command_bell_register(self._bell)

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self._stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if self._bell.wait(min(remaining, STOP_CHECK_S)):
                # Cleared before the pass reads: a command committed after this point rings again.
                self._bell.clear()
                return True
        return False

    def close(self) -> None:
        command_bell_unregister(self._bell)


class PostgresListener:
    """LISTEN on a psycopg connection of its own (autocommit, outside Django's per-thread one)."""

    def __init__(self, stop: threading.Event, stats: Counter[str], *, using: str = DEFAULT_DB_ALIAS) -> None:
        self._stop = stop
        self._stats = stats
        self._using = using
        self._conn: Any = None
        self._connect()

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        if self._conn is None:
            if self._connect():
                return True  # listening again: pass now for whatever was rung while deaf
            self._stop.wait(timeout)
            return False
        import psycopg

        while not self._stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            woken = False
            try:
                # Several bells in one packet count as one: the pass that follows sees every
                # command they announced, since each was committed before its bell was delivered.
                for _notify in self._conn.notifies(timeout=min(remaining, STOP_CHECK_S), stop_after=1):
                    woken = True
            except psycopg.Error:
                logger.warning("the dispatcher's LISTEN connection was lost; opening it again")
                self._stats["wakeup_reconnects"] += 1
                self._drop()
                return self._connect()
            if woken:
                return True
        return False

    def close(self) -> None:
        self._drop()

    def _connect(self) -> bool:
        import psycopg
        from psycopg import sql

        params = connections[self._using].get_connection_params()
        # Django's adapters and cursor class are for its own connections; this one only LISTENs.
        params.pop("cursor_factory", None)
        params.pop("context", None)
        params.update(KEEPALIVES, application_name=LISTENER_APPLICATION_NAME)
        params.setdefault("connect_timeout", CONNECT_TIMEOUT_S)
        try:
            conn = psycopg.connect(**params, autocommit=True)
            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(COMMANDS_CHANNEL)))
        except psycopg.Error:
            logger.warning("the dispatcher cannot LISTEN for commands; polling until it can", exc_info=True)
            self._stats["wakeup_connect_failures"] += 1
            return False
        self._conn = conn
        return True

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:
                logger.debug("closing a lost LISTEN connection failed", exc_info=True)


def open_wakeup(*, enabled: bool, stop: threading.Event, stats: Counter[str]) -> Wakeup:
    """The wake-up that fits the database, already listening: a pass after this misses no bell."""
    if not enabled:
        return PollOnly(stop)
    if connections[DEFAULT_DB_ALIAS].vendor == "postgresql":
        return PostgresListener(stop, stats)
    return LocalBell(stop)
