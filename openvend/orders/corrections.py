"""Correction orders (修正订单): an order's lines as they should have been, the stock put right, and
the difference settled through the original payment route.

    correction_create ──delta < 0──► refund of the order's payment ──succeeded──► done (failed ► failed)
                      ├─delta > 0──► supplement payment: charged at once (pay-after) or owed ──paid──► done
                      └─delta = 0──► done

`lines` always gives the order's lines in full (product id → units); a product left out goes to 0.
The order's own lines follow the correction at once (its total is what the shopper owes after it);
`paid_fen` and `refunded_fen` follow the money as it moves. An order still owed (its charge failed)
is not refunded: the amount owed is set to the new total instead.

Outcomes arrive through payments' listeners (registered in orders/apps.py): each applies once, and a
repeated outcome finds the correction settled and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from openvend.audit.choices import AuditAction
from openvend.audit.services import audit_record, snapshot
from openvend.core.errors import ConflictError, OpenVendError
from openvend.orders.choices import CorrectionState, OrderState, SessionEventKind
from openvend.orders.errors import OrderErrorCode
from openvend.orders.models import Correction, Order, OrderLine
from openvend.payments.choices import PAY_AFTER_METHODS, PaymentState, RefundState
from openvend.payments.models import Payment, Refund
from openvend.shopping.models import ShoppingEvent, ShoppingSession

# Orders whose money a correction can still put right.
CORRECTABLE_STATES = frozenset({OrderState.PAID, OrderState.PENDING_PAYMENT, OrderState.CLOSED})
OWED_FAILURE_CODE = "SUPPLEMENT_OWED"


def order_event(order: Order, kind: str, detail: dict[str, Any] | None = None) -> ShoppingEvent:
    """A line in the session's timeline about its order that does not change the session's state."""
    event: ShoppingEvent = ShoppingEvent.objects.create(
        merchant_id=order.merchant_id,
        session_id=order.session_id,
        kind=kind,
        detail={"order": order.number, **(detail or {})},
    )
    return event


def lock_order(order: Order) -> Order:
    locked: Order = Order.objects.select_for_update(of=("self",)).select_related("payment").get(pk=order.pk)
    return locked


def wrong_state(order: Order) -> ConflictError:
    return ConflictError(
        OrderErrorCode.WRONG_STATE,
        _("This cannot be done to an order that is %(state)s.") % {"state": order.get_state_display()},
    )


def check_units(lines: Any) -> dict[int, int]:
    """`lines` as product id → units (0 or more); anything else is refused."""
    if not isinstance(lines, dict):
        raise OpenVendError(OrderErrorCode.BAD_LINES, _("Give the lines as product → units."))
    clean: dict[int, int] = {}
    for product_id, units in lines.items():
        if isinstance(units, bool) or not isinstance(units, int) or units < 0:
            raise OpenVendError(OrderErrorCode.BAD_LINES, _("Units must be whole numbers, zero or more."))
        try:
            clean[int(product_id)] = units
        except (TypeError, ValueError):
            raise OpenVendError(OrderErrorCode.BAD_LINES, _("Unknown product.")) from None
    return clean


def products_of(order: Order, product_ids: set[int]) -> dict[int, Any]:
    """The merchant's products by id; a product of another merchant (or none) is refused."""
    from openvend.catalog.models import Product

    found = {p.pk: p for p in Product.objects.filter(merchant_id=order.merchant_id, pk__in=product_ids)}
    if set(found) != product_ids:
        raise OpenVendError(OrderErrorCode.BAD_LINES, _("Unknown product."))
    return found


@dataclass
class _Row:
    product: Any
    unit_price_fen: int
    before: int
    after: int

    def as_json(self) -> dict[str, Any]:
        return {
            "product": self.product.pk,
            "sku": self.product.sku,
            "name": self.product.name,
            "unit_price_fen": self.unit_price_fen,
            "before": self.before,
            "after": self.after,
        }


