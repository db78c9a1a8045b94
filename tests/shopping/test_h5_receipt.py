"""Receipts and the orders history on the shopper's phone, and appealing an order from its receipt:
the appeal's state, customer service's answer and the refund appear on the receipt."""

from __future__ import annotations

import pytest

from openvend.orders.appeal_services import appeal_reject, appeal_uphold
from openvend.orders.choices import AppealState, OrderState
from openvend.orders.models import Appeal, Order
from openvend.payments.choices import RefundState
from openvend.shopping.choices import SessionState
from openvend.shopping.models import ShoppingSession
from tests.mobile.h5 import receipt_url, scan_url, signed_in, visit_url
from tests.orders.conftest import COLA_G, Store, store_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def store(world_a) -> Store:
    return store_in(world_a, "RCPT-CAB1")


def _bought(store: Store, capture, deltas: list[tuple[str, float]], balance_fen: int = 5000):
    """A fully automatic visit paid with the wallet: scan, open, the cabinet reports, settle."""
    consumer = store.shopper(balance_fen=balance_fen)
    phone = signed_in(consumer)
    with capture(execute=True):
        phone.post(f"{scan_url(store.device)}open/", {"method": "wallet"})
    session = ShoppingSession.objects.get(consumer=consumer)
    with capture(execute=True):
        store.visit(session, deltas)
    return phone, Order.objects.get(session=session)


def test_the_visit_ends_on_the_receipt(store: Store, django_capture_on_commit_callbacks) -> None:
    phone, order = _bought(
        store, django_capture_on_commit_callbacks, [("s1-1", -2 * COLA_G), ("s2-1", -52.0)]
    )
    assert (order.state, order.total_fen) == (OrderState.PAID, 2 * 350 + 600)
    state = phone.get(f"{visit_url(order.session)}state/").json()
    assert state == {
        "state": SessionState.COMPLETED,
        "text": "Done. Thank you!",
        "final": True,
        "receipt_url": receipt_url(order),
    }
    page = phone.get(receipt_url(order)).content.decode()
    assert 'data-testid="line-COLA330"' in page and "可乐 330ml × 2" in page and "¥7.00" in page
    assert 'data-testid="line-CHIPS52"' in page and "薯片 × 1" in page and "¥6.00" in page
    assert '<span class="amount" data-testid="receipt-total">¥13.00</span>' in page
    assert 'data-testid="payment" data-state="paid"' in page and 'data-testid="appeal-link"' in page


def test_nothing_taken_shows_a_zero_receipt(store: Store, django_capture_on_commit_callbacks) -> None:
    phone, order = _bought(store, django_capture_on_commit_callbacks, [])
    page = phone.get(receipt_url(order)).content.decode()
    assert order.state == OrderState.CLOSED and order.payment is None
    assert 'data-testid="nothing-taken"' in page and "¥0.00" in page
    assert 'data-testid="appeal-link"' not in page


def test_another_shoppers_receipt_is_not_found(
    store: Store, django_capture_on_commit_callbacks, world_b
) -> None:
    phone, order = _bought(store, django_capture_on_commit_callbacks, [("s1-1", -COLA_G)])
    other = signed_in(store.shopper(nickname="小王"))
    assert other.get(receipt_url(order)).status_code == 404
    assert other.get(f"{receipt_url(order)}appeal/").status_code == 404
    assert other.post(f"{receipt_url(order)}appeal/", {"reason": "other"}).status_code == 404
    assert phone.get(f"/m/c/{store.device.merchant.code}/receipts/SO9999999999/").status_code == 404
    # The same shopper on another merchant's pages does not find it either.
    assert phone.get(f"/m/c/{world_b.merchant.code}/receipts/{order.number}/").status_code == 404
    assert not Appeal.objects.exists()


def test_the_orders_page_lists_owed_first_then_past_orders(
    store: Store, django_capture_on_commit_callbacks
) -> None:
    phone, order = _bought(store, django_capture_on_commit_callbacks, [("s1-1", -COLA_G)])
    debt = store.shop.owe(order.consumer, 250)
    page = phone.get(f"/m/c/{store.device.merchant.code}/orders/").content.decode()
    assert page.index(f'data-testid="owed-{debt.pk}"') < page.index(f'data-testid="order-{order.number}"')
    assert f'href="{receipt_url(order)}"' in page and "¥3.50" in page


def test_appeal_from_the_receipt(store: Store, django_capture_on_commit_callbacks) -> None:
    phone, order = _bought(
        store, django_capture_on_commit_callbacks, [("s1-1", -2 * COLA_G), ("s2-1", -52.0)]
    )
    form = phone.get(f"{receipt_url(order)}appeal/")
    assert form.status_code == 200 and "charged for goods I did not take" in form.content.decode()
    # Bad input: no reason, a negative count. Nothing is written.
    bad = phone.post(f"{receipt_url(order)}appeal/", {"message": "x", f"took_{store.cola.pk}": "-1"})
    assert bad.status_code == 400 and not Appeal.objects.exists()

    sent = phone.post(
        f"{receipt_url(order)}appeal/",
        {"reason": "not_taken", "message": "只拿了一瓶", f"took_{store.cola.pk}": "1"},
    )
    assert sent.status_code == 302 and sent.url == receipt_url(order)
    appeal = Appeal.objects.get()
    assert (appeal.order_id, appeal.consumer_id, appeal.reason, appeal.message, appeal.state) == (
        order.pk,
        order.consumer_id,
        "not_taken",
        "只拿了一瓶",
        AppealState.OPEN,
    )
    # Every line in full: the chips line kept the receipt's units.
    assert appeal.claimed_lines == {str(store.cola.pk): 1, str(store.chips.pk): 1}
    page = phone.get(receipt_url(order)).content.decode()
    assert 'data-testid="appeal" data-state="open"' in page and "waiting for customer service" in page
    assert 'data-testid="appeal-link"' not in page
    again = phone.post(f"{receipt_url(order)}appeal/", {"reason": "other"})
    assert again.status_code == 409 and "already has an appeal waiting" in again.content.decode()
    assert Appeal.objects.count() == 1

    # Customer service upholds it: a correction refunds one cola through the wallet.
    with django_capture_on_commit_callbacks(execute=True):
        appeal_uphold(actor=store.shop.world.user("operations"), appeal=appeal, answer="已退一瓶可乐")
    page = phone.get(receipt_url(order)).content.decode()
    assert 'data-testid="appeal" data-state="upheld"' in page and "已退一瓶可乐" in page
    assert f'data-testid="refund" data-state="{RefundState.SUCCEEDED}"' in page
    assert '<strong data-testid="refunded">¥3.50</strong>' in page


def test_a_rejected_appeal_shows_the_answer(store: Store, django_capture_on_commit_callbacks) -> None:
    phone, order = _bought(store, django_capture_on_commit_callbacks, [("s1-1", -COLA_G)])
    phone.post(f"{receipt_url(order)}appeal/", {"reason": "wrong_price", "message": ""})
    appeal = Appeal.objects.get()
    assert (appeal.reason, appeal.message, appeal.claimed_lines) == ("wrong_price", "", {})
    appeal_reject(actor=store.shop.world.user("operations"), appeal=appeal, answer="价格以柜上标签为准")
    page = phone.get(receipt_url(order)).content.decode()
    assert 'data-testid="appeal" data-state="rejected"' in page and "价格以柜上标签为准" in page
    assert 'data-testid="refund"' not in page and 'data-testid="appeal-link"' in page
