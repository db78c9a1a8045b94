"""Background work for payments: thin wrappers around the services, each safe to run twice.

A lost task loses nothing: every payment or refund it would have sent carries `next_check_at`, and
`reconcile_payments` (run periodically) sends or checks whatever is overdue.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.utils import timezone
from django_tasks import task

from openvend.payments.errors import PaymentError
from openvend.payments.models import Payment, Refund
from openvend.payments.services.charging import send_charge
from openvend.payments.services.reconcile import RECONCILE_EVERY_S, reconcile_due
from openvend.payments.services.refunds import send_refund

logger = logging.getLogger(__name__)


@task()
def charge_payment(payment_id: int) -> str:
    payment = Payment.objects.filter(pk=payment_id).select_related("authorisation").first()
    if payment is None:
        return "missing"
    try:
        send_charge(payment)  # keeps `payment` in step with every state it writes
    except PaymentError as exc:  # not configured: the reconciler tries again later
        logger.warning("charge not sent", extra={"payment": payment_id, "error": type(exc).__name__})
        payment.refresh_from_db()
    return payment.state


@task()
def refund_payment(refund_id: int) -> str:
    refund = Refund.objects.filter(pk=refund_id).select_related("payment").first()
    if refund is None:
        return "missing"
    try:
        send_refund(refund)
    except PaymentError as exc:
        logger.warning("refund not sent", extra={"refund": refund_id, "error": type(exc).__name__})
    refund.refresh_from_db()
    return refund.state


@task()
def reconcile_payments(reschedule: bool = False) -> dict[str, int]:
    """One reconciliation round. With `reschedule`, the next round is queued to run
    RECONCILE_EVERY_S later (on backends that can defer work), so enqueuing it once keeps it going."""
    try:
        return reconcile_due()
    finally:
        if reschedule and reconcile_payments.get_backend().supports_defer:
            run_after = timezone.now() + timedelta(seconds=RECONCILE_EVERY_S)
            reconcile_payments.using(run_after=run_after).enqueue(reschedule=True)