def _rows(order: Order, wanted: dict[int, int]) -> list[_Row]:
    """Before and after per product, at the order's unit prices (a product new to the order at the
    price it had on the device when the door closed)."""
    from openvend.catalog.selectors import price_for

    current = {line.product_id: line for line in order.lines.select_related("product")}
    new = products_of(order, {pid for pid, units in wanted.items() if pid not in current and units})
    rows = [
        _Row(line.product, line.unit_price_fen, line.quantity, wanted.get(pid, 0))
        for pid, line in current.items()
    ]
    if new:
        session = ShoppingSession.objects.select_related("device").get(pk=order.session_id)
        at: datetime = session.closed_at or order.created_at
        rows += [
            _Row(product, price_for(session.device, product, at).price_fen, 0, wanted[pid])
            for pid, product in new.items()
        ]
    return sorted(rows, key=lambda row: row.product.sku)


def _move_stock(order: Order, correction: Correction, rows: list[_Row]) -> None:
    """Units not taken after all go back (CORRECTION); units taken beyond the order leave (SALE)."""
    from openvend.inventory.choices import MovementKind
    from openvend.inventory.ledger import Source, post_movement

    device = order.device
    for row in rows:
        if row.after == row.before:
            continue
        post_movement(
            device=device,
            product=row.product,
            quantity=row.before - row.after,
            kind=MovementKind.CORRECTION if row.after < row.before else MovementKind.SALE,
            reason=f"correction {correction.number}",
            source=Source.of(correction),
            idempotency_key=f"correction:{correction.number}:{row.product.pk}",
        )


def _rewrite_lines(order: Order, rows: list[_Row]) -> None:
    for row in rows:
        if row.after == row.before:
            continue
        if row.after == 0:
            OrderLine.objects.filter(order=order, product=row.product).delete()
        elif row.before == 0:
            OrderLine.objects.create(
                merchant_id=order.merchant_id,
                order=order,
                product=row.product,
                quantity=row.after,
                unit_price_fen=row.unit_price_fen,
                amount_fen=row.after * row.unit_price_fen,
            )
        else:
            OrderLine.objects.filter(order=order, product=row.product).update(
                quantity=row.after, amount_fen=row.after * row.unit_price_fen
            )
    order.total_fen = sum(row.after * row.unit_price_fen for row in rows)
    order.save(update_fields=["total_fen", "updated_at"])


def _refund(order: Order, correction: Correction, amount_fen: int, actor: Any) -> None:
    from openvend.payments.services.refunds import refundable_fen, request_refund

    payment = order.payment
    if order.state != OrderState.PAID or payment is None or payment.state != PaymentState.PAID:
        raise wrong_state(order)
    room = refundable_fen(payment)
    if not 0 < amount_fen <= room:
        raise OpenVendError(
            OrderErrorCode.BAD_AMOUNT,
            _("At most %(room)s fen of this order can still be refunded.") % {"room": room},
        )
    correction.refund = request_refund(
        payment=payment, amount_fen=amount_fen, reason=correction.reason, actor=actor
    )


def _owe(payment: Payment, detail: dict[str, Any]) -> None:
    """The shopper owes `payment`: it is listed with their debts and paid in person from the app."""
    from openvend.payments.services.states import transition

    transition(
        payment,
        PaymentState.FAILED,
        "owed",
        detail,
        changes={"failure_code": OWED_FAILURE_CODE, "failure_message": _("Owed by the shopper")[:200]},
    )


def _supplement(order: Order, correction: Correction) -> None:
    """A new payment for the difference: a pay-after method charges it at once, any other is owed."""
    from openvend.orders.order_payments import OPENED_BEFORE_CHARGE
    from openvend.payments.providers.base import ChargeLine
    from openvend.payments.selectors import active_authorisation
    from openvend.payments.services.charging import create_payment, request_charge
    from openvend.payments.services.errors import PaymentRuleError

    session = ShoppingSession.objects.select_related("merchant", "consumer", "site").get(pk=order.session_id)
    method = order.payment.method if order.payment is not None else session.payment_method
    authorisation = None
    if method in PAY_AFTER_METHODS:
        authorisation = active_authorisation(order.merchant_id, session.consumer, method)
    description = _("Supplement to order %(number)s") % {"number": order.number}
    try:
        payment = create_payment(
            merchant=session.merchant,
            order_ref=correction.number,
            amount_fen=correction.delta_fen,
            method=method,
            description=description[:127],
            consumer=session.consumer,
            site=session.site,
            authorisation=authorisation,
        )
    except PaymentRuleError as exc:
        raise OpenVendError(OrderErrorCode.PAYMENT_REFUSED, exc.message) from exc
    correction.payment = payment
    if authorisation is None:
        _owe(payment, {"correction": correction.number})
        return
    lines = [ChargeLine(name=description[:60], amount_fen=correction.delta_fen, quantity=1)]
    if method in OPENED_BEFORE_CHARGE:
        payment_id = payment.pk
        transaction.on_commit(lambda: _open_and_charge(payment_id, lines))
        return
    request_charge(payment, lines)


