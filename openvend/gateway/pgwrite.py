"""PostgreSQL fast paths for the gateway's two hot writes, one statement per batch each.

The ORM's bulk_create cannot say which rows a conflict skipped, and its bulk_update builds a CASE
per field per row; both dominated the ingest profile. Rows travel as one JSON document expanded by
json_to_recordset on the server, which keeps Python's per-row work to a dict and a json.dumps."""

from __future__ import annotations

import json
from typing import Any

from django.db import connection

# Returns how many rows went in and, only when that is fewer than were sent (replays), which ones:
# the common batch answers with one small row instead of a thousand.
INSERT_MESSAGES = """
WITH inserted AS (
    INSERT INTO devices_devicemessage
        (device_id, merchant_id, seq, message_id, type, machine_ts, received_at, body)
    SELECT d, m, s, i, t, ts, to_timestamp(r), b FROM json_to_recordset(%s::json)
        AS x(d bigint, m bigint, s bigint, i varchar, t varchar, ts bigint, r double precision, b jsonb)
    ON CONFLICT (device_id, seq) DO NOTHING
    RETURNING device_id, seq
)
SELECT count(*),
       CASE WHEN count(*) < %s THEN json_agg(json_build_array(device_id, seq)) END
FROM inserted
"""


def _dumps(rows: list[dict[str, Any]]) -> str:
    return json.dumps(rows, ensure_ascii=False, separators=(",", ":"), default=str)


def insert_messages(
    rows: list[tuple[int, int, int, str, str, int, Any, dict[str, Any]]],
) -> set[tuple[int, int]] | None:
    """Insert (device_id, merchant_id, seq, message_id, type, machine_ts, received_at, body) rows,
    skipping any (device, seq) already stored. Returns the (device_id, seq) pairs actually inserted,
    or None when every row was."""
    if not rows:
        return set()
    document = _dumps(
        [
            {"d": d, "m": m, "s": s, "i": i, "t": t, "ts": ts, "r": r.timestamp(), "b": b}
            for d, m, s, i, t, ts, r, b in rows
        ]
    )
    with connection.cursor() as cursor:
        cursor.execute(INSERT_MESSAGES, [document, len(rows)])
        count, pairs = cursor.fetchone()
    if count == len(rows):
        return None
    return {(int(device_id), int(seq)) for device_id, seq in pairs or []}


STATE_TYPES = {
    "online": "boolean",
    "last_seen_at": "timestamptz",
    "last_machine_ts": "bigint",
    "clock_skew_ms": "bigint",
    "last_seq": "bigint",
    "last_birth_seq": "bigint",
    "door": "varchar",
    "door_changed_at": "timestamptz",
    "door_session": "varchar",
    "lock": "varchar",
    "camera": "varchar",
    "temperature_c": "numeric",
    "humidity_pct": "numeric",
    "rssi_dbm": "integer",
    "firmware": "varchar",
    "boot_id": "varchar",
    "weights_g": "jsonb",
    "temperature_breaches": "integer",
}
# Built once from the constant field map above (no input reaches it); values travel as a parameter.
UPDATE_STATES = (
    "UPDATE devices_devicestate AS s SET "  # noqa: S608
    + ", ".join(f'"{f}" = x."{f}"' for f in STATE_TYPES)
    + " FROM json_to_recordset(%s::json) AS x(device_id bigint, "
    + ", ".join(f'"{f}" {t}' for f, t in STATE_TYPES.items())
    + ") WHERE s.device_id = x.device_id"
)


def update_states(states: list[Any]) -> None:
    """Write every derived field of these DeviceState objects in one statement."""
    if not states:
        return
    document = _dumps([{"device_id": s.device_id, **{f: getattr(s, f) for f in STATE_TYPES}} for s in states])
    with connection.cursor() as cursor:
        cursor.execute(UPDATE_STATES, [document])
