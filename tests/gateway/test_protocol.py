"""Device protocol v1: the codec against the specification (docs/device-protocol.md) and the schemas."""

from __future__ import annotations

import json
import pickle
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from openvend.gateway import protocol
from openvend.gateway.protocol import ProtocolError, Rejection, UpMessage

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "device-protocol.md"
CODE = "cab-0042"
ID = "84da2ef7-577c-4496-bdaa-614ed644a5db"
CMD_ID = "c76131e5-5980-4c5b-9725-d3a15b851647"
TS = 1795420860180
MAX = 2**53 - 1


def topic(kind: str, code: str = CODE) -> str:
    return f"ov/v1/d/{code}/up/{kind}"


def envelope(kind: str, body: Any, **overrides: Any) -> dict[str, Any]:
    message = {"v": 1, "id": ID, "seq": 7, "ts": TS, "type": kind, "body": body}
    message.update(overrides)
    return message


def raw(message: Any) -> bytes:
    return json.dumps(message, ensure_ascii=False).encode("utf-8")


def rejected(topic_: Any, payload: Any) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        protocol.decode_up(topic_, payload)
    return caught.value


VALID_BODIES: dict[str, dict[str, Any]] = {
    "status": {"online": True, "reason": "boot", "firmware": "2.4.1", "boot_id": "b-1"},
    "hb": {"uptime_s": 0},
    "telemetry": {"door": "closed"},
    "event": {"kind": "door_opened"},
    "ack": {"cmd_id": CMD_ID, "result": "ok"},
}


# --- the specification document's examples ---------------------------------------------------

EXAMPLE = re.compile(
    r"Example \*\*(?P<name>[a-z0-9-]+)\*\* — `(?P<topic>[^`]+)` \((?P<note>[^)]*)\):\n\n"
    r"```json\n(?P<json>.*?)\n```",
    re.DOTALL,
)


def doc_examples() -> dict[str, tuple[str, str]]:
    """name -> (topic, JSON text). An example shown twice must be shown identically."""
    found: dict[str, tuple[str, str]] = {}
    for match in EXAMPLE.finditer(DOC.read_text(encoding="utf-8")):
        entry = (match["topic"], match["json"])
        assert found.setdefault(match["name"], entry) == entry, f"{match['name']} differs between its copies"
    return found


EXAMPLES = doc_examples()


def test_the_document_has_an_example_of_every_message():
    up = {name for name, (t, _j) in EXAMPLES.items() if "/up/" in t}
    commands = {json.loads(j)["kind"] for t, j in EXAMPLES.values() if t.endswith("/down/cmd")}
    assert {t.rsplit("/", 1)[1] for name, (t, _j) in EXAMPLES.items() if name in up} == set(protocol.UP_TYPES)
    assert commands == set(protocol.COMMAND_KINDS)
    assert {"status-lwt", "status-birth", "status-shutdown", "status-reconnect"} <= set(EXAMPLES)
    assert {"event-foreign-object-replay", "cloud-ack", "ack-expired", "ack-open-door-again"} <= set(EXAMPLES)
    assert len(EXAMPLES) == 40
    assert "openvend/gateway/schemas/" in DOC.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_every_document_example_is_valid(name):
    topic_, text = EXAMPLES[name]
    if "/up/" in topic_:
        message = protocol.decode_up(topic_, text.encode())
        assert message.device_code == CODE
        assert message.type == topic_.rsplit("/", 1)[1]
    elif topic_.endswith("/down/cmd"):
        command = protocol.decode_command(text)
        assert (
            protocol.encode_command(
                CODE,
                **{k: json.loads(text)[k] for k in ("id", "kind", "params", "ts", "expires")},
            )[0]
            == topic_
        )
        assert command["v"] == 1
    else:
        assert topic_ == protocol.down_topic(CODE, "ack")
        assert protocol.decode_cloud_ack(text) >= 1


def decode_example(name: str) -> UpMessage:
    topic_, text = EXAMPLES[name]
    return protocol.decode_up(topic_, text.encode())


def test_document_examples_decode_to_exact_messages():
    boot_id = "3b8ef4bf-eb93-435a-96de-842b04ccd892"
    assert decode_example("status-lwt") == UpMessage(
        "cab-0042",
        "status",
        "169c3856-7dfa-49de-990c-8a4df4888233",
        1201,
        1795420800000,
        {"online": False, "reason": "lwt"},
    )
    assert decode_example("status-birth") == UpMessage(
        "cab-0042",
        "status",
        "ecadafb1-0275-4da8-a6ba-dded75d2c263",
        1202,
        1795420800180,
        {
            "online": True,
            "reason": "boot",
            "firmware": "2.4.1",
            "hardware": "OVC-S1 rev C",
            "boot_id": boot_id,
        },
    )
    hb = UpMessage(
        "cab-0042",
        "hb",
        "410bb55c-cf8a-40ab-9fc0-180664a97858",
        1203,
        1795420830180,
        {"uptime_s": 47, "rssi_dbm": -67},
    )
    assert decode_example("hb") == hb
    assert decode_example("hb-wire") == hb
    assert decode_example("telemetry") == UpMessage(
        "cab-0042",
        "telemetry",
        "84da2ef7-577c-4496-bdaa-614ed644a5db",
        1204,
        1795420860180,
        {
            "temperature_c": 4.5,
            "humidity_pct": 41,
            "rssi_dbm": -67,
            "door": "closed",
            "lock": "locked",
            "camera": "ok",
            "weights_g": {"s1-1": 1203.5, "s1-2": 880.0, "s2-1": 455.2},
            "firmware": "2.4.1",
        },
    )
    assert decode_example("event-door-opened") == UpMessage(
        "cab-0042",
        "event",
        "f8d72adf-8d80-4130-a8ed-0d0d98ce4c80",
        1207,
        1795420923400,
        {"kind": "door_opened", "session": CMD_ID, "detail": {"door": 1}},
    )
    assert decode_example("ack-open-door") == UpMessage(
        "cab-0042",
        "ack",
        "661fe196-1014-4d7f-939a-690302a5f5b6",
        1206,
        1795420919935,
        {"cmd_id": CMD_ID, "result": "ok"},
    )
    assert decode_example("ack-expired").body == {
        "cmd_id": "f9038d77-9cfe-4a54-abff-535fc48d4fd4",
        "result": "expired",
        "code": "E_EXPIRED",
    }


def test_document_replay_repeats_the_original_exactly():
    original, replay = decode_example("event-foreign-object"), decode_example("event-foreign-object-replay")
    assert replay == original
    assert (original.seq, original.ts, original.body["kind"]) == (1212, 1795421400000, "foreign_object")
    # The re-delivered command is answered with the stored body in a new envelope.
    first, again = decode_example("ack-open-door"), decode_example("ack-open-door-again")
    assert again.body == first.body and again.seq > first.seq and again.id != first.id


def test_document_wills_and_births_follow_the_reservation_rule():
    # The will's seq is reserved at CONNECT, the birth takes the next one.
    assert decode_example("status-birth").seq == decode_example("status-lwt").seq + 1
    assert decode_example("status-reconnect").body["reason"] == "reconnect"


def test_document_commands_decode_exactly():
    assert protocol.decode_command(EXAMPLES["cmd-open-door"][1]) == {
        "v": 1,
        "id": CMD_ID,
        "ts": 1795420921000,
        "expires": 1795420981000,
        "kind": "open_door",
        "params": {"door": 1, "mode": "restock"},
    }
    stale = protocol.decode_command(EXAMPLES["cmd-open-door-stale"][1])
    assert stale["params"] == {"mode": "staff", "door": 1}  # the default door is filled in
    assert protocol.decode_command(EXAMPLES["cmd-set-lights"][1])["params"] == {
        "schedule": [
            {"from": "07:00", "to": "23:00", "on": True},
            {"from": "12:00", "to": "13:30", "on": False},
        ]
    }
    assert protocol.decode_cloud_ack(EXAMPLES["cloud-ack"][1]) == 1211
    assert protocol.decode_cloud_ack(EXAMPLES["cloud-ack-after-replay"][1]) == 1212


