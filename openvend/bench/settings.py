"""Benchmarks run on a throwaway database: in-memory SQLite, or DATABASE_URL when it is set."""

from openvend.config.settings.test import *  # noqa: F403
