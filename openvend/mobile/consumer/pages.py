"""How the shopper's pages say that something went wrong: a page with a plain sentence and a way
back, never a server error."""

from __future__ import annotations

import logging
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _

from openvend.core.errors import OpenVendError
from openvend.mobile.consumer.oauth import OAuthFailed
from openvend.payments.errors import PaymentError, PaymentNotConfigured
from openvend.payments.providers.base import ProviderError, Rejected

logger = logging.getLogger(__name__)

# What the shopper's pages catch around a provider call; anything else is a bug and should show.
PROVIDER_FAILURES = (PaymentError, ProviderError, Rejected, OAuthFailed, OpenVendError)


def explain(exc: BaseException) -> tuple[str, int]:
    """A sentence for the shopper and the HTTP status of the page that shows it."""
    if isinstance(exc, PaymentNotConfigured):
        return _("This payment method is not available here yet. Please choose another one."), 409
    if isinstance(exc, OAuthFailed):
        return str(exc), 400
    if isinstance(exc, PaymentError | OpenVendError):
        return str(getattr(exc, "message", "") or exc), 409
    if isinstance(exc, ProviderError):
        if exc.retryable or exc.status == 0 or exc.status >= 500:
            return _("The payment provider could not be reached. Please try again in a moment."), 502
        text = _("The payment provider refused this request (%(code)s).") % {"code": exc.code}
        return text, 409
    if isinstance(exc, Rejected):
        logger.warning("provider answer rejected on a shopper page: %s", exc.reason.value)
        return _("The payment provider's answer could not be verified. Please try again later."), 502
    return _("Something went wrong. Please try again."), 500


def problem(
    request: HttpRequest,
    merchant: Any,
    exc: BaseException | None = None,
    *,
    message: str = "",
    status: int = 400,
    back_url: str = "",
) -> HttpResponse:
    if exc is not None:
        message, status = explain(exc)
    context = {
        "merchant": merchant,
        "message": message,
        "back_url": back_url or reverse("mobile:consumer:payment", args=[merchant.code]),
    }
    return render(request, "mobile/consumer/problem.html", context, status=status)