def test_document_stale_command_is_judged_expired_by_the_reference_clock():
    clock = protocol.ServerClock()
    fresh = protocol.decode_command(EXAMPLES["cmd-open-door"][1])
    assert clock.expired(fresh, machine_now=1795420919850) is False
    stale = protocol.decode_command(EXAMPLES["cmd-open-door-stale"][1])
    received = decode_example("ack-expired").ts
    assert clock.expired(stale, machine_now=received) is True


# --- constants and topics --------------------------------------------------------------------


def test_constants():
    assert protocol.PROTOCOL_VERSION == 1
    assert protocol.TOPIC_ROOT == "ov/v1/d"
    assert protocol.MAX_PAYLOAD == 16384
    assert protocol.UP_TYPES == ("status", "hb", "telemetry", "event", "ack")
    assert dict(protocol.UP_QOS) == {"status": 1, "hb": 0, "telemetry": 0, "event": 1, "ack": 1}
    assert dict(protocol.UP_RETAIN) == {
        "status": True,
        "hb": False,
        "telemetry": False,
        "event": False,
        "ack": False,
    }
    assert dict(protocol.DOWN_QOS) == {"cmd": 1, "ack": 1}
    assert set(protocol.STORED_TYPES) == {"event", "ack"}
    assert protocol.GATEWAY_SUBSCRIPTION == "ov/v1/d/+/up/#"
    assert protocol.OFFLINE_AFTER_S == 90


def test_enumerations_match_the_schemas():
    cmd = protocol.load_schema("cmd")
    ack = protocol.load_schema("ack")
    assert list(protocol.COMMAND_KINDS) == cmd["properties"]["kind"]["enum"]
    assert list(protocol.EVENT_KINDS) == protocol.load_schema("event")["properties"]["kind"]["enum"]
    assert [c.value for c in protocol.ErrorCode] == ack["properties"]["code"]["enum"]
    assert [r.value for r in protocol.AckResult] == ack["properties"]["result"]["enum"]
    assert list(protocol.UP_TYPES) == protocol.load_schema("envelope")["properties"]["type"]["enum"]
    assert [r.value for r in Rejection] == [
        "bad_topic",
        "bad_json",
        "too_large",
        "schema",
        "type_mismatch",
        "unknown_device",
        "revoked_device",
    ]


def test_topic_builders():
    assert protocol.up_topic("cab-0042", "event") == "ov/v1/d/cab-0042/up/event"
    assert protocol.down_topic("cab-0042", "cmd") == "ov/v1/d/cab-0042/down/cmd"
    assert protocol.down_topic("cab-0042", "ack") == "ov/v1/d/cab-0042/down/ack"
    assert protocol.device_subscription("cab-0042") == "ov/v1/d/cab-0042/down/#"
    assert protocol.shared("gw", protocol.GATEWAY_SUBSCRIPTION) == "$share/gw/ov/v1/d/+/up/#"
    assert protocol.parse_up_topic("ov/v1/d/cab-0042/up/ack") == ("cab-0042", "ack")
    assert protocol.parse_up_topic(b"ov/v1/d/cab-0042/up/hb") == ("cab-0042", "hb")
    with pytest.raises(ValueError):
        protocol.up_topic("x", "event")
    with pytest.raises(ValueError):
        protocol.up_topic("cab-0042", "cmd")
    with pytest.raises(ValueError):
        protocol.down_topic("cab-0042", "event")
    for group in ("", "a/b", "a+", "#"):
        with pytest.raises(ValueError):
            protocol.shared(group, "t")


@pytest.mark.parametrize(
    ("code", "valid"),
    [
        ("cab-0042", True),
        ("ABCD", True),
        ("a_b-", True),
        ("0" * 32, True),
        ("abc", False),
        ("0" * 33, False),
        ("_abc", False),
        ("-abc", False),
        ("ab c", False),
        ("abcd\n", False),
        ("ab/cd", False),
        ("ab+c", False),
        ("абвг", False),
        ("ab١٢", False),
        ("", False),
        (None, False),
    ],
)
def test_device_code_rule(code, valid):
    assert protocol.is_device_code(code) is valid
    if valid:
        assert protocol.parse_up_topic(topic("hb", code)) == (code, "hb")
    elif isinstance(code, str) and "/" not in code:
        assert rejected(topic("hb", code), b"{}").reason == Rejection.BAD_TOPIC


# --- decoding: every type, exactly -----------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        ("status", {"online": True, "reason": "boot", "firmware": "1", "hardware": "h", "boot_id": "b"}),
        ("status", {"online": True, "reason": "reconnect", "firmware": "1", "boot_id": "b"}),
        ("status", {"online": False, "reason": "lwt"}),
        ("status", {"online": False, "reason": "shutdown"}),
        ("hb", {"uptime_s": 0}),
        ("hb", {"uptime_s": MAX, "rssi_dbm": -150}),
        ("hb", {"uptime_s": 5, "rssi_dbm": 0}),
        ("telemetry", {"temperature_c": -40}),
        ("telemetry", {"temperature_c": 80.0, "humidity_pct": 100, "rssi_dbm": -150}),
        ("telemetry", {"humidity_pct": 0.0, "door": "open", "lock": "fault", "camera": "absent"}),
        ("telemetry", {"lock": "unlocked", "camera": "fault", "firmware": "x" * 64}),
        ("telemetry", {"weights_g": {}}),
        ("telemetry", {"weights_g": {f"s{i}": -1.5 for i in range(64)}}),
        ("telemetry", {"weights_g": {"x" * 32: 0}}),
        ("event", {"kind": "fault", "detail": {}}),
        ("event", {"kind": "foreign_object", "session": "s" * 64, "detail": {"nested": [1, {"a": None}]}}),
        ("event", {"kind": "weight_change", "session": "会话-1"}),
        ("ack", {"cmd_id": CMD_ID, "result": "ok", "message": "m" * 256, "data": {"x": 1}}),
        ("ack", {"cmd_id": CMD_ID, "result": "error", "code": "E_HARDWARE", "message": "门锁无响应"}),
        ("ack", {"cmd_id": CMD_ID, "result": "rejected", "code": "E_DOOR_OPEN"}),
        ("ack", {"cmd_id": CMD_ID, "result": "expired", "code": "E_EXPIRED"}),
    ],
)
def test_valid_messages_decode_exactly(kind, body):
    message = protocol.decode_up(topic(kind), raw(envelope(kind, body)))
    assert message == UpMessage(CODE, kind, ID, 7, TS, body)


@pytest.mark.parametrize(("seq", "ts"), [(1, 0), (MAX, MAX)])
def test_envelope_bounds(seq, ts):
    message = protocol.decode_up(topic("hb"), raw(envelope("hb", {"uptime_s": 1}, seq=seq, ts=ts)))
    assert (message.seq, message.ts) == (seq, ts)


def test_payload_may_be_bytes_like_or_text():
    payload = raw(envelope("hb", {"uptime_s": 1}))
    expected = protocol.decode_up(topic("hb"), payload)
    for variant in (bytearray(payload), memoryview(payload), payload.decode()):
        assert protocol.decode_up(topic("hb"), variant) == expected
    assert rejected(topic("hb"), None).reason == Rejection.BAD_JSON
    assert rejected(topic("hb"), 12).reason == Rejection.BAD_JSON
    assert rejected(topic("hb"), "\ud800").reason == Rejection.BAD_JSON


