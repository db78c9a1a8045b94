"""One TLS context for every provider client. Clients are built per call with freshly decrypted
credentials (see `payments.registry`), but loading the CA bundle for each new client costs tens of
milliseconds; the trust store is the same for all of them, so it is loaded once."""

from __future__ import annotations

import ssl
from functools import cache

import certifi


@cache
def tls_context() -> ssl.SSLContext:
    return ssl.create_default_context(cafile=certifi.where())
