"""The cart of a semi-automatic cabinet and an open shelf on the shopper's phone: +/−, a barcode, the
total in fen at the device's prices, paying with the wallet, and leaving a shelf without buying."""

from __future__ import annotations

from decimal import Decimal

import pytest

from openvend.catalog.models import Product
from openvend.orders.choices import LineSource, OrderState
from openvend.orders.models import CartLine, Order
from openvend.payments.choices import PaymentState
from openvend.payments.selectors import wallet_balance
from openvend.shopping.choices import SessionState
from openvend.shopping.models import ShoppingSession
from tests.mobile.h5 import receipt_url, scan_url, signed_in, visit_url
from tests.orders.conftest import Store, store_in

pytestmark = pytest.mark.django_db
COLA_BARCODE = "6901234567892"


@pytest.fixture
def store(world_a) -> Store:
    found = store_in(world_a, "H5-CAB1")
    Product.objects.filter(pk=found.cola.pk).update(barcode=COLA_BARCODE)
    return found


def _visit(store: Store, flow: str, balance_fen: int = 0) -> tuple[object, ShoppingSession]:
    phone = signed_in(store.shopper(balance_fen=balance_fen))
    response = phone.post(f"{scan_url(store.device, flow)}open/", {"method": "wallet"})
    assert response.status_code == 302, response.content.decode()
    return phone, ShoppingSession.objects.get()


def _cart(store: Store, session: ShoppingSession) -> dict[str, int]:
    return dict(CartLine.objects.filter(session=session).values_list("product__sku", "quantity"))


def _set(phone, session: ShoppingSession, product: Product, quantity: int):
    return phone.post(f"{visit_url(session)}cart/", {"product": product.pk, "quantity": quantity})


def _total_fen(page: str) -> int:
    return int(page.split('data-testid="cart-total" data-fen="', 1)[1].split('"', 1)[0])


def test_the_cart_lists_the_devices_products_at_its_prices(store: Store) -> None:
    phone, session = _visit(store, "semi_auto")
    assert session.flow == "semi_auto"
    page = phone.get(visit_url(session)).content.decode()
    assert 'data-testid="product-COLA330" data-quantity="0"' in page and "¥3.50" in page
    assert 'data-testid="product-CHIPS52" data-quantity="0"' in page and "¥6.00" in page
    assert _total_fen(page) == 0


def test_plus_minus_and_barcode_change_the_cart_and_the_total(store: Store) -> None:
    phone, session = _visit(store, "semi_auto")
    _set(phone, session, store.cola, 1)
    _set(phone, session, store.cola, 2)
    response = _set(phone, session, store.chips, 1)
    assert response.status_code == 302 and response.url == visit_url(session)
    assert _cart(store, session) == {"COLA330": 2, "CHIPS52": 1}
    page = phone.get(visit_url(session)).content.decode()
    assert _total_fen(page) == 2 * 350 + 600 and "¥13.00" in page

    _set(phone, session, store.cola, 1)
    assert _total_fen(phone.get(visit_url(session)).content.decode()) == 950
    _set(phone, session, store.chips, 0)
    assert _cart(store, session) == {"COLA330": 1}

    phone.post(f"{visit_url(session)}barcode/", {"barcode": COLA_BARCODE})
    page = phone.get(visit_url(session)).content.decode()
    assert _cart(store, session) == {"COLA330": 2} and _total_fen(page) == 700
    assert "可乐 330ml added." in page


def test_bad_cart_input_changes_nothing(store: Store, world_b) -> None:
    phone, session = _visit(store, "semi_auto")
    _set(phone, session, store.cola, 2)
    phone.post(f"{visit_url(session)}barcode/", {"barcode": "0000"})
    page = phone.get(visit_url(session)).content.decode()
    assert "No product with the barcode 0000 is sold here." in page
    _set(phone, session, store.cola, 100)
    assert "That quantity cannot be used." in phone.get(visit_url(session)).content.decode()
    _set(phone, session, store.chips, -1)
    foreign = Product.objects.create(
        merchant=world_b.merchant, sku="X1", name="x", unit_weight_g=Decimal(1), default_price_fen=1
    )
    assert _set(phone, session, foreign, 1).status_code == 404
    assert _cart(store, session) == {"COLA330": 2}


def test_another_shoppers_cart_is_not_found(store: Store) -> None:
    _phone, session = _visit(store, "semi_auto")
    other = signed_in(store.shopper(nickname="小王"))
    assert _set(other, session, store.cola, 1).status_code == 404
    assert other.post(f"{visit_url(session)}checkout/").status_code == 404
    assert not CartLine.objects.exists()


def test_pay_the_cart_with_the_wallet(store: Store, django_capture_on_commit_callbacks) -> None:
    phone, session = _visit(store, "semi_auto", balance_fen=2000)
    store.feed.send({"kind": "door_opened", "session": str(session.command_id), "detail": {"door": 1}})
    _set(phone, session, store.cola, 2)
    _set(phone, session, store.chips, 1)
    with django_capture_on_commit_callbacks(execute=True):
        response = phone.post(f"{visit_url(session)}checkout/")
    order = Order.objects.get(session=session)
    assert response.status_code == 302 and response.url == f"http://testserver{receipt_url(order)}"
    assert (order.state, order.total_fen, order.paid_fen, order.line_source) == (
        OrderState.PAID,
        1300,
        1300,
        LineSource.CART,
    )
    assert order.payment.state == PaymentState.PAID
    assert wallet_balance(store.device.merchant, order.consumer) == 700
    receipt = phone.get(receipt_url(order)).content.decode()
    assert "可乐 330ml × 2" in receipt and "薯片 × 1" in receipt and "¥13.00" in receipt
    assert 'data-testid="payment" data-state="paid"' in receipt
    # The door is still open: the receipt says to close it; the cart is closed.
    assert 'data-testid="close-door"' in receipt
    page = phone.get(visit_url(session)).content.decode()
    assert 'data-testid="cart"' not in page and receipt_url(order) in page


def test_an_open_shelf_shopper_who_takes_nothing_leaves(store: Store) -> None:
    phone, session = _visit(store, "open_shelf")
    assert session.state == SessionState.OPEN
    page = phone.get(visit_url(session)).content.decode()
    assert "Add what you take to the cart and pay." in page and 'data-testid="leave"' in page
    _set(phone, session, store.cola, 1)
    assert 'data-testid="leave"' not in phone.get(visit_url(session)).content.decode()
    _set(phone, session, store.cola, 0)
    response = phone.post(f"{visit_url(session)}leave/")
    assert response.status_code == 302
    session.refresh_from_db()
    assert session.state == SessionState.COMPLETED and not Order.objects.exists()
    state = phone.get(f"{visit_url(session)}state/").json()
    assert state == {"state": "completed", "text": "Done. Thank you!", "final": True, "receipt_url": ""}


def test_after_the_door_closes_the_shopper_is_asked_to_pay(store: Store) -> None:
    phone, session = _visit(store, "semi_auto", balance_fen=2000)
    _set(phone, session, store.cola, 1)
    for kind in ("door_opened", "door_closed"):
        store.feed.send({"kind": kind, "session": str(session.command_id), "detail": {"door": 1}})
    session.refresh_from_db()
    assert session.state == SessionState.RECOGNISING
    state = phone.get(f"{visit_url(session)}state/").json()
    assert (state["text"], state["receipt_url"]) == ("Door closed. Please pay for what you took.", "")
    page = phone.get(visit_url(session)).content.decode()
    assert 'data-testid="cart"' in page and _total_fen(page) == 350
