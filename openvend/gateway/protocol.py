"""Device protocol v1: topics, the message envelope, and the codec between MQTT payloads and Python.

The specification is docs/device-protocol.md; the JSON Schema files in ``schemas/`` are its
machine-readable contract. This module is pure Python (no Django) so that the gateway, the device
simulator and firmware test rigs share one codec and one idea of what is valid.

Speed: the gateway decodes tens of thousands of messages a second, and jsonschema needs ~60 µs for one
telemetry body. So the schema files are compiled here, once, into plain Python predicates (a small
compiler for the keywords the files use; an unsupported keyword fails the import rather than being
ignored). jsonschema runs only after a predicate has rejected something, to word the reason. The tests
check the two agree on generated input.

The codec is stricter than the bare JSON grammar in ways that keep bad data out of storage: an integer
field takes an integer literal (``1``, not ``1.0``); NaN, Infinity, numbers beyond float range,
duplicate keys, U+0000 and unpaired surrogates are refused; nesting is limited to ``MAX_DEPTH``.
"""

from __future__ import annotations

import json
import math
import re
import time
import uuid
import zlib
from collections import deque
from collections.abc import Callable, Mapping
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any, Final, NamedTuple

PROTOCOL_VERSION: Final = 1
TOPIC_ROOT: Final = "ov/v1/d"
MAX_PAYLOAD: Final = 16384  # bytes of MQTT payload
MAX_DEPTH: Final = 16  # nested objects/arrays, the envelope counting as 1
MAX_SEQ: Final = 2**53 - 1  # also the cap on ms timestamps: exact in every JSON consumer, fits a bigint
KEEPALIVE_S: Final = 60
HEARTBEAT_INTERVAL_S: Final = 30
TELEMETRY_INTERVAL_S: Final = 60
OFFLINE_AFTER_S: Final = 3 * HEARTBEAT_INTERVAL_S  # silence after which the cloud marks a device offline
DEVICE_CODE_PATTERN: Final = r"[A-Za-z0-9][A-Za-z0-9_-]{3,31}"
_DEVICE_CODE = re.compile(DEVICE_CODE_PATTERN)
_DETAIL_LIMIT = 200  # details end up in logs and the dead-letter table; device input must not flood them


class UpType(StrEnum):
    STATUS = "status"
    HB = "hb"
    TELEMETRY = "telemetry"
    EVENT = "event"
    ACK = "ack"


class DownKind(StrEnum):
    CMD = "cmd"
    ACK = "ack"


class CommandKind(StrEnum):
    OPEN_DOOR = "open_door"
    LOCK = "lock"
    UNLOCK = "unlock"
    REBOOT = "reboot"
    SELF_TEST = "self_test"
    SET_TEMPERATURE = "set_temperature"
    SET_LIGHTS = "set_lights"
    SET_FOREIGN_OBJECT_LOCK = "set_foreign_object_lock"
    LOCK_ON_EXPIRY = "lock_on_expiry"


class EventKind(StrEnum):
    DOOR_OPENED = "door_opened"
    DOOR_CLOSED = "door_closed"
    LOCK_ENGAGED = "lock_engaged"
    LOCK_RELEASED = "lock_released"
    LOCK_FAULT = "lock_fault"
    CAMERA_FAULT = "camera_fault"
    CAMERA_OK = "camera_ok"
    FOREIGN_OBJECT = "foreign_object"
    WEIGHT_CHANGE = "weight_change"
    FAULT = "fault"
    MEDIA_CAPTURED = "media_captured"  # a v1 addition: the detail has its own schema (event.json $defs)


class AckResult(StrEnum):
    OK = "ok"
    ERROR = "error"
    REJECTED = "rejected"
    EXPIRED = "expired"


class ErrorCode(StrEnum):
    """Why a command did not succeed (ack.code); the cloud also dead-letters commands with these."""

    E_UNKNOWN_COMMAND = "E_UNKNOWN_COMMAND"
    E_BAD_PARAMS = "E_BAD_PARAMS"
    E_BUSY = "E_BUSY"
    E_EXPIRED = "E_EXPIRED"
    E_DOOR_OPEN = "E_DOOR_OPEN"
    E_HARDWARE = "E_HARDWARE"
    E_NOT_SUPPORTED = "E_NOT_SUPPORTED"


