"""Reads the shopper's pages need beyond the payments selectors: which methods a merchant offers and
where each pay-after authorisation of the shopper stands."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from openvend.consumers.models import Consumer
from openvend.merchants.models import Merchant
from openvend.payments import selectors
from openvend.payments.choices import PAY_AFTER_METHODS, PROVIDER_OF, AuthorisationState, PaymentMethod
from openvend.payments.models import PayAfterAuthorisation, Payment, SitePaymentMethod

ORDER = list(PaymentMethod.values)
# What the shopper can use in person to pay an order they owe.
IN_PERSON_METHODS = (PaymentMethod.WECHAT_JSAPI, PaymentMethod.ALIPAY_WAP, PaymentMethod.WALLET)
# Pay-after methods the shopper authorises on "My payment"; the wallet's authorisation needs no
# provider page, only the shopper's consent.
AUTHORISABLE = (*sorted(PAY_AFTER_METHODS, key=ORDER.index), PaymentMethod.WALLET)


def yuan(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    return f"{sign}¥{abs(fen) // 100}.{abs(fen) % 100:02d}"


def offered_methods(merchant: Merchant, site: Any = None) -> list[str]:
    """Methods enabled on the merchant's sites in service (or on `site`, when it lists any)."""
    rows = SitePaymentMethod.objects.filter(merchant=merchant, enabled=True, site__is_active=True)
    if site is not None and SitePaymentMethod.objects.filter(site=site).exists():
        rows = rows.filter(site=site)
    found = set(rows.values_list("method", flat=True))
    return [method for method in ORDER if method in found]


@dataclass(frozen=True)
class MethodStanding:
    method: str
    label: str
    provider: str
    state: str  # "active" | "pending" | "revoked" | "none"
    authorisation: PayAfterAuthorisation | None


def pay_after_standings(merchant: Merchant, consumer: Consumer) -> list[MethodStanding]:
    offered = set(offered_methods(merchant))
    standings = []
    for method in AUTHORISABLE:
        if method not in offered:
            continue
        latest = (
            PayAfterAuthorisation.objects.filter(merchant=merchant, consumer=consumer, method=method)
            .order_by("-id")
            .first()
        )
        active = selectors.active_authorisation(merchant, consumer, method)
        shown = active or latest
        state = shown.state if shown is not None else "none"
        standings.append(
            MethodStanding(method, str(PaymentMethod(method).label), PROVIDER_OF[method], state, shown)
        )
    return standings


def latest_authorisation(merchant: Merchant, consumer: Consumer, method: str) -> PayAfterAuthorisation | None:
    found: PayAfterAuthorisation | None = (
        PayAfterAuthorisation.objects.filter(merchant=merchant, consumer=consumer, method=method)
        .order_by("-id")
        .first()
    )
    return found


def revocable(merchant: Merchant, consumer: Consumer, method: str) -> PayAfterAuthorisation | None:
    found: PayAfterAuthorisation | None = (
        PayAfterAuthorisation.objects.filter(
            merchant=merchant,
            consumer=consumer,
            method=method,
            state__in=[AuthorisationState.ACTIVE, AuthorisationState.PENDING],
        )
        .order_by("-id")
        .first()
    )
    return found


def owed_payment(merchant: Merchant, consumer: Consumer, payment_id: int) -> Payment | None:
    found: Payment | None = (
        selectors.unpaid_payments_of(consumer, merchant).select_related("site").filter(pk=payment_id).first()
    )
    return found


def own_attempt(merchant: Merchant, consumer: Consumer, payment_id: int) -> Payment | None:
    found: Payment | None = Payment.objects.filter(
        merchant=merchant, consumer=consumer, pk=payment_id
    ).first()
    return found


def latest_attempt(merchant: Merchant, consumer: Consumer, owed: Payment) -> Payment | None:
    """The newest attempt at the order `owed` belongs to, made by this shopper."""
    found: Payment | None = (
        Payment.objects.filter(merchant=merchant, consumer=consumer, order_ref=owed.order_ref)
        .exclude(pk=owed.pk)
        .order_by("-attempt")
        .first()
    )
    return found
