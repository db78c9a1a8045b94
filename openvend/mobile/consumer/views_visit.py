"""The shopper's visit after the door-open button: where it stands (the page polls a small JSON
view), the cart of a semi-automatic cabinet or open shelf, paying for it, and leaving a shelf."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from openvend.catalog.models import Product
from openvend.consumers.models import Consumer
from openvend.core.errors import OpenVendError
from openvend.devices.choices import ShoppingFlow
from openvend.merchants.models import Merchant
from openvend.mobile.consumer import queries, shop_queries
from openvend.mobile.consumer.forms_shop import BarcodeForm, CartQuantityForm
from openvend.mobile.consumer.pages import PROVIDER_FAILURES, problem
from openvend.mobile.consumer.session import consumer_page
from openvend.mobile.consumer.views_orders import with_return
from openvend.mobile.consumer.views_payafter import payer_for, provider_page
from openvend.orders import cart_services
from openvend.orders.models import Order
from openvend.orders.services import order_number_for
from openvend.shopping.choices import SessionState as S
from openvend.shopping.models import ShoppingSession

# What the shopper is told at each step of the visit.
STATUS_TEXT: dict[str, Any] = {
    S.CREATED: gettext_lazy("Opening the door…"),
    S.OPENING: gettext_lazy("Opening the door…"),
    S.OPEN: gettext_lazy("Door open: take what you want and close the door."),
    S.CLOSED: gettext_lazy("Door closed. Working out what you took…"),
    S.RECOGNISING: gettext_lazy("Door closed. Working out what you took…"),
    S.SETTLING: gettext_lazy("Charging your payment method…"),
    S.COMPLETED: gettext_lazy("Done. Thank you!"),
    S.REVIEW: gettext_lazy(
        "Customer service is checking this visit; you will see the result in your orders."
    ),
    S.FAILED: gettext_lazy("Something went wrong with this visit. Please contact customer service."),
    S.CANCELLED: gettext_lazy("The door was not opened in time. Nothing was charged."),
}
SHELF_OPEN_TEXT = gettext_lazy("Add what you take to the cart and pay.")
UNPAID_CART_TEXT = gettext_lazy("Door closed. Please pay for what you took.")


def _status_text(visit: ShoppingSession, order: Order | None) -> str:
    if visit.flow == ShoppingFlow.OPEN_SHELF and visit.state == S.OPEN:
        return str(SHELF_OPEN_TEXT)
    if _cart_open(visit, order) and visit.state in (S.CLOSED, S.RECOGNISING):
        return str(UNPAID_CART_TEXT)
    return str(STATUS_TEXT[visit.state])


def _visit_or_404(merchant: Merchant, consumer: Consumer, session_id: int) -> ShoppingSession:
    visit = shop_queries.own_session(merchant, consumer, session_id)
    if visit is None:
        raise Http404
    return visit


def _here(merchant: Merchant, visit: ShoppingSession) -> str:
    return reverse("mobile:consumer:visit", args=[merchant.code, visit.pk])


def _receipt_url(merchant: Merchant, order: Order | None) -> str:
    return reverse("mobile:consumer:receipt", args=[merchant.code, order.number]) if order else ""


def _cart_open(visit: ShoppingSession, order: Order | None) -> bool:
    return order is None and visit.state in cart_services.CART_STATES.get(visit.flow, frozenset())


def _status(merchant: Merchant, visit: ShoppingSession, order: Order | None) -> dict[str, Any]:
    return {
        "state": visit.state,
        "text": _status_text(visit, order),
        "final": visit.state in (S.COMPLETED, S.REVIEW, S.FAILED, S.CANCELLED),
        "receipt_url": _receipt_url(merchant, order),
    }


@consumer_page
def visit(request: HttpRequest, merchant: Merchant, consumer: Consumer, session_id: int) -> HttpResponse:
    found = _visit_or_404(merchant, consumer, session_id)
    order = shop_queries.order_of(found)
    cart_open = _cart_open(found, order)
    rows = shop_queries.cart_rows(found) if cart_open else []
    context = {
        "merchant": merchant,
        "visit": found,
        "status": _status(merchant, found, order),
        "cart_open": cart_open,
        "rows": [{"row": row, "price": queries.yuan(row.price_fen)} for row in rows],
        "total_fen": shop_queries.cart_total_fen(rows),
        "total": queries.yuan(shop_queries.cart_total_fen(rows)),
        "barcode_form": BarcodeForm(),
        "may_leave": found.flow == ShoppingFlow.OPEN_SHELF
        and cart_open
        and not any(r.quantity for r in rows),
    }
    return render(request, "mobile/consumer/visit.html", context)


@consumer_page
def visit_state(
    request: HttpRequest, merchant: Merchant, consumer: Consumer, session_id: int
) -> HttpResponse:
    found = _visit_or_404(merchant, consumer, session_id)
    return JsonResponse(_status(merchant, found, shop_queries.order_of(found)))


def _cart_failed(request: HttpRequest, exc: OpenVendError) -> None:
    messages.error(request, exc.message)


@require_POST
@consumer_page
def cart_update(
    request: HttpRequest, merchant: Merchant, consumer: Consumer, session_id: int
) -> HttpResponse:
    found = _visit_or_404(merchant, consumer, session_id)
    form = CartQuantityForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("That quantity cannot be used."))
        return HttpResponseRedirect(_here(merchant, found))
    product = Product.objects.filter(pk=form.cleaned_data["product"], merchant_id=merchant.pk).first()
    if product is None:
        raise Http404
    try:
        cart_services.cart_set(session=found, product=product, quantity=form.cleaned_data["quantity"])
    except OpenVendError as exc:
        _cart_failed(request, exc)
    return HttpResponseRedirect(_here(merchant, found))


@require_POST
@consumer_page
def cart_barcode(
    request: HttpRequest, merchant: Merchant, consumer: Consumer, session_id: int
) -> HttpResponse:
    found = _visit_or_404(merchant, consumer, session_id)
    form = BarcodeForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Enter the barcode printed under the bars."))
        return HttpResponseRedirect(_here(merchant, found))
    try:
        line = cart_services.cart_add_barcode(session=found, barcode=form.cleaned_data["barcode"])
    except OpenVendError as exc:
        _cart_failed(request, exc)
    else:
        messages.success(request, _("%(product)s added.") % {"product": line.product.name})
    return HttpResponseRedirect(_here(merchant, found))


@require_POST
@consumer_page
def checkout(request: HttpRequest, merchant: Merchant, consumer: Consumer, session_id: int) -> HttpResponse:
    found = _visit_or_404(merchant, consumer, session_id)
    here = _here(merchant, found)
    number = order_number_for(found)  # known before the order exists
    receipt = request.build_absolute_uri(reverse("mobile:consumer:receipt", args=[merchant.code, number]))
    try:
        order, next_action = cart_services.cart_checkout(
            session=found, return_url=receipt, payer_id=payer_for(consumer, found.payment_method)
        )
    except OpenVendError as exc:
        _cart_failed(request, exc)
        return HttpResponseRedirect(here)
    except PROVIDER_FAILURES as exc:
        return problem(request, merchant, exc, back_url=here)
    receipt = request.build_absolute_uri(_receipt_url(merchant, order))
    page = provider_page(next_action)
    return HttpResponseRedirect(with_return(page, next_action, receipt) if page else receipt)


@require_POST
@consumer_page
def leave(request: HttpRequest, merchant: Merchant, consumer: Consumer, session_id: int) -> HttpResponse:
    """An open-shelf shopper who takes nothing ends the visit."""
    found = _visit_or_404(merchant, consumer, session_id)
    if cart_services.shelf_finish_without_buying(found):
        messages.success(request, _("Visit ended. Nothing was charged."))
    return HttpResponseRedirect(_here(merchant, found))
