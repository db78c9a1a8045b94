from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from openvend.accounts.errors import AccountErrorCode


def lockout_message() -> str:
    return _(
        "Too many failed logins. This account is locked for 30 minutes or until an administrator resets it."
    )


def lockout_response(
    request: HttpRequest, credentials: Any = None, *args: Any, **kwargs: Any
) -> HttpResponse:
    message = lockout_message()
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"error": {"code": AccountErrorCode.LOCKED_OUT, "message": message, "fields": {}}}, status=429
        )
    return render(request, "accounts/locked_out.html", {"message": message}, status=429)
