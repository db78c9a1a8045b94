"""Reads of the shopping pages: the device behind a scanned code, the ways the shopper can pay at
it, their own visits, carts, orders and receipts. Another shopper's visit or order is never found."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from openvend.consumers.models import Consumer
from openvend.core.errors import OpenVendError
from openvend.devices.choices import ShoppingFlow
from openvend.devices.models import Device
from openvend.merchants.models import Merchant
from openvend.mobile.consumer.queries import AUTHORISABLE, IN_PERSON_METHODS, offered_methods
from openvend.orders.choices import AppealState
from openvend.orders.models import Appeal, CartLine, Correction, Order
from openvend.payments import selectors as payment_selectors
from openvend.payments.choices import PAY_AFTER_METHODS, PaymentMethod
from openvend.payments.models import Payment, Refund
from openvend.shopping.models import ShoppingSession


def scanned_device(merchant: Merchant, token: str) -> tuple[Device, str] | None:
    """The merchant's device and flow a QR token names; None for a forged, altered or foreign code."""
    from openvend.devices.services import device_qr_verify

    try:
        code, flow = device_qr_verify(token)
    except OpenVendError:
        return None
    device = Device.objects.select_related("site", "state").filter(code=code, merchant_id=merchant.pk).first()
    return (device, flow) if device is not None else None


@dataclass(frozen=True)
class MethodChoice:
    method: str
    label: str
    ready: bool  # nothing more to do before paying this way (pay-after: authorised)


def method_choices(device: Device, flow: str, consumer: Consumer) -> list[MethodChoice]:
    """How the shopper may pay at `device`: pay-after methods (and the wallet) for a fully automatic
    cabinet, where the charge comes after the door closes; for semi-automatic and open shelves the
    methods paid in person. Ready ones first."""
    offered = offered_methods(device.merchant, device.site)
    wanted = AUTHORISABLE if flow == ShoppingFlow.FULL_AUTO else IN_PERSON_METHODS
    choices = []
    for method in offered:
        if method not in wanted:
            continue
        ready = method not in PAY_AFTER_METHODS or (
            payment_selectors.active_authorisation(device.merchant_id, consumer, method) is not None
        )
        choices.append(MethodChoice(method, str(PaymentMethod(method).label), ready))
    return sorted(choices, key=lambda choice: not choice.ready)


def own_session(merchant: Merchant, consumer: Consumer, session_id: int) -> ShoppingSession | None:
    found: ShoppingSession | None = (
        ShoppingSession.objects.select_related("device", "site")
        .filter(pk=session_id, merchant=merchant, consumer=consumer)
        .first()
    )
    return found


def order_of(session: ShoppingSession) -> Order | None:
    found: Order | None = Order.objects.filter(session=session).first()
    return found


@dataclass(frozen=True)
class CartRow:
    product: Any
    price_fen: int
    quantity: int

    @property
    def amount_fen(self) -> int:
        return self.price_fen * self.quantity


def cart_rows(session: ShoppingSession) -> list[CartRow]:
    """Every product the device sells now, at this moment's price, with the units in the cart (a
    product in the cart that is no longer on sale still shows, so it can be taken out)."""
    from openvend.catalog.selectors import price_for, sellable_products

    in_cart = {
        line.product_id: line for line in CartLine.objects.filter(session=session).select_related("product")
    }
    products = list(sellable_products(session.device))
    listed = {product.pk for product in products}
    products += [line.product for pk, line in in_cart.items() if pk not in listed]
    now = timezone.now()
    rows = []
    for product in products:
        line = in_cart.get(product.pk)
        price = price_for(session.device, product, now).price_fen
        rows.append(CartRow(product, price, line.quantity if line is not None else 0))
    return rows


def cart_total_fen(rows: list[CartRow]) -> int:
    return sum(row.amount_fen for row in rows)


def own_order(merchant: Merchant, consumer: Consumer, number: str) -> Order | None:
    found: Order | None = (
        Order.objects.select_related("payment", "device", "site", "session")
        .filter(merchant=merchant, consumer=consumer, number=number)
        .first()
    )
    return found


def past_orders(merchant: Merchant, consumer: Consumer, limit: int = 50) -> list[Order]:
    return list(
        Order.objects.select_related("payment", "site")
        .filter(merchant=merchant, consumer=consumer)
        .order_by("-created_at", "-id")[:limit]
    )


@dataclass
class Receipt:
    order: Order
    lines: list[Any]
    payments: list[Payment]
    refunds: list[Refund]
    appeals: list[Appeal]
    corrections: list[Correction] = field(default_factory=list)

    @property
    def open_appeal(self) -> Appeal | None:
        return next((appeal for appeal in self.appeals if appeal.state == AppealState.OPEN), None)


def receipt_of(order: Order) -> Receipt:
    payments = list(
        Payment.objects.filter(merchant_id=order.merchant_id, order_ref=order.number).order_by("attempt")
    )
    refunds = list(Refund.objects.filter(payment__in=payments).order_by("id"))
    return Receipt(
        order=order,
        lines=list(order.lines.select_related("product").order_by("id")),
        payments=payments,
        refunds=refunds,
        appeals=list(order.appeals.order_by("-created_at", "-id")),
        corrections=list(order.corrections.order_by("created_at", "id")),
    )
