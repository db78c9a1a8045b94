"""What merchant staff do with abnormal orders: confirm, adjust, waive, charge again, refund, and
raise a supplement. Each action locks the order, checks its state (a wrong one is refused with
nothing changed), records how and by whom it was resolved, writes an audit row with the order and
its lines before and after, and adds a line to the session's timeline.

An order under review has charged and moved nothing yet: confirming or adjusting it sells it the way
settling does (lines at the door-close prices, sale movements, one payment charged after commit). An
order already paid is put right with a correction order instead (see `orders.corrections`).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from openvend.audit.choices import AuditAction
from openvend.audit.services import audit_record
from openvend.core.errors import ConflictError, OpenVendError
from openvend.orders.choices import CorrectionKind, OrderState, Resolution, SessionEventKind
from openvend.orders.corrections import (
    check_units,
    correction_create,
    lock_order,
    order_event,
    products_of,
    wrong_state,
)
from openvend.orders.errors import OrderErrorCode
from openvend.orders.models import Correction, Order, OrderLine
from openvend.orders.order_payments import OPENED_BEFORE_CHARGE, charge_order
from openvend.orders.selectors import order_snapshot
from openvend.orders.services import Taken, _post_sales, _price_lines
from openvend.payments.choices import PAY_AFTER_METHODS, PaymentMethod, PaymentState
from openvend.payments.models import Payment
from openvend.shopping.choices import SessionState as S
from openvend.shopping.models import ShoppingSession
from openvend.shopping.services import transition

# Methods only the shopper can pay, in person: staff cannot charge them again.
SHOPPER_ONLY_METHODS = frozenset({PaymentMethod.WECHAT_JSAPI, PaymentMethod.ALIPAY_WAP})
OPEN_PAYMENT_STATES = (PaymentState.CREATED, PaymentState.PENDING, PaymentState.FAILED)


def _by(actor: Any) -> dict[str, Any]:
    return {"by": actor.get_username()} if getattr(actor, "pk", None) else {}


def _resolve(order: Order, actor: Any, resolution: str) -> None:
    order.resolution = resolution
    order.resolved_at = timezone.now()
    order.resolved_by = actor if getattr(actor, "pk", None) else None
    order.save(update_fields=["resolution", "resolved_at", "resolved_by", "updated_at"])


def _finish(order: Order, actor: Any, resolution: str, before: dict[str, Any], message: str) -> Order:
    """Resolve the (re-read, locked) order and write the audit row."""
    order = lock_order(order)
    _resolve(order, actor, resolution)
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        instance=order,
        before=before,
        after=order_snapshot(order),
        message=message,
    )
    return order


def _session_of(order: Order) -> ShoppingSession:
    session: ShoppingSession = ShoppingSession.objects.select_related(
        "device", "merchant", "consumer", "site"
    ).get(pk=order.session_id)
    return session


def _recognised(order: Order) -> list[Taken]:
    """What recognition's best answer says was taken (`recognition["items"]`, as settling stored it)."""
    from openvend.catalog.models import Product

    items = [item for item in (order.recognition or {}).get("items", []) if item.get("qty")]
    if not items:
        raise OpenVendError(
            OrderErrorCode.NO_ITEMS,
            _("Recognition found nothing to sell in this order. Adjust its lines or waive it."),
        )
    if any(int(item["qty"]) < 0 for item in items):
        raise OpenVendError(
            OrderErrorCode.NO_ITEMS,
            _("Recognition saw goods put in, which cannot be sold. Adjust the lines or waive the order."),
        )
    products = {
        p.sku: p
        for p in Product.objects.filter(merchant_id=order.merchant_id, sku__in=[i["sku"] for i in items])
    }
    if len(products) != len({item["sku"] for item in items}):
        raise OpenVendError(
            OrderErrorCode.NO_ITEMS, _("A recognised product is not in the library. Adjust the lines.")
        )
    return [Taken(products[item["sku"]], int(item["qty"])) for item in items]


def _charge_elsewhere(session: ShoppingSession, order: Order, lines: list[OrderLine]) -> None:
    """Charge an order whose session has already ended (its state is not the session's to change)."""
    from openvend.orders.order_payments import charge_lines, new_order_payment, open_and_charge
    from openvend.payments.services.charging import request_charge
    from openvend.payments.services.errors import PaymentRuleError

    try:
        payment = new_order_payment(session, order)
    except PaymentRuleError as exc:
        raise OpenVendError(OrderErrorCode.PAYMENT_REFUSED, exc.message) from exc
    order.payment = payment
    order.save(update_fields=["payment", "updated_at"])
    if payment.method in OPENED_BEFORE_CHARGE:
        order_id = order.pk
        transaction.on_commit(lambda: open_and_charge(Order.objects.get(pk=order_id)))
        return
    request_charge(payment, charge_lines(lines), amount_fen=order.total_fen)


