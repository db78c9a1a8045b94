"""Orders left unpaid: a failed charge marks the order abnormal, and the sweep applies the merchant's
policy to orders still unpaid after `unpaid_after_h` hours: close them (the debt is waived) or
escalate them to staff (the debt stays, and blacklist rules counting unpaid orders hear of it).

Both are safe to run again and concurrently: each order is decided under its row lock, and an order
already waived or escalated is left alone.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from openvend.audit.choices import AuditAction
from openvend.audit.services import audit_record
from openvend.core.errors import OpenVendError
from openvend.orders.choices import OrderState, ReviewReason, SessionEventKind, UnpaidAction
from openvend.orders.corrections import lock_order, order_event
from openvend.orders.models import Order, OrderPolicy
from openvend.orders.selectors import order_snapshot, policy_for
from openvend.payments.choices import PaymentState
from openvend.payments.models import Payment

logger = logging.getLogger(__name__)


def mark_payment_failed(payment: Payment) -> Order | None:
    """Listener: the charge of an order failed, so the order waits for staff (PAYMENT_FAILED, unless it
    already has a reason) until it is paid, charged again or waived."""
    if payment.state != PaymentState.FAILED:
        return None
    found = Order.objects.filter(merchant_id=payment.merchant_id, number=payment.order_ref).first()
    if found is None or found.payment_id != payment.pk:
        return None
    with transaction.atomic():
        order = lock_order(found)
        if order.state != OrderState.PENDING_PAYMENT or order.payment_id != payment.pk:
            return order
        if order.is_abnormal:  # already waiting for staff for a reason of its own
            return order
        order.abnormal_reason = ReviewReason.PAYMENT_FAILED
        order.resolution, order.resolved_at, order.resolved_by = "", None, None
        order.save(
            update_fields=["abnormal_reason", "resolution", "resolved_at", "resolved_by", "updated_at"]
        )
    return order


def _escalate(order_id: int, now: datetime) -> bool:
    from openvend.shopping.blacklist_services import blacklist_rules_apply
    from openvend.shopping.choices import BlacklistRuleKind

    with transaction.atomic():
        order = lock_order(Order(pk=order_id))
        if order.state != OrderState.PENDING_PAYMENT or order.escalated_at is not None:
            return False
        before = order_snapshot(order)
        order.escalated_at = now
        order.abnormal_reason = ReviewReason.UNPAID_ESCALATED
        order.resolution, order.resolved_at, order.resolved_by = "", None, None
        order.save(
            update_fields=[
                "escalated_at",
                "abnormal_reason",
                "resolution",
                "resolved_at",
                "resolved_by",
                "updated_at",
            ]
        )
        order_event(order, SessionEventKind.ESCALATED, {"total_fen": order.total_fen})
        audit_record(
            actor=None,
            action=AuditAction.UPDATE,
            instance=order,
            before=before,
            after=order_snapshot(order),
            message="unpaid past the limit: escalated",
        )
        blacklist_rules_apply(
            merchant_id=order.merchant_id, consumer=order.consumer, kind=BlacklistRuleKind.UNPAID_ORDERS
        )
    return True


def _close(order_id: int) -> bool:
    from openvend.orders.staff_services import order_waive

    order = Order.objects.get(pk=order_id)
    if order.state != OrderState.PENDING_PAYMENT:
        return False
    try:
        order_waive(actor=None, order=order, reason=_("unpaid past the merchant's limit"))
    except OpenVendError:  # settled meanwhile (paid, or waived by another sweep): nothing to do
        return False
    return True


def orders_unpaid_sweep(now: datetime | None = None) -> dict[str, int]:
    """Apply each merchant's unpaid-order policy to its orders awaiting payment for longer than the
    limit. Returns how many were closed and escalated by this run."""
    now = now or timezone.now()
    result = {"unpaid_closed": 0, "unpaid_escalated": 0}
    waiting = Order.objects.filter(state=OrderState.PENDING_PAYMENT, escalated_at__isnull=True)
    policies: dict[int, OrderPolicy] = {}
    for pk, merchant_id, created_at in list(waiting.values_list("pk", "merchant_id", "created_at")):
        policy = policies.setdefault(merchant_id, policy_for(merchant_id))
        if created_at > now - timedelta(hours=policy.unpaid_after_h):
            continue
        try:
            if policy.unpaid_action == UnpaidAction.CLOSE:
                result["unpaid_closed"] += _close(pk)
            else:
                result["unpaid_escalated"] += _escalate(pk, now)
        except Exception:  # one broken order must not stop the others
            logger.exception("applying the unpaid-order policy failed", extra={"order": pk})
    return result
