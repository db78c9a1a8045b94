"""The shopper's cart in the semi-automatic and open-shelf flows, and checkout.

Semi-automatic: the door opens on the scan; the shopper adds what they take in the app and pays
(while the door is open or after it closed). Checkout makes the session's one order from the cart
(priced, stock moved, payment created) in one transaction and asks for the money after commit.
When the door closes, recognition cross-checks the weights against the cart
(`orders.services.settle_session`): a difference marks the order abnormal for staff.

Open shelf: there is no door and no weighing; the cart is the sale. Checkout closes the visit:
    open ──checkout──► closed ──► recognising ──► settling ──paid──► completed
The "recognising" step is passed through (nothing is weighed) so every session walks the same states.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from openvend.core.errors import OpenVendError
from openvend.devices.choices import ShoppingFlow
from openvend.orders.choices import LineSource, OrderState
from openvend.orders.errors import OrderErrorCode
from openvend.orders.models import CartLine, Order
from openvend.shopping.choices import SessionState as S
from openvend.shopping.models import ShoppingSession
from openvend.shopping.services import settle_later, transition

CART_FLOWS = frozenset({ShoppingFlow.SEMI_AUTO, ShoppingFlow.OPEN_SHELF})
# Semi-automatic shoppers may fill the cart and pay with the door open or after it closed.
CART_STATES: dict[str, frozenset[str]] = {
    ShoppingFlow.SEMI_AUTO: frozenset({S.OPENING, S.OPEN, S.CLOSED, S.RECOGNISING}),
    ShoppingFlow.OPEN_SHELF: frozenset({S.OPEN}),
}
MAX_UNITS_PER_LINE = 99
DEFAULT_SHELF_IDLE_MIN = 30


class CheckoutEvent:
    CART_PAID = "cart_checkout"
    SHELF_CLOSED = "shelf_checkout"
    NOTHING_BOUGHT = "nothing_bought"


def _locked_cart_session(session: ShoppingSession) -> ShoppingSession:
    """The session, row-locked, if its cart may still change: a cart flow, live, no order yet."""
    locked: ShoppingSession = (
        ShoppingSession.objects.select_for_update(of=("self",))
        .select_related("device", "merchant", "consumer", "site")
        .get(pk=session.pk)
    )
    if locked.flow not in CART_FLOWS:
        raise OpenVendError(
            OrderErrorCode.CART_CLOSED, _("At this cabinet the shelves' weights decide what you took.")
        )
    if locked.state not in CART_STATES[locked.flow] or Order.objects.filter(session=locked).exists():
        raise OpenVendError(
            OrderErrorCode.CART_CLOSED, _("This visit is already paid or over; the cart cannot change.")
        )
    return locked


def _check_sellable(session: ShoppingSession, product: Any) -> None:
    from openvend.catalog.selectors import is_sellable

    if product.merchant_id != session.merchant_id or not is_sellable(session.device, product):
        raise OpenVendError(
            OrderErrorCode.NOT_SELLABLE,
            _("%(product)s is not on sale at this cabinet.") % {"product": product.name},
        )


@transaction.atomic
def cart_set(*, session: ShoppingSession, product: Any, quantity: int) -> CartLine | None:
    """Set how many units of `product` are in the cart; 0 removes the line (None)."""
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 0 <= quantity <= MAX_UNITS_PER_LINE:
        raise OpenVendError(
            OrderErrorCode.BAD_QUANTITY,
            _("A quantity must be a whole number from 0 to %(max)d.") % {"max": MAX_UNITS_PER_LINE},
        )
    locked = _locked_cart_session(session)
    if quantity == 0:
        CartLine.objects.filter(session=locked, product=product).delete()
        return None
    _check_sellable(locked, product)
    line, _created = CartLine.objects.update_or_create(
        session=locked,
        product=product,
        defaults={"quantity": quantity, "merchant_id": locked.merchant_id},
    )
    return line


@transaction.atomic
def cart_add_barcode(*, session: ShoppingSession, barcode: str) -> CartLine:
    """One more unit of the product with this barcode (scanned by the shopper's phone)."""
    from openvend.catalog.models import Product

    locked = _locked_cart_session(session)
    code = (barcode or "").strip()
    if not code:
        raise OpenVendError(OrderErrorCode.UNKNOWN_BARCODE, _("Scan or type the product's barcode."))
    product = Product.objects.filter(merchant_id=locked.merchant_id, barcode=code).first()
    if product is None:
        raise OpenVendError(
            OrderErrorCode.UNKNOWN_BARCODE,
            _("No product with the barcode %(barcode)s is sold here.") % {"barcode": code[:20]},
        )
    _check_sellable(locked, product)
    current = CartLine.objects.filter(session=locked, product=product).first()
    quantity = (current.quantity if current else 0) + 1
    line = cart_set(session=locked, product=product, quantity=quantity)
    assert line is not None
    return line


def _make_order(session: ShoppingSession) -> tuple[Order, list[Any]]:
    """The cart becomes the order: lines priced now, stock moved. Returns the order and its lines
    as the payment provider is to see them."""
    from openvend.orders.order_payments import charge_lines
    from openvend.orders.services import Taken, _new_order, _post_sales, _price_lines

    cart = list(CartLine.objects.filter(session=session).select_related("product").order_by("id"))
    if not cart:
        raise OpenVendError(OrderErrorCode.CART_EMPTY, _("Your cart is empty: add what you took first."))
    for line in cart:
        _check_sellable(session, line.product)
    order = _new_order(session, OrderState.PENDING_PAYMENT, {"cart": _cart_evidence(cart)})
    order.line_source = LineSource.CART
    lines = _price_lines(session, order, [Taken(line.product, line.quantity) for line in cart])
    order.total_fen = sum(line.amount_fen for line in lines)
    order.save(update_fields=["line_source", "total_fen", "updated_at"])
    _post_sales(session, order, lines)
    return order, charge_lines(lines)


def _cart_evidence(cart: list[CartLine]) -> dict[str, int]:
    return {line.product.sku: line.quantity for line in cart}


def _create_payment(session: ShoppingSession, order: Order, payer_id: str) -> Any:
    from openvend.orders.order_payments import new_order_payment

    payment = new_order_payment(session, order, payer_id)
    order.payment = payment
    order.save(update_fields=["payment", "updated_at"])
    return payment


def _advance_after_checkout(session: ShoppingSession, order: Order) -> None:
    """An open shelf is done once paid for; a semi-automatic visit waits for its door (see module doc)."""
    detail = {"order": order.number, "total_fen": order.total_fen}
    if session.flow == ShoppingFlow.OPEN_SHELF:
        transition(
            session, S.CLOSED, CheckoutEvent.SHELF_CLOSED, detail, changes={"closed_at": timezone.now()}
        )
        transition(session, S.RECOGNISING, CheckoutEvent.SHELF_CLOSED, {"weighed": False})
        transition(session, S.SETTLING, CheckoutEvent.CART_PAID, detail)
        return
    from openvend.shopping.services import _record

    _record(session, CheckoutEvent.CART_PAID, detail)
    if session.state == S.RECOGNISING:  # the door already closed: cross-check now
        session_id = session.pk
        transaction.on_commit(lambda: settle_later(session_id))


def cart_checkout(
    *, session: ShoppingSession, return_url: str = "", payer_id: str = ""
) -> tuple[Order, dict[str, Any]]:
    """Pay for the cart: the order is written in one transaction, then the charge is sent. Returns the
    order and what the app needs next to collect the money (the cashier's page or prepay parameters;
    empty when it is already collected — the wallet — or will be without the shopper — pay-after).
    `payer_id`: the shopper's id at the provider (WeChat openid, Alipay user id) for in-person methods."""
    from openvend.payments.choices import PAY_AFTER_METHODS
    from openvend.payments.services.charging import charge_now, request_charge

    with transaction.atomic():
        locked = _locked_cart_session(session)
        order, lines = _make_order(locked)
        if order.total_fen == 0:
            order.state = OrderState.CLOSED
            order.save(update_fields=["state", "updated_at"])
            _advance_after_checkout(locked, order)
            return order, {}
        payment = _create_payment(locked, order, payer_id)
        _advance_after_checkout(locked, order)
        if payment.method in PAY_AFTER_METHODS:
            request_charge(payment, lines, amount_fen=order.total_fen)
            return order, {}
    next_action = charge_now(payment, lines, return_url)
    order.refresh_from_db()
    return order, next_action


def shelf_finish_without_buying(session: ShoppingSession) -> bool:
    """An open-shelf visit ended with nothing paid for (the shopper said so, or walked away): the
    session completes with no order. False when the visit already has an order or is over."""
    with transaction.atomic():
        locked = ShoppingSession.objects.select_for_update().get(pk=session.pk)
        if locked.flow != ShoppingFlow.OPEN_SHELF or locked.state != S.OPEN:
            return False
        if Order.objects.filter(session=locked).exists():
            return False
        transition(locked, S.CLOSED, CheckoutEvent.NOTHING_BOUGHT, changes={"closed_at": timezone.now()})
        transition(locked, S.RECOGNISING, CheckoutEvent.NOTHING_BOUGHT, {"weighed": False})
        transition(locked, S.COMPLETED, CheckoutEvent.NOTHING_BOUGHT)
        return True


def shelf_idle_limit() -> timedelta:
    """How long an open-shelf visit may go without checkout before it is taken as walked away from."""
    return timedelta(minutes=int(getattr(settings, "SHOPPING_SHELF_IDLE_MIN", DEFAULT_SHELF_IDLE_MIN)))


def shelf_sessions_abandon(now: datetime | None = None) -> int:
    """The sweeper's part for open shelves: visits idle past the limit with nothing paid for end with
    no order, so the shopper's next scan starts afresh. A visit that checked out is left alone."""
    cutoff = (now or timezone.now()) - shelf_idle_limit()
    idle = ShoppingSession.objects.filter(
        flow=ShoppingFlow.OPEN_SHELF, state=S.OPEN, updated_at__lt=cutoff
    ).values_list("pk", flat=True)
    return sum(shelf_finish_without_buying(ShoppingSession(pk=pk)) for pk in list(idle))