def _sell_reviewed(order: Order, taken: list[Taken], kind: str, detail: dict[str, Any]) -> None:
    """Sell an order under review as settling sells an accepted visit. Lines an earlier attempt
    already priced and moved (its payment was refused) are charged as they stand."""
    session = _session_of(order)
    order_event(order, kind, detail)
    existing = list(order.lines.select_related("product").order_by("product__sku"))
    lines = existing or _price_lines(session, order, [t for t in taken if t.quantity > 0])
    order.total_fen = sum(line.amount_fen for line in lines)
    order.state = OrderState.PENDING_PAYMENT
    order.save(update_fields=["total_fen", "state", "line_source", "updated_at"])
    if not existing:
        _post_sales(session, order, lines)
    if order.total_fen == 0:
        order.state = OrderState.CLOSED
        order.save(update_fields=["state", "updated_at"])
        if session.state == S.REVIEW:
            transition(session, S.COMPLETED, SessionEventKind.NOTHING_TAKEN, {"order": order.number})
        return
    if session.state != S.REVIEW:
        _charge_elsewhere(session, order, lines)
        return
    charge_order(session, order, lines)
    if order.state == OrderState.REVIEW:  # the payment could not be created: undo it all
        raise OpenVendError(
            OrderErrorCode.PAYMENT_REFUSED,
            _("The shopper's payment method cannot collect this order (%(code)s).")
            % {"code": order.recognition.get("payment_error", "")},
        )


def _not_waiting(order: Order) -> ConflictError:
    return ConflictError(OrderErrorCode.WRONG_STATE, _("This order is not waiting for staff."))


def order_confirm(*, actor: Any, order: Order) -> Order:
    """An order under review is sold as recognition's best answer has it and charged; a paid or
    closed abnormal order is simply confirmed (nothing moves)."""
    with transaction.atomic():
        order = lock_order(order)
        before = order_snapshot(order)
        if order.state == OrderState.REVIEW:
            taken = [] if order.lines.exists() else _recognised(order)
            _sell_reviewed(order, taken, SessionEventKind.CONFIRMED, _by(actor))
        elif order.state in (OrderState.PAID, OrderState.CLOSED):
            if not order.is_abnormal:
                raise _not_waiting(order)
            order_event(order, SessionEventKind.CONFIRMED, _by(actor))
        else:
            raise wrong_state(order)
        return _finish(order, actor, Resolution.CONFIRMED, before, "confirmed")


def order_adjust(*, actor: Any, order: Order, lines: dict[int, int], reason: str) -> Order:
    """Set what was taken (product id → units, in full). Under review: those lines are sold and
    charged. Paid or owed: a correction order settles the difference."""
    units = check_units(lines)
    reason = (reason or "").strip()
    if not reason:
        raise OpenVendError(OrderErrorCode.BAD_LINES, _("Say why the lines are adjusted."))
    with transaction.atomic():
        order = lock_order(order)
        before = order_snapshot(order)
        if order.state == OrderState.REVIEW:
            if order.lines.exists():
                raise ConflictError(
                    OrderErrorCode.WRONG_STATE,
                    _("The goods of this order are already sold: confirm it to charge again, or waive it."),
                )
            products = products_of(order, {pid for pid, n in units.items() if n})
            taken = [Taken(products[pid], n) for pid, n in units.items() if n]
            order.line_source = "staff"
            detail = {**_by(actor), "reason": reason[:200], "lines": {str(k): v for k, v in units.items()}}
            _sell_reviewed(order, taken, SessionEventKind.ADJUSTED, detail)
            resolution = Resolution.ADJUSTED
        elif order.state in (OrderState.PAID, OrderState.PENDING_PAYMENT):
            correction_create(order=order, kind=CorrectionKind.STAFF, lines=units, reason=reason, actor=actor)
            resolution = Resolution.CORRECTED
        else:
            raise wrong_state(order)
        return _finish(order, actor, resolution, before, f"adjusted: {reason}")


def order_waive(*, actor: Any, order: Order, reason: str) -> Order:
    """Close an order under review or owed without collecting anything: every open payment attempt
    is cancelled, and the debt is gone. Should the shopper have paid meanwhile, the payment is booked
    and the waiver refused. `actor` None: the unpaid-order sweep."""
    from openvend.payments.services.charging import cancel_payment
    from openvend.payments.services.errors import PaymentErrorCode, PaymentRuleError

    reason = (reason or "").strip() or _("waived")
    paid_meanwhile: PaymentRuleError | None = None
    with transaction.atomic():
        order = lock_order(order)
        before = order_snapshot(order)
        if order.state not in (OrderState.REVIEW, OrderState.PENDING_PAYMENT):
            raise wrong_state(order)
        open_attempts = Payment.objects.filter(
            merchant_id=order.merchant_id, order_ref=order.number, state__in=OPEN_PAYMENT_STATES
        ).order_by("attempt")
        for attempt in open_attempts:  # the order's own attempt last: closing it closes the order
            try:
                cancel_payment(attempt, reason, actor)
            except PaymentRuleError as exc:
                if exc.code != PaymentErrorCode.ALREADY_PAID:
                    raise OpenVendError(OrderErrorCode.PAYMENT_REFUSED, exc.message) from exc
                paid_meanwhile = exc  # booked as paid: keep that, refuse the waiver after commit
                break
        if paid_meanwhile is None:
            order = lock_order(order)
            if order.state != OrderState.CLOSED:
                order.state = OrderState.CLOSED
                order.save(update_fields=["state", "updated_at"])
            detail = {"order": order.number, **_by(actor), "reason": reason[:200]}
            session = ShoppingSession.objects.get(pk=order.session_id)
            if session.state in (S.REVIEW, S.SETTLING):
                transition(session, S.COMPLETED, SessionEventKind.WAIVED, detail)
            else:
                order_event(order, SessionEventKind.WAIVED, detail)
            order = _finish(order, actor, Resolution.WAIVED, before, f"waived: {reason}")
    if paid_meanwhile is not None:
        raise ConflictError(OrderErrorCode.WRONG_STATE, paid_meanwhile.message)
    return order


