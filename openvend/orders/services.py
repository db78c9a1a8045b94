"""Settling a shopping session into an order, and following its payment to the end.

    recognising ──accept, goods taken──► order pending_payment, session settling ──paid──► order paid
         │                                            │                     └──failed──► the shopper owes it
         ├──accept, nothing taken──► order closed at ¥0, session completed
         └──review (or evidence we cannot act on)──► order review, session review: nothing charged or moved

Every step can be repeated after a crash at any point. The decision is written in one transaction
(order, lines, stock movements, session state, payment), under the session's row lock; a settler
that comes second finds the order and only brings the session in line with it. The database backs
this up: one order per session (OneToOne), the order number is unique, stock movements carry keys
derived from the order number and product, and payments refuse a second attempt number.

The charge is sent after the decision commits (`orders.order_payments`). Payscore and Zhima charge by
completing an order of their own at the provider, so for them the provider order is opened first,
also after commit (`open_and_charge`); the sweeper repeats that step if the provider was unreachable.

Put-backs: recognition reports the net units per product of the whole visit, so a unit taken and
put back nets to zero and is simply not sold. A net negative count means goods went in that were not
taken in this visit (the shopper's own, or another product on the wrong shelf): nobody can be charged
for that, and stock would be wrong, so the order goes to review.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from openvend.core.errors import OpenVendError
from openvend.devices.choices import ShoppingFlow
from openvend.orders.choices import LineSource, OrderState, ReviewReason, SessionEventKind
from openvend.orders.errors import OrderErrorCode
from openvend.orders.models import Order, OrderLine
from openvend.orders.order_payments import (
    OPENED_BEFORE_CHARGE,
    apply_payment_outcome,
    new_payment,
    open_and_charge,
    payment_refused_evidence,
    request_order_charge,
)
from openvend.orders.verdicts import Taken, Verdict, recognise_visit
from openvend.payments.choices import PaymentState
from openvend.shopping.choices import SessionState as S
from openvend.shopping.evidence import EvidencePending, evidence_check, evidence_gap_record
from openvend.shopping.models import ShoppingSession
from openvend.shopping.services import DOOR_FLOWS, transition

logger = logging.getLogger(__name__)

# A session still recognising or settling this long after its last change lost its settling task
# (or the process died mid-way): the sweeper settles it again.
OVERDUE_AFTER = timedelta(minutes=1)
SETTLED_PAYMENT_STATES = frozenset({PaymentState.PAID, PaymentState.FAILED, PaymentState.CLOSED})


def order_number_for(session: ShoppingSession) -> str:
    """The order reference the payment providers see: derived from the session, so a second settle
    of the same session can only ever arrive at the same number."""
    return f"SO{session.pk:010d}"


def sale_key(order_number: str, product_id: int) -> str:
    return f"order-sale:{order_number}:{product_id}"


def _new_order(session: ShoppingSession, state: str, evidence: dict[str, Any], **fields: Any) -> Order:
    """The session's order, written once with everything already decided (total, payment, reason)."""
    order: Order = Order.objects.create(
        merchant_id=session.merchant_id,
        number=order_number_for(session),
        session=session,
        device_id=session.device_id,
        site_id=session.site_id,
        consumer_id=session.consumer_id,
        state=state,
        recognition=evidence,
        **fields,
    )
    return order


def _review(session: ShoppingSession, verdict: Verdict) -> Order:
    order = _new_order(
        session,
        OrderState.REVIEW,
        {**verdict.evidence, "review_reason": verdict.review_reason},
        abnormal_reason=verdict.review_reason,
    )
    if verdict.review_reason == ReviewReason.PUT_IN:  # something went in that was not taken out
        from openvend.shopping.blacklist_services import blacklist_rules_apply
        from openvend.shopping.choices import BlacklistRuleKind

        blacklist_rules_apply(
            merchant_id=session.merchant_id, consumer=session.consumer, kind=BlacklistRuleKind.FOREIGN_OBJECT
        )
    detail = {"order": order.number, "reason": verdict.review_reason}
    transition(session, S.REVIEW, SessionEventKind.REVIEW, detail)
    return order


def _nothing_taken(session: ShoppingSession, verdict: Verdict) -> Order:
    order = _new_order(session, OrderState.CLOSED, verdict.evidence)
    transition(session, S.COMPLETED, SessionEventKind.NOTHING_TAKEN, {"order": order.number})
    return order


def _price_lines(session: ShoppingSession, order: Order, taken: list[Taken]) -> list[OrderLine]:
    """The order's lines, saved, at unit prices as they stood when the door closed (the moment of
    the purchase)."""
    return _save_lines(order, _priced(session, taken))