def test_payload_size_limit_is_exact():
    base = raw(envelope("event", {"kind": "fault", "detail": {"pad": ""}}))
    fits = raw(envelope("event", {"kind": "fault", "detail": {"pad": "x" * (16384 - len(base))}}))
    assert len(fits) == 16384
    assert protocol.decode_up(topic("event"), fits).body["kind"] == "fault"
    too_big = raw(envelope("event", {"kind": "fault", "detail": {"pad": "x" * (16385 - len(base))}}))
    error = rejected(topic("event"), too_big)
    assert (error.reason, error.device_code, error.detail) == (
        Rejection.TOO_LARGE,
        CODE,
        "16385 bytes, limit 16384",
    )


def test_nesting_limit_is_exact():
    def nested(levels: int) -> Any:
        value: Any = 1
        for _ in range(levels):
            value = [value]
        return value

    # envelope (1) > body (2) > detail (3) > 13 lists = 16 levels
    assert protocol.decode_up(
        topic("event"), raw(envelope("event", {"kind": "fault", "detail": {"x": nested(13)}}))
    )
    error = rejected(topic("event"), raw(envelope("event", {"kind": "fault", "detail": {"x": nested(14)}})))
    assert (error.reason, error.detail) == (Rejection.BAD_JSON, "nested deeper than 16 levels")
    assert rejected(topic("event"), b"[" * 17000).reason == Rejection.TOO_LARGE
    assert rejected(topic("event"), b"[" * 10000).detail == "nested deeper than 16 levels"


# --- rejections ------------------------------------------------------------------------------

GOOD = raw(envelope("hb", {"uptime_s": 1}))


@pytest.mark.parametrize(
    ("topic_", "code", "detail"),
    [
        ("ov/v2/d/cab-0042/up/hb", None, "'ov/v2/d/cab-0042/up/hb' is not under ov/v1/d/"),
        ("ov/v1/device/cab-0042/up/hb", None, "is not under ov/v1/d/"),
        ("/ov/v1/d/cab-0042/up/hb", None, "is not under ov/v1/d/"),
        ("ov/v1/d", None, "is not under ov/v1/d/"),
        ("", None, "is not under ov/v1/d/"),
        ("ov/v1/d/c/up/hb", None, "invalid device code 'c'"),
        ("ov/v1/d/+/up/hb", None, "invalid device code '+'"),
        ("ov/v1/d/cab-0042/down/cmd", CODE, "is not an uplink topic"),
        ("ov/v1/d/cab-0042/up", CODE, "is not an uplink topic"),
        ("ov/v1/d/cab-0042/up/hb/", CODE, "is not an uplink topic"),
        ("ov/v1/d/cab-0042/up/hb/x", CODE, "is not an uplink topic"),
        ("ov/v1/d/cab-0042/up/cmd", CODE, "unknown message type 'cmd'"),
        ("ov/v1/d/cab-0042/up/HB", CODE, "unknown message type 'HB'"),
        (b"ov/v1/d/\xff/up/hb", None, "topic is not UTF-8"),
        (None, None, "topic is a NoneType, not a string"),
    ],
)
def test_bad_topic(topic_, code, detail):
    error = rejected(topic_, GOOD)
    assert (error.reason, error.device_code, error.seq) == (Rejection.BAD_TOPIC, code, None)
    assert detail in error.detail


@pytest.mark.parametrize(
    ("payload", "detail"),
    [
        (b"", "empty payload"),
        (b"\xff{}", "not UTF-8 (byte 0)"),
        (b'{"a":"\xed\xa0\x80"}', "not UTF-8 (byte 6)"),
        ("\ufeff{}".encode(), "payload starts with a byte-order mark"),
        ("{}".encode("utf-16"), "not UTF-8 (byte 0)"),
        (b"{", "not JSON: Expecting property name enclosed in double quotes (char 1)"),
        (b"{} {}", "not JSON: Extra data (char 3)"),
        (b'{"a":"\x01"}', "not JSON: Invalid control character at (char 6)"),
        (b"[]", "payload is not a JSON object"),
        (b'"hb"', "payload is not a JSON object"),
        (b"12", "payload is not a JSON object"),
        (b"null", "payload is not a JSON object"),
        (b'{"v":1,"v":1}', "duplicate key 'v'"),
        (b'{"body":{"a":1,"a":2}}', "duplicate key 'a'"),
        (b'{"a":NaN}', "NaN is not JSON"),
        (b'{"a":-Infinity}', "-Infinity is not JSON"),
        (b'{"a":1e400}', "number '1e400' is out of range"),
        (b'{"a":"x\\u0000"}', "a string contains U+0000 or an unpaired surrogate"),
        (b'{"a\\u0000":1}', "a key contains U+0000 or an unpaired surrogate"),
        (b'{"a":["\\udc00"]}', "a string contains U+0000 or an unpaired surrogate"),
        (
            b'{"a":' + b"1" * 5000 + b"}",
            "not JSON: Exceeds the limit (4300 digits) for integer string conversion",
        ),
    ],
)
def test_bad_json(payload, detail):
    error = rejected(topic("hb"), payload)
    assert (error.reason, error.device_code, error.seq) == (Rejection.BAD_JSON, CODE, None)
    assert error.detail.startswith(detail)


def test_escaped_text_that_is_fine_is_accepted():
    payload = raw(envelope("event", {"kind": "fault", "detail": {"m": "caf\u00e9 \U0001f600 \\u0000"}}))
    payload = payload.replace("é".encode(), b"\\u00e9").replace("😀".encode(), b"\\ud83d\\ude00")
    assert b"\\u00e9" in payload and b"\\ud83d\\ude00" in payload
    assert protocol.decode_up(topic("event"), payload).body["detail"]["m"] == "café 😀 \\u0000"


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        ({"v": None}, "'v' is a required property"),
        ({"extra": 1}, "Additional properties are not allowed ('extra' was unexpected)"),
        ({"v": 2}, "v: 1 was expected"),
        ({"v": True}, "v: True is not of type 'integer'"),
        ({"v": 1.0}, "v: 1.0 is not of type 'integer'"),
        ({"id": ID.upper()}, "id: '84DA2EF7-577C-4496-BDAA-614ED644A5DB' does not match"),
        (
            {"id": "84da2ef7-577c-1496-bdaa-614ed644a5db"},
            "id: '84da2ef7-577c-1496-bdaa-614ed644a5db' does not match",
        ),
        ({"id": "84da2ef7-577c-4496-7daa-614ed644a5db"}, "does not match"),
        ({"id": ID + "\n"}, "is too long"),
        ({"id": ID.replace("-", "")}, "is too short"),
        ({"id": 5}, "id: 5 is not of type 'string'"),
        ({"seq": 0}, "seq: 0 is less than the minimum of 1"),
        ({"seq": -3}, "seq: -3 is less than the minimum of 1"),
        ({"seq": 7.0}, "seq: 7.0 is not of type 'integer'"),
        ({"seq": True}, "seq: True is not of type 'integer'"),
        ({"seq": "7"}, "seq: '7' is not of type 'integer'"),
        ({"seq": MAX + 1}, "seq: 9007199254740992 is greater than the maximum of 9007199254740991"),
        ({"ts": -1}, "ts: -1 is less than the minimum of 0"),
        ({"ts": 1.5}, "ts: 1.5 is not of type 'integer'"),
        ({"ts": None}, "'ts' is a required property"),
        ({"type": "cmd"}, "type: 'cmd' is not one of"),
        ({"type": None}, "'type' is a required property"),
        ({"body": []}, "body: [] is not of type 'object'"),
        ({"body": None}, "'body' is a required property"),
    ],
)
def test_bad_envelope(change, detail):
    message = envelope("hb", {"uptime_s": 1})
    for key, value in change.items():
        if value is None:
            message.pop(key, None)
        else:
            message[key] = value
    error = rejected(topic("hb"), raw(message))
    assert (error.reason, error.device_code, error.seq) == (Rejection.SCHEMA, CODE, None)
    assert detail in error.detail, error.detail


