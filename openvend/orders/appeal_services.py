"""Customer appeals (客户申诉): the shopper disputes an order from the app, customer service upholds
it (a correction order refunds the difference, or an amount) or rejects it with an answer.

An appeal makes the order abnormal again (reason APPEAL unless it already waits for staff for another
reason) until it is handled. Upheld and rejected appeals are what blacklist rules may count.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from openvend.audit.choices import AuditAction
from openvend.audit.services import audit_record, snapshot
from openvend.core.errors import ConflictError, OpenVendError
from openvend.orders.choices import (
    AppealReason,
    AppealState,
    CorrectionKind,
    OrderState,
    Resolution,
    ReviewReason,
    SessionEventKind,
)
from openvend.orders.corrections import check_units, correction_create, lock_order, order_event, products_of
from openvend.orders.errors import OrderErrorCode
from openvend.orders.models import Appeal, Correction, Order
from openvend.orders.selectors import order_snapshot, policy_for

APPEALABLE_STATES = frozenset({OrderState.PAID, OrderState.PENDING_PAYMENT})


def _consumer_name(consumer: Any) -> str:
    return f"consumer:{consumer.pk}"


def appeal_submit(
    *,
    consumer: Any,
    order: Order,
    reason: str,
    message: str = "",
    claimed_lines: dict[Any, int] | None = None,
) -> Appeal:
    """The shopper disputes their own paid or owed order, within the merchant's appeal period.
    `claimed_lines`: what they say they took (product id → units, in full). One open appeal per order."""
    if reason not in AppealReason.values:
        raise OpenVendError(OrderErrorCode.BAD_APPEAL, _("Choose a reason for the appeal."))
    claimed = check_units(claimed_lines or {})
    with transaction.atomic():
        order = lock_order(order)
        if order.consumer_id != consumer.pk:
            raise OpenVendError(OrderErrorCode.NOT_YOURS, _("This order is not yours."))
        if order.state not in APPEALABLE_STATES:
            raise ConflictError(OrderErrorCode.BAD_APPEAL, _("Only a paid or unpaid order can be appealed."))
        since = order.paid_at or order.created_at
        if timezone.now() > since + timedelta(days=policy_for(order.merchant_id).appeal_within_days):
            raise OpenVendError(
                OrderErrorCode.APPEAL_TOO_LATE,
                _("This order can no longer be appealed. Please contact customer service."),
            )
        products_of(order, {pid for pid, units in claimed.items() if units})
        before = order_snapshot(order)
        appeal = Appeal(
            merchant_id=order.merchant_id,
            order=order,
            consumer=consumer,
            reason=reason,
            message=(message or "").strip()[:500],
            claimed_lines={str(pid): units for pid, units in claimed.items()},
        )
        try:
            with transaction.atomic():
                appeal.save()
        except IntegrityError:
            raise ConflictError(
                OrderErrorCode.APPEAL_OPEN, _("This order already has an appeal waiting for an answer.")
            ) from None
        if not order.is_abnormal:
            order.abnormal_reason = ReviewReason.APPEAL
            order.resolution, order.resolved_at, order.resolved_by = "", None, None
            order.save(
                update_fields=["abnormal_reason", "resolution", "resolved_at", "resolved_by", "updated_at"]
            )
        order_event(order, SessionEventKind.APPEALED, {"appeal": appeal.pk, "reason": reason})
        username = _consumer_name(consumer)
        audit_record(
            actor=None, action=AuditAction.CREATE, instance=appeal, after=snapshot(appeal), username=username
        )
        audit_record(
            actor=None,
            action=AuditAction.UPDATE,
            instance=order,
            before=before,
            after=order_snapshot(order),
            message="appealed",
            username=username,
        )
    return appeal


def _lock_open(appeal: Appeal) -> Appeal:
    locked: Appeal = Appeal.objects.select_for_update().get(pk=appeal.pk)
    if locked.state != AppealState.OPEN:
        raise ConflictError(OrderErrorCode.BAD_APPEAL, _("This appeal has already been answered."))
    return locked


def _handle(
    appeal: Appeal, actor: Any, state: str, answer: str, resolution: str, before: dict[str, Any]
) -> Order:
    """Close the appeal, resolve its order, audit both and feed the blacklist rules."""
    from openvend.shopping.blacklist_services import blacklist_rules_apply
    from openvend.shopping.choices import BlacklistRuleKind

    appeal_before = snapshot(appeal)
    appeal.state = state
    appeal.answer = answer[:500]
    appeal.handled_by = actor if getattr(actor, "pk", None) else None
    appeal.handled_at = timezone.now()
    appeal.save(update_fields=["state", "answer", "handled_by", "handled_at", "updated_at"])
    audit_record(
        actor=actor, action=AuditAction.UPDATE, instance=appeal, before=appeal_before, after=snapshot(appeal)
    )
    order = lock_order(appeal.order)
    order.resolution = resolution
    order.resolved_at = appeal.handled_at
    order.resolved_by = appeal.handled_by
    order.save(update_fields=["resolution", "resolved_at", "resolved_by", "updated_at"])
    kind = SessionEventKind.APPEAL_UPHELD if state == AppealState.UPHELD else SessionEventKind.APPEAL_REJECTED
    order_event(order, kind, {"appeal": appeal.pk, "answer": appeal.answer})
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        instance=order,
        before=before,
        after=order_snapshot(order),
        message=f"appeal {appeal.pk} {state}",
    )
    rule = (
        BlacklistRuleKind.APPEALS_UPHELD
        if state == AppealState.UPHELD
        else BlacklistRuleKind.APPEALS_REJECTED
    )
    blacklist_rules_apply(merchant_id=order.merchant_id, consumer=order.consumer, kind=rule)
    return order


def appeal_uphold(
    *,
    actor: Any,
    appeal: Appeal,
    lines: dict[int, int] | None = None,
    refund_fen: int | None = None,
    answer: str = "",
) -> Correction:
    """The shopper is right. `lines` (product id → units, in full; default: what they claimed) make a
    correction order refunding the difference; `refund_fen` refunds an amount, lines untouched."""
    if lines is None and refund_fen is None:
        lines = {int(pid): units for pid, units in appeal.claimed_lines.items()} or None
    if (lines is None) == (refund_fen is None):
        raise OpenVendError(
            OrderErrorCode.BAD_APPEAL, _("Give either the corrected lines or an amount to refund.")
        )
    with transaction.atomic():
        appeal = _lock_open(appeal)
        order = lock_order(appeal.order)
        before = order_snapshot(order)
        reason = _("Appeal %(appeal)s upheld") % {"appeal": appeal.pk}
        correction = correction_create(
            order=order,
            kind=CorrectionKind.APPEAL,
            lines=lines or {},
            reason=reason,
            actor=actor,
            appeal=appeal,
            refund_fen=refund_fen,
        )
        if correction.delta_fen > 0:
            raise OpenVendError(
                OrderErrorCode.BAD_APPEAL,
                _("An upheld appeal cannot charge the shopper more. Raise a supplement instead."),
            )
        resolution = Resolution.REFUNDED if refund_fen is not None else Resolution.CORRECTED
        _handle(appeal, actor, AppealState.UPHELD, answer or "", resolution, before)
    return correction


def appeal_reject(*, actor: Any, appeal: Appeal, answer: str) -> Appeal:
    """The order stands. The shopper is told why (`answer` is required)."""
    answer = (answer or "").strip()
    if not answer:
        raise OpenVendError(OrderErrorCode.BAD_APPEAL, _("Tell the shopper why the appeal is rejected."))
    with transaction.atomic():
        appeal = _lock_open(appeal)
        order = lock_order(appeal.order)
        _handle(appeal, actor, AppealState.REJECTED, answer, Resolution.DISMISSED, order_snapshot(order))
    return appeal
