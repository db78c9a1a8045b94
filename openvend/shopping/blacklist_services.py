"""The merchant's blacklist: shoppers added and lifted by staff, and added by rules. An entry in
force refuses the shopper at the door (precondition `shopper_not_blacklisted`).

What each rule kind counts, per shopper at the merchant, within the rule's window:

- appeals_upheld / appeals_rejected: their appeals answered that way (by `handled_at`);
- unpaid_orders: their orders escalated for staying unpaid past the limit (by `escalated_at`);
- foreign_object: their orders where recognition saw goods put in that were not taken in that visit
  (review reason "put_in", by the order's `created_at`). A device's foreign-object alarm is one
  episode per device however many visits repeat it, so it cannot be told apart per shopper; the
  put-in verdict is made per visit and names the shopper.

Happenings already counted towards an earlier entry of the same rule are not counted again, so a
lifted or expired ban is not re-imposed by the same history.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from openvend.audit.choices import AuditAction
from openvend.audit.services import audit_record, snapshot
from openvend.core.errors import ConflictError, CoreErrorCode, OpenVendError
from openvend.shopping.choices import BlacklistRuleKind, BlacklistSource
from openvend.shopping.models import BlacklistEntry, BlacklistRule


def _in_force(merchant_id: int, consumer: Any, now: datetime) -> Any:
    return BlacklistEntry.objects.filter(merchant_id=merchant_id, consumer=consumer, active=True).filter(
        Q(until__isnull=True) | Q(until__gt=now)
    )


def blacklist_add(
    *, actor: Any, merchant: Any, consumer: Any, reason: str, until: datetime | None = None
) -> BlacklistEntry:
    """Refuse `consumer` at this merchant's devices, for good or until `until`."""
    now = timezone.now()
    reason = (reason or "").strip()
    if not reason:
        raise OpenVendError(CoreErrorCode.INVALID, _("Say why the shopper is blacklisted."))
    if until is not None and until <= now:
        raise OpenVendError(CoreErrorCode.INVALID, _("The end of the ban must be in the future."))
    with transaction.atomic():
        type(consumer).objects.select_for_update().get(pk=consumer.pk)  # one add at a time per shopper
        if _in_force(merchant.pk, consumer, now).filter(source=BlacklistSource.MANUAL).exists():
            raise ConflictError(CoreErrorCode.CONFLICT, _("This shopper is already blacklisted."))
        entry: BlacklistEntry = BlacklistEntry.objects.create(
            merchant=merchant,
            consumer=consumer,
            reason=reason[:200],
            source=BlacklistSource.MANUAL,
            until=until,
            created_by=actor if getattr(actor, "pk", None) else None,
        )
        audit_record(actor=actor, action=AuditAction.CREATE, instance=entry, after=snapshot(entry))
    return entry


def blacklist_lift(*, actor: Any, entry: BlacklistEntry) -> BlacklistEntry:
    """Let the shopper shop again (as far as this entry goes)."""
    with transaction.atomic():
        locked: BlacklistEntry = BlacklistEntry.objects.select_for_update().get(pk=entry.pk)
        if not locked.active:
            raise ConflictError(CoreErrorCode.CONFLICT, _("This blacklist entry has already been lifted."))
        before = snapshot(locked)
        locked.active = False
        locked.save(update_fields=["active", "updated_at"])
        audit_record(
            actor=actor, action=AuditAction.UPDATE, instance=locked, before=before, after=snapshot(locked)
        )
    return locked


def count_happenings(*, merchant_id: int, consumer: Any, kind: str, since: datetime) -> int:
    """How often `consumer` did what a rule of `kind` counts, at this merchant, since `since`."""
    from openvend.orders.choices import AppealState, ReviewReason
    from openvend.orders.models import Appeal, Order

    if kind in (BlacklistRuleKind.APPEALS_UPHELD, BlacklistRuleKind.APPEALS_REJECTED):
        state = AppealState.UPHELD if kind == BlacklistRuleKind.APPEALS_UPHELD else AppealState.REJECTED
        appeals = Appeal.objects.filter(merchant_id=merchant_id, consumer=consumer, state=state)
        return int(appeals.filter(handled_at__gte=since).count())
    orders = Order.objects.filter(merchant_id=merchant_id, consumer=consumer)
    if kind == BlacklistRuleKind.UNPAID_ORDERS:
        return int(orders.filter(escalated_at__gte=since).count())
    if kind == BlacklistRuleKind.FOREIGN_OBJECT:
        put_in = Q(abnormal_reason=ReviewReason.PUT_IN) | Q(recognition__review_reason=ReviewReason.PUT_IN)
        return int(orders.filter(put_in, created_at__gte=since).count())
    raise OpenVendError(CoreErrorCode.INVALID, _("Unknown blacklist rule kind %(kind)s.") % {"kind": kind})


def blacklist_rules_apply(*, merchant_id: int, consumer: Any, kind: str) -> BlacklistEntry | None:
    """Something a rule counts just happened: when an active rule of `kind` reaches its threshold,
    the shopper gets one RULE entry (never a second while one is in force). Returns the new entry."""
    now = timezone.now()
    rules = BlacklistRule.objects.filter(merchant_id=merchant_id, kind=kind, active=True).order_by(
        "threshold", "id"
    )
    if not rules:
        return None
    with transaction.atomic():
        type(consumer).objects.select_for_update().get(pk=consumer.pk)  # concurrent happenings: one entry
        if _in_force(merchant_id, consumer, now).filter(source=BlacklistSource.RULE).exists():
            return None
        for rule in rules:
            since = now - timedelta(days=rule.window_days)
            last = BlacklistEntry.objects.filter(rule=rule, consumer=consumer).order_by("-created_at").first()
            if last is not None and last.created_at > since:
                since = last.created_at
            counted = count_happenings(merchant_id=merchant_id, consumer=consumer, kind=kind, since=since)
            if counted < rule.threshold:
                continue
            entry: BlacklistEntry = BlacklistEntry.objects.create(
                merchant_id=merchant_id,
                consumer=consumer,
                reason=(
                    _("%(count)s × %(kind)s within %(days)s days")
                    % {"count": counted, "kind": rule.get_kind_display(), "days": rule.window_days}
                )[:200],
                source=BlacklistSource.RULE,
                until=now + timedelta(days=rule.ban_days) if rule.ban_days else None,
                rule=rule,
            )
            audit_record(
                actor=None,
                action=AuditAction.CREATE,
                instance=entry,
                after=snapshot(entry),
                message=f"blacklist rule {rule.pk}",
            )
            return entry
    return None