def test_type_mismatch():
    error = rejected(topic("telemetry"), raw(envelope("hb", {"uptime_s": 1}, seq=99)))
    assert (error.reason, error.device_code, error.seq) == (Rejection.TYPE_MISMATCH, CODE, 99)
    assert error.detail == "envelope type 'hb' on a 'telemetry' topic"


@pytest.mark.parametrize(
    ("kind", "body", "detail"),
    [
        ("status", {}, "body: 'online' is a required property"),
        (
            "status",
            {"online": True, "reason": "boot", "firmware": "1"},
            "body: 'boot_id' is a required property",
        ),
        (
            "status",
            {"online": True, "reason": "lwt", "firmware": "1", "boot_id": "b"},
            "body.reason: 'lwt' is not",
        ),
        (
            "status",
            {"online": False, "reason": "boot"},
            "body.reason: 'boot' is not one of ['lwt', 'shutdown']",
        ),
        ("status", {"online": False, "reason": "lwt", "boot_id": "b"}, "body: 'boot_id' is not one of"),
        ("status", {"online": 1, "reason": "lwt"}, "body.online: 1 is not of type 'boolean'"),
        (
            "status",
            {"online": True, "reason": "boot", "firmware": "", "boot_id": "b"},
            "body.firmware: '' should be",
        ),
        ("hb", {}, "body: 'uptime_s' is a required property"),
        ("hb", {"uptime_s": -1}, "body.uptime_s: -1 is less than the minimum of 0"),
        ("hb", {"uptime_s": 1.5}, "body.uptime_s: 1.5 is not of type 'integer'"),
        ("hb", {"uptime_s": 1, "rssi_dbm": 1}, "body.rssi_dbm: 1 is greater than the maximum of 0"),
        ("hb", {"uptime_s": 1, "rssi_dbm": -151}, "body.rssi_dbm: -151 is less than the minimum of -150"),
        (
            "hb",
            {"uptime_s": 1, "rssi": -60},
            "body: Additional properties are not allowed ('rssi' was unexpected)",
        ),
        ("telemetry", {}, "body: {} should be non-empty"),
        ("telemetry", {"tempreature_c": 4}, "body: Additional properties are not allowed ('tempreature_c'"),
        ("telemetry", {"temperature_c": 80.5}, "body.temperature_c: 80.5 is greater than the maximum of 80"),
        ("telemetry", {"temperature_c": "4"}, "body.temperature_c: '4' is not of type 'number'"),
        ("telemetry", {"temperature_c": True}, "body.temperature_c: True is not of type 'number'"),
        ("telemetry", {"humidity_pct": -0.1}, "body.humidity_pct: -0.1 is less than the minimum of 0"),
        ("telemetry", {"rssi_dbm": -60.0}, "body.rssi_dbm: -60.0 is not of type 'integer'"),
        ("telemetry", {"door": "ajar"}, "body.door: 'ajar' is not one of ['open', 'closed']"),
        ("telemetry", {"lock": "LOCKED"}, "body.lock: 'LOCKED' is not one of"),
        ("telemetry", {"camera": None}, "body.camera: None is not one of"),
        ("telemetry", {"weights_g": {"s1": "1"}}, "body.weights_g.s1: '1' is not of type 'number'"),
        ("telemetry", {"weights_g": {"": 1}}, "body.weights_g: '' should be non-empty"),
        (
            "telemetry",
            {"weights_g": {"x" * 33: 1}},
            "body.weights_g: 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' is too long",
        ),
        ("telemetry", {"weights_g": {f"s{i}": 1 for i in range(65)}}, "body.weights_g: {"),
        ("telemetry", {"weights_g": [1, 2]}, "body.weights_g: [1, 2] is not of type 'object'"),
        ("event", {}, "body: 'kind' is a required property"),
        ("event", {"kind": "door_ajar"}, "body.kind: 'door_ajar' is not one of"),
        ("event", {"kind": "fault", "session": ""}, "body.session: '' should be non-empty"),
        ("event", {"kind": "fault", "session": "s" * 65}, "body.session: 'sssssss"),
        ("event", {"kind": "fault", "detail": "x"}, "body.detail: 'x' is not of type 'object'"),
        ("event", {"kind": "fault", "details": {}}, "body: Additional properties are not allowed ('details'"),
        ("ack", {"result": "ok"}, "body: 'cmd_id' is a required property"),
        ("ack", {"cmd_id": "42", "result": "ok"}, "body.cmd_id: '42' is too short"),
        ("ack", {"cmd_id": CMD_ID, "result": "done"}, "body.result: 'done' is not one of"),
        ("ack", {"cmd_id": CMD_ID, "result": "ok", "code": "E_BUSY"}, "body: 'code' is not one of ['cmd_id'"),
        ("ack", {"cmd_id": CMD_ID, "result": "error"}, "body: 'code' is a required property"),
        (
            "ack",
            {"cmd_id": CMD_ID, "result": "rejected", "code": "E_NOPE"},
            "body.code: 'E_NOPE' is not one of",
        ),
        (
            "ack",
            {"cmd_id": CMD_ID, "result": "expired", "code": "E_BUSY"},
            "body.code: 'E_EXPIRED' was expected",
        ),
        ("ack", {"cmd_id": CMD_ID, "result": "ok", "message": "m" * 257}, "body.message: 'mmmm"),
        ("ack", {"cmd_id": CMD_ID, "result": "ok", "data": []}, "body.data: [] is not of type 'object'"),
    ],
)
def test_bad_body(kind, body, detail):
    error = rejected(topic(kind), raw(envelope(kind, body)))
    assert (error.reason, error.device_code, error.seq) == (Rejection.SCHEMA, CODE, 7)
    assert error.detail.startswith(detail), error.detail
    assert len(error.detail) <= 200


# --- media_captured: photos and clips of a door session (a v1 addition, §5.4.1) ----------------

MEDIA_SESSION = "29247907-c561-4261-a532-6e489c1d3410"
PHOTO = {
    "camera": 1,
    "kind": "photo",
    "url": f"https://media.example.com/cab-0042/{MEDIA_SESSION}/1.jpg",
    "captured_at": 1795422400200,
}


def media(**detail: Any) -> dict[str, Any]:
    return {"kind": "media_captured", "session": MEDIA_SESSION, "detail": {**PHOTO, **detail}}


def test_media_examples_decode_exactly():
    assert decode_example("event-media-photo") == UpMessage(
        CODE,
        "event",
        "938147e1-398f-4a6b-b8a6-1134501eab10",
        1234,
        1795422402600,
        media(
            sha256="55c64d0fcd6f9d5f7c828093857e3fdfda68478bb4e9bd24d481ef391c7804e8",
            bytes=284113,
        ),
    )
    video = decode_example("event-media-video").body
    assert (video["session"], video["detail"]["kind"], video["detail"]["duration_ms"]) == (
        MEDIA_SESSION,
        "video",
        39400,
    )
    assert protocol.EventKind.MEDIA_CAPTURED == "media_captured"