def _priced(session: ShoppingSession, taken: list[Taken]) -> list[OrderLine]:
    """The lines `_price_lines` saves, not yet saved: settling prices them before it writes the
    order, so the order is written once, with its total."""
    from openvend.catalog.selectors import prices_for

    at: datetime = session.closed_at or timezone.now()
    quotes = prices_for(session.device, [item.product for item in taken], at)
    lines = []
    for item in sorted(taken, key=lambda t: t.product.sku):
        unit = quotes[item.product.pk].price_fen
        lines.append(
            OrderLine(
                merchant_id=session.merchant_id,
                product=item.product,
                quantity=item.quantity,
                unit_price_fen=unit,
                amount_fen=unit * item.quantity,
            )
        )
    return lines


def _save_lines(order: Order, lines: list[OrderLine]) -> list[OrderLine]:
    for line in lines:
        line.order = order
    return OrderLine.objects.bulk_create(lines)


def _post_sales(session: ShoppingSession, order: Order, lines: list[OrderLine]) -> None:
    from openvend.inventory.choices import MovementKind
    from openvend.inventory.ledger import Posting, Source, post_movements

    post_movements(
        device=session.device,
        postings=[
            Posting(line.product, -line.quantity, sale_key(order.number, line.product_id)) for line in lines
        ],
        kind=MovementKind.SALE,
        reason=f"order {order.number}",
        source=Source.of(order),
    )


def _sell(session: ShoppingSession, verdict: Verdict) -> Order:
    """Sold: the order with its lines and sale movements, and — unless the goods were free — the
    session settling and a payment for the total (or review, when the method cannot collect)."""
    from openvend.payments.services.errors import PaymentRuleError

    lines = _priced(session, verdict.taken)
    total = sum(line.amount_fen for line in lines)
    if total == 0:  # free goods: sold (stock moves) but nothing to collect
        order = _new_order(session, OrderState.CLOSED, verdict.evidence)
        _post_sales(session, order, _save_lines(order, lines))
        transition(
            session, S.COMPLETED, SessionEventKind.NOTHING_TAKEN, {"order": order.number, "free": True}
        )
        return order
    number = order_number_for(session)
    # `session` is the row settle_session locked and has not written since: not read again.
    transition(
        session, S.SETTLING, SessionEventKind.SETTLING, {"order": number, "total_fen": total}, locked=True
    )
    try:
        payment = new_payment(session, number, total)
    except PaymentRuleError as exc:
        evidence = payment_refused_evidence(verdict.evidence, exc.code)
        order = _new_order(
            session,
            OrderState.REVIEW,
            evidence,
            total_fen=total,
            abnormal_reason=ReviewReason.PAYMENT_REFUSED,
        )
        _post_sales(session, order, _save_lines(order, lines))
        detail = {"order": number, "reason": ReviewReason.PAYMENT_REFUSED, "code": exc.code}
        transition(session, S.REVIEW, SessionEventKind.REVIEW, detail)
        return order
    order = _new_order(
        session, OrderState.PENDING_PAYMENT, verdict.evidence, total_fen=total, payment=payment
    )
    saved = _save_lines(order, lines)
    _post_sales(session, order, saved)
    request_order_charge(order, saved)
    return order


def _resume(session: ShoppingSession, order: Order) -> None:
    """Bring a session in line with the order an earlier settle made (it was interrupted, or another
    settler finished first): nothing is recognised, sold or charged again."""
    if session.state == S.RECOGNISING:
        if order.state == OrderState.REVIEW:
            transition(session, S.REVIEW, SessionEventKind.REVIEW, {"order": order.number, "resumed": True})
        elif order.payment_id is None:
            transition(
                session, S.COMPLETED, SessionEventKind.NOTHING_TAKEN, {"order": order.number, "resumed": True}
            )
        else:
            detail = {"order": order.number, "total_fen": order.total_fen, "resumed": True}
            transition(session, S.SETTLING, SessionEventKind.SETTLING, detail)
    payment = order.payment
    if session.state != S.SETTLING or payment is None:
        return
    if payment.state in SETTLED_PAYMENT_STATES:
        apply_payment_outcome(payment)
    elif payment.method in OPENED_BEFORE_CHARGE:
        open_and_charge(order)


SETTLE_RELATED = ("device", "merchant", "consumer", "site")


def settle_session(session: ShoppingSession) -> Order | None:
    """Turn a door-flow session that is recognising into its one order: review, ¥0, or sold and
    charged (see the module doc). Safe to call any number of times, concurrently too; a session that
    is not recognising and has no order yet is left alone (None). Raises EvidencePending while the
    visit's device messages are not all stored: call again after its `retry_in_s`."""
    return _settle(ShoppingSession.objects.select_related(*SETTLE_RELATED).get(pk=session.pk))


def settle_session_id(session_id: int) -> Order | None:
    """`settle_session` by id, in one read of the session: None also when there is no such session."""
    session = ShoppingSession.objects.select_related(*SETTLE_RELATED).filter(pk=session_id).first()
    return None if session is None else _settle(session)


