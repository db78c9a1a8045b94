"""The page a device's QR code leads to: which cabinet this is, whether the shopper may open it (every
failed precondition with its way forward), how they will pay, and the button that opens the door."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from openvend.consumers.models import Consumer, ConsumerStatus
from openvend.merchants.models import Merchant
from openvend.mobile.consumer import session, shop_queries
from openvend.mobile.consumer.pages import PROVIDER_FAILURES, problem
from openvend.mobile.consumer.queries import IN_PERSON_METHODS
from openvend.mobile.consumer.shop_queries import MethodChoice
from openvend.mobile.consumer.views_payafter import payer_for
from openvend.mobile.consumer.views_signin import link_identity
from openvend.payments.choices import PROVIDER_OF
from openvend.shopping.choices import WayForward
from openvend.shopping.errors import DeviceBusy, PreconditionsFailed
from openvend.shopping.preconditions import Failure, check_preconditions
from openvend.shopping.services import method_fits_flow, session_start


def _scan_url(merchant: Merchant, token: str) -> str:
    return reverse("mobile:consumer:scan", args=[merchant.code, token])


def _invalid_code(request: HttpRequest, merchant: Merchant) -> HttpResponse:
    context = {"merchant": merchant, "message": _("This code is not valid. Nothing was opened.")}
    return render(request, "mobile/consumer/invalid_code.html", context, status=400)


def _chosen(wanted: str | None, choices: list[MethodChoice]) -> str:
    """The method the shopper picked, else the first ready one; "" when none is offered."""
    methods = [choice.method for choice in choices]
    if wanted in methods:
        return str(wanted)
    return methods[0] if methods else ""


def _failures(device: Any, flow: str, consumer: Consumer, method: str) -> list[Failure]:
    """What session_start would refuse the shopper for, checked the same way."""
    failures = check_preconditions(device=device, consumer=consumer, method=method)
    if method and (unfit := method_fits_flow(method, flow)) is not None:
        failures.append(unfit)
    return failures


def _way_forward(merchant: Merchant, device: Any, failure: Failure, here: str) -> dict[str, str]:
    """The button a failed precondition gets: where it leads and what it says."""
    way = failure.way_forward
    if way == WayForward.AUTHORISE:
        return {
            "url": reverse("mobile:consumer:payment", args=[merchant.code]),
            "label": _("Authorise pay-after"),
        }
    if way == WayForward.PAY_DEBT:
        return {
            "url": reverse("mobile:consumer:orders", args=[merchant.code]),
            "label": _("Pay the unpaid order"),
        }
    if way == WayForward.CHOOSE_METHOD:
        return {"url": "#methods", "label": _("Choose another payment method")}
    if way == WayForward.TRY_LATER:
        return {"url": here, "label": _("Try again")}
    phone = (device.site.contact_phone if device.site is not None else "") or merchant.contact_phone
    return {"url": f"tel:{phone}" if phone else "", "label": _("Call customer service"), "phone": phone}


def _page(
    request: HttpRequest,
    merchant: Merchant,
    consumer: Consumer,
    token: str,
    found: tuple[Any, str],
    method: str,
    failures: list[Failure],
    status: int = 200,
) -> HttpResponse:
    device, flow = found
    here = _scan_url(merchant, token)
    choices = shop_queries.method_choices(device, flow, consumer)
    context = {
        "merchant": merchant,
        "device": device,
        "flow": flow,
        "token": token,
        "choices": choices,
        "method": method,
        "failures": [{"failure": f, "way": _way_forward(merchant, device, f, here)} for f in failures],
        "here": here,
    }
    return render(request, "mobile/consumer/scan.html", context, status=status)


def _shopper(request: HttpRequest, merchant: Merchant, token: str) -> Consumer | HttpResponse:
    """The signed-in shopper, or the page to show instead (sign in first and come back; frozen)."""
    consumer = session.signed_in(request)
    if consumer is None:
        target = reverse("mobile:consumer:signin", args=[merchant.code])
        return HttpResponseRedirect(f"{target}?{urlencode({'next': _scan_url(merchant, token)})}")
    if consumer.status == ConsumerStatus.FROZEN:
        return session.frozen_page(request, merchant)
    return consumer


def scan(request: HttpRequest, merchant_code: str, token: str) -> HttpResponse:
    """A forged or foreign code is refused before anything else; then the shopper signs in."""
    merchant = session.merchant_or_404(merchant_code)
    found = shop_queries.scanned_device(merchant, token)
    if found is None:
        return _invalid_code(request, merchant)
    consumer = _shopper(request, merchant, token)
    if isinstance(consumer, HttpResponse):
        return consumer
    device, flow = found
    method = _chosen(request.GET.get("method"), shop_queries.method_choices(device, flow, consumer))
    failures = _failures(device, flow, consumer, method)
    return _page(request, merchant, consumer, token, found, method, failures)


@require_POST
def open_door(request: HttpRequest, merchant_code: str, token: str) -> HttpResponse:
    merchant = session.merchant_or_404(merchant_code)
    found = shop_queries.scanned_device(merchant, token)
    if found is None:
        return _invalid_code(request, merchant)
    consumer = _shopper(request, merchant, token)
    if isinstance(consumer, HttpResponse):
        return consumer
    method = request.POST.get("method", "")  # session_start refuses one not offered or not fitting
    here = _scan_url(merchant, token)
    offered = [choice.method for choice in shop_queries.method_choices(*found, consumer)]
    if method in offered and method in IN_PERSON_METHODS and not payer_for(consumer, method):
        # Paying in person through a provider needs the shopper's id there first.
        return link_identity(merchant.code, PROVIDER_OF[method], f"{here}?{urlencode({'method': method})}")
    try:
        visit = session_start(consumer=consumer, method=method, qr_token=token)
    except DeviceBusy:
        return render(request, "mobile/consumer/busy.html", {"merchant": merchant, "here": here}, status=409)
    except PreconditionsFailed as exc:
        return _page(request, merchant, consumer, token, found, method, exc.failures, status=409)
    except PROVIDER_FAILURES as exc:
        return problem(request, merchant, exc, back_url=here)
    return HttpResponseRedirect(reverse("mobile:consumer:visit", args=[merchant.code, visit.pk]))
