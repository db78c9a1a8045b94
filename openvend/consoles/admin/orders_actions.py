"""The staff buttons on an order: confirm, adjust, waive, charge again, refund and raise a supplement.
Each opens a confirmation (with a small form where the service needs input) and acts on POST
through the order staff services; their refusals come back as messages, nothing changed.

Only the buttons that can work for the order's state are offered, and only in the merchant console.
"""

from __future__ import annotations

from decimal import Decimal
from functools import partial
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from unfold.decorators import action

from openvend.catalog.models import Product
from openvend.consoles.admin.base import is_platform
from openvend.consoles.admin.orders_base import ReadOnlyAdmin
from openvend.consoles.admin.payments import fen_of, yuan
from openvend.core.errors import OpenVendError
from openvend.inventory.choices import PlanogramStatus
from openvend.inventory.models import PlanogramSlot
from openvend.orders.choices import OrderState
from openvend.orders.models import Order
from openvend.orders.staff_services import (
    order_adjust,
    order_charge,
    order_confirm,
    order_raise_supplement,
    order_refund,
    order_waive,
)

# Which buttons can work for an order in each state (the services refuse the rest anyway).
OFFERED = {
    "confirm": {OrderState.REVIEW, OrderState.PAID, OrderState.CLOSED},
    "adjust": {OrderState.REVIEW, OrderState.PAID, OrderState.PENDING_PAYMENT},
    "waive": {OrderState.REVIEW, OrderState.PENDING_PAYMENT},
    "charge": {OrderState.PENDING_PAYMENT},
    "refund": {OrderState.PAID},
    "supplement": {OrderState.PAID, OrderState.CLOSED},
}


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("reason"), max_length=200)


