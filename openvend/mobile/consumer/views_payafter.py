"""“My payment”: the pay-after methods the merchant offers, where the shopper's authorisation of each
stands, authorising (through the provider's confirm / sign page) and revoking."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from openvend.consumers.models import Consumer
from openvend.merchants.models import Merchant
from openvend.mobile.consumer import oauth, queries
from openvend.mobile.consumer.forms import RevokeForm
from openvend.mobile.consumer.pages import PROVIDER_FAILURES, problem
from openvend.mobile.consumer.session import consumer_page
from openvend.mobile.consumer.views_signin import link_identity
from openvend.payments import selectors
from openvend.payments.choices import PROVIDER_OF, AuthorisationState, PaymentMethod
from openvend.payments.services import authorisations

# The page a provider wants the shopper on, by the key each route uses.
PAGE_KEYS = ("confirm_url", "sign_url", "cashier_url", "pay_url")


def provider_page(next_action: dict[str, Any]) -> str:
    """The provider page in a next_action: a known key first, else any absolute URL value."""
    for key in PAGE_KEYS:
        value = next_action.get(key)
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            return value
    for value in next_action.values():
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            return value
    return ""


def payer_for(consumer: Consumer, method: str) -> str:
    if method == PaymentMethod.WALLET:
        return str(consumer.public_id)  # the wallet knows the shopper by the consumer itself
    return oauth.payer_id(consumer, PROVIDER_OF[method])


def _home(merchant: Merchant) -> str:
    return reverse("mobile:consumer:payment", args=[merchant.code])


def _authorisable_or_404(merchant: Merchant, method: str) -> str:
    if method not in queries.AUTHORISABLE or method not in queries.offered_methods(merchant):
        raise Http404
    return method


@consumer_page
def payment(request: HttpRequest, merchant: Merchant, consumer: Consumer) -> HttpResponse:
    standings = queries.pay_after_standings(merchant, consumer)
    offered = queries.offered_methods(merchant)
    has_wallet = PaymentMethod.WALLET in offered or consumer.wallets.filter(merchant=merchant).exists()
    context = {
        "merchant": merchant,
        "consumer": consumer,
        "standings": standings,
        "wallet_balance": queries.yuan(selectors.wallet_balance(merchant, consumer)) if has_wallet else None,
        "unpaid_count": selectors.unpaid_payments_of(consumer, merchant).count(),
        "tab": "payment",
    }
    return render(request, "mobile/consumer/payment.html", context)


@require_POST
@consumer_page
def authorise(request: HttpRequest, merchant: Merchant, consumer: Consumer, method: str) -> HttpResponse:
    method = _authorisable_or_404(merchant, method)
    payer_id = payer_for(consumer, method)
    if not payer_id:
        messages.info(request, _("Confirm who you are with this provider first, then tap “Authorise” again."))
        return link_identity(merchant.code, PROVIDER_OF[method], _home(merchant))
    return_url = request.build_absolute_uri(
        reverse("mobile:consumer:authorise-return", args=[merchant.code, method])
    )
    try:
        _authorisation, next_action = authorisations.start_authorisation(
            merchant=merchant, consumer=consumer, method=method, payer_id=payer_id, return_url=return_url
        )
    except PROVIDER_FAILURES as exc:
        return problem(request, merchant, exc)
    return HttpResponseRedirect(provider_page(next_action) or return_url)


@consumer_page
def authorise_return(
    request: HttpRequest, merchant: Merchant, consumer: Consumer, method: str
) -> HttpResponse:
    """Where the provider's page sends the shopper back: ask the provider how it went (its
    notification may not have arrived yet) and say so."""
    method = _authorisable_or_404(merchant, method)
    authorisation = queries.latest_authorisation(merchant, consumer, method)
    if authorisation is None:
        return HttpResponseRedirect(_home(merchant))
    warning = ""
    if authorisation.state != AuthorisationState.REVOKED:
        try:
            authorisations.refresh_authorisation(authorisation)
        except PROVIDER_FAILURES:
            warning = _(
                "We could not check with the payment provider just now; this page shows what we know."
            )
    context = {
        "merchant": merchant,
        "method_label": PaymentMethod(method).label,
        "authorisation": authorisation,
        "warning": warning,
        "tab": "payment",
    }
    return render(request, "mobile/consumer/authorised.html", context)


@consumer_page
def revoke(request: HttpRequest, merchant: Merchant, consumer: Consumer, method: str) -> HttpResponse:
    method = _authorisable_or_404(merchant, method)
    authorisation = queries.revocable(merchant, consumer, method)
    if authorisation is None:
        messages.info(request, _("There is no authorisation to end."))
        return HttpResponseRedirect(_home(merchant))
    form = RevokeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            authorisations.revoke_authorisation(authorisation, form.reason_text())
        except PROVIDER_FAILURES as exc:
            return problem(request, merchant, exc)
        messages.success(
            request, _("%(method)s pay-after is ended.") % {"method": PaymentMethod(method).label}
        )
        return HttpResponseRedirect(_home(merchant))
    context = {
        "merchant": merchant,
        "method_label": PaymentMethod(method).label,
        "form": form,
        "tab": "payment",
    }
    return render(request, "mobile/consumer/revoke.html", context, status=400 if form.errors else 200)