class Rejection(StrEnum):
    """Why the cloud refused a device message (the dead-letter reason)."""

    BAD_TOPIC = "bad_topic"
    BAD_JSON = "bad_json"
    TOO_LARGE = "too_large"
    SCHEMA = "schema"
    TYPE_MISMATCH = "type_mismatch"
    UNKNOWN_DEVICE = "unknown_device"
    REVOKED_DEVICE = "revoked_device"


UP_TYPES: Final[tuple[str, ...]] = tuple(t.value for t in UpType)
DOWN_KINDS: Final[tuple[str, ...]] = tuple(k.value for k in DownKind)
COMMAND_KINDS: Final[tuple[str, ...]] = tuple(k.value for k in CommandKind)
EVENT_KINDS: Final[tuple[str, ...]] = tuple(k.value for k in EventKind)
UP_QOS: Final[Mapping[str, int]] = {"status": 1, "hb": 0, "telemetry": 0, "event": 1, "ack": 1}
UP_RETAIN: Final[Mapping[str, bool]] = {t: t == "status" for t in UP_TYPES}
DOWN_QOS: Final[Mapping[str, int]] = {"cmd": 1, "ack": 1}
# Kept in the device's outbox until a cloud ack covers them; the cloud acks only these types.
STORED_TYPES: Final = frozenset({"event", "ack"})
GATEWAY_SUBSCRIPTION: Final = f"{TOPIC_ROOT}/+/up/#"

_UP_TYPE_SET = frozenset(UP_TYPES)
_DOWN_KIND_SET = frozenset(DOWN_KINDS)


# --- topics ----------------------------------------------------------------------------------


def is_device_code(code: object) -> bool:
    return isinstance(code, str) and _DEVICE_CODE.fullmatch(code) is not None


def _checked_code(code: object) -> str:
    if not is_device_code(code):
        raise ValueError(f"invalid device code {_show(code)}")
    assert isinstance(code, str)
    return code


def up_topic(code: str, type: str) -> str:
    if not (isinstance(type, str) and type in _UP_TYPE_SET):
        raise ValueError(f"unknown message type {_show(type)}")
    return f"{TOPIC_ROOT}/{_checked_code(code)}/up/{type}"


def down_topic(code: str, kind: str) -> str:
    if not (isinstance(kind, str) and kind in _DOWN_KIND_SET):
        raise ValueError(f"unknown downlink kind {_show(kind)}")
    return f"{TOPIC_ROOT}/{_checked_code(code)}/down/{kind}"


def device_subscription(code: str) -> str:
    """The one filter a device subscribes to."""
    return f"{TOPIC_ROOT}/{_checked_code(code)}/down/#"


def partition_of_topic(topic: str, partitions: int) -> int:
    """Which of `partitions` gateways owns the device that sent on `topic`: the CRC-32 of its code,
    the same in every process, host and release. A topic with no device code belongs to the first."""
    parts = topic.split("/", 4)
    code = parts[3] if len(parts) == 5 and f"{parts[0]}/{parts[1]}/{parts[2]}" == TOPIC_ROOT else ""
    return zlib.crc32(code.encode()) % partitions


def shared(group: str, topic: str) -> str:
    """A shared subscription, so that several gateways split the traffic instead of each getting it all."""
    if not group or any(c in group for c in "/+#"):
        raise ValueError(f"invalid share group {_show(group)}")
    return f"$share/{group}/{topic}"


