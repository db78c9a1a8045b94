"""WeChat Pay API v3 on the wire: request signing, response/notification verification, AES-256-GCM
resources, the JSAPI paySign, and key/certificate generation for the sandbox and tests.

Pure functions over strings and bytes: no Django, no I/O. Our client and the sandbox both use them;
the third-party SDK in the tests is the independent check that they match the real protocol.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID

from openvend.payments.providers.base import Rejected, RejectReason

SCHEMA = "WECHATPAY2-SHA256-RSA2048"
SIGNTEST_PREFIX = "WECHATPAY/SIGNTEST/"
PUBLIC_KEY_ID_PREFIX = "PUB_KEY_ID_"
MAX_SKEW_S = 300
AEAD_ALGORITHM = "AEAD_AES_256_GCM"
_GCM_NONCE_LEN = 12


# -- keys ---------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def load_private_key(pem: str) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("not an RSA private key")
    return key


@functools.lru_cache(maxsize=64)
def load_public_key(pem: str) -> rsa.RSAPublicKey:
    """A PEM public key, or the public key inside a PEM certificate."""
    key: object
    if "CERTIFICATE" in pem:
        key = x509.load_pem_x509_certificate(pem.encode()).public_key()
    else:
        key = serialization.load_pem_public_key(pem.encode())
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("not an RSA public key")
    return key


def generate_private_key_pem(bits: int = 2048) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def public_key_pem(private_key_pem: str) -> str:
    return (
        load_private_key(private_key_pem)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def self_signed_certificate(
    private_key_pem: str, common_name: str, *, serial_number: int | None = None, days: int = 1825
) -> tuple[str, str]:
    """A self-signed X.509 certificate for the key. Returns (PEM, serial_no) where serial_no is the
    upper-case hex of the certificate's serial number, as WeChat writes it in Wechatpay-Serial."""
    key = load_private_key(private_key_pem)
    serial = serial_number if serial_number is not None else x509.random_serial_number()
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "OpenVend sandbox"),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode(), serial_no_of(serial)


def serial_no_of(serial_number: int) -> str:
    return format(serial_number, "X")


def certificate_serial_no(certificate_pem: str) -> str:
    return serial_no_of(x509.load_pem_x509_certificate(certificate_pem.encode()).serial_number)


def certificate_validity(certificate_pem: str) -> tuple[dt.datetime, dt.datetime]:
    cert = x509.load_pem_x509_certificate(certificate_pem.encode())
    return cert.not_valid_before_utc, cert.not_valid_after_utc


# -- signatures ---------------------------------------------------------------------------------------


def new_nonce() -> str:
    return secrets.token_hex(16).upper()


def sign(private_key_pem: str, message: str) -> str:
    """RSA-SHA256 PKCS#1 v1.5 over the UTF-8 message, base64."""
    signature = load_private_key(private_key_pem).sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


def verify(public_key_pem: str, message: str, signature_b64: str) -> bool:
    try:
        signature = base64.b64decode(signature_b64, validate=True)
        load_public_key(public_key_pem).verify(
            signature, message.encode(), padding.PKCS1v15(), hashes.SHA256()
        )
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def request_message(method: str, url: str, timestamp: str, nonce: str, body: str) -> str:
    """What the merchant signs: METHOD, URL path+query, timestamp, nonce, body; each line ends \\n."""
    return f"{method.upper()}\n{url}\n{timestamp}\n{nonce}\n{body}\n"


def response_message(timestamp: str, nonce: str, body: str) -> str:
    """What the gateway signs for responses and notifications."""
    return f"{timestamp}\n{nonce}\n{body}\n"


