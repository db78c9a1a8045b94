"""The endpoints WeChat Pay and Alipay post notifications to. Thin: the service does everything."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from openvend.payments.choices import Provider
from openvend.payments.services.notifications import receive_notification


def _receive(provider_name: str, request: HttpRequest) -> HttpResponse:
    reply = receive_notification(provider_name, dict(request.headers.items()), request.body)
    return HttpResponse(reply.body, status=reply.status, content_type=reply.content_type)


@csrf_exempt  # signed by the provider, verified by the service; there is no browser session
@require_POST
def wechat_notify(request: HttpRequest) -> HttpResponse:
    return _receive(Provider.WECHAT, request)


@csrf_exempt
@require_POST
def alipay_notify(request: HttpRequest) -> HttpResponse:
    return _receive(Provider.ALIPAY, request)
