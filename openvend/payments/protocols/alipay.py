"""Alipay OpenAPI wire protocol (RSA2): request signing, response and notification verification,
timestamps in Beijing time and yuan amounts. Pure functions shared by our client and the sandbox.

Signing string: every parameter except `sign` (and, for notifications, `sign_type`) whose value is
not empty, sorted by key, joined as `k=v` with `&`, values *not* URL-encoded. The signature is
SHA256withRSA (PKCS#1 v1.5) in base64.

A synchronous response is `{"<method>_response": {...}, "sign": "..."}` and the signature covers the
node's JSON text exactly as it appears in the body, so it is cut out of the raw text, never re-serialised.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from openvend.payments.providers.base import Rejected, RejectReason

BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"
MAX_CLOCK_SKEW_S = 300
SUCCESS_CODE = "10000"

_YUAN = re.compile(r"^(0|[1-9]\d*)(\.\d{1,2})?$")
_CENT = Decimal("0.01")


@dataclass(frozen=True)
class KeyPair:
    private_key_pem: str = field(repr=False)
    public_key_pem: str


def generate_key_pair(bits: int = 2048) -> KeyPair:
    """A fresh RSA key pair as PEM text (PKCS#8 private key, SubjectPublicKeyInfo public key)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return KeyPair(private_key_pem=private_pem, public_key_pem=public_pem)


def _as_pem(text: str, label: str) -> bytes:
    # Alipay's console hands out keys as bare base64 with no PEM armour; accept both forms.
    stripped = text.strip()
    if stripped.startswith("-----BEGIN"):
        return stripped.encode()
    body = "\n".join(stripped[i : i + 64] for i in range(0, len(stripped), 64))
    return f"-----BEGIN {label}-----\n{body}\n-----END {label}-----\n".encode()


def load_private_key(text: str) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(_as_pem(text, "PRIVATE KEY"), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("not an RSA private key")
    return key


def load_public_key(text: str) -> rsa.RSAPublicKey:
    key = serialization.load_pem_public_key(_as_pem(text, "PUBLIC KEY"))
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("not an RSA public key")
    return key


# --- signing ---------------------------------------------------------------------------------------


def signing_string(params: Mapping[str, str], exclude: tuple[str, ...] = ("sign",)) -> str:
    """The text a request (or, with exclude=("sign", "sign_type"), a notification) signature covers."""
    items = sorted((k, v) for k, v in params.items() if k not in exclude and v is not None and v != "")
    return "&".join(f"{k}={v}" for k, v in items)


def sign_text(text: str, private_key_pem: str) -> str:
    signature = load_private_key(private_key_pem).sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


def verify_text(text: str, signature: str, public_key_pem: str) -> bool:
    try:
        raw = base64.b64decode("".join(signature.split()), validate=True)
    except (binascii.Error, ValueError):
        return False
    try:
        load_public_key(public_key_pem).verify(raw, text.encode(), padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def sign_params(params: Mapping[str, str], private_key_pem: str) -> str:
    """RSA2 signature of request parameters (sign_type is covered; only `sign` is left out)."""
    return sign_text(signing_string(params), private_key_pem)


def verify_request(params: Mapping[str, str], public_key_pem: str) -> None:
    """What the gateway does with our request: raise Rejected(BAD_SIGNATURE) unless `sign` matches."""
    signature = params.get("sign", "")
    if not signature or not verify_text(signing_string(params), signature, public_key_pem):
        raise Rejected(RejectReason.BAD_SIGNATURE, "request signature does not verify")


def sign_notification(params: Mapping[str, str], private_key_pem: str) -> str:
    return sign_text(signing_string(params, exclude=("sign", "sign_type")), private_key_pem)


def verify_notification(
    params: Mapping[str, str], public_key_pem: str, *, now: datetime | None = None
) -> None:
    """Verify an asynchronous notification (form fields): signature over every field except `sign`
    and `sign_type`, and the send time (`notify_time`; `timestamp` on a page return; `utc_timestamp`
    on message pushes) within MAX_CLOCK_SKEW_S of now. Raises Rejected."""
    signature = params.get("sign", "")
    if not signature:
        raise Rejected(RejectReason.MALFORMED, "no sign")
    if params.get("sign_type", "RSA2") != "RSA2":
        raise Rejected(RejectReason.MALFORMED, "unsupported sign_type")
    text = signing_string(params, exclude=("sign", "sign_type"))
    if not verify_text(text, signature, public_key_pem):
        raise Rejected(RejectReason.BAD_SIGNATURE, "notification signature does not verify")
    if params.get("notify_time"):
        check_timestamp(params["notify_time"], now=now)
    elif params.get("timestamp"):  # the signed return Alipay appends to return_url
        check_timestamp(params["timestamp"], now=now)
    elif params.get("utc_timestamp"):
        check_utc_timestamp(params["utc_timestamp"], now=now)
    else:
        raise Rejected(RejectReason.MALFORMED, "no notify_time")


# --- synchronous responses -------------------------------------------------------------------------


def response_node_name(method: str) -> str:
    return method.replace(".", "_") + "_response"


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def top_level_members(raw: str) -> dict[str, tuple[int, int]]:
    """Where each top-level member's value sits in the raw JSON text: name -> (start, end).

    A real JSON scanner (strings with braces or escaped quotes inside do not confuse it), because the
    signature covers the node's exact bytes."""
    decoder = json.JSONDecoder()
    members: dict[str, tuple[int, int]] = {}
    try:
        pos = _skip_ws(raw, 0)
        if raw[pos] != "{":
            raise ValueError("not an object")
        pos = _skip_ws(raw, pos + 1)
        if raw[pos] == "}":
            return members
        while True:
            name, pos = decoder.raw_decode(raw, pos)
            if not isinstance(name, str):
                raise ValueError("member name is not a string")
            pos = _skip_ws(raw, pos)
            if raw[pos] != ":":
                raise ValueError("expected ':'")
            start = _skip_ws(raw, pos + 1)
            _, end = decoder.raw_decode(raw, start)
            members[name] = (start, end)
            pos = _skip_ws(raw, end)
            if raw[pos] == "}":
                return members
            if raw[pos] != ",":
                raise ValueError("expected ','")
            pos = _skip_ws(raw, pos + 1)
    except (ValueError, IndexError) as exc:
        raise Rejected(RejectReason.MALFORMED, "response is not a JSON object") from exc


@dataclass(frozen=True)
class ResponseEnvelope:
    node_name: str  # `<method>_response`, or `error_response` when the gateway refused the call early
    node_text: str  # exactly as it appeared in the body
    node: dict[str, Any]
    sign: str  # empty when the gateway did not sign (it does not for an unknown app_id)


def parse_response(raw: str, method: str) -> ResponseEnvelope:
    members = top_level_members(raw)
    wanted = response_node_name(method)
    name = wanted if wanted in members else "error_response"
    if name not in members:
        raise Rejected(RejectReason.MALFORMED, f"no {wanted} in the response")
    start, end = members[name]
    node_text = raw[start:end]
    node = json.loads(node_text)
    if not isinstance(node, dict):
        raise Rejected(RejectReason.MALFORMED, f"{name} is not an object")
    sign = ""
    if "sign" in members:
        s_start, s_end = members["sign"]
        value = json.loads(raw[s_start:s_end])
        sign = value if isinstance(value, str) else ""
    return ResponseEnvelope(name, node_text, node, sign)


def verify_response(raw: str, method: str, public_key_pem: str) -> dict[str, Any]:
    """Verify a synchronous response and return its node. Raises Rejected (MALFORMED, BAD_SIGNATURE)."""
    envelope = parse_response(raw, method)
    if not envelope.sign or not verify_text(envelope.node_text, envelope.sign, public_key_pem):
        raise Rejected(RejectReason.BAD_SIGNATURE, "response signature does not verify")
    return envelope.node


def build_response(method: str, node: Mapping[str, Any], private_key_pem: str | None) -> str:
    """The gateway's side: `{"<method>_response": <node>, "sign": "<sig over node text>"}`."""
    return build_named_response(response_node_name(method), node, private_key_pem)


def build_named_response(name: str, node: Mapping[str, Any], private_key_pem: str | None) -> str:
    node_text = json.dumps(node, ensure_ascii=False, separators=(",", ":"))
    body = "{" + json.dumps(name) + ":" + node_text
    if private_key_pem:
        body += ',"sign":' + json.dumps(sign_text(node_text, private_key_pem))
    return body + "}"


# --- time ------------------------------------------------------------------------------------------


def beijing_now(now: datetime | None = None) -> datetime:
    return (now or datetime.now(BEIJING)).astimezone(BEIJING)


def format_timestamp(moment: datetime | None = None) -> str:
    """`yyyy-MM-dd HH:mm:ss` in Beijing time, whatever the host's time zone."""
    return beijing_now(moment).strftime(TIMESTAMP_FORMAT)


def parse_timestamp(value: str) -> datetime:
    try:
        return datetime.strptime(value, TIMESTAMP_FORMAT).replace(tzinfo=BEIJING)
    except (TypeError, ValueError) as exc:
        raise Rejected(RejectReason.MALFORMED, "timestamp is not yyyy-MM-dd HH:mm:ss") from exc


def check_timestamp(value: str, *, now: datetime | None = None, max_skew_s: int = MAX_CLOCK_SKEW_S) -> None:
    """Raise Rejected(STALE_TIMESTAMP) when a Beijing-time stamp is more than max_skew_s from now."""
    skew = abs((parse_timestamp(value) - beijing_now(now)).total_seconds())
    if skew > max_skew_s:
        raise Rejected(RejectReason.STALE_TIMESTAMP, f"{int(skew)} s from now")


def check_utc_timestamp(
    value: str, *, now: datetime | None = None, max_skew_s: int = MAX_CLOCK_SKEW_S
) -> None:
    """Message pushes carry `utc_timestamp` in epoch milliseconds."""
    if not value.isdigit():
        raise Rejected(RejectReason.MALFORMED, "utc_timestamp is not a number")
    sent = datetime.fromtimestamp(int(value) / 1000, tz=UTC)
    skew = abs((sent - beijing_now(now)).total_seconds())
    if skew > max_skew_s:
        raise Rejected(RejectReason.STALE_TIMESTAMP, f"{int(skew)} s from now")


def utc_timestamp_ms(moment: datetime | None = None) -> str:
    return str(int(beijing_now(moment).timestamp() * 1000))


# --- money -----------------------------------------------------------------------------------------


def fen_to_yuan(fen: int) -> str:
    """12345 -> "123.45". Alipay amounts are yuan with exactly two decimals."""
    if isinstance(fen, bool) or not isinstance(fen, int) or fen < 0:
        raise ValueError("amount must be a non-negative integer number of fen")
    return str((Decimal(fen) * _CENT).quantize(_CENT))


def yuan_to_fen(yuan: str) -> int:
    """ "123.45" -> 12345, exactly. Anything that is not a plain non-negative yuan amount with at most
    two decimals ("1.005", "1e2", "-1", " 1") is Rejected(MALFORMED): never rounded."""
    if not isinstance(yuan, str) or not _YUAN.match(yuan):
        raise Rejected(RejectReason.MALFORMED, "not a yuan amount with at most two decimals")
    try:
        fen = Decimal(yuan) * 100
    except InvalidOperation as exc:  # pragma: no cover - the pattern already excludes it
        raise Rejected(RejectReason.MALFORMED, "not a yuan amount") from exc
    if fen != fen.to_integral_value():  # pragma: no cover - the pattern already excludes it
        raise Rejected(RejectReason.MALFORMED, "more than two decimals")
    return int(fen)