def parse_up_topic(topic: str | bytes) -> tuple[str, str]:
    """(device code, type) of an uplink topic, or ProtocolError(bad_topic).

    The error carries the device code whenever the code level itself is valid, so a dead letter
    can still be attributed to a device."""
    if isinstance(topic, bytes | bytearray | memoryview):
        try:
            topic = bytes(topic).decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError(Rejection.BAD_TOPIC, "topic is not UTF-8") from None
    if not isinstance(topic, str):
        raise ProtocolError(Rejection.BAD_TOPIC, f"topic is a {type(topic).__name__}, not a string")
    parts = topic.split("/")
    if len(parts) < 4 or parts[0] != "ov" or parts[1] != "v1" or parts[2] != "d":
        raise ProtocolError(Rejection.BAD_TOPIC, f"{_show(topic)} is not under {TOPIC_ROOT}/")
    code = parts[3]
    if _DEVICE_CODE.fullmatch(code) is None:
        raise ProtocolError(Rejection.BAD_TOPIC, f"invalid device code {_show(code)}")
    if len(parts) != 6 or parts[4] != "up":
        raise ProtocolError(Rejection.BAD_TOPIC, f"{_show(topic)} is not an uplink topic", code)
    if parts[5] not in _UP_TYPE_SET:
        raise ProtocolError(Rejection.BAD_TOPIC, f"unknown message type {_show(parts[5])}", code)
    return code, parts[5]


# --- messages and errors ---------------------------------------------------------------------


class UpMessage(NamedTuple):  # a tuple: built per message on the gateway's hot path
    device_code: str
    type: str
    id: str
    seq: int
    ts: int
    body: dict[str, Any]


class ProtocolError(Exception):
    """A message that breaks the protocol. `reason` is the dead-letter reason; `device_code` is set
    when the topic named a valid device, `seq` when the envelope was valid (so the message can be
    attributed and counted even though its content is refused)."""

    def __init__(
        self, reason: Rejection, detail: str, device_code: str | None = None, seq: int | None = None
    ) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.device_code = device_code
        self.seq = seq

    def __reduce__(self) -> tuple[Any, ...]:
        # The default would call __init__ with the formatted message only; keep every field.
        return (type(self), (self.reason, self.detail, self.device_code, self.seq))


def _show(value: object, limit: int = 48) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _clip(text: str) -> str:
    return text if len(text) <= _DETAIL_LIMIT else text[: _DETAIL_LIMIT - 1] + "…"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


# --- JSON ------------------------------------------------------------------------------------


class _BadJSON(ValueError):
    pass


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json keeps the last of duplicate keys; other parsers keep the first. Refuse the ambiguity.
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _value in pairs:
            if key in seen:
                raise _BadJSON(f"duplicate key {_show(key)}")
            seen.add(key)
    return obj


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):  # 1e400 parses to inf, which no database column or JSON encoder accepts
        raise _BadJSON(f"number {_show(text)} is out of range")
    return value


def _no_constant(name: str) -> Any:
    raise _BadJSON(f"{name} is not JSON")


_DECODER = json.JSONDecoder(
    object_pairs_hook=_unique_object, parse_float=_finite_float, parse_constant=_no_constant
)


def _bad_string(text: str) -> bool:
    if "\x00" in text:  # PostgreSQL text and jsonb cannot hold U+0000
        return True
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # an unpaired surrogate from a \ud800-style escape
        return True
    return False


def _scan(root: object) -> str | None:
    """Depth and string checks; run only when the text shows they might fail (see _parse)."""
    stack: list[tuple[object, int]] = [(root, 1)]
    while stack:
        value, depth = stack.pop()
        if type(value) is dict:
            if depth > MAX_DEPTH:
                return f"nested deeper than {MAX_DEPTH} levels"
            for key, item in value.items():
                if _bad_string(key):
                    return "a key contains U+0000 or an unpaired surrogate"
                stack.append((item, depth + 1))
        elif type(value) is list:
            if depth > MAX_DEPTH:
                return f"nested deeper than {MAX_DEPTH} levels"
            stack.extend((item, depth + 1) for item in value)
        elif type(value) is str and _bad_string(value):
            return "a string contains U+0000 or an unpaired surrogate"
    return None


def _payload_bytes(payload: object, code: str | None) -> bytes:
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, bytearray):
        return bytes(payload)
    if isinstance(payload, memoryview):
        return payload.tobytes()
    if isinstance(payload, str):
        try:
            return payload.encode("utf-8")
        except UnicodeEncodeError:
            raise ProtocolError(Rejection.BAD_JSON, "payload is not valid Unicode", code) from None
    raise ProtocolError(Rejection.BAD_JSON, f"payload is a {type(payload).__name__}, not bytes", code)