def _open_and_charge(payment_id: int, lines: list[Any]) -> None:
    """Payscore / Zhima: open the provider's order, then charge. A refusal closes the payment (and
    the correction fails through the outcome listener); an unreachable provider is left to staff."""
    from openvend.payments.services.charging import open_pay_after, request_charge
    from openvend.payments.services.errors import PaymentRuleError

    payment = Payment.objects.select_related("authorisation").get(pk=payment_id)
    try:
        open_pay_after(payment)
    except PaymentRuleError:
        return
    request_charge(payment, lines)


def _reprice_owed(order: Order, correction: Correction) -> None:
    """An order still owed: its debt becomes the new total (a new attempt, the old one closed), or
    is waived when nothing is left to pay."""
    from openvend.payments.services.charging import cancel_payment, create_payment
    from openvend.payments.services.states import transition

    owed = order.payment
    if owed is None or owed.state != PaymentState.FAILED:
        raise ConflictError(
            OrderErrorCode.WRONG_STATE, _("The order's charge is still in progress. Try again shortly.")
        )
    if order.total_fen == 0:
        cancel_payment(owed, correction.reason)  # the order closes through the payment outcome
        return
    attempt = create_payment(
        merchant=order.merchant,
        order_ref=order.number,
        amount_fen=order.total_fen,
        method=owed.method,
        description=owed.description,
        consumer=owed.consumer,
        site=owed.site,
        payer_id=owed.payer_id,
    )
    order.payment = attempt
    order.save(update_fields=["payment", "updated_at"])
    detail = {"correction": correction.number, "paid_by": attempt.out_trade_no, "paid_by_id": attempt.pk}
    transition(owed, PaymentState.CLOSED, "superseded", detail)
    _owe(attempt, {"correction": correction.number})


def _next_number(order: Order) -> str:
    return f"{order.number}C{Correction.objects.filter(order=order).count() + 1}"


def correction_create(
    *,
    order: Order,
    kind: str,
    lines: dict[int, int],
    reason: str,
    actor: Any = None,
    appeal: Any = None,
    refund_fen: int | None = None,
) -> Correction:
    """Correct `order` to `lines` (product id → units, in full), or with `refund_fen` refund an amount
    without touching the lines. Stock, lines and the difference move together; a refund or payment
    leaves after commit. Refused with nothing changed on a wrong state, bad lines or amount."""
    reason = (reason or "").strip()
    if not reason:
        raise OpenVendError(OrderErrorCode.BAD_LINES, _("Say why the order is corrected."))
    with transaction.atomic():
        order = lock_order(order)
        if order.state not in CORRECTABLE_STATES:
            raise wrong_state(order)
        correction = Correction(
            merchant_id=order.merchant_id,
            number=_next_number(order),
            order=order,
            kind=kind,
            appeal=appeal,
            reason=reason[:200],
            created_by=actor if getattr(actor, "pk", None) else None,
        )
        rows: list[_Row] = []
        if refund_fen is not None:
            if isinstance(refund_fen, bool) or not isinstance(refund_fen, int) or refund_fen <= 0:
                raise OpenVendError(
                    OrderErrorCode.BAD_AMOUNT, _("The refund must be a whole number of fen above zero.")
                )
            correction.delta_fen = -refund_fen
        else:
            rows = _rows(order, check_units(lines))
            correction.lines = [row.as_json() for row in rows]
            correction.delta_fen = sum((row.after - row.before) * row.unit_price_fen for row in rows)
        correction.save()
        _move_stock(order, correction, rows)
        if rows:
            _rewrite_lines(order, rows)
        if order.state == OrderState.PENDING_PAYMENT and correction.delta_fen != 0 and refund_fen is None:
            _reprice_owed(order, correction)
            correction.state = CorrectionState.DONE
        elif correction.delta_fen < 0:
            _refund(order, correction, -correction.delta_fen, actor)
        elif correction.delta_fen > 0:
            _supplement(order, correction)
        else:
            correction.state = CorrectionState.DONE
        correction.save(update_fields=["refund", "payment", "state", "updated_at"])
        order_event(
            order,
            SessionEventKind.CORRECTED,
            {"correction": correction.number, "delta_fen": correction.delta_fen, "kind": kind},
        )
        audit_record(actor=actor, action=AuditAction.CREATE, instance=correction, after=snapshot(correction))
    return correction