def build_authorization(
    *,
    mch_id: str,
    serial_no: str,
    private_key_pem: str,
    method: str,
    url: str,
    body: str,
    timestamp: int | None = None,
    nonce: str | None = None,
) -> str:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    nonce_str = nonce or new_nonce()
    signature = sign(private_key_pem, request_message(method, url, ts, nonce_str, body))
    return (
        f'{SCHEMA} mchid="{mch_id}",nonce_str="{nonce_str}",signature="{signature}",'
        f'timestamp="{ts}",serial_no="{serial_no}"'
    )


@dataclass(frozen=True)
class Authorization:
    mch_id: str
    nonce_str: str
    signature: str
    timestamp: str
    serial_no: str


def parse_authorization(header: str) -> Authorization:
    schema, _, params = header.strip().partition(" ")
    if schema != SCHEMA:
        raise Rejected(RejectReason.MALFORMED, "unknown authorization schema")
    values: dict[str, str] = {}
    for part in params.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep or len(value) < 2 or value[0] != '"' or value[-1] != '"':
            raise Rejected(RejectReason.MALFORMED, "bad authorization parameter")
        values[name] = value[1:-1]
    try:
        return Authorization(
            mch_id=values["mchid"],
            nonce_str=values["nonce_str"],
            signature=values["signature"],
            timestamp=values["timestamp"],
            serial_no=values["serial_no"],
        )
    except KeyError as exc:
        raise Rejected(RejectReason.MALFORMED, f"authorization lacks {exc.args[0]}") from None


def check_timestamp(timestamp: str, now: float | None = None) -> None:
    try:
        ts = int(timestamp)
    except ValueError:
        raise Rejected(RejectReason.MALFORMED, "timestamp is not an integer") from None
    current = time.time() if now is None else now
    if abs(current - ts) > MAX_SKEW_S:
        raise Rejected(RejectReason.STALE_TIMESTAMP, f"timestamp {ts} is outside +-{MAX_SKEW_S}s")


@dataclass(frozen=True)
class GatewayKeys:
    """What we trust to have signed a response or notification: the platform public key (public-key
    mode, id "PUB_KEY_ID_...") and/or platform certificates by serial (certificate mode)."""

    public_key_id: str = ""
    public_key_pem: str = ""
    certificates: Mapping[str, str] = field(default_factory=dict)

    def key_for(self, serial: str) -> str | None:
        if self.public_key_id and serial == self.public_key_id:
            return self.public_key_pem
        certificate = self.certificates.get(serial) or self.certificates.get(serial.upper())
        return certificate or None


def header_value(headers: Mapping[str, str], name: str) -> str:
    """Case-insensitive header lookup that also understands WSGI/Django META names (HTTP_WECHATPAY_...)."""
    wanted = name.lower()
    meta = "http_" + wanted.replace("-", "_")
    for key, value in headers.items():
        lowered = key.lower()
        if lowered in (wanted, meta):
            return value
    return ""


def verify_signed(
    headers: Mapping[str, str], body: bytes | str, keys: GatewayKeys, *, now: float | None = None
) -> str:
    """Verify a gateway response or notification; return the serial (or public key id) that signed it.

    Raises Rejected: MALFORMED (headers missing), SIGNTEST (WeChat's probe), STALE_TIMESTAMP,
    UNKNOWN_KEY, BAD_SIGNATURE.
    """
    signature = header_value(headers, "Wechatpay-Signature")
    timestamp = header_value(headers, "Wechatpay-Timestamp")
    nonce = header_value(headers, "Wechatpay-Nonce")
    serial = header_value(headers, "Wechatpay-Serial")
    if not (signature and timestamp and nonce and serial):
        raise Rejected(RejectReason.MALFORMED, "Wechatpay-* signature headers missing")
    # The probe WeChat sends to check that merchants really verify: never accept it, whatever else holds.
    if signature.startswith(SIGNTEST_PREFIX):
        raise Rejected(RejectReason.SIGNTEST, "WECHATPAY/SIGNTEST probe signature")
    check_timestamp(timestamp, now)
    key_pem = keys.key_for(serial)
    if key_pem is None:
        raise Rejected(RejectReason.UNKNOWN_KEY, f"no trusted key for serial {serial}")
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    if not verify(key_pem, response_message(timestamp, nonce, text), signature):
        raise Rejected(RejectReason.BAD_SIGNATURE, "signature does not match")
    return serial


