"""Secrets at rest (webhook secrets, later payment keys): Fernet with a key derived from SECRET_KEY.

Rotating SECRET_KEY therefore needs a re-encryption pass; OPENVEND_ENCRYPTION_KEYS may list older
keys (comma-separated) so values written under them stay readable during the rotation.
"""

from __future__ import annotations

import base64
import os

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

PREFIX = "enc1:"


def _derive(secret: str) -> bytes:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"openvend-secrets-at-rest", info=b"fernet").derive(
        secret.encode()
    )
    return base64.urlsafe_b64encode(key)


def _fernet() -> MultiFernet:
    secrets = [settings.SECRET_KEY, *filter(None, os.environ.get("OPENVEND_ENCRYPTION_KEYS", "").split(","))]
    return MultiFernet([Fernet(_derive(secret)) for secret in secrets])


def encrypt(plain: str) -> str:
    if not plain:
        return ""
    return PREFIX + _fernet().encrypt(plain.encode()).decode()


def decrypt(stored: str) -> str:
    if not stored:
        return ""
    if not stored.startswith(PREFIX):
        raise ValueError("Not an encrypted value.")
    try:
        return _fernet().decrypt(stored[len(PREFIX) :].encode()).decode()
    except InvalidToken as exc:
        raise ValueError("Cannot decrypt: wrong key.") from exc
