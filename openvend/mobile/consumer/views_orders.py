"""Orders the shopper still owes (a pay-after charge that failed): list, pay in person, see the result."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _

from openvend.consumers.models import Consumer
from openvend.merchants.models import Merchant
from openvend.mobile.consumer import queries, shop_queries
from openvend.mobile.consumer.forms import PayForm
from openvend.mobile.consumer.pages import PROVIDER_FAILURES, explain, problem
from openvend.mobile.consumer.session import consumer_page
from openvend.mobile.consumer.views_payafter import payer_for, provider_page
from openvend.mobile.consumer.views_signin import link_identity
from openvend.orders.choices import OrderState
from openvend.payments import selectors
from openvend.payments.choices import PROVIDER_OF, PaymentState
from openvend.payments.failures import failure_text
from openvend.payments.services import charging, reconcile


def _orders(merchant: Merchant) -> str:
    return reverse("mobile:consumer:orders", args=[merchant.code])


def with_return(page: str, next_action: dict, return_url: str) -> str:
    """WeChat's H5 cashier goes back to the `redirect_url` the page appends; Alipay's WAP cashier
    knows its return address from the signed request."""
    if "cashier_url" in next_action and page == next_action["cashier_url"]:
        separator = "&" if "?" in page else "?"
        return f"{page}{separator}{urlencode({'redirect_url': return_url})}"
    return page


@consumer_page
def orders(request: HttpRequest, merchant: Merchant, consumer: Consumer) -> HttpResponse:
    payments = list(selectors.unpaid_payments_of(consumer, merchant).select_related("site"))
    owed = [
        {
            "payment": payment,
            "amount": queries.yuan(payment.amount_fen),
            "failure": failure_text(payment.failure_code),
        }
        for payment in payments
    ]
    total = sum(payment.amount_fen for payment in payments)
    past = [
        {"order": order, "amount": queries.yuan(order.total_fen), "state": OrderState(order.state).label}
        for order in shop_queries.past_orders(merchant, consumer)
    ]
    context = {
        "merchant": merchant,
        "owed": owed,
        "total": queries.yuan(total),
        "past": past,
        "tab": "orders",
    }
    return render(request, "mobile/consumer/orders.html", context)


@consumer_page
def pay(request: HttpRequest, merchant: Merchant, consumer: Consumer, payment_id: int) -> HttpResponse:
    payment = queries.owed_payment(merchant, consumer, payment_id)
    if payment is None:
        if queries.own_attempt(merchant, consumer, payment_id) is None:
            raise Http404
        messages.info(request, _("This order is settled; nothing is owed on it."))
        return HttpResponseRedirect(_orders(merchant))
    methods = [m for m in queries.offered_methods(merchant, payment.site) if m in queries.IN_PERSON_METHODS]
    form = PayForm(request.POST or None, methods=methods)
    if request.method == "POST" and form.is_valid():
        method = form.cleaned_data["method"]
        payer_id = payer_for(consumer, method)
        here = reverse("mobile:consumer:pay", args=[merchant.code, payment.pk])
        if not payer_id:
            messages.info(request, _("Confirm who you are with this provider first, then tap “Pay” again."))
            return link_identity(merchant.code, PROVIDER_OF[method], here)
        try:
            back = request.build_absolute_uri(
                reverse("mobile:consumer:pay-return", args=[merchant.code, payment.pk])
            )
            attempt, next_action = charging.pay_pending(
                payment=payment, method=method, payer_id=payer_id, return_url=back
            )
        except PROVIDER_FAILURES as exc:
            return problem(request, merchant, exc, back_url=here)
        result_url = request.build_absolute_uri(
            reverse("mobile:consumer:pay-result", args=[merchant.code, payment.pk, attempt.pk])
        )
        page = provider_page(next_action)
        return HttpResponseRedirect(with_return(page, next_action, result_url) if page else result_url)
    context = {
        "merchant": merchant,
        "payment": payment,
        "amount": queries.yuan(payment.amount_fen),
        "form": form,
        "methods": methods,
        "tab": "orders",
    }
    return render(request, "mobile/consumer/pay.html", context, status=400 if form.errors else 200)


@consumer_page
def pay_return(request: HttpRequest, merchant: Merchant, consumer: Consumer, payment_id: int) -> HttpResponse:
    """Where Alipay's cashier sends the shopper back (its return address is signed into the request
    before the attempt exists): the shopper's latest attempt at this order."""
    owed = queries.own_attempt(merchant, consumer, payment_id)
    if owed is None:
        raise Http404
    attempt = queries.latest_attempt(merchant, consumer, owed)
    if attempt is None:
        raise Http404
    return HttpResponseRedirect(
        reverse("mobile:consumer:pay-result", args=[merchant.code, owed.pk, attempt.pk])
    )


@consumer_page
def pay_result(
    request: HttpRequest, merchant: Merchant, consumer: Consumer, payment_id: int, attempt_id: int
) -> HttpResponse:
    """Where the cashier sends the shopper back. The notification may still be on its way, so an
    unfinished attempt is checked with the provider before the page says paid or not."""
    owed = queries.own_attempt(merchant, consumer, payment_id)
    attempt = queries.own_attempt(merchant, consumer, attempt_id)
    if owed is None or attempt is None or attempt.order_ref != owed.order_ref:
        raise Http404
    warning = ""
    if attempt.state in (PaymentState.CREATED, PaymentState.PENDING):
        try:
            reconcile.sync_payment(attempt)
        except PROVIDER_FAILURES as exc:
            warning = explain(exc)[0]
        attempt.refresh_from_db()
    context = {
        "merchant": merchant,
        "attempt": attempt,
        "owed": owed,
        "amount": queries.yuan(attempt.amount_fen),
        "paid": attempt.state == PaymentState.PAID,
        "failure": failure_text(attempt.failure_code),
        "warning": warning,
        "retry_url": reverse("mobile:consumer:pay", args=[merchant.code, owed.pk]),
        "tab": "orders",
    }
    return render(request, "mobile/consumer/paid.html", context)
