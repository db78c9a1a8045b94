"""One error type for business rules. Each app names its codes in its own `errors.py`;
the API turns every one into the same JSON shape (see openvend.api.errors)."""

from __future__ import annotations

from enum import StrEnum


class OpenVendError(Exception):
    """A request that breaks a business rule. `code` is stable for clients; `message` is for people."""

    status_code = 400

    def __init__(self, code: StrEnum | str, message: str, *, fields: dict[str, list[str]] | None = None):
        super().__init__(message)
        self.code = str(code)
        self.message = str(message)
        self.fields = fields or {}


class ConflictError(OpenVendError):
    status_code = 409


class CoreErrorCode(StrEnum):
    IN_USE = "core.in_use"
    NOT_FOUND = "core.not_found"
    PERMISSION_DENIED = "core.permission_denied"
    NOT_AUTHENTICATED = "core.not_authenticated"
    INVALID = "core.invalid"
    THROTTLED = "core.throttled"
    CONFLICT = "core.conflict"
