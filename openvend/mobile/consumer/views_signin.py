"""Signing the shopper in through the provider's OAuth, and out again."""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from openvend.consumers.models import ConsumerStatus, IdentityProvider
from openvend.mobile.consumer import oauth, session
from openvend.mobile.consumer.pages import PROVIDER_FAILURES, problem
from openvend.payments.models import ProviderAccount

STATE_KEY = "openvend_consumer_oauth"


def _home(merchant_code: str) -> str:
    return reverse("mobile:consumer:payment", args=[merchant_code])


def _provider_or_404(provider: str) -> str:
    if provider not in IdentityProvider.values:
        raise Http404
    return provider


def signin(request: HttpRequest, merchant_code: str) -> HttpResponse:
    merchant = session.merchant_or_404(merchant_code)
    next_url = session.safe_next(request, request.GET.get("next"), _home(merchant.code))
    consumer = session.signed_in(request)
    if consumer is not None and consumer.status == ConsumerStatus.ACTIVE:
        return HttpResponseRedirect(next_url)
    providers = [
        (provider, label)
        for provider, label in IdentityProvider.choices
        if ProviderAccount.objects.filter(provider=provider, is_active=True).exists()
    ]
    context = {"merchant": merchant, "providers": providers, "next": next_url}
    return render(request, "mobile/consumer/signin.html", context)


def oauth_start(request: HttpRequest, merchant_code: str, provider: str) -> HttpResponse:
    merchant = session.merchant_or_404(merchant_code)
    provider = _provider_or_404(provider)
    next_url = session.safe_next(request, request.GET.get("next"), _home(merchant.code))
    state = oauth.new_state()
    callback = request.build_absolute_uri(
        reverse("mobile:consumer:oauth-callback", args=[merchant.code, provider])
    )
    try:
        target = oauth.authorize_url(provider, redirect_uri=callback, state=state)
    except PROVIDER_FAILURES as exc:
        return problem(
            request, merchant, exc, back_url=reverse("mobile:consumer:signin", args=[merchant.code])
        )
    # One pending sign-in per browser: the state proves the answer comes from the trip we started.
    request.session[STATE_KEY] = {
        "state": state,
        "provider": provider,
        "merchant": merchant.code,
        "next": next_url,
    }
    return HttpResponseRedirect(target)


def oauth_callback(request: HttpRequest, merchant_code: str, provider: str) -> HttpResponse:
    merchant = session.merchant_or_404(merchant_code)
    provider = _provider_or_404(provider)
    pending = request.session.pop(STATE_KEY, None) or {}
    signin_url = reverse("mobile:consumer:signin", args=[merchant.code])
    if (
        not pending.get("state")
        or pending.get("state") != request.GET.get("state")
        or pending.get("provider") != provider
        or pending.get("merchant") != merchant.code
    ):
        message = _("This sign-in link has expired. Please sign in again.")
        return problem(request, merchant, message=message, status=400, back_url=signin_url)
    try:
        vouched = oauth.exchange(provider, request.GET)
    except PROVIDER_FAILURES as exc:
        return problem(request, merchant, exc, back_url=signin_url)
    consumer = oauth.consumer_for(vouched, current=session.signed_in(request))
    if consumer.status == ConsumerStatus.FROZEN:
        session.sign_out(request)
        return session.frozen_page(request, merchant)
    session.sign_in(request, consumer)
    return HttpResponseRedirect(session.safe_next(request, pending.get("next"), _home(merchant.code)))


@require_POST
def signout(request: HttpRequest, merchant_code: str) -> HttpResponse:
    merchant = session.merchant_or_404(merchant_code)
    session.sign_out(request)
    return HttpResponseRedirect(reverse("mobile:consumer:signin", args=[merchant.code]))


def link_identity(merchant_code: str, provider: str, next_url: str) -> HttpResponse:
    """Send a signed-in shopper through `provider`'s OAuth to learn their id there, then on to
    `next_url` (authorising Alipay after signing in with WeChat, for example)."""
    start = reverse("mobile:consumer:oauth-start", args=[merchant_code, provider])
    return HttpResponseRedirect(f"{start}?{urlencode({'next': next_url})}")
