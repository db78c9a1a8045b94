"""Device broker secrets. Stored only as hashes in Mosquitto's own format ($7$: PBKDF2-SHA512),
so the same hash serves our embedded broker's check and Mosquitto's password file."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

ITERATIONS = 20_000
SALT_BYTES = 12


def new_secret() -> str:
    return secrets.token_urlsafe(24)


def hash_secret(secret: str, *, iterations: int = ITERATIONS, salt: bytes | None = None) -> str:
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", secret.encode(), salt, iterations)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_secret(secret: str, stored: str) -> bool:
    try:
        _empty, scheme, iterations, salt, digest = stored.split("$")
        if scheme != "7":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.pbkdf2_hmac("sha512", secret.encode(), base64.b64decode(salt), int(iterations))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(expected, actual)