@pytest.mark.parametrize(
    "body",
    [
        media(),
        media(camera=255, url="https://a.bc"),
        media(kind="video", duration_ms=0, bytes=0),
        media(url="https://cdn-1.example.com:8443/a/b.jpg?sig=x%2Fy&e=1#t", sha256="0" * 64),
    ],
)
def test_media_reports_that_are_valid(body):
    assert protocol.decode_up(topic("event"), raw(envelope("event", body))).body == body


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (
            media(url="http://media.example.com/1.jpg"),
            "body.detail.url: 'http://media.example.com/1.jpg' does",
        ),
        (media(url="ftp://media.example.com/1.jpg"), "body.detail.url: 'ftp://"),
        (media(url="javascript:alert(1)//https://a.com"), "body.detail.url: 'javascript:"),
        (media(url="https://10.0.0.1/1.jpg"), "body.detail.url: 'https://10.0.0.1/1.jpg' does not match"),
        (media(url="https://u:p@media.example.com/1.jpg"), "body.detail.url: 'https://u:p@"),
        (
            media(url='https://media.example.com/a"onerror="x'),
            "body.detail.url: 'https://media.example.com/a\"",
        ),
        (
            media(url="https://media.example.com/1.jpg\n"),
            "body.detail.url: 'https://media.example.com/1.jpg\\n'",
        ),
        (
            media(url="https://media.example.com/" + "a" * 2023),
            "body.detail.url: 'https://media.example.com/aaa",
        ),
        (
            {
                "kind": "media_captured",
                "session": MEDIA_SESSION,
                "detail": {k: v for k, v in PHOTO.items() if k != "url"},
            },
            "body.detail: 'url' is a required property",
        ),
        (media(kind="image"), "body.detail.kind: 'image' is not one of ['photo', 'video']"),
        (media(camera=0), "body.detail.camera: 0 is less than the minimum of 1"),
        (media(captured_at=1.5), "body.detail.captured_at: 1.5 is not of type 'integer'"),
        (media(sha256="A" * 64), "body.detail.sha256: 'AAAA"),
        (media(duration_ms=4000), "body.detail: 'duration_ms' is not one of"),
        (media(kind="video", width=640), "body.detail: Additional properties are not allowed ('width'"),
        ({"kind": "media_captured", "detail": PHOTO}, "body: 'session' is a required property"),
        ({"kind": "media_captured", "session": MEDIA_SESSION}, "body: 'detail' is a required property"),
    ],
)
def test_media_reports_that_are_refused(body, detail):
    error = rejected(topic("event"), raw(envelope("event", body)))
    assert (error.reason, error.device_code, error.seq) == (Rejection.SCHEMA, CODE, 7)
    assert error.detail.startswith(detail), error.detail


def test_protocol_error_survives_pickling():
    error = rejected(topic("telemetry"), raw(envelope("hb", {"uptime_s": 1})))
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.reason, copy.detail, copy.device_code, copy.seq) == (error.reason, error.detail, CODE, 7)
    assert str(copy) == "type_mismatch: envelope type 'hb' on a 'telemetry' topic"


# --- encoding --------------------------------------------------------------------------------


def test_encode_up_round_trip_and_wire_form():
    topic_, payload = protocol.encode_up(CODE, "hb", seq=1203, ts=1795420830180, id=ID, body={"uptime_s": 47})
    assert topic_ == "ov/v1/d/cab-0042/up/hb"
    assert payload == (
        b'{"v":1,"id":"84da2ef7-577c-4496-bdaa-614ed644a5db","seq":1203,"ts":1795420830180,'
        b'"type":"hb","body":{"uptime_s":47}}'
    )
    assert protocol.decode_up(topic_, payload) == UpMessage(
        CODE, "hb", ID, 1203, 1795420830180, {"uptime_s": 47}
    )


def test_encode_up_fills_id_and_ts():
    before = protocol.now_ms()
    _topic, payload = protocol.encode_up(CODE, "event", seq=3, body={"kind": protocol.EventKind.DOOR_OPENED})
    message = protocol.decode_up(_topic, payload)
    assert uuid.UUID(message.id).version == 4 and str(uuid.UUID(message.id)) == message.id
    assert before <= message.ts <= protocol.now_ms()
    assert message.body == {"kind": "door_opened"}
    assert (
        "会" in protocol.encode_up(CODE, "event", seq=4, body={"kind": "fault", "session": "会"})[1].decode()
    )


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        ({"code": "x", "type": "hb", "body": {"uptime_s": 1}}, Rejection.BAD_TOPIC),
        ({"type": "cmd", "body": {"uptime_s": 1}}, Rejection.BAD_TOPIC),
        ({"type": "hb", "body": {"uptime_s": -1}}, Rejection.SCHEMA),
        ({"type": "hb", "body": {"uptime_s": 1}, "seq": 0}, Rejection.SCHEMA),
        ({"type": "hb", "body": {"uptime_s": 1}, "id": "not-a-uuid"}, Rejection.SCHEMA),
        ({"type": "telemetry", "body": {"temperature_c": float("nan")}}, Rejection.BAD_JSON),
        ({"type": "event", "body": {"kind": "fault", "detail": {"x": {1, 2}}}}, Rejection.BAD_JSON),
        ({"type": "event", "body": {"kind": "fault", "session": "\ud800"}}, Rejection.BAD_JSON),
        ({"type": "event", "body": {"kind": "fault", "session": "a\x00"}}, Rejection.BAD_JSON),
        ({"type": "event", "body": {"kind": "fault", "detail": {"x": "y" * 17000}}}, Rejection.TOO_LARGE),
    ],
)
def test_encode_up_refuses_what_decode_up_would(args, reason):
    arguments = {"code": CODE, "seq": 1, **args}
    code, kind = arguments.pop("code"), arguments.pop("type")
    with pytest.raises(ProtocolError) as caught:
        protocol.encode_up(code, kind, **arguments)
    assert caught.value.reason == reason


# --- commands and cloud acks -----------------------------------------------------------------

NOW = 1795421700000


def command(kind: str, params: Any, **overrides: Any) -> dict[str, Any]:
    message = {"v": 1, "id": CMD_ID, "ts": NOW, "expires": NOW + 60000, "kind": kind, "params": params}
    message.update(overrides)
    return message


@pytest.mark.parametrize(
    ("kind", "params", "decoded"),
    [
        ("open_door", {"mode": "staff"}, {"door": 1, "mode": "staff"}),
        ("open_door", {"door": 2, "mode": "restock"}, {"door": 2, "mode": "restock"}),
        ("lock", {}, {}),
        ("unlock", {}, {}),
        ("reboot", {}, {}),
        ("self_test", {}, {}),
        ("set_temperature", {"target_c": 0}, {"target_c": 0}),
        ("set_temperature", {"target_c": 25.0}, {"target_c": 25.0}),
        ("set_temperature", {"target_c": 6.5}, {"target_c": 6.5}),
        ("set_lights", {"schedule": []}, {"schedule": []}),
        (
            "set_lights",
            {"schedule": [{"from": "00:00", "to": "23:59", "on": True}] * 48},
            {"schedule": [{"from": "00:00", "to": "23:59", "on": True}] * 48},
        ),
        ("set_foreign_object_lock", {"enabled": False}, {"enabled": False}),
        ("lock_on_expiry", {"expires_at": 0}, {"expires_at": 0}),
        ("lock_on_expiry", {"expires_at": MAX}, {"expires_at": MAX}),
    ],
)
def test_command_round_trip(kind, params, decoded):
    topic_, payload = protocol.encode_command(
        CODE, id=CMD_ID, kind=kind, params=params, ts=NOW, expires=NOW + 1
    )
    assert topic_ == "ov/v1/d/cab-0042/down/cmd"
    assert json.loads(payload)["params"] == params  # defaults are not added on the wire
    assert protocol.decode_command(payload) == command(kind, decoded, expires=NOW + 1)


