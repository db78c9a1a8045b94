"""The shopper's sign-in, kept in the Django session under a key of its own: a shopper is not staff,
and a member of staff signed in on the same phone stays signed in (and vice versa)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from openvend.consumers.models import Consumer, ConsumerStatus
from openvend.merchants.choices import MerchantStatus
from openvend.merchants.models import Merchant

SESSION_KEY = "openvend_consumer_id"

ConsumerView = Callable[..., HttpResponse]


def merchant_or_404(code: str) -> Merchant:
    """The merchant whose pages these are. Unknown, pending, frozen or rejected: a 404 alike."""
    merchant = Merchant.objects.filter(code=code, status=MerchantStatus.ACTIVE).first()
    if merchant is None:
        raise Http404
    return merchant


def signed_in(request: HttpRequest) -> Consumer | None:
    consumer_id = request.session.get(SESSION_KEY)
    if consumer_id is None:
        return None
    return Consumer.objects.filter(pk=consumer_id).first()


def sign_in(request: HttpRequest, consumer: Consumer) -> None:
    if request.session.get(SESSION_KEY) != consumer.pk:
        request.session.cycle_key()  # a new identity never inherits a session id someone else knew
    request.session[SESSION_KEY] = consumer.pk


def sign_out(request: HttpRequest) -> None:
    request.session.pop(SESSION_KEY, None)


def safe_next(request: HttpRequest, candidate: str | None, default: str) -> str:
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return default


def frozen_page(request: HttpRequest, merchant: Merchant) -> HttpResponse:
    return render(request, "mobile/consumer/frozen.html", {"merchant": merchant}, status=403)


def consumer_page(view: ConsumerView) -> ConsumerView:
    """Resolve the merchant from the URL and the signed-in shopper from the session; send a shopper
    who is not signed in to sign in (and back here afterwards); stop a frozen one."""

    @wraps(view)
    def wrapper(request: HttpRequest, merchant_code: str, *args: Any, **kwargs: Any) -> HttpResponse:
        merchant = merchant_or_404(merchant_code)
        consumer = signed_in(request)
        if consumer is None:
            target = reverse("mobile:consumer:signin", args=[merchant.code])
            return HttpResponseRedirect(f"{target}?{urlencode({'next': request.get_full_path()})}")
        if consumer.status == ConsumerStatus.FROZEN:
            return frozen_page(request, merchant)
        return view(request, merchant, consumer, *args, **kwargs)

    return wrapper