def _settle(correction: Correction, state: str, detail: dict[str, Any]) -> None:
    correction.state = state
    correction.save(update_fields=["state", "payment", "updated_at"])
    kind = (
        SessionEventKind.CORRECTION_DONE
        if state == CorrectionState.DONE
        else SessionEventKind.CORRECTION_FAILED
    )
    order_event(correction.order, kind, {"correction": correction.number, **detail})


def apply_correction_payment_outcome(payment: Payment) -> Correction | None:
    """A supplement payment was paid, failed or closed. Paid (by any attempt): done, and the order's
    paid amount grows; closed: failed; failed: still owed by the shopper. None when the payment is no
    correction's."""
    found = Correction.objects.filter(merchant_id=payment.merchant_id, number=payment.order_ref).first()
    if found is None:
        return None
    with transaction.atomic():
        correction = Correction.objects.select_for_update().select_related("order").get(pk=found.pk)
        if payment.state == PaymentState.PAID and correction.state != CorrectionState.DONE:
            order = lock_order(correction.order)
            order.paid_fen += payment.amount_fen
            fields = ["paid_fen", "updated_at"]
            if order.state == OrderState.CLOSED:
                order.state, order.paid_at = OrderState.PAID, timezone.now()
                fields += ["state", "paid_at"]
            order.save(update_fields=fields)
            correction.payment = payment
            _settle(correction, CorrectionState.DONE, {"payment": payment.out_trade_no})
        elif (
            payment.state == PaymentState.CLOSED
            and payment.pk == correction.payment_id
            and correction.state == CorrectionState.PENDING
        ):
            _settle(correction, CorrectionState.FAILED, {"payment": payment.out_trade_no})
    return correction


def apply_refund_outcome(refund: Refund) -> Order | None:
    """A refund succeeded or failed. The order's `refunded_fen` follows its payments' (refunded in
    full: REFUNDED) and the correction that asked for the refund settles. None when it is no order's."""
    payment = Payment.objects.get(pk=refund.payment_id)
    found = Order.objects.filter(merchant_id=payment.merchant_id, number=payment.order_ref).first()
    with transaction.atomic():
        if found is not None and refund.state == RefundState.SUCCEEDED:
            order = lock_order(found)
            refunded = Payment.objects.filter(
                merchant_id=order.merchant_id, order_ref=order.number
            ).aggregate(s=Sum("refunded_fen"))["s"]
            order.refunded_fen = int(refunded or 0)
            if order.state == OrderState.PAID and 0 < order.paid_fen <= order.refunded_fen:
                order.state = OrderState.REFUNDED
            order.save(update_fields=["refunded_fen", "state", "updated_at"])
        correction = (
            Correction.objects.select_for_update().select_related("order").filter(refund=refund).first()
        )
        if correction is not None and correction.state == CorrectionState.PENDING:
            done = refund.state == RefundState.SUCCEEDED
            state = CorrectionState.DONE if done else CorrectionState.FAILED
            _settle(correction, state, {"refund": refund.out_refund_no, "refund_state": refund.state})
    return found