@pytest.mark.parametrize(
    ("message", "detail"),
    [
        (command("open_door", {}), "params: 'mode' is a required property"),
        (command("open_door", {"mode": "shopper"}), "params.mode: 'shopper' is not one of"),
        (command("open_door", {"mode": "staff", "door": 0}), "params.door: 0 is less than the minimum of 1"),
        (command("open_door", {"mode": "staff", "door": "1"}), "params.door: '1' is not of type 'integer'"),
        (command("open_door", {"mode": "staff", "door": 1.0}), "params.door: 1.0 is not of type 'integer'"),
        (
            command("open_door", {"mode": "staff", "session": "x"}),
            "params: Additional properties are not allowed",
        ),
        (command("lock", {"now": True}), "params: {'now': True} is expected to be empty"),
        (command("reboot", []), "params: [] is not of type 'object'"),
        (command("set_temperature", {}), "params: 'target_c' is a required property"),
        (
            command("set_temperature", {"target_c": 25.5}),
            "params.target_c: 25.5 is greater than the maximum of 25",
        ),
        (command("set_temperature", {"target_c": -1}), "params.target_c: -1 is less than the minimum of 0"),
        (command("set_lights", {"schedule": {}}), "params.schedule: {} is not of type 'array'"),
        (
            command("set_lights", {"schedule": [{"from": "24:00", "to": "01:00", "on": True}]}),
            "params.schedule[0].from",
        ),
        (
            command("set_lights", {"schedule": [{"from": "7:00", "to": "08:00", "on": True}]}),
            "params.schedule[0].from",
        ),
        (
            command("set_lights", {"schedule": [{"from": "07:60", "to": "08:00", "on": True}]}),
            "params.schedule[0].from",
        ),
        (
            command("set_lights", {"schedule": [{"from": "07:00\n", "to": "08:00", "on": True}]}),
            "params.schedule[0]",
        ),
        (
            command("set_lights", {"schedule": [{"from": "07:00", "to": "08:00"}]}),
            "params.schedule[0]: 'on' is a",
        ),
        (
            command("set_lights", {"schedule": [{"from": "07:00", "to": "08:00", "on": 1}]}),
            "params.schedule[0].on",
        ),
        (
            command("set_lights", {"schedule": [{"from": "00:00", "to": "01:00", "on": True}] * 49}),
            "params.schedule",
        ),
        (
            command("set_foreign_object_lock", {"enabled": "yes"}),
            "params.enabled: 'yes' is not of type 'boolean'",
        ),
        (
            command("lock_on_expiry", {"expires_at": -1}),
            "params.expires_at: -1 is less than the minimum of 0",
        ),
        (command("lock_on_expiry", {"expires_at": 1.5}), "params.expires_at: 1.5 is not of type 'integer'"),
        (command("lock_on_expiry", {}), "params: 'expires_at' is a required property"),
        (command("fly", {}), "kind: 'fly' is not one of"),
        (command("lock", {}, v=2), "v: 1 was expected"),
        (command("lock", {}, id="1"), "id: '1' is too short"),
        (command("lock", {}, extra=1), "Additional properties are not allowed ('extra' was unexpected)"),
        (command("lock", {}, expires=NOW), "expires must be later than ts"),
        (command("lock", {}, expires=NOW - 1), "expires must be later than ts"),
        (command("lock", {}, ts=-5), "ts: -5 is less than the minimum of 0"),
    ],
)
def test_bad_commands(message, detail):
    with pytest.raises(ProtocolError) as caught:
        protocol.decode_command(raw(message))
    assert caught.value.reason == Rejection.SCHEMA
    assert caught.value.detail.startswith(detail), caught.value.detail
    if set(message) == {"v", "id", "ts", "expires", "kind", "params"} and message["v"] == 1:
        fields = {k: message[k] for k in ("id", "kind", "params", "ts", "expires")}
        with pytest.raises(ProtocolError):
            protocol.encode_command(CODE, **fields)


def refusal(decode: Callable[[Any], Any], payload: Any) -> Rejection:
    with pytest.raises(ProtocolError) as caught:
        decode(payload)
    return caught.value.reason


def test_command_transport_errors():
    assert refusal(protocol.decode_command, b"") == Rejection.BAD_JSON
    assert refusal(protocol.decode_command, b"[1]") == Rejection.BAD_JSON
    big = raw(command("set_lights", {"schedule": [], "pad": "x" * 17000}))
    assert refusal(protocol.decode_command, big) == Rejection.TOO_LARGE
    with pytest.raises(ProtocolError) as caught:
        protocol.encode_command("no", id=CMD_ID, kind="lock", params={}, ts=NOW, expires=NOW + 1)
    assert caught.value.reason == Rejection.BAD_TOPIC


def test_cloud_ack_round_trip():
    assert protocol.encode_cloud_ack(CODE, 1211) == ("ov/v1/d/cab-0042/down/ack", b'{"v":1,"seq":1211}')
    assert protocol.decode_cloud_ack(b'{"v":1,"seq":1211}') == 1211
    assert protocol.decode_cloud_ack(b'{"seq": 9007199254740991, "v": 1}') == MAX
    for seq in (0, -1, True, 1.0, "5", MAX + 1):
        with pytest.raises(ProtocolError) as caught:
            protocol.encode_cloud_ack(CODE, seq)
        assert caught.value.reason == Rejection.SCHEMA
    for payload in (
        b'{"v":1}',
        b'{"seq":5}',
        b'{"v":1,"seq":5,"x":1}',
        b'{"v":2,"seq":5}',
        b'{"v":1,"seq":5.0}',
    ):
        assert refusal(protocol.decode_cloud_ack, payload) == Rejection.SCHEMA
    assert refusal(protocol.decode_cloud_ack, b"5") == Rejection.BAD_JSON
    with pytest.raises(ProtocolError):
        protocol.encode_cloud_ack("x", 5)


# --- the device's clock estimate -------------------------------------------------------------


def test_server_clock_takes_the_largest_recent_observation():
    clock = protocol.ServerClock(window_ms=1000)
    assert clock.offset(0) is None and clock.server_now(500) == 500
    clock.observe(server_ts=1_200, machine_now=0)  # offset 1 200 (transit hides a little more)
    clock.observe(server_ts=100, machine_now=500)  # a command that waited: -400 does not lower it
    assert clock.offset(600) == 1_200
    assert clock.server_now(600) == 1_800
    assert clock.offset(1_001) == -400  # the first observation left the window
    clock.reset()
    assert clock.offset(1_001) is None


def test_server_clock_expiry():
    clock = protocol.ServerClock()
    assert clock.expired({"ts": 10_000, "expires": 70_000}, machine_now=9_000) is False
    # Queued while offline: judged by the estimate learnt before (offset +1 000).
    assert clock.expired({"ts": 20_000, "expires": 50_000}, machine_now=49_001) is True
    assert clock.expired({"ts": 20_000, "expires": 50_000}, machine_now=48_999) is False
    # Without any history a stale command cannot be recognised, unless the clock is NTP-synchronised.
    assert protocol.ServerClock().expired({"ts": 0, "expires": 10}, machine_now=1_000) is False
    assert (
        protocol.ServerClock(synchronised=True).expired({"ts": 0, "expires": 10}, machine_now=1_000) is True
    )


# --- the schema files and their compiled form ------------------------------------------------