def _parse(payload: object, code: str | None) -> dict[str, Any]:
    data = _payload_bytes(payload, code)
    if len(data) > MAX_PAYLOAD:
        raise ProtocolError(Rejection.TOO_LARGE, f"{len(data)} bytes, limit {MAX_PAYLOAD}", code)
    if not data:
        # Also what subscribers see when someone clears a retained status message.
        raise ProtocolError(Rejection.BAD_JSON, "empty payload", code)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProtocolError(Rejection.BAD_JSON, f"not UTF-8 (byte {exc.start})", code) from None
    if text[0] == "\ufeff":
        raise ProtocolError(Rejection.BAD_JSON, "payload starts with a byte-order mark", code)
    try:
        obj = _DECODER.decode(text)
    except _BadJSON as exc:
        raise ProtocolError(Rejection.BAD_JSON, str(exc), code) from None
    except json.JSONDecodeError as exc:
        raise ProtocolError(Rejection.BAD_JSON, f"not JSON: {exc.msg} (char {exc.pos})", code) from None
    except RecursionError:
        raise ProtocolError(Rejection.BAD_JSON, f"nested deeper than {MAX_DEPTH} levels", code) from None
    except ValueError as exc:  # e.g. an integer literal longer than Python's digit limit
        raise ProtocolError(Rejection.BAD_JSON, _clip(f"not JSON: {exc}"), code) from None
    if type(obj) is not dict:
        raise ProtocolError(Rejection.BAD_JSON, "payload is not a JSON object", code)
    # Most messages can be cleared without walking them: fewer containers than MAX_DEPTH cannot
    # nest too deep, and without a \u escape no string can hold U+0000 or a lone surrogate
    # (raw control characters are refused by the parser, surrogates by the UTF-8 decoder).
    if text.count("{") + text.count("[") > MAX_DEPTH or "\\u" in text:
        problem = _scan(obj)
        if problem is not None:
            raise ProtocolError(Rejection.BAD_JSON, problem, code)
    return obj