def signed_headers(
    private_key_pem: str, serial: str, body: str, *, timestamp: int | None = None, nonce: str | None = None
) -> dict[str, str]:
    """The Wechatpay-* headers the gateway puts on a response or notification."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    nonce_str = nonce or new_nonce()
    return {
        "Wechatpay-Timestamp": ts,
        "Wechatpay-Nonce": nonce_str,
        "Wechatpay-Signature": sign(private_key_pem, response_message(ts, nonce_str, body)),
        "Wechatpay-Serial": serial,
        "Wechatpay-Signature-Type": SCHEMA,
    }


# -- AES-256-GCM resources ------------------------------------------------------------------------------


def _aes_key(api_key: str) -> AESGCM:
    key = api_key.encode()
    if len(key) != 32:
        raise ValueError("the APIv3 key must be 32 bytes")
    return AESGCM(key)


def aes_gcm_encrypt(
    api_key: str, plaintext: str, associated_data: str, *, nonce: str | None = None
) -> dict[str, str]:
    """Encrypt like WeChat encrypts a notification `resource` (nonce is 12 printable characters)."""
    nonce_str = nonce or secrets.token_hex(_GCM_NONCE_LEN // 2)
    ciphertext = _aes_key(api_key).encrypt(nonce_str.encode(), plaintext.encode(), associated_data.encode())
    return {
        "algorithm": AEAD_ALGORITHM,
        "ciphertext": base64.b64encode(ciphertext).decode(),
        "associated_data": associated_data,
        "nonce": nonce_str,
    }


def aes_gcm_decrypt(api_key: str, nonce: str, associated_data: str, ciphertext_b64: str) -> str:
    try:
        data = base64.b64decode(ciphertext_b64, validate=True)
        return _aes_key(api_key).decrypt(nonce.encode(), data, associated_data.encode()).decode()
    except (InvalidTag, binascii.Error, ValueError, UnicodeDecodeError):
        raise Rejected(RejectReason.DECRYPT_FAILED, "resource could not be decrypted") from None


def decrypt_resource(api_key: str, resource: Mapping[str, object]) -> str:
    if resource.get("algorithm") != AEAD_ALGORITHM:
        raise Rejected(RejectReason.MALFORMED, "unknown resource algorithm")
    nonce, ciphertext = resource.get("nonce"), resource.get("ciphertext")
    associated_data = resource.get("associated_data") or ""
    if not (isinstance(nonce, str) and isinstance(ciphertext, str) and isinstance(associated_data, str)):
        raise Rejected(RejectReason.MALFORMED, "resource fields missing")
    return aes_gcm_decrypt(api_key, nonce, associated_data, ciphertext)


# -- JSAPI ----------------------------------------------------------------------------------------------


def jsapi_pay_sign(private_key_pem: str, *, app_id: str, timestamp: str, nonce: str, package: str) -> str:
    """paySign for WeixinJSBridge.invoke('getBrandWCPayRequest'): appId, timeStamp, nonceStr, package."""
    return sign(private_key_pem, f"{app_id}\n{timestamp}\n{nonce}\n{package}\n")


def jsapi_params(private_key_pem: str, *, app_id: str, prepay_id: str) -> dict[str, str]:
    timestamp, nonce, package = str(int(time.time())), new_nonce(), f"prepay_id={prepay_id}"
    return {
        "appId": app_id,
        "timeStamp": timestamp,
        "nonceStr": nonce,
        "package": package,
        "signType": "RSA",
        "paySign": jsapi_pay_sign(
            private_key_pem, app_id=app_id, timestamp=timestamp, nonce=nonce, package=package
        ),
    }
