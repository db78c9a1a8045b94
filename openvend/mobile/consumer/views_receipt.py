"""A receipt per order (the shopper's own only): lines, amounts, payment, refunds, and appeals with
customer service's answer; and the appeal form (客户申诉)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _

from openvend.consumers.models import Consumer
from openvend.core.errors import OpenVendError
from openvend.merchants.models import Merchant
from openvend.mobile.consumer import queries, shop_queries
from openvend.mobile.consumer.forms_shop import AppealForm
from openvend.mobile.consumer.session import consumer_page
from openvend.orders.appeal_services import APPEALABLE_STATES, appeal_submit
from openvend.orders.choices import AppealReason, AppealState, OrderState
from openvend.orders.models import Order
from openvend.payments.choices import PaymentState, RefundState
from openvend.shopping.choices import SessionState
from openvend.shopping.services import DOOR_FLOWS

# While any of these is true the receipt is still changing, and the page looks again in a moment.
UNSETTLED_PAYMENT_STATES = (PaymentState.CREATED, PaymentState.PENDING)


def _order_or_404(merchant: Merchant, consumer: Consumer, number: str) -> Order:
    order = shop_queries.own_order(merchant, consumer, number)
    if order is None:
        raise Http404
    return order


def _receipt_url(merchant: Merchant, order: Order) -> str:
    return reverse("mobile:consumer:receipt", args=[merchant.code, order.number])


def _refund_rows(receipt: shop_queries.Receipt) -> list[dict[str, Any]]:
    return [
        {
            "refund": refund,
            "amount": queries.yuan(refund.amount_fen),
            "label": RefundState(refund.state).label,
            "done": refund.state == RefundState.SUCCEEDED,
        }
        for refund in receipt.refunds
    ]


def _appeal_rows(receipt: shop_queries.Receipt) -> list[dict[str, Any]]:
    return [
        {
            "appeal": appeal,
            "reason": AppealReason(appeal.reason).label,
            "state": AppealState(appeal.state).label,
        }
        for appeal in receipt.appeals
    ]


@consumer_page
def receipt(request: HttpRequest, merchant: Merchant, consumer: Consumer, number: str) -> HttpResponse:
    order = _order_or_404(merchant, consumer, number)
    found = shop_queries.receipt_of(order)
    payment = order.payment
    settling = payment is not None and payment.state in UNSETTLED_PAYMENT_STATES
    refunded = sum(r.amount_fen for r in found.refunds if r.state == RefundState.SUCCEEDED)
    context = {
        "merchant": merchant,
        "order": order,
        "state_label": OrderState(order.state).label,
        "lines": [
            {"line": line, "unit": queries.yuan(line.unit_price_fen), "amount": queries.yuan(line.amount_fen)}
            for line in found.lines
        ],
        "total": queries.yuan(order.total_fen),
        "paid": queries.yuan(order.paid_fen),
        "refunded": queries.yuan(refunded) if refunded else "",
        "payment": payment,
        "payment_label": PaymentState(payment.state).label if payment is not None else "",
        "refunds": _refund_rows(found),
        "appeals": _appeal_rows(found),
        "may_appeal": found.open_appeal is None and order.state in APPEALABLE_STATES,
        "door_open": order.session.flow in DOOR_FLOWS and order.session.state == SessionState.OPEN,
        "settling": settling
        or any(r.state in (RefundState.CREATED, RefundState.PENDING) for r in found.refunds),
        "tab": "orders",
    }
    return render(request, "mobile/consumer/receipt.html", context)


@consumer_page
def appeal(request: HttpRequest, merchant: Merchant, consumer: Consumer, number: str) -> HttpResponse:
    order = _order_or_404(merchant, consumer, number)
    lines = list(order.lines.select_related("product").order_by("id"))
    form = AppealForm(request.POST or None, lines=lines)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                appeal_submit(
                    consumer=consumer,
                    order=order,
                    reason=form.cleaned_data["reason"],
                    message=form.cleaned_data["message"],
                    claimed_lines=form.claimed_lines(),
                )
            except OpenVendError as exc:
                form.add_error(None, exc.message)
                status = 409
            else:
                messages.success(request, _("Your appeal is sent. Customer service will answer here."))
                return HttpResponseRedirect(_receipt_url(merchant, order))
    context = {
        "merchant": merchant,
        "order": order,
        "form": form,
        "claimed": form.claimed_fields(),
        "receipt_url": _receipt_url(merchant, order),
        "tab": "orders",
    }
    return render(request, "mobile/consumer/appeal.html", context, status=status)
