"""Who is acting and through which door, for the audit rows written while a request runs."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class AuditContext:
    channel: str
    ip_address: str | None = None


_current: ContextVar[AuditContext | None] = ContextVar("openvend_audit_context", default=None)


def current() -> AuditContext:
    return _current.get() or AuditContext(channel="system")


def activate(context: AuditContext) -> object:
    return _current.set(context)


def reset(token: object) -> None:
    _current.reset(token)  # type: ignore[arg-type]
