"""Every API error has one shape: {"error": {"code", "message", "fields"}}."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from openvend.core.errors import CoreErrorCode, OpenVendError


def error_response(code: str, message: str, http_status: int, fields: Any = None) -> Response:
    return Response({"error": {"code": code, "message": message, "fields": fields or {}}}, status=http_status)


def _field_errors(detail: Any) -> Any:
    if isinstance(detail, dict):
        return {key: _field_errors(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [str(item) if not isinstance(item, dict | list) else _field_errors(item) for item in detail]
    return [str(detail)]


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, OpenVendError):
        return error_response(exc.code, exc.message, exc.status_code, exc.fields)
    if isinstance(exc, DjangoValidationError):
        fields = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        return error_response(
            CoreErrorCode.INVALID, " ".join(exc.messages), status.HTTP_400_BAD_REQUEST, fields
        )
    if isinstance(exc, IntegrityError):
        return error_response(
            CoreErrorCode.CONFLICT, _("This conflicts with an existing record."), status.HTTP_409_CONFLICT
        )
    if isinstance(exc, Http404 | exceptions.NotFound):
        return error_response(CoreErrorCode.NOT_FOUND, _("Not found."), status.HTTP_404_NOT_FOUND)
    if isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        return error_response(
            CoreErrorCode.INVALID,
            _("Some fields are invalid."),
            response.status_code,
            _field_errors(exc.detail),
        )
    codes = {
        exceptions.NotAuthenticated: CoreErrorCode.NOT_AUTHENTICATED,
        exceptions.AuthenticationFailed: CoreErrorCode.NOT_AUTHENTICATED,
        exceptions.PermissionDenied: CoreErrorCode.PERMISSION_DENIED,
        exceptions.Throttled: CoreErrorCode.THROTTLED,
    }
    code = next(
        (c for cls, c in codes.items() if isinstance(exc, cls)),
        f"core.{getattr(exc, 'default_code', 'error')}",
    )
    message = str(exc.detail) if isinstance(exc, exceptions.APIException) else str(exc)
    wrapped = error_response(code, message, response.status_code)
    for header in ("WWW-Authenticate", "Retry-After", "Allow"):
        if header in response:
            wrapped[header] = response[header]
    return wrapped