def test_schema_files():
    files = sorted(p.stem for p in protocol.SCHEMA_DIR.glob("*.json"))
    assert files == sorted(protocol.SCHEMA_NAMES)
    for name in protocol.SCHEMA_NAMES:
        schema = protocol.load_schema(name)
        Draft202012Validator.check_schema(schema)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["$id"] == f"urn:openvend:device-protocol:v1:{name}"
    with pytest.raises(ValueError):
        protocol.load_schema("../pyproject")


def test_compiler_refuses_keywords_it_does_not_implement():
    for schema in (
        {"uniqueItems": True},
        {"patternProperties": {}},
        {"$ref": "other.json"},
        {"format": "uuid"},
    ):
        with pytest.raises(ValueError):
            protocol._Compiler(schema).compile(schema)


# --- property-based: robustness, equivalence with jsonschema, round trips --------------------

json_leaves = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**64), max_value=2**64)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
)
json_values = st.recursive(
    json_leaves,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
finite_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**64), max_value=2**64)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
topics = (
    st.sampled_from([topic(t) for t in protocol.UP_TYPES])
    | st.builds(lambda code, kind: f"ov/v1/d/{code}/up/{kind}", st.text(max_size=34), st.text(max_size=10))
    | st.text(max_size=60)
    | st.binary(max_size=60)
)


def never_raises_anything_else(topic_: Any, payload: Any) -> None:
    try:
        protocol.decode_up(topic_, payload)
    except ProtocolError as error:
        assert isinstance(error.reason, Rejection) and isinstance(error.detail, str)
        assert error.reason not in (Rejection.UNKNOWN_DEVICE, Rejection.REVOKED_DEVICE)


@given(topics, st.binary(max_size=400))
@settings(max_examples=300)
def test_fuzz_arbitrary_bytes(topic_, payload):
    never_raises_anything_else(topic_, payload)


@given(topics, st.text(max_size=200))
@settings(max_examples=200)
def test_fuzz_arbitrary_text(topic_, payload):
    never_raises_anything_else(topic_, payload)


@given(topics, json_values)
@settings(max_examples=300)
def test_fuzz_arbitrary_json(topic_, value):
    never_raises_anything_else(topic_, json.dumps(value).encode())


@given(st.sampled_from(protocol.UP_TYPES), st.data())
@settings(max_examples=300)
def test_fuzz_mutated_valid_messages(kind, data):
    payload = bytearray(raw(envelope(kind, VALID_BODIES[kind])))
    for _ in range(data.draw(st.integers(1, 4))):
        where = data.draw(st.integers(0, len(payload)))
        action = data.draw(st.sampled_from(["flip", "insert", "delete"]))
        if action == "flip" and where < len(payload):
            payload[where] ^= data.draw(st.integers(1, 255))
        elif action == "insert":
            payload[where:where] = data.draw(st.binary(min_size=1, max_size=3))
        else:
            del payload[where : where + 1]
    never_raises_anything_else(topic(kind), bytes(payload))


# Schema-guided generation: values that are valid, or invalid in one small way, far more often than
# random JSON is; used to show that the compiled predicates and jsonschema agree.


def resolve(schema: Any, root: dict[str, Any]) -> Any:
    while isinstance(schema, dict) and "$ref" in schema:
        target: Any = root
        for token in schema["$ref"][2:].split("/"):
            target = target[token]
        schema = target
    return schema


def property_candidates(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    for name, sub in schema.get("properties", {}).items():
        found.setdefault(name, []).append(sub)
    for branch in [*schema.get("allOf", []), schema.get("then"), schema.get("else")]:
        if isinstance(branch, dict):
            for name, subs in property_candidates(resolve(branch, root), root).items():
                found.setdefault(name, []).extend(subs)
    return found


def near(schema: Any, root: dict[str, Any]) -> st.SearchStrategy[Any]:
    schema = resolve(schema, root)
    if not isinstance(schema, dict):
        return json_values
    options: list[st.SearchStrategy[Any]] = []
    kind = schema.get("type")
    if "const" in schema:
        options.append(st.just(schema["const"]))
    if "enum" in schema:
        options.append(st.sampled_from(schema["enum"]))
    bounds = [schema[k] for k in ("minimum", "maximum") if k in schema]
    if bounds:
        edges = [b + d for b in bounds for d in (-1, -0.5, 0, 0.5, 1)] + [float(b) for b in bounds]
        options.append(st.sampled_from(edges) | st.integers(min(bounds) - 2, max(bounds) + 2))
        options.append(st.floats(min(bounds) - 1, max(bounds) + 1))
    if kind in ("integer", "number"):
        options.append(st.integers(-5, 5) | st.sampled_from([1.0, True, "1", 2**53, 2**53 - 1]))
    if kind == "boolean":
        options.append(st.booleans() | st.sampled_from([0, 1, "true", None]))
    if schema.get("minLength") == 36:  # the UUID definition
        options.append(st.uuids(version=4).map(str))
        options.append(st.uuids().map(str) | st.uuids(version=4).map(lambda u: str(u).upper()))
        options.append(st.uuids(version=4).map(lambda u: f"{u}\n"))
    elif "pattern" in schema:
        options.append(st.builds("{:02d}:{:02d}".format, st.integers(0, 25), st.integers(0, 61)))
        options.append(st.sampled_from(["7:00", "07:00\n", "0700", "23:59", "00:00"]))
    elif "minLength" in schema or "maxLength" in schema:
        low, high = schema.get("minLength", 0), min(schema.get("maxLength", 40), 300)
        options.append(st.text(min_size=max(0, low - 1), max_size=high + 1))
    elif kind == "string":
        options.append(st.text(max_size=10))
    candidates = property_candidates(schema, root)
    if candidates or kind == "object":
        required = set(schema.get("required", []))
        additional = schema.get("additionalProperties", True)
        names = schema.get("propertyNames", {})

        @st.composite
        def objects(draw: Callable[..., Any]) -> dict[str, Any]:
            value: dict[str, Any] = {}
            for name, subs in candidates.items():
                chance = 0.95 if name in required else 0.5
                if draw(st.floats(0, 1)) < chance:
                    value[name] = draw(st.one_of([near(s, root) for s in subs]))
            if isinstance(additional, dict):
                low, high = names.get("minLength", 0), names.get("maxLength", 10)
                keys = st.text(min_size=max(0, low - 1), max_size=high + 1)
                value.update(draw(st.dictionaries(keys, near(additional, root), max_size=3)))
                if draw(st.integers(0, 20)) == 0:
                    value.update({f"k{i}": 1 for i in range(schema.get("maxProperties", 64) + 1)})
            if draw(st.integers(0, 9)) == 0:
                value[draw(st.text(max_size=8))] = draw(finite_values)
            return value

        options.append(objects())
    if "items" in schema:
        items = near(schema["items"], root)
        options.append(st.lists(items, max_size=3))
        if "maxItems" in schema:
            options.append(items.map(lambda item: [item] * (schema["maxItems"] + 1)))
    if not options:
        return finite_values
    # Mostly values shaped by the schema, now and then anything at all.
    return st.integers(0, 9).flatmap(lambda pick: finite_values if pick == 0 else st.one_of(options))


def seeds(name: str) -> list[Any]:
    """Valid instances of one schema: the document's examples and this module's valid bodies."""
    found: list[Any] = []
    for topic_, text in EXAMPLES.values():
        message = json.loads(text)
        if name == "envelope" and "/up/" in topic_:
            found.append(message)
        elif "/up/" in topic_ and topic_.endswith(f"/up/{name}"):
            found.append(message["body"])
        elif (name == "cmd" and topic_.endswith("/down/cmd")) or (
            name == "cloud_ack" and topic_.endswith("/down/ack")
        ):
            found.append(message)
    if name in VALID_BODIES:
        found.append(VALID_BODIES[name])
    assert found
    return found


def mutants(name: str) -> st.SearchStrategy[Any]:
    """A valid instance with zero to two of its keys replaced by schema-shaped values, or removed."""
    schema = protocol.load_schema(name)
    candidates = property_candidates(schema, schema)

    @st.composite
    def build(draw: Callable[..., Any]) -> Any:
        value = dict(draw(st.sampled_from(seeds(name))))
        for _ in range(draw(st.sampled_from([0, 0, 1, 1, 2]))):
            key = draw(st.sampled_from(sorted(candidates)) | st.text(max_size=6))
            if key in value and draw(st.integers(0, 4)) == 0:
                del value[key]
            else:
                subs = candidates.get(key, [True])
                value[key] = draw(st.one_of([near(s, schema) for s in subs]))
        return value

    return build()


def depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(depth, value), default=0)
    return 0


