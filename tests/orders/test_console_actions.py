"""The staff buttons of the merchant console: each shows a confirmation on GET and acts on POST
through its service (the order's state and money exactly as the service leaves them); a refusal is
a message with nothing changed; the buttons follow the order's state and the role's permissions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.utils import translation
from django.utils.translation import gettext

from openvend.catalog.models import SellableItem
from openvend.orders.appeal_services import appeal_submit
from openvend.orders.choices import (
    AppealState,
    CorrectionKind,
    OrderState,
    Resolution,
)
from openvend.orders.models import Appeal, Correction, Order
from openvend.payments.services.wallet import wallet_recharge
from openvend.shopping.models import BlacklistEntry
from tests.conftest import console_login
from tests.orders.conftest import CHIPS_G, COLA_G, Store
from tests.world import PASSWORD, World

pytestmark = pytest.mark.django_db

ORDERS = "/console/orders/order/"
APPEALS = "/console/orders/appeal/"


def _login(client: Any, world: World, role: str) -> None:
    assert console_login(client, world.users[role].username, PASSWORD)


def _paid(store: Store, settled: Callable[..., Any], colas: int = 2) -> Order:
    session = store.start(store.shopper(balance_fen=2000))
    settled(lambda: store.visit(session, [("s1-1", -COLA_G * colas)]))
    return Order.objects.get(session=session)


def _review(store: Store, settled: Callable[..., Any]) -> Order:
    """Chips are no longer on sale here: recognition is sure, the order waits for staff."""
    SellableItem.objects.filter(product=store.chips).delete()
    session = store.start(store.shopper(balance_fen=2000))
    settled(lambda: store.visit(session, [("s1-1", -COLA_G), ("s2-1", -CHIPS_G)]))
    order = Order.objects.get(session=session)
    assert order.state == OrderState.REVIEW
    return order


def _owed(store: Store, settled: Callable[..., Any]) -> Order:
    session = store.start(store.shopper(balance_fen=100))
    settled(lambda: store.visit(session, [("s1-1", -COLA_G)]))
    order = Order.objects.get(session=session)
    assert order.state == OrderState.PENDING_PAYMENT
    return order


def _messages(response: Any) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def _buttons(client: Any, order: Order) -> set[str]:
    html = client.get(f"{ORDERS}{order.pk}/change/").content.decode()
    names = ("confirm", "adjust", "waive", "charge", "refund", "supplement")
    return {name for name in names if f"{ORDERS}{order.pk}/{name}/" in html}


def test_buttons_follow_state_and_permission(store: Store, settled: Callable[..., Any], client: Any) -> None:
    world = store.shop.world
    review, paid = _review(store, settled), _paid(store, settled)
    _login(client, world, "merchant_admin")
    assert _buttons(client, review) == {"confirm", "adjust", "waive"}
    assert _buttons(client, paid) == {"confirm", "adjust", "refund", "supplement"}
    _login(client, world, "finance")  # refunds, does not resolve
    assert _buttons(client, paid) == {"refund"}
    assert client.post(f"{ORDERS}{review.pk}/waive/", {"reason": "x"}).status_code == 403
    _login(client, world, "operations")  # reads only
    assert _buttons(client, paid) == set()


def test_confirm_sells_and_charges_the_review_order(
    store: Store, settled: Callable[..., Any], client: Any
) -> None:
    order = _review(store, settled)
    _login(client, store.shop.world, "store_manager")
    page = client.get(f"{ORDERS}{order.pk}/confirm/")
    assert page.status_code == 200 and order.number in page.content.decode()
    assert Order.objects.get(pk=order.pk).state == OrderState.REVIEW  # GET only asks
    response = settled(lambda: client.post(f"{ORDERS}{order.pk}/confirm/"))
    assert (response.status_code, response.url) == (302, f"{ORDERS}{order.pk}/change/")
    order.refresh_from_db()
    assert (order.state, order.total_fen, order.paid_fen, order.resolution) == (
        OrderState.PAID,
        950,
        950,
        Resolution.CONFIRMED,
    )
    assert order.resolved_by_id == store.shop.world.users["store_manager"].pk


def test_a_refused_action_is_a_message_and_changes_nothing(
    store: Store, settled: Callable[..., Any], client: Any
) -> None:
    order = _paid(store, settled)  # paid and not abnormal: nothing to confirm
    _login(client, store.shop.world, "merchant_admin")
    response = client.post(f"{ORDERS}{order.pk}/confirm/")
    assert response.status_code == 302
    with translation.override("zh-hans"):
        refused = gettext("This order is not waiting for staff.")
    assert _messages(response) == [refused]
    order.refresh_from_db()
    assert (order.state, order.resolution) == (OrderState.PAID, "")


def test_adjust_sells_the_given_lines(store: Store, settled: Callable[..., Any], client: Any) -> None:
    order = _review(store, settled)
    _login(client, store.shop.world, "merchant_admin")
    url = f"{ORDERS}{order.pk}/adjust/"
    form = client.get(url)
    assert form.status_code == 200
    assert form.context["form"].initial == {} and "可乐 330ml (COLA330)" in form.content.decode()
    missing_reason = client.post(url, {f"product_{store.cola.pk}": 2, f"product_{store.chips.pk}": 0})
    assert missing_reason.status_code == 200 and "reason" in missing_reason.context["form"].errors
    fields = {f"product_{store.cola.pk}": 2, f"product_{store.chips.pk}": 0, "reason": "只拿了两瓶可乐"}
    response = settled(lambda: client.post(url, fields))
    assert response.status_code == 302
    order.refresh_from_db()
    assert [(line.product_id, line.quantity, line.amount_fen) for line in order.lines.all()] == [
        (store.cola.pk, 2, 700)
    ]
    assert (order.state, order.total_fen, order.paid_fen, order.resolution) == (
        OrderState.PAID,
        700,
        700,
        Resolution.ADJUSTED,
    )


def test_waive_needs_a_reason_and_closes_the_order(
    store: Store, settled: Callable[..., Any], client: Any
) -> None:
    order = _owed(store, settled)
    _login(client, store.shop.world, "store_manager")
    url = f"{ORDERS}{order.pk}/waive/"
    assert client.post(url, {"reason": ""}).status_code == 200
    assert Order.objects.get(pk=order.pk).state == OrderState.PENDING_PAYMENT
    assert client.post(url, {"reason": "老顾客"}).status_code == 302
    order.refresh_from_db()
    assert (order.state, order.paid_fen, order.resolution) == (OrderState.CLOSED, 0, Resolution.WAIVED)


def test_charge_again_collects_the_owed_order(store: Store, settled: Callable[..., Any], client: Any) -> None:
    order = _owed(store, settled)
    wallet_recharge(
        merchant_id=order.merchant_id, consumer_id=order.consumer_id, amount_fen=500, idempotency_key="k"
    )
    _login(client, store.shop.world, "merchant_admin")
    assert _buttons(client, order) == {"adjust", "waive", "charge"}
    response = settled(lambda: client.post(f"{ORDERS}{order.pk}/charge/"))
    assert response.status_code == 302
    order.refresh_from_db()
    assert (order.state, order.paid_fen, order.resolution, order.payment.attempt) == (
        OrderState.PAID,
        350,
        Resolution.CHARGED,
        2,
    )


def test_refund_takes_yuan_and_refunds_exact_fen(
    store: Store, settled: Callable[..., Any], client: Any
) -> None:
    order = _paid(store, settled, colas=2)  # ¥7.00
    _login(client, store.shop.world, "customer_service")
    url = f"{ORDERS}{order.pk}/refund/"
    form = client.get(url)
    assert form.status_code == 200 and "¥7.00" in form.content.decode()
    assert "amount" in client.post(url, {"amount": "7.01", "reason": "多扣"}).context["form"].errors
    assert "amount" in client.post(url, {"amount": "1.005", "reason": "多扣"}).context["form"].errors
    response = settled(lambda: client.post(url, {"amount": "3.50", "reason": "多扣"}))
    assert response.status_code == 302
    order.refresh_from_db()
    assert (order.state, order.paid_fen, order.refunded_fen, order.resolution) == (
        OrderState.PAID,
        700,
        350,
        Resolution.REFUNDED,
    )
    correction = Correction.objects.get(order=order)
    assert (correction.delta_fen, correction.reason) == (-350, "多扣")


def test_supplement_raises_a_correction_for_the_difference(
    store: Store, settled: Callable[..., Any], client: Any
) -> None:
    order = _paid(store, settled, colas=1)
    _login(client, store.shop.world, "merchant_admin")
    url = f"{ORDERS}{order.pk}/supplement/"
    fields = {f"product_{store.cola.pk}": 1, f"product_{store.chips.pk}": 1, "reason": "漏算薯片"}
    response = settled(lambda: client.post(url, fields))
    assert response.status_code == 302
    correction = Correction.objects.get(order=order)
    assert (correction.kind, correction.delta_fen) == (CorrectionKind.SUPPLEMENT, 600)
    order.refresh_from_db()
    assert (order.total_fen, order.resolution) == (950, Resolution.CORRECTED)


def test_another_merchants_order_buttons_are_not_found(
    store: Store, settled: Callable[..., Any], world_b: World, client: Any
) -> None:
    order = _review(store, settled)
    _login(client, world_b, "merchant_admin")
    for name in ("confirm", "adjust", "waive", "charge", "refund", "supplement"):
        assert client.get(f"{ORDERS}{order.pk}/{name}/").status_code == 404
        assert client.post(f"{ORDERS}{order.pk}/{name}/", {"reason": "x"}).status_code == 404
    assert Order.objects.get(pk=order.pk).state == OrderState.REVIEW


def _appeal(order: Order, store: Store) -> Appeal:
    return appeal_submit(
        consumer=order.consumer,
        order=order,
        reason="not_taken",
        message="只拿了一瓶",
        claimed_lines={store.cola.pk: 1},
    )


def test_uphold_refunds_the_claimed_difference(
    store: Store, settled: Callable[..., Any], client: Any
) -> None:
    order = _paid(store, settled, colas=2)
    appeal = _appeal(order, store)
    _login(client, store.shop.world, "customer_service")
    form = client.get(f"{APPEALS}{appeal.pk}/uphold/")
    assert form.status_code == 200
    assert form.context["form"].fields[f"product_{store.cola.pk}"].initial == 1  # what the shopper claims
    fields = {f"product_{store.cola.pk}": 1, f"product_{store.chips.pk}": 0, "answer": "已退款", "amount": ""}
    response = settled(lambda: client.post(f"{APPEALS}{appeal.pk}/uphold/", fields))
    assert response.status_code == 302
    appeal.refresh_from_db()
    order.refresh_from_db()
    assert (appeal.state, appeal.answer) == (AppealState.UPHELD, "已退款")
    assert (order.refunded_fen, order.resolution) == (350, Resolution.CORRECTED)
    assert Correction.objects.get(appeal=appeal).delta_fen == -350


def test_uphold_with_an_amount_refunds_it(store: Store, settled: Callable[..., Any], client: Any) -> None:
    order = _paid(store, settled, colas=2)
    appeal = _appeal(order, store)
    _login(client, store.shop.world, "merchant_admin")
    fields = {f"product_{store.cola.pk}": 1, f"product_{store.chips.pk}": 0, "amount": "1.20"}
    settled(lambda: client.post(f"{APPEALS}{appeal.pk}/uphold/", fields))
    order.refresh_from_db()
    assert (order.refunded_fen, order.resolution) == (120, Resolution.REFUNDED)


def test_reject_needs_an_answer(store: Store, settled: Callable[..., Any], client: Any) -> None:
    order = _paid(store, settled)
    appeal = _appeal(order, store)
    _login(client, store.shop.world, "finance")  # sees appeals, may not handle them
    assert f"{APPEALS}{appeal.pk}/reject/" not in client.get(f"{APPEALS}{appeal.pk}/change/").content.decode()
    assert client.post(f"{APPEALS}{appeal.pk}/reject/", {"answer": "x"}).status_code == 403
    _login(client, store.shop.world, "customer_service")
    assert client.post(f"{APPEALS}{appeal.pk}/reject/", {"answer": ""}).status_code == 200
    assert Appeal.objects.get(pk=appeal.pk).state == AppealState.OPEN
    assert client.post(f"{APPEALS}{appeal.pk}/reject/", {"answer": "称重记录显示两瓶"}).status_code == 302
    appeal.refresh_from_db()
    assert (appeal.state, appeal.answer) == (AppealState.REJECTED, "称重记录显示两瓶")
    page = client.get(f"{APPEALS}{appeal.pk}/change/").content.decode()
    assert f"{APPEALS}{appeal.pk}/reject/" not in page  # answered: no more buttons


def test_blacklist_add_by_hand_and_lift(store: Store, settled: Callable[..., Any], client: Any) -> None:
    order = _paid(store, settled)
    world = store.shop.world
    _login(client, world, "store_manager")
    url = "/console/shopping/blacklistentry/"
    added = client.post(f"{url}add/", {"consumer": order.consumer_id, "reason": "多次放入异物"})
    assert added.status_code == 302, added.content
    entry = BlacklistEntry.objects.get()
    assert (entry.merchant_id, entry.consumer_id, entry.active, entry.created_by_id) == (
        world.merchant.pk,
        order.consumer_id,
        True,
        world.users["store_manager"].pk,
    )
    with translation.override("zh-hans"):
        already = gettext("This shopper is already blacklisted.")
        past = gettext("The end of the ban must be in the future.")
    twice = client.post(f"{url}add/", {"consumer": order.consumer_id, "reason": "again"})
    assert (twice.status_code, twice.context["form"].non_field_errors()) == (200, [already])
    ended = client.post(
        f"{url}add/", {"consumer": order.consumer_id, "reason": "x", "until": "2001-01-01 00:00"}
    )
    assert ended.context["form"].non_field_errors() == [past]
    assert BlacklistEntry.objects.count() == 1
    assert client.get(f"{url}{entry.pk}/lift/").status_code == 200
    assert client.post(f"{url}{entry.pk}/lift/").status_code == 302
    entry.refresh_from_db()
    assert entry.active is False
    again = client.post(f"{url}{entry.pk}/lift/")
    with translation.override("zh-hans"):  # the staff's language
        refused = gettext("This blacklist entry has already been lifted.")
    assert _messages(again)[-1] == refused