def _settle(session: ShoppingSession) -> Order | None:
    if session.flow not in DOOR_FLOWS:
        raise OpenVendError(
            OrderErrorCode.NOT_SETTLEABLE,
            _("Only a visit through a door is settled from its weight changes."),
        )
    # Weighed only once the visit's messages are all stored, or waited for long enough: raises
    # EvidencePending meanwhile (`shopping.evidence`).
    missing = evidence_check(session) if session.state == S.RECOGNISING else 0
    existing = Order.objects.filter(session=session).select_related("payment").first()
    if existing is not None:
        if existing.line_source == LineSource.CART and session.state == S.RECOGNISING:
            _cross_check(session, existing)
        _resume(session, existing)
        return existing
    if session.state != S.RECOGNISING:
        return None
    verdict = recognise_visit(session)  # read-only and slow-ish: outside the lock
    with transaction.atomic():
        locked = (
            ShoppingSession.objects.select_for_update(of=("self",))
            .select_related(*SETTLE_RELATED)
            .get(pk=session.pk)
        )
        if locked.state != S.RECOGNISING or Order.objects.filter(session=locked).exists():
            settled: Order | None = Order.objects.filter(session=locked).first()
            return settled
        if locked.sensor_deltas_g != session.sensor_deltas_g:  # a late weight change committed meanwhile
            verdict = recognise_visit(locked)
        if missing:
            evidence_gap_record(locked, missing)
        if locked.flow == ShoppingFlow.SEMI_AUTO:
            return _semi_auto_unpaid(locked, verdict)
        if verdict.review_reason:
            return _review(locked, verdict)
        if not verdict.taken:
            return _nothing_taken(locked, verdict)
        return _sell(locked, verdict)


def checkout_deadline(session: ShoppingSession) -> datetime:
    """Until when a semi-automatic shopper may still pay in the app after closing the door."""
    from openvend.orders.selectors import policy_for

    closed = session.closed_at or session.updated_at
    return closed + timedelta(minutes=policy_for(session.merchant_id).checkout_within_min)


def _semi_auto_unpaid(session: ShoppingSession, verdict: Verdict) -> Order | None:
    """A semi-automatic visit whose door closed before the shopper paid in the app. Nothing taken →
    done at ¥0 at once; otherwise they have until the checkout deadline, after which what the
    shelves lost becomes an abnormal order for staff (nothing is charged without the shopper)."""
    if not verdict.review_reason and not verdict.taken:
        return _nothing_taken(session, verdict)
    if timezone.now() < checkout_deadline(session):
        return None
    if not verdict.review_reason:
        verdict = Verdict(verdict.evidence, verdict.taken, ReviewReason.NOT_CHECKED_OUT)
    return _review(session, verdict)


def _cross_check(session: ShoppingSession, order: Order) -> None:
    """Compare what the shelves lost with what the shopper paid for, once. A sure difference marks
    the order abnormal (staff may raise a supplementary order or refund); an unsure reading is kept
    as evidence only — the shopper's own account stands."""
    verdict = recognise_visit(session)
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        if "cross_check" in order.recognition:
            return
        paid_for = {line.product.sku: line.quantity for line in order.lines.select_related("product")}
        weighed = {item.product.sku: item.quantity for item in verdict.taken}
        check: dict[str, Any] = {"verified": not verdict.review_reason, "weighed": weighed}
        if verdict.review_reason:
            check["unverified_because"] = verdict.review_reason
        else:
            check["match"] = weighed == paid_for
        order.recognition = {**order.recognition, **verdict.evidence, "cross_check": check}
        fields = ["recognition", "updated_at"]
        if check.get("match") is False and not order.abnormal_reason:
            order.abnormal_reason = ReviewReason.CART_MISMATCH
            fields.append("abnormal_reason")
        order.save(update_fields=fields)
        _record_cross_check(session, order, check)


def _record_cross_check(session: ShoppingSession, order: Order, check: dict[str, Any]) -> None:
    from openvend.shopping.models import ShoppingEvent

    ShoppingEvent.objects.create(
        merchant_id=session.merchant_id,
        session_id=session.pk,
        kind=SessionEventKind.CROSS_CHECKED,
        detail={"order": order.number, **check},
    )


def sessions_settle_overdue(now: datetime | None = None) -> int:
    """The sweeper's part: settle again every door-flow session left recognising or settling for more
    than OVERDUE_AFTER (a lost task, a crash between steps). Returns how many changed state."""
    now = now or timezone.now()
    overdue = ShoppingSession.objects.filter(
        state__in=(S.RECOGNISING, S.SETTLING), flow__in=DOOR_FLOWS, updated_at__lt=now - OVERDUE_AFTER
    ).values_list("pk", "state")
    changed = 0
    for pk, state in list(overdue):
        session = ShoppingSession.objects.get(pk=pk)
        try:
            settle_session(session)
        except EvidencePending:  # waiting longer than usual: the next sweep tries again
            continue
        except Exception:  # one broken session must not stop the others being settled
            logger.exception("settling an overdue session failed", extra={"session": pk})
            continue
        changed += ShoppingSession.objects.filter(pk=pk).exclude(state=state).exists()
    return changed
