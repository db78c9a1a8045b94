"""How many SQL statements a visit's device events take in the gateway, pinned: the shopper's
session is read once per event and locked for the rest of it (no re-read per move), the session
handlers open no savepoint inside the gateway's batch, and a restock session is looked for only when
the shopper's handlers took nothing. A change that adds a statement per event fails here first
(raise a bound only on purpose)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from openvend.shopping.choices import SessionState as S
from tests.orders.conftest import COLA_G, Store

pytestmark = pytest.mark.django_db

# Each is one batch of one message, measured on PostgreSQL and SQLite alike. Shared by all three:
# the batch's savepoint and release (a transaction outside tests), the replay check and the insert
# of the message, the device state read, locked and written back.
DOOR_OPENED = 11  # + the device row, the shopper's session, the move to open and its timeline row
WEIGHT_CHANGE = 9  # + the device row, the shopper's session and its summed weights
DOOR_CLOSED = 12  # + the device row, the session, two moves (closed, recognising) and their rows


def _listing(queries: CaptureQueriesContext) -> str:
    return "\n".join(q["sql"][:120] for q in queries.captured_queries)


def test_a_visits_door_and_weight_events_take_a_known_number_of_statements(
    store: Store, django_capture_on_commit_callbacks: Any
) -> None:
    session = store.start(store.shopper(balance_fen=2000))
    key = str(session.command_id)
    with CaptureQueriesContext(connection) as opened:
        store.feed.send({"kind": "door_opened", "session": key, "detail": {"door": 1}})
    with CaptureQueriesContext(connection) as weighed:
        store.feed.send(
            {"kind": "weight_change", "session": key, "detail": {"sensor": "s1-1", "delta_g": -COLA_G}}
        )
    with (
        CaptureQueriesContext(connection) as closed,
        django_capture_on_commit_callbacks(execute=False) as after_commit,
    ):
        store.feed.send({"kind": "door_closed", "session": key, "detail": {"door": 1}})

    session.refresh_from_db()
    assert session.state == S.RECOGNISING
    assert session.sensor_deltas_g == {"s1-1": -COLA_G}
    assert [e.to_state for e in session.events.order_by("pk")][-3:] == [S.OPEN, S.CLOSED, S.RECOGNISING]
    assert len(after_commit) == 1  # the settling, after the door-closed batch commits
    assert len(opened) <= DOOR_OPENED, _listing(opened)
    assert len(weighed) <= WEIGHT_CHANGE, _listing(weighed)
    assert len(closed) <= DOOR_CLOSED, _listing(closed)


# The scan, for a door flow paid from the wallet: the device locked with its site and state, the
# preconditions (blacklist, unpaid order, payment method at the site, a restock or visit under way),
# the session and its timeline row under a savepoint (a concurrent scan loses there), the open-door
# command with its audit row under another, the move to opening and its row. The session just
# inserted is not read again to be moved. PostgreSQL adds the NOTIFY that wakes the dispatcher.
SCAN = 18


def test_a_scan_takes_a_known_number_of_statements(store: Store) -> None:
    shopper = store.shopper(balance_fen=2000)
    with CaptureQueriesContext(connection) as scanned:
        session = store.start(shopper)
    assert session.state == S.OPENING
    assert session.command_id is not None
    assert [e.to_state for e in session.events.order_by("pk")] == [S.CREATED, S.OPENING]
    assert len(scanned) <= SCAN + (connection.vendor == "postgresql"), _listing(scanned)
