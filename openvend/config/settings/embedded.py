"""Embedded default: one machine, nothing to install. SQLite under var/, local-memory cache."""

import os

from openvend.config.settings.base import *  # noqa: F403
from openvend.config.settings.base import VAR_DIR
from openvend.config.settings.secret import load_or_create_secret_key

DEBUG = os.environ.get("OPENVEND_DEBUG", "") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]
SECRET_KEY = load_or_create_secret_key(VAR_DIR / "secret.key")

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": VAR_DIR / "openvend.sqlite3",
        # WAL lets the web process and the task worker read while the other writes.
        "OPTIONS": {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000;",
            "transaction_mode": "IMMEDIATE",
        },
    }
}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