class RefundForm(ReasonForm):
    amount = forms.DecimalField(
        label=_("amount (yuan)"), min_value=Decimal("0.01"), max_digits=12, decimal_places=2
    )

    def __init__(self, *args: Any, refundable: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.refundable = refundable
        fields: Any = self.fields
        fields["amount"].help_text = _("At most %(amount)s.") % {"amount": yuan(refundable)}

    def clean_amount(self) -> int:
        try:
            fen = fen_of(self.cleaned_data["amount"])
        except ValueError:
            raise forms.ValidationError(_("At most two decimals.")) from None
        if fen > self.refundable:
            raise forms.ValidationError(
                _("At most %(amount)s can be refunded.") % {"amount": yuan(self.refundable)}
            )
        return fen


def candidate_products(order: Order) -> list[Any]:
    """Products staff may put on the order: its lines, what recognition named, and the cabinet's
    planogram in force."""
    line_ids = set(order.lines.values_list("product_id", flat=True))
    skus = {row.get("sku") for row in (order.recognition or {}).get("items", []) if isinstance(row, dict)}
    slot_ids = set(
        PlanogramSlot.objects.filter(
            planogram__device_id=order.device_id, planogram__status=PlanogramStatus.ACTIVE
        ).values_list("product_id", flat=True)
    )
    found = Product.objects.filter(merchant_id=order.merchant_id).filter(
        pk__in=line_ids | slot_ids
    ) | Product.objects.filter(merchant_id=order.merchant_id, sku__in=skus)
    return list(found.distinct().order_by("sku"))


class LinesForm(ReasonForm):
    """The order's lines in full: units per product (0 removes it), with a reason."""

    def __init__(self, *args: Any, order: Order, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        current = dict(order.lines.values_list("product_id", "quantity"))
        self.current = current
        self.products = candidate_products(order)
        for product in self.products:
            self.fields[f"product_{product.pk}"] = forms.IntegerField(
                label=f"{product.name} ({product.sku})",
                min_value=0,
                max_value=999,
                initial=current.get(product.pk, 0),
            )
        self.order_fields(["reason", *[f"product_{p.pk}" for p in self.products]])

    def lines(self) -> dict[int, int]:
        units = {p.pk: self.cleaned_data[f"product_{p.pk}"] for p in self.products}
        return {pk: n for pk, n in units.items() if n or pk in self.current}


class OrderActions(ReadOnlyAdmin):
    """The order admin's detail buttons and their pages."""

    actions_detail = ["confirm", "adjust", "waive", "charge", "refund", "supplement"]

    def _may(self, request: HttpRequest, perm: str) -> bool:
        return not is_platform(self.admin_site) and bool(request.user.has_perm(f"orders.{perm}_order"))

    def has_resolve_permission(self, request: HttpRequest, object_id: Any = None) -> bool:
        return self._may(request, "resolve")

    def has_refund_permission(self, request: HttpRequest, object_id: Any = None) -> bool:
        return self._may(request, "refund")

    def get_actions_detail(self, request: HttpRequest, object_id: Any = None) -> Any:
        found = super().get_actions_detail(request, object_id)
        order = self.get_queryset(request).filter(pk=object_id).first()
        if order is None:
            return found
        offered = {name for name, states in OFFERED.items() if order.state in states}
        return [a for a in found if a.action_name.rsplit("_", 1)[-1] in offered]

    def _order(self, request: HttpRequest, object_id: Any) -> Order:
        order: Order = get_object_or_404(self.get_queryset(request), pk=object_id)
        return order

    def _act(self, request: HttpRequest, order: Order, run: Any, done: Any) -> HttpResponse | None:
        """Run one service call and go back to the order; a refusal is shown on the page it came
        from (None), nothing changed."""
        try:
            run()
        except OpenVendError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return None
        self.message_user(request, done, messages.SUCCESS)
        return self._back(order)

    def _facts(self, order: Order) -> list[tuple[Any, Any]]:
        return [
            (_("order"), order.number),
            (_("state"), order.get_state_display()),
            (_("total"), yuan(order.total_fen)),
            (_("paid"), yuan(order.paid_fen)),
            (_("abnormal because"), order.get_abnormal_reason_display()),
        ]

    def _confirm_page(self, request: HttpRequest, order: Order, title: Any, **extra: Any) -> HttpResponse:
        return self._page(request, title, order, facts=self._facts(order), **extra)

    @action(description=_("Confirm"), url_path="confirm", permissions=["resolve"])
    def confirm(self, request: HttpRequest, object_id: Any) -> HttpResponse:
        order = self._order(request, object_id)
        if request.method == "POST":
            run = partial(order_confirm, actor=request.user, order=order)
            return self._act(request, order, run, _("The order is confirmed.")) or self._back(order)
        intro = _("An order under review is sold as recognition read it and charged.")
        return self._confirm_page(request, order, _("Confirm this order?"), intro=intro)

    @action(description=_("Waive"), url_path="waive", permissions=["resolve"])
    def waive(self, request: HttpRequest, object_id: Any) -> HttpResponse:
        order = self._order(request, object_id)
        form = ReasonForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            reason = form.cleaned_data["reason"]
            run = partial(order_waive, actor=request.user, order=order, reason=reason)
            done = self._act(request, order, run, _("The order is waived: nothing will be collected."))
            if done:
                return done
        intro = _("Nothing is collected and every open payment attempt is cancelled.")
        return self._confirm_page(request, order, _("Waive this order?"), form=form, intro=intro, danger=True)

    @action(description=_("Charge again"), url_path="charge", permissions=["resolve"])
    def charge(self, request: HttpRequest, object_id: Any) -> HttpResponse:
        order = self._order(request, object_id)
        if request.method == "POST":
            run = partial(order_charge, actor=request.user, order=order)
            return self._act(request, order, run, _("A new charge was requested.")) or self._back(order)
        intro = _("The owed amount is charged again with the shopper's method, as a new attempt.")
        return self._confirm_page(request, order, _("Charge this order again?"), intro=intro)

    @action(description=_("Refund"), url_path="refund", permissions=["refund"])
    def refund(self, request: HttpRequest, object_id: Any) -> HttpResponse:
        order = self._order(request, object_id)
        form = RefundForm(request.POST or None, refundable=order.paid_fen - order.refunded_fen)
        if request.method == "POST" and form.is_valid():
            amount, reason = form.cleaned_data["amount"], form.cleaned_data["reason"]
            run = partial(order_refund, actor=request.user, order=order, amount_fen=amount, reason=reason)
            text = _("A refund of %(amount)s was requested.") % {"amount": yuan(amount)}
            done = self._act(request, order, run, text)
            if done:
                return done
        intro = _("The refund goes back the way the shopper paid.")
        return self._confirm_page(request, order, _("Refund this order"), form=form, intro=intro)

    def _lines_page(self, request: HttpRequest, object_id: Any, service: Any, title: Any, done: Any) -> Any:
        order = self._order(request, object_id)
        form = LinesForm(request.POST or None, order=order)
        if request.method == "POST" and form.is_valid():
            lines, reason = form.lines(), form.cleaned_data["reason"]
            run = partial(service, actor=request.user, order=order, lines=lines, reason=reason)
            response = self._act(request, order, run, done)
            if response:
                return response
        intro = _("Give every product's units as actually taken; 0 removes a line.")
        return self._confirm_page(request, order, title, form=form, intro=intro)

    @action(description=_("Adjust lines"), url_path="adjust", permissions=["resolve"])
    def adjust(self, request: HttpRequest, object_id: Any) -> HttpResponse:
        title = _("Adjust the order's lines")
        return self._lines_page(request, object_id, order_adjust, title, _("The order's lines are adjusted."))

    @action(description=_("Raise a supplement"), url_path="supplement", permissions=["resolve"])
    def supplement(self, request: HttpRequest, object_id: Any) -> HttpResponse:
        title = _("Raise a supplementary charge")
        done = _("A supplementary charge was raised.")
        return self._lines_page(request, object_id, order_raise_supplement, title, done)