def _dump(message: Mapping[str, Any], code: str | None) -> bytes:
    try:
        text = json.dumps(message, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        return text.encode("utf-8")
    except (TypeError, ValueError, RecursionError) as exc:
        raise ProtocolError(Rejection.BAD_JSON, _clip(f"cannot encode: {exc}"), code) from None


# --- schemas ---------------------------------------------------------------------------------

SCHEMA_DIR: Final = Path(__file__).resolve().with_name("schemas")
SCHEMA_NAMES: Final[tuple[str, ...]] = ("envelope", *UP_TYPES, "cmd", "cloud_ack")

_Check = Callable[[Any], bool]
_ANNOTATIONS = frozenset(
    {"$schema", "$id", "$comment", "$defs", "title", "description", "default", "examples"}
)
_KEYWORDS = frozenset(
    {
        "$ref",
        "type",
        "enum",
        "const",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "minLength",
        "maxLength",
        "pattern",
        "properties",
        "additionalProperties",
        "required",
        "minProperties",
        "maxProperties",
        "propertyNames",
        "items",
        "minItems",
        "maxItems",
        "allOf",
        "anyOf",
        "oneOf",
        "not",
        "if",
        "then",
        "else",
    }
)
# Exact type tests: the parser yields only these types, and bool must not pass as an integer.
_TYPE_TESTS: dict[str, _Check] = {
    "object": lambda x: type(x) is dict,
    "array": lambda x: type(x) is list,
    "string": lambda x: type(x) is str,
    "integer": lambda x: type(x) is int,
    "number": lambda x: type(x) is int or type(x) is float,
    "boolean": lambda x: type(x) is bool,
    "null": lambda x: x is None,
}


def _always(_value: Any) -> bool:
    return True


def _never(_value: Any) -> bool:
    return False


def _json_equal(a: Any, b: Any) -> bool:
    """Equality as JSON Schema defines it: 1 == 1.0, but true != 1."""
    if type(a) is bool or type(b) is bool:
        return type(a) is type(b) and a == b
    if type(a) in (int, float) and type(b) in (int, float):
        return bool(a == b)
    if type(a) is not type(b):
        return False
    if type(a) is list:
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    if type(a) is dict:
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    return bool(a == b)


def _all_of(checks: list[_Check]) -> _Check:
    if not checks:
        return _always
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        first, second = checks
        return lambda x: first(x) and second(x)

    def check(x: Any) -> bool:
        # A plain loop: all() over a generator costs a frame per call on the hot path.
        for one in checks:  # noqa: SIM110
            if not one(x):
                return False
        return True

    return check


class _Compiler:
    """Turns one schema document into a predicate, for the keyword subset in _KEYWORDS."""

    def __init__(self, root: Mapping[str, Any]) -> None:
        self._root = root
        self._refs: dict[str, _Check] = {}
        self._resolving: set[str] = set()

    def compile(self, schema: Any) -> _Check:
        if schema is True:
            return _always
        if schema is False:
            return _never
        if type(schema) is not dict:
            raise ValueError(f"schema must be an object or a boolean, got {_show(schema)}")
        unknown = schema.keys() - _KEYWORDS - _ANNOTATIONS
        if unknown:
            raise ValueError(f"unsupported schema keywords {sorted(unknown)}")
        checks: list[_Check] = []
        if "$ref" in schema:
            checks.append(self._ref(schema["$ref"]))
        # A single-type schema folds its type test into that type's rule (an integer with its
        # bounds, an object with its properties): one call per value on the hot path, not three.
        kind = schema.get("type")
        rule_of = {
            "integer": self._numbers,
            "number": self._numbers,
            "string": self._strings,
            "object": self._objects,
            "array": self._arrays,
        }
        own = rule_of.get(kind) if type(kind) is str else None
        own_rule = own(schema, kind) if own is not None else None
        if "type" in schema and own_rule is None:
            checks.append(self._type(schema["type"]))
        enum = self._enum(schema)
        if enum is not None:
            checks.append(enum)
        for typed in (self._numbers, self._strings, self._objects, self._arrays):
            # The schema's own type's rule tests the type; the others let other types pass.
            rule = own_rule if typed == own else typed(schema, None)
            if rule is not None:
                checks.append(rule)
        logic = self._logic(schema)
        if logic is not None:
            checks.append(logic)
        return _all_of(checks)

    def _ref(self, ref: str) -> _Check:
        if not ref.startswith("#"):
            raise ValueError(f"only local $ref is supported, got {ref!r}")
        if ref not in self._refs:
            if ref in self._resolving:
                raise ValueError(f"recursive $ref {ref!r} is not supported")
            self._resolving.add(ref)
            target: Any = self._root
            for token in filter(None, ref[1:].split("/")):
                target = target[token.replace("~1", "/").replace("~0", "~")]
            self._refs[ref] = self.compile(target)
            self._resolving.discard(ref)
        return self._refs[ref]

    @staticmethod
    def _type(spec: str | list[str]) -> _Check:
        if isinstance(spec, str):
            return _TYPE_TESTS[spec]
        tests = [_TYPE_TESTS[name] for name in spec]
        return lambda x: any(test(x) for test in tests)

    @staticmethod
    def _enum(schema: Mapping[str, Any]) -> _Check | None:
        checks: list[_Check] = []
        if "enum" in schema:
            values = list(schema["enum"])
            if all(type(v) is str for v in values):
                strings = frozenset(values)
                checks.append(lambda x: type(x) is str and x in strings)
            else:
                checks.append(lambda x: any(_json_equal(x, v) for v in values))
        if "const" in schema:
            expected = schema["const"]
            if type(expected) is int:  # the envelope's "v": skip the general comparison
                checks.append(lambda x: (type(x) is int or type(x) is float) and x == expected)
            else:
                checks.append(lambda x: _json_equal(x, expected))
        return _all_of(checks) if checks else None

    @staticmethod
    def _numbers(schema: Mapping[str, Any], kind: str | None) -> _Check | None:
        keys = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
        if not any(k in schema for k in keys):
            return None
        # Folded (kind set): a value of another type fails; otherwise these rules ignore it.
        types = (int,) if kind == "integer" else (int, float)
        other = kind is None
        low = schema.get("minimum", -math.inf)
        high = schema.get("maximum", math.inf)
        above = schema.get("exclusiveMinimum", -math.inf)
        below = schema.get("exclusiveMaximum", math.inf)

        def check(x: Any) -> bool:
            if type(x) not in types:
                return other
            return bool(low <= x <= high and above < x < below)

        return check

    @staticmethod
    def _strings(schema: Mapping[str, Any], kind: str | None) -> _Check | None:
        if not any(k in schema for k in ("minLength", "maxLength", "pattern")):
            return None
        other = kind is None
        shortest = schema.get("minLength", 0)
        longest = schema.get("maxLength", math.inf)
        # re.search, as jsonschema does: patterns are unanchored unless they anchor themselves.
        search = re.compile(schema["pattern"]).search if "pattern" in schema else None

        def check(x: Any) -> bool:
            if type(x) is not str:
                return other
            if not shortest <= len(x) <= longest:
                return False
            return search is None or search(x) is not None

        return check

    def _objects(self, schema: Mapping[str, Any], kind: str | None) -> _Check | None:
        keys = (
            "properties",
            "additionalProperties",
            "required",
            "minProperties",
            "maxProperties",
            "propertyNames",
        )
        if not any(k in schema for k in keys):
            return None
        props = {name: self.compile(sub) for name, sub in schema.get("properties", {}).items()}
        additional = schema.get("additionalProperties", True)
        extra = None if additional is True else self.compile(additional)
        required = frozenset(schema.get("required", ()))
        fewest = schema.get("minProperties", 0)
        most = schema.get("maxProperties", math.inf)
        names = self.compile(schema["propertyNames"]) if "propertyNames" in schema else None
        other = kind is None

        def check(x: Any) -> bool:
            if type(x) is not dict:
                return other
            if required and not x.keys() >= required:
                return False
            if not fewest <= len(x) <= most:
                return False
            for key, value in x.items():
                if names is not None and not names(key):
                    return False
                rule = props.get(key)
                if rule is None:
                    if extra is not None and not extra(value):
                        return False
                elif not rule(value):
                    return False
            return True

        return check

    def _arrays(self, schema: Mapping[str, Any], kind: str | None) -> _Check | None:
        if not any(k in schema for k in ("items", "minItems", "maxItems")):
            return None
        other = kind is None
        each = self.compile(schema["items"]) if "items" in schema else None
        fewest = schema.get("minItems", 0)
        most = schema.get("maxItems", math.inf)

        def check(x: Any) -> bool:
            if type(x) is not list:
                return other
            if not fewest <= len(x) <= most:
                return False
            return each is None or all(each(item) for item in x)

        return check

    def _logic(self, schema: Mapping[str, Any]) -> _Check | None:
        checks: list[_Check] = []
        if "allOf" in schema:
            checks.append(_all_of([self.compile(sub) for sub in schema["allOf"]]))
        if "anyOf" in schema:
            any_of = [self.compile(sub) for sub in schema["anyOf"]]
            checks.append(lambda x: any(c(x) for c in any_of))
        if "oneOf" in schema:
            one_of = [self.compile(sub) for sub in schema["oneOf"]]
            checks.append(lambda x: sum(1 for c in one_of if c(x)) == 1)
        if "not" in schema:
            negated = self.compile(schema["not"])
            checks.append(lambda x: not negated(x))
        if "if" in schema:
            condition = self.compile(schema["if"])
            then = self.compile(schema.get("then", True))
            otherwise = self.compile(schema.get("else", True))
            checks.append(lambda x: then(x) if condition(x) else otherwise(x))
        return _all_of(checks) if checks else None


@cache
def load_schema(name: str) -> dict[str, Any]:
    """One of SCHEMA_NAMES, parsed. Shared: do not modify the result."""
    if name not in SCHEMA_NAMES:
        raise ValueError(f"unknown schema {name!r}")
    with (SCHEMA_DIR / f"{name}.json").open(encoding="utf-8") as handle:
        schema: dict[str, Any] = json.load(handle)
    return schema


def compile_schema(name: str) -> Callable[[Any], bool]:
    """A fast predicate equivalent to `schema_validator(name).is_valid` on parsed JSON."""
    schema = load_schema(name)
    return _Compiler(schema).compile(schema)


@cache
def schema_validator(name: str) -> Any:
    """A jsonschema validator for one schema, with the codec's type rules (an integer is an integer
    literal). Used to explain rejections; imported lazily so the hot path never needs jsonschema."""
    from jsonschema import Draft202012Validator, validators

    checker = Draft202012Validator.TYPE_CHECKER.redefine("integer", lambda _checker, x: type(x) is int)
    strict = validators.extend(Draft202012Validator, type_checker=checker)
    return strict(load_schema(name))


def _describe(name: str, instance: Any, where: str) -> str:
    try:
        from jsonschema.exceptions import best_match

        errors = list(schema_validator(name).iter_errors(instance))
        # An unconditional error ("'done' is not one of …") explains more than what a conditional
        # branch demands as a consequence of it ("'code' is a required property").
        direct = [e for e in errors if not {"then", "else"} & set(e.relative_schema_path)]
        error = best_match(direct or errors)
    except Exception:  # the verdict is already made; only its wording is at stake here
        error = None
    if error is None:
        return f"{where or 'message'} does not match {name}.json"
    path = where
    for step in error.absolute_path:
        path += f"[{step}]" if isinstance(step, int) else (f".{step}" if path else str(step))
    return _clip(f"{path}: {error.message}" if path else error.message)


_ENVELOPE = compile_schema("envelope")
_BODIES: dict[str, _Check] = {name: compile_schema(name) for name in UP_TYPES}
_COMMAND = compile_schema("cmd")
_CLOUD_ACK = compile_schema("cloud_ack")


# --- device → cloud --------------------------------------------------------------------------


# Valid uplink topics already seen: a fleet has a handful per device, and the gateway sees each
# thousands of times. Bounded; only topics that parsed are kept.
_UP_TOPICS: dict[str, tuple[str, str]] = {}
_UP_TOPICS_LIMIT = 500_000


def decode_up(topic: str | bytes, payload: bytes | bytearray | memoryview | str) -> UpMessage:
    """Validate one uplink message and return it; any fault raises ProtocolError and nothing else.

    Checks in order: topic (bad_topic), size (too_large), UTF-8 JSON object (bad_json), envelope
    (schema), envelope type against the topic (type_mismatch), body (schema)."""
    parsed = _UP_TOPICS.get(topic) if type(topic) is str else None
    if parsed is None:
        parsed = parse_up_topic(topic)
        if type(topic) is str:
            if len(_UP_TOPICS) >= _UP_TOPICS_LIMIT:
                _UP_TOPICS.clear()
            _UP_TOPICS[topic] = parsed
    code, kind = parsed
    obj = _parse(payload, code)
    if not _ENVELOPE(obj):
        raise ProtocolError(Rejection.SCHEMA, _describe("envelope", obj, ""), code)
    seq: int = obj["seq"]
    if obj["type"] != kind:
        raise ProtocolError(
            Rejection.TYPE_MISMATCH, f"envelope type {obj['type']!r} on a {kind!r} topic", code, seq
        )
    body: dict[str, Any] = obj["body"]
    if not _BODIES[kind](body):
        raise ProtocolError(Rejection.SCHEMA, _describe(kind, body, "body"), code, seq)
    return UpMessage(code, kind, obj["id"], seq, obj["ts"], body)


def encode_up(
    code: str,
    type: str,
    *,
    seq: int,
    body: Mapping[str, Any],
    ts: int | None = None,
    id: str | None = None,
) -> tuple[str, bytes]:
    """(topic, payload) of one uplink message, validated by decode_up's rules.

    ts defaults to the current time and id to a fresh UUID; a replay passes the stored ones."""
    try:
        topic = up_topic(code, type)
    except ValueError as exc:
        raise ProtocolError(Rejection.BAD_TOPIC, str(exc), code if is_device_code(code) else None) from None
    envelope = {
        "v": PROTOCOL_VERSION,
        "id": str(uuid.uuid4()) if id is None else id,
        "seq": seq,
        "ts": now_ms() if ts is None else ts,
        "type": type,
        "body": body,
    }
    payload = _dump(envelope, code)
    decode_up(topic, payload)
    return topic, payload


# --- cloud → device --------------------------------------------------------------------------


def _down_topic(code: str, kind: str) -> str:
    try:
        return down_topic(code, kind)
    except ValueError as exc:
        raise ProtocolError(Rejection.BAD_TOPIC, str(exc)) from None


def encode_command(
    code: str, *, id: str, kind: str, params: Mapping[str, Any], ts: int, expires: int
) -> tuple[str, bytes]:
    """(topic, payload) of one command, validated as decode_command would."""
    topic = _down_topic(code, "cmd")
    message = {"v": PROTOCOL_VERSION, "id": id, "ts": ts, "expires": expires, "kind": kind, "params": params}
    payload = _dump(message, code)
    _decode_command(payload, code)
    return topic, payload


def decode_command(payload: bytes | bytearray | memoryview | str) -> dict[str, Any]:
    """A validated command, with parameter defaults filled in (open_door: door 1)."""
    return _decode_command(payload, None)


def _decode_command(payload: object, code: str | None) -> dict[str, Any]:
    command = _parse(payload, code)
    if not _COMMAND(command):
        raise ProtocolError(Rejection.SCHEMA, _describe("cmd", command, ""), code)
    if command["expires"] <= command["ts"]:
        raise ProtocolError(Rejection.SCHEMA, "expires must be later than ts", code)
    if command["kind"] == CommandKind.OPEN_DOOR:
        command["params"].setdefault("door", 1)
    return command


def encode_cloud_ack(code: str, seq: int) -> tuple[str, bytes]:
    topic = _down_topic(code, "ack")
    message = {"v": PROTOCOL_VERSION, "seq": seq}
    if not _CLOUD_ACK(message):
        raise ProtocolError(Rejection.SCHEMA, _describe("cloud_ack", message, ""), code)
    return topic, _dump(message, code)


def decode_cloud_ack(payload: bytes | bytearray | memoryview | str) -> int:
    """The cumulative seq of a cloud ack: every device message with seq <= it is stored."""
    message = _parse(payload, None)
    if not _CLOUD_ACK(message):
        raise ProtocolError(Rejection.SCHEMA, _describe("cloud_ack", message, ""))
    seq: int = message["seq"]
    return seq


# --- command expiry on the device ------------------------------------------------------------


class ServerClock:
    """The device's estimate of server time, learnt from command timestamps (reference for the
    "Expiry" section of the protocol document, for the simulator and firmware test rigs).

    A command's ts was stamped before it travelled, so ``ts - machine_now`` at receipt never
    overstates the offset server − machine; the largest recent value is the best estimate and errs
    towards executing rather than wrongly expiring. Observations older than ``window_ms`` are
    dropped so that a machine clock running fast is not judged by a stale maximum. A machine whose
    clock is NTP-synchronised passes ``synchronised=True``: offset 0 then counts as an observation,
    which lets it recognise a stale command that arrives first after a long silence.
    """

    def __init__(self, *, window_ms: int = 24 * 3600 * 1000, synchronised: bool = False) -> None:
        self.window_ms = window_ms
        self.synchronised = synchronised
        self._seen: deque[tuple[int, int]] = deque(maxlen=256)  # (machine time, ts - machine time)

    def observe(self, server_ts: int, machine_now: int) -> None:
        self._seen.append((machine_now, server_ts - machine_now))

    def reset(self) -> None:
        """Forget everything: call when the machine clock has been set."""
        self._seen.clear()

    def offset(self, machine_now: int) -> int | None:
        while self._seen and self._seen[0][0] < machine_now - self.window_ms:
            self._seen.popleft()
        candidates = [offset for _at, offset in self._seen]
        if self.synchronised:
            candidates.append(0)
        return max(candidates) if candidates else None

    def server_now(self, machine_now: int) -> int:
        offset = self.offset(machine_now)
        return machine_now + (offset or 0)

    def expired(self, command: Mapping[str, Any], machine_now: int) -> bool:
        """Observe a just-received command, then tell whether it must be answered "expired"."""
        self.observe(command["ts"], machine_now)
        return self.server_now(machine_now) > command["expires"]