def order_charge(*, actor: Any, order: Order) -> Order:
    """An owed order (its charge failed) is charged again with the same method as a new attempt;
    the failed attempt is closed, pointing at the new one."""
    from openvend.orders.order_payments import charge_lines, open_and_charge
    from openvend.payments.selectors import active_authorisation
    from openvend.payments.services.charging import create_payment, request_charge
    from openvend.payments.services.errors import PaymentRuleError
    from openvend.payments.services.states import transition as payment_transition

    with transaction.atomic():
        order = lock_order(order)
        before = order_snapshot(order)
        failed = order.payment
        if order.state != OrderState.PENDING_PAYMENT or failed is None or failed.state != PaymentState.FAILED:
            raise ConflictError(
                OrderErrorCode.WRONG_STATE, _("Only an order whose charge failed can be charged again.")
            )
        if failed.method in SHOPPER_ONLY_METHODS:
            raise ConflictError(
                OrderErrorCode.WRONG_STATE,
                _("This order was to be paid in person: the shopper pays it in the app."),
            )
        authorisation = None
        if failed.method in PAY_AFTER_METHODS:
            authorisation = active_authorisation(order.merchant_id, order.consumer, failed.method)
        try:
            attempt = create_payment(
                merchant=order.merchant,
                order_ref=order.number,
                amount_fen=failed.amount_fen,
                method=failed.method,
                description=failed.description,
                consumer=failed.consumer,
                site=failed.site,
                payer_id=failed.payer_id,
                authorisation=authorisation,
            )
        except PaymentRuleError as exc:
            raise OpenVendError(OrderErrorCode.PAYMENT_REFUSED, exc.message) from exc
        order.payment = attempt
        order.save(update_fields=["payment", "updated_at"])
        detail = {"paid_by": attempt.out_trade_no, "paid_by_id": attempt.pk}
        payment_transition(failed, PaymentState.CLOSED, "superseded", detail, actor)
        if attempt.method in OPENED_BEFORE_CHARGE:
            order_id = order.pk
            transaction.on_commit(lambda: open_and_charge(Order.objects.get(pk=order_id)))
        else:
            lines = order.lines.select_related("product").order_by("product__sku")
            request_charge(attempt, charge_lines(lines))
        order_event(order, SessionEventKind.CHARGED_AGAIN, {**_by(actor), "payment": attempt.out_trade_no})
        return _finish(order, actor, Resolution.CHARGED, before, "charged again")


def order_refund(*, actor: Any, order: Order, amount_fen: int, reason: str) -> Correction:
    """Refund `amount_fen` (1 … what is left) of a paid order through its payment. The order's
    `refunded_fen` follows the refund's success; refunded in full, the order is REFUNDED."""
    with transaction.atomic():
        order = lock_order(order)
        before = order_snapshot(order)
        if order.state != OrderState.PAID:
            raise wrong_state(order)
        correction = correction_create(
            order=order,
            kind=CorrectionKind.STAFF,
            lines={},
            reason=reason,
            actor=actor,
            refund_fen=amount_fen,
        )
        _finish(order, actor, Resolution.REFUNDED, before, f"refund {amount_fen} fen: {reason}")
    return correction


def order_raise_supplement(*, actor: Any, order: Order, lines: dict[int, int], reason: str) -> Correction:
    """More was taken than paid for: `lines` (product id → units, in full) as actually taken. The
    difference is a supplementary charge: collected at once with a pay-after method, otherwise owed
    by the shopper (it blocks their next visit until they pay it in the app)."""
    with transaction.atomic():
        order = lock_order(order)
        before = order_snapshot(order)
        if order.state not in (OrderState.PAID, OrderState.CLOSED):
            raise wrong_state(order)
        correction = correction_create(
            order=order, kind=CorrectionKind.SUPPLEMENT, lines=lines, reason=reason, actor=actor
        )
        if correction.delta_fen <= 0:
            raise OpenVendError(
                OrderErrorCode.BAD_LINES, _("A supplement must come to more than the order already charged.")
            )
        _finish(
            order, actor, Resolution.CORRECTED, before, f"supplement {correction.delta_fen} fen: {reason}"
        )
    return correction
