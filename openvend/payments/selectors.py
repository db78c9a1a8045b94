"""Reads of the payments domain."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from openvend.payments.choices import AuthorisationState, PaymentState
from openvend.payments.models import PayAfterAuthorisation, Payment, PaymentEvent, WalletAccount


def payments_for(user: Any, action: str = "view") -> QuerySet[Payment]:
    """Payments `user` may act on (another merchant's are simply absent)."""
    qs: QuerySet[Payment] = Payment.objects.restrict(user, action)
    return qs.select_related("site", "consumer")


def payment_timeline(payment: Payment) -> QuerySet[PaymentEvent]:
    """Every event of the payment and its refunds, oldest first."""
    events: QuerySet[PaymentEvent] = PaymentEvent.objects.filter(payment=payment).select_related(
        "refund", "actor"
    )
    return events.order_by("id")


def unpaid_payments_of(consumer: Any, merchant: Any = None) -> QuerySet[Payment]:
    """What the shopper owes: charges that failed and have not been paid since."""
    qs: QuerySet[Payment] = Payment.objects.filter(consumer=consumer, state=PaymentState.FAILED)
    if merchant is not None:
        qs = qs.filter(merchant=merchant)
    return qs.order_by("created_at", "id")


def active_authorisation(merchant: Any, consumer: Any, method: str) -> PayAfterAuthorisation | None:
    found: PayAfterAuthorisation | None = PayAfterAuthorisation.objects.filter(
        merchant=merchant, consumer=consumer, method=method, state=AuthorisationState.ACTIVE
    ).first()
    return found


def authorisations_of(consumer: Any) -> QuerySet[PayAfterAuthorisation]:
    qs: QuerySet[PayAfterAuthorisation] = PayAfterAuthorisation.objects.filter(consumer=consumer)
    return qs.select_related("merchant").order_by("-id")


def wallet_balance(merchant: Any, consumer: Any) -> int:
    """The shopper's wallet balance at this merchant in fen (0 when they have no wallet yet)."""
    balance = (
        WalletAccount.objects.filter(merchant=merchant, consumer=consumer)
        .values_list("balance_fen", flat=True)
        .first()
    )
    return int(balance or 0)
