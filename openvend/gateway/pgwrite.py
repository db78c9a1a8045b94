"""PostgreSQL fast paths for the gateway's two hot writes, one statement per batch each.

The ORM's bulk_create cannot say which rows a conflict skipped, and its bulk_update builds a CASE
per field per row; both dominated the ingest profile. Rows travel as one JSON document expanded by
json_to_recordset on the server, which keeps Python's per-row work to a dict and a json.dumps."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from django.db import connection

from openvend.devices.models import DeviceState

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


# A body is what the protocol decoder parsed, so it holds only JSON types: the C encoder, no fallback.
_encode_body = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False).encode


def _message_row(d: int, m: int, s: int, i: str, t: str, ts: int, r: float, b: dict[str, Any]) -> str:
    # Only the body goes through the encoder: the other fields are integers, a float and strings the
    # decoder has already held to the protocol's patterns (a lowercase UUID, a message type), so
    # they need no escaping. Half the cost of encoding each row as a dict.
    return f'{{"d":{d},"m":{m},"s":{s},"i":"{i}","t":"{t}","ts":{ts},"r":{r!r},"b":{_encode_body(b)}}}'


def insert_messages(
    rows: list[tuple[int, int, int, str, str, int, float, dict[str, Any]]],
) -> set[tuple[int, int]] | None:
    """Insert (device_id, merchant_id, seq, message_id, type, machine_ts, received_at, body) rows,
    skipping any (device, seq) already stored. received_at is seconds since the epoch; message_id
    and type must be protocol-valid (see _message_row). Returns the (device_id, seq) pairs actually
    inserted, or None when every row was."""
    if not rows:
        return set()
    document = "[" + ",".join([_message_row(*row) for row in rows]) + "]"
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


def lock_states(device_ids: list[int]) -> list[Any]:
    """The devices' DeviceState rows, locked FOR UPDATE in id order. The ORM's query compiler costs
    about a millisecond a batch here; this statement is built once."""
    fields = DeviceState._meta.concrete_fields
    with connection.cursor() as cursor:
        cursor.execute(_lock_states_sql(), [device_ids])
        rows = cursor.fetchall()
    converters = [(i, f.from_db_value) for i, f in enumerate(fields) if hasattr(f, "from_db_value")]
    names = [f.attname for f in fields]
    states = []
    for row in rows:
        values = list(row)
        for i, convert in converters:
            values[i] = convert(values[i], None, connection)
        states.append(DeviceState.from_db(connection.alias, names, values))
    return states


@cache
def _lock_states_sql() -> str:
    columns = ", ".join(f'"{f.column}"' for f in DeviceState._meta.concrete_fields)
    # Built from the model's own column names (no input reaches it); the ids travel as a parameter.
    return (
        f"SELECT {columns} FROM devices_devicestate "  # noqa: S608
        "WHERE device_id = ANY(%s) ORDER BY device_id FOR UPDATE"
    )


def update_states(states: list[Any]) -> None:
    """Write every derived field of these DeviceState objects in one statement."""
    if not states:
        return
    document = _dumps([{"device_id": s.device_id, **{f: getattr(s, f) for f in STATE_TYPES}} for s in states])
    with connection.cursor() as cursor:
        cursor.execute(UPDATE_STATES, [document])
