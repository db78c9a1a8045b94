from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from openvend.audit import context
from openvend.audit.choices import AuditChannel


def client_ip(request: HttpRequest) -> str | None:
    # REMOTE_ADDR only: forwarded headers are trusted by the reverse proxy's own config, not here.
    return request.META.get("REMOTE_ADDR") or None


class AuditContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        channel = AuditChannel.API if request.path.startswith("/api/") else AuditChannel.CONSOLE
        token = context.activate(context.AuditContext(channel=channel, ip_address=client_ip(request)))
        try:
            return self.get_response(request)
        finally:
            context.reset(token)
