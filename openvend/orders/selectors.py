"""Reads of orders and their history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from openvend.orders.models import Order, OrderPolicy


def policy_for(merchant_id: int) -> OrderPolicy:
    """The merchant's order settings; the defaults (unsaved) for a merchant that never set them."""
    found: OrderPolicy | None = OrderPolicy.objects.filter(merchant_id=merchant_id).first()
    return found if found is not None else OrderPolicy(merchant_id=merchant_id)


def order_for_session(session: Any) -> Order | None:
    found: Order | None = Order.objects.filter(session=session).select_related("payment").first()
    return found


def orders_for(user: Any, action: str = "view") -> QuerySet[Order]:
    """The orders `user` may see: their merchant's, within their data scope (none without permission)."""
    qs: QuerySet[Order] = Order.objects.restrict(user, action).select_related("device", "consumer", "payment")
    return qs


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    source: str  # "session" or "payment"
    kind: str
    from_state: str
    to_state: str
    detail: dict[str, Any]
    reference: str  # the payment's out_trade_no; empty for session events


def order_timeline(order: Order) -> list[TimelineEntry]:
    """The session's events and those of every payment attempt of the order, oldest first."""
    from openvend.payments.models import PaymentEvent
    from openvend.shopping.models import ShoppingEvent

    entries = [
        (
            e.created_at,
            0,
            e.pk,
            TimelineEntry(e.created_at, "session", e.kind, e.from_state, e.to_state, e.detail, ""),
        )
        for e in ShoppingEvent.objects.filter(session_id=order.session_id)
    ]
    payment_events = PaymentEvent.objects.filter(
        payment__merchant_id=order.merchant_id, payment__order_ref=order.number
    ).select_related("payment")
    entries += [
        (
            e.created_at,
            1,
            e.pk,
            TimelineEntry(
                e.created_at, "payment", e.kind, e.from_state, e.to_state, e.detail, e.payment.out_trade_no
            ),
        )
        for e in payment_events
    ]
    return [entry for *_key, entry in sorted(entries, key=lambda row: row[:3])]


def order_snapshot(order: Order) -> dict[str, Any]:
    """The order's fields and its lines, for audit rows written before and after a staff action."""
    from openvend.audit.services import snapshot

    lines = [
        {
            "product": line.product_id,
            "quantity": line.quantity,
            "unit_price_fen": line.unit_price_fen,
            "amount_fen": line.amount_fen,
        }
        for line in order.lines.order_by("product_id")
    ]
    return {**snapshot(order), "lines": lines}


def open_appeal_of(order: Order) -> Any:
    """The order's appeal still waiting for customer service, if any."""
    from openvend.orders.choices import AppealState
    from openvend.orders.models import Appeal

    return Appeal.objects.filter(order=order, state=AppealState.OPEN).first()