def reference(name: str) -> Callable[[Any], bool]:
    return protocol.schema_validator(name).is_valid


@pytest.mark.parametrize("name", protocol.SCHEMA_NAMES)
def test_compiled_schema_agrees_with_jsonschema(name):
    schema = protocol.load_schema(name)
    compiled, expected = protocol.compile_schema(name), reference(name)
    outcomes: set[bool] = set()

    @given(near(schema, schema) | mutants(name))
    @settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    def agree(value: Any) -> None:
        verdict = compiled(value)
        event("valid" if verdict else "invalid")
        assert verdict == expected(value), value
        outcomes.add(verdict)

    agree()
    assert outcomes == {True, False}  # the generator reaches both sides of the boundary


@given(st.sampled_from(protocol.UP_TYPES), st.sampled_from(protocol.UP_TYPES), st.data())
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_decode_up_agrees_with_the_schema_files(topic_kind, body_kind, data):
    """decode_up accepts exactly what the schema files accept (under the strict integer rule)."""
    env = protocol.load_schema("envelope")
    body_schema = protocol.load_schema(body_kind)
    if data.draw(st.booleans()):
        topic_kind = body_kind
    message = data.draw(near(env, env) | mutants("envelope"))
    if isinstance(message, dict) and data.draw(st.booleans()):
        message["type"] = body_kind
        message["body"] = data.draw(near(body_schema, body_schema) | mutants(body_kind))
    text = json.dumps(message, ensure_ascii=False)
    assume(depth(message) <= protocol.MAX_DEPTH)
    assume(len(text.encode()) <= protocol.MAX_PAYLOAD and "NaN" not in text and "Infinity" not in text)
    assume("\\u0000" not in text and "\x00" not in text)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        assume(False)
    try:
        decoded = protocol.decode_up(topic(topic_kind), text.encode())
    except ProtocolError as error:
        event(error.reason)
        if not isinstance(message, dict):
            assert error.reason == Rejection.BAD_JSON
        elif not reference("envelope")(message):
            assert error.reason == Rejection.SCHEMA and error.seq is None
        elif message["type"] != topic_kind:
            assert error.reason == Rejection.TYPE_MISMATCH and error.seq == message["seq"]
        else:
            assert not reference(topic_kind)(message["body"])
            assert error.reason == Rejection.SCHEMA and error.seq == message["seq"]
    else:
        event("accepted")
        assert reference("envelope")(message) and message["type"] == topic_kind
        assert reference(topic_kind)(message["body"])
        assert decoded == UpMessage(
            CODE, topic_kind, message["id"], message["seq"], message["ts"], message["body"]
        )


safe_text = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=20)
detail_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | safe_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(safe_text, inner, max_size=3),
    max_leaves=8,
)
details = st.dictionaries(safe_text, detail_values, max_size=4)
short_text = st.text(
    st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), min_size=1, max_size=64
)
millis = st.integers(0, MAX)
numbers = st.integers(-40, 80) | st.floats(-40, 80)
VALID_BODY_STRATEGIES: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "status": st.one_of(
        st.fixed_dictionaries(
            {
                "online": st.just(True),
                "reason": st.sampled_from(["boot", "reconnect"]),
                "firmware": short_text,
                "boot_id": short_text,
            },
            optional={"hardware": short_text},
        ),
        st.fixed_dictionaries({"online": st.just(False), "reason": st.sampled_from(["lwt", "shutdown"])}),
    ),
    "hb": st.fixed_dictionaries({"uptime_s": millis}, optional={"rssi_dbm": st.integers(-150, 0)}),
    "telemetry": st.fixed_dictionaries(
        {},
        optional={
            "temperature_c": numbers,
            "humidity_pct": st.floats(0, 100) | st.integers(0, 100),
            "rssi_dbm": st.integers(-150, 0),
            "door": st.sampled_from(["open", "closed"]),
            "lock": st.sampled_from(["locked", "unlocked", "fault"]),
            "camera": st.sampled_from(["ok", "fault", "absent"]),
            "weights_g": st.dictionaries(
                st.text(min_size=1, max_size=32).filter(lambda k: not protocol._bad_string(k)),
                st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(10**9), 10**9),
                max_size=8,
            ),
            "firmware": short_text,
        },
    ).filter(bool),
    "event": st.one_of(
        st.fixed_dictionaries(
            {"kind": st.sampled_from([k for k in protocol.EVENT_KINDS if k != "media_captured"])},
            optional={"session": short_text, "detail": details},
        ),
        st.fixed_dictionaries(
            {
                "kind": st.just("media_captured"),
                "session": short_text,
                "detail": st.fixed_dictionaries(
                    {
                        "camera": st.integers(1, 255),
                        "kind": st.just("photo"),
                        "url": st.from_regex(
                            r"\Ahttps://[a-z0-9]{1,20}\.example\.com/[A-Za-z0-9._~%/-]{0,40}\Z"
                        ),
                        "captured_at": millis,
                    },
                    optional={"sha256": st.binary(min_size=32, max_size=32).map(bytes.hex), "bytes": millis},
                ),
            }
        ),
    ),
    "ack": st.one_of(
        st.fixed_dictionaries({"cmd_id": st.uuids(version=4).map(str), "result": st.just("ok")}),
        st.fixed_dictionaries(
            {
                "cmd_id": st.uuids(version=4).map(str),
                "result": st.sampled_from(["error", "rejected"]),
                "code": st.sampled_from(list(protocol.ErrorCode)).map(str),
            }
        ),
        st.fixed_dictionaries(
            {
                "cmd_id": st.uuids(version=4).map(str),
                "result": st.just("expired"),
                "code": st.just("E_EXPIRED"),
            }
        ),
    ).flatmap(
        lambda base: st.fixed_dictionaries(
            {k: st.just(v) for k, v in base.items()},
            optional={
                "message": st.text(max_size=256).filter(lambda m: not protocol._bad_string(m)),
                "data": details,
            },
        )
    ),
}


@given(
    st.sampled_from(protocol.UP_TYPES).flatmap(
        lambda kind: st.tuples(st.just(kind), VALID_BODY_STRATEGIES[kind])
    ),
    st.integers(1, MAX),
    millis,
    st.uuids(version=4).map(str),
    st.from_regex(protocol.DEVICE_CODE_PATTERN, fullmatch=True),
)
@settings(max_examples=400)
def test_round_trip_of_valid_messages(kind_body, seq, ts, message_id, code):
    kind, body = kind_body
    topic_, payload = protocol.encode_up(code, kind, seq=seq, body=body, ts=ts, id=message_id)
    assert topic_ == f"ov/v1/d/{code}/up/{kind}"
    assert len(payload) <= protocol.MAX_PAYLOAD
    assert protocol.decode_up(topic_, payload) == UpMessage(code, kind, message_id, seq, ts, body)
