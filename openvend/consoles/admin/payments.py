"""Console pages: payments with their event timeline and refunds, refunds, provider notifications
(platform only) and member wallets.

Everything here is read-only: payments change only through the payment services. The two buttons
on a payment call them: "Query provider" (sync_payment: a lost notification is recovered) and
"Refund" (a form taking yuan with two decimals, converted exactly to fen).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from unfold.admin import TabularInline
from unfold.decorators import action, display

from openvend.consoles.admin.base import ConsoleModelAdmin, is_platform, register
from openvend.consoles.sites import merchant_console, platform_console
from openvend.payments.choices import NotificationOutcome, PaymentState, RefundState
from openvend.payments.errors import PaymentError
from openvend.payments.models import (
    Payment,
    PaymentEvent,
    ProviderNotification,
    Refund,
    WalletAccount,
    WalletEntry,
)
from openvend.payments.services.reconcile import sync_payment
from openvend.payments.services.refunds import refundable_fen, request_refund

PAYMENT_COLOURS = {
    PaymentState.CREATED: "info",
    PaymentState.PENDING: "warning",
    PaymentState.PAID: "success",
    PaymentState.FAILED: "danger",
    PaymentState.CLOSED: "info",
}
REFUND_COLOURS = {
    RefundState.CREATED: "info",
    RefundState.PENDING: "warning",
    RefundState.SUCCEEDED: "success",
    RefundState.FAILED: "danger",
}
OUTCOME_COLOURS = {
    NotificationOutcome.APPLIED: "success",
    NotificationOutcome.NO_CHANGE: "info",
    NotificationOutcome.REJECTED: "danger",
}


def yuan(fen: int | None) -> str:
    """Fen as a yuan amount with two decimals, by integer arithmetic (no floats near money)."""
    if fen is None:
        return "—"
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}¥{whole}.{cents:02d}"


def fen_of(amount_yuan: Decimal) -> int:
    """A yuan amount with at most two decimals, exactly in fen."""
    fen = amount_yuan * 100
    if fen != fen.to_integral_value():
        raise ValueError("more than two decimals")
    return int(fen)


class _ReadOnly(ConsoleModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class _ReadOnlyInline(TabularInline):
    extra = 0
    max_num = 0
    can_delete = False
    # Rows of a payment have no permissions of their own: whoever may see the payment sees them.
    view_permission = "payments.view_payment"

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.has_perm(self.view_permission))

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class PaymentEventInline(_ReadOnlyInline):
    model = PaymentEvent
    verbose_name_plural = _("timeline")
    fields = ["created_at", "kind", "from_state", "to_state", "refund", "detail", "actor"]
    readonly_fields = fields
    ordering = ["id"]


class RefundInline(_ReadOnlyInline):
    model = Refund
    fields = [
        "out_refund_no",
        "amount",
        "reason",
        "state",
        "provider_refund_id",
        "failure_code",
        "succeeded_at",
    ]
    readonly_fields = fields

    @display(description=_("amount"))
    def amount(self, obj: Refund) -> str:
        return yuan(obj.amount_fen)


class RefundForm(forms.Form):
    amount = forms.DecimalField(
        label=_("amount (yuan)"), min_value=Decimal("0.01"), max_digits=12, decimal_places=2
    )
    reason = forms.CharField(label=_("reason"), max_length=80)

    def __init__(self, *args: Any, refundable: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.refundable = refundable
        fields: Any = self.fields
        fields["amount"].help_text = _("At most %(amount)s.") % {"amount": yuan(refundable)}

    def clean_amount(self) -> int:
        fen = fen_of(self.cleaned_data["amount"])
        if fen > self.refundable:
            raise forms.ValidationError(
                _("At most %(amount)s can be refunded.") % {"amount": yuan(self.refundable)}
            )
        return fen


@register(Payment, merchant_console, platform_console)
class PaymentAdmin(_ReadOnly):
    list_display = [
        "out_trade_no",
        "order_ref",
        "method",
        "state_badge",
        "amount",
        "refunded",
        "site",
        "paid_at",
        "created_at",
    ]
    list_filter = ["state", "method", ("created_at", admin.DateFieldListFilter), "site"]
    search_fields = ["out_trade_no", "order_ref"]
    list_select_related = ["site"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "out_trade_no",
        "order_ref",
        "attempt",
        "method",
        "provider",
        "state",
        "amount",
        "refunded",
        "description",
        "site",
        "consumer",
        "authorisation",
        "payer_id",
        "provider_trade_no",
        "failure_code",
        "failure_message",
        "paid_at",
        "next_check_at",
        "created_at",
    ]
    fields = readonly_fields
    inlines = [RefundInline, PaymentEventInline]
    actions_detail = ["query_provider", "refund"]

    @display(description=_("state"), label=PAYMENT_COLOURS)
    def state_badge(self, obj: Payment) -> Any:
        return obj.state, obj.get_state_display()

    @display(description=_("amount"), ordering="amount_fen")
    def amount(self, obj: Payment) -> str:
        return yuan(obj.amount_fen)

    @display(description=_("refunded"))
    def refunded(self, obj: Payment) -> str:
        return yuan(obj.refunded_fen) if obj.refunded_fen else "—"

    def has_sync_permission(self, request: HttpRequest, object_id: Any = None) -> bool:
        return bool(request.user.has_perm("payments.sync_payment"))

    def has_refund_permission(self, request: HttpRequest, object_id: Any = None) -> bool:
        # Refunds are the merchant's decision; the platform console only reads and queries.
        return not is_platform(self.admin_site) and bool(request.user.has_perm("payments.refund_payment"))

    def _payment(self, request: HttpRequest, object_id: Any) -> Payment:
        payment: Payment = get_object_or_404(self.get_queryset(request), pk=object_id)
        return payment

    def _back(self, object_id: Any) -> HttpResponse:
        return HttpResponseRedirect(
            reverse(f"{self.admin_site.name}:payments_payment_change", args=[object_id])
        )

    @action(description=_("Query provider"), url_path="query-provider", permissions=["sync"])
    def query_provider(self, request: HttpRequest, object_id: Any) -> HttpResponse:
        payment = self._payment(request, object_id)
        before = payment.state
        try:
            sync_payment(payment, actor=request.user)
        except PaymentError as exc:
            self.message_user(request, str(exc), messages.ERROR)
        else:
            if payment.state != before:
                text = _("The provider says: %(state)s. The payment has been updated.")
            else:
                text = _("The provider says: %(state)s. Nothing needed to change.")
            self.message_user(request, text % {"state": payment.get_state_display()}, messages.SUCCESS)
        return self._back(object_id)

    @action(description=_("Refund"), url_path="refund", permissions=["refund"])
    def refund(self, request: HttpRequest, object_id: Any) -> HttpResponse:
        payment = self._payment(request, object_id)
        if payment.state != PaymentState.PAID:
            self.message_user(request, _("Only a paid payment can be refunded."), messages.ERROR)
            return self._back(object_id)
        form = RefundForm(request.POST or None, refundable=refundable_fen(payment))
        if request.method == "POST" and form.is_valid():
            try:
                refund = request_refund(
                    payment=payment,
                    amount_fen=form.cleaned_data["amount"],
                    reason=form.cleaned_data["reason"],
                    actor=request.user,
                )
            except PaymentError as exc:
                form.add_error(None, str(exc))
            else:
                self.message_user(
                    request,
                    _("Refund %(number)s of %(amount)s requested.")
                    % {"number": refund.out_refund_no, "amount": yuan(refund.amount_fen)},
                    messages.SUCCESS,
                )
                return self._back(object_id)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Refund %(number)s") % {"number": payment.out_trade_no},
            "payment": payment,
            "paid": yuan(payment.amount_fen),
            "refunded": yuan(payment.refunded_fen),
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "consoles/payments/refund.html", context)


@register(Refund, merchant_console, platform_console)
class RefundAdmin(_ReadOnly):
    list_display = [
        "out_refund_no",
        "payment",
        "amount",
        "state_badge",
        "reason",
        "requested_by",
        "created_at",
    ]
    list_filter = ["state", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["out_refund_no", "payment__out_trade_no", "payment__order_ref"]
    list_select_related = ["payment", "requested_by"]
    readonly_fields = [
        "payment",
        "out_refund_no",
        "sequence",
        "amount",
        "reason",
        "state",
        "provider_refund_id",
        "failure_code",
        "requested_by",
        "succeeded_at",
        "created_at",
    ]
    fields = readonly_fields

    @display(description=_("state"), label=REFUND_COLOURS)
    def state_badge(self, obj: Refund) -> Any:
        return obj.state, obj.get_state_display()

    @display(description=_("amount"), ordering="amount_fen")
    def amount(self, obj: Refund) -> str:
        return yuan(obj.amount_fen)


@register(ProviderNotification, platform_console)
class ProviderNotificationAdmin(_ReadOnly):
    """Every notification id the providers sent us, once, and what became of it."""

    merchant_field = None
    list_display = ["received_at", "provider", "notification_id", "event_type", "outcome_badge", "payment"]
    list_filter = ["provider", "outcome", "event_type", ("received_at", admin.DateFieldListFilter)]
    search_fields = ["notification_id", "payment__out_trade_no"]
    list_select_related = ["payment"]
    readonly_fields = [
        "provider",
        "notification_id",
        "event_type",
        "outcome",
        "payment",
        "detail",
        "received_at",
    ]
    fields = readonly_fields
    ordering = ["-id"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # Not a tenant row: platform staff with the permission read all of them.
        if not request.user.has_perm("payments.view_providernotification"):
            return ProviderNotification.objects.none()
        return ProviderNotification.objects.all().order_by("-id")

    @display(description=_("outcome"), label=OUTCOME_COLOURS)
    def outcome_badge(self, obj: ProviderNotification) -> Any:
        return obj.outcome, obj.get_outcome_display()


class WalletEntryInline(_ReadOnlyInline):
    model = WalletEntry
    view_permission = "payments.view_walletaccount"
    fields = ["created_at", "kind", "amount", "balance_after", "note"]
    readonly_fields = fields
    ordering = ["-id"]

    @display(description=_("amount"))
    def amount(self, obj: WalletEntry) -> str:
        return yuan(obj.amount_fen)

    @display(description=_("balance after"))
    def balance_after(self, obj: WalletEntry) -> str:
        return yuan(obj.balance_after_fen)


@register(WalletAccount, merchant_console, platform_console)
class WalletAccountAdmin(_ReadOnly):
    list_display = ["consumer", "balance", "updated_at"]
    search_fields = ["consumer__nickname", "consumer__phone"]
    list_select_related = ["consumer"]
    readonly_fields = ["consumer", "balance", "created_at", "updated_at"]
    fields = readonly_fields
    inlines = [WalletEntryInline]

    @display(description=_("balance"), ordering="balance_fen")
    def balance(self, obj: WalletAccount) -> str:
        return yuan(obj.balance_fen)
