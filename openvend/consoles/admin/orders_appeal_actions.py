"""The buttons on an open customer appeal: uphold it (a correction order refunding the difference of
the lines as they should have been, or a plain refund amount) or reject it with an answer for the
shopper. Both act on POST through the appeal services; their refusals come back as messages."""

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

from openvend.consoles.admin.base import is_platform
from openvend.consoles.admin.orders_actions import candidate_products
from openvend.consoles.admin.orders_base import ReadOnlyAdmin
from openvend.consoles.admin.payments import fen_of, yuan
from openvend.core.errors import OpenVendError
from openvend.orders.appeal_services import appeal_reject, appeal_uphold
from openvend.orders.choices import AppealState
from openvend.orders.models import Appeal


class RejectForm(forms.Form):
    answer = forms.CharField(label=_("answer for the shopper"), max_length=500, widget=forms.Textarea)


class UpholdForm(forms.Form):
    """Either the lines as they should have been (prefilled with what the shopper claims, else the
    order's lines) or an amount to refund, which leaves the lines as they are."""

    answer = forms.CharField(label=_("answer for the shopper"), max_length=500, required=False)
    amount = forms.DecimalField(
        label=_("or refund an amount (yuan)"),
        min_value=Decimal("0.01"),
        max_digits=12,
        decimal_places=2,
        required=False,
    )

    def __init__(self, *args: Any, appeal: Appeal, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        order = appeal.order
        self.current = dict(order.lines.values_list("product_id", "quantity"))
        claimed = {int(pid): units for pid, units in (appeal.claimed_lines or {}).items()}
        wanted = claimed or self.current
        self.products = candidate_products(order)
        for product in self.products:
            self.fields[f"product_{product.pk}"] = forms.IntegerField(
                label=f"{product.name} ({product.sku})",
                min_value=0,
                max_value=999,
                initial=wanted.get(product.pk, 0),
            )

    def clean_amount(self) -> int | None:
        amount = self.cleaned_data.get("amount")
        if amount is None:
            return None
        try:
            return fen_of(amount)
        except ValueError:
            raise forms.ValidationError(_("At most two decimals.")) from None

    def settlement(self) -> dict[str, Any]:
        """The service's keywords: the refund amount when one was given, else the lines."""
        if self.cleaned_data["amount"] is not None:
            return {"refund_fen": self.cleaned_data["amount"]}
        units = {p.pk: self.cleaned_data[f"product_{p.pk}"] for p in self.products}
        return {"lines": {pk: n for pk, n in units.items() if n or pk in self.current}}


class AppealActions(ReadOnlyAdmin):
    """The appeal admin's detail buttons, offered on open appeals in the merchant console."""

    actions_detail = ["uphold", "reject"]

    def has_handle_permission(self, request: HttpRequest, object_id: Any = None) -> bool:
        return not is_platform(self.admin_site) and bool(request.user.has_perm("orders.handle_appeal"))

    def get_actions_detail(self, request: HttpRequest, object_id: Any = None) -> Any:
        found = super().get_actions_detail(request, object_id)
        is_open = self.get_queryset(request).filter(pk=object_id, state=AppealState.OPEN).exists()
        return found if is_open else []

    def _appeal(self, request: HttpRequest, object_id: Any) -> Appeal:
        appeal: Appeal = get_object_or_404(self.get_queryset(request).select_related("order"), pk=object_id)
        return appeal

    def _handle(self, request: HttpRequest, appeal: Appeal, run: Any, done: Any) -> HttpResponse | None:
        try:
            run()
        except OpenVendError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return None
        self.message_user(request, done, messages.SUCCESS)
        return self._back(appeal)

    def _facts(self, appeal: Appeal) -> list[tuple[Any, Any]]:
        return [
            (_("order"), appeal.order.number),
            (_("paid"), yuan(appeal.order.paid_fen)),
            (_("reason"), appeal.get_reason_display()),
            (_("message"), appeal.message),
        ]

    @action(description=_("Uphold"), url_path="uphold", permissions=["handle"])
    def uphold(self, request: HttpRequest, object_id: Any) -> HttpResponse:
        appeal = self._appeal(request, object_id)
        form = UpholdForm(request.POST or None, appeal=appeal)
        if request.method == "POST" and form.is_valid():
            answer = form.cleaned_data["answer"]
            run = partial(
                appeal_uphold, actor=request.user, appeal=appeal, answer=answer, **form.settlement()
            )
            done = self._handle(request, appeal, run, _("The appeal is upheld."))
            if done:
                return done
        intro = _("The difference is refunded through the order's payment.")
        return self._page(
            request, _("Uphold this appeal?"), appeal, facts=self._facts(appeal), form=form, intro=intro
        )

    @action(description=_("Reject"), url_path="reject", permissions=["handle"])
    def reject(self, request: HttpRequest, object_id: Any) -> HttpResponse:
        appeal = self._appeal(request, object_id)
        form = RejectForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            run = partial(
                appeal_reject, actor=request.user, appeal=appeal, answer=form.cleaned_data["answer"]
            )
            done = self._handle(request, appeal, run, _("The appeal is rejected."))
            if done:
                return done
        return self._page(
            request,
            _("Reject this appeal?"),
            appeal,
            facts=self._facts(appeal),
            form=form,
            danger=True,
            submit_label=_("Reject"),
        )
