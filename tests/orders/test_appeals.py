"""Customer appeals: who may appeal what and when, uphold with lines or an amount (refunded through
the original route, the WeChat sandbox included), reject with an answer; both feed blacklist rules."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from openvend.audit.models import AuditLogEntry
from openvend.core.errors import OpenVendError
from openvend.orders.appeal_services import appeal_reject, appeal_submit, appeal_uphold
from openvend.orders.choices import (
    AppealState,
    CorrectionKind,
    CorrectionState,
    OrderState,
    Resolution,
    ReviewReason,
)
from openvend.orders.models import Appeal, Order, OrderPolicy
from openvend.orders.staff_services import order_refund
from openvend.payments.choices import PaymentMethod, PaymentState, RefundState
from openvend.payments.models import Payment, Refund
from openvend.payments.selectors import wallet_balance
from openvend.sandbox.wechat import WeChatSandbox
from openvend.shopping.choices import BlacklistRuleKind, BlacklistSource
from openvend.shopping.models import BlacklistEntry, BlacklistRule
from openvend.shopping.preconditions import check_preconditions
from tests.orders.conftest import CHIPS_G, COLA_G, Store, store_in, wait_until
from tests.orders.test_staff_actions import lines_of, owed_order, paid_order, review_order, staff
from tests.payments.wechat.conftest import SHOPPER, agree_permission
from tests.world import World

pytestmark = pytest.mark.django_db


def test_submit_marks_the_order_abnormal_and_keeps_the_claim(
    store: Store, settled: Callable[..., Any]
) -> None:
    order = paid_order(store, settled, colas=2)
    appeal = appeal_submit(
        consumer=order.consumer,
        order=order,
        reason="not_taken",
        message="我只拿了一瓶",
        claimed_lines={store.cola.pk: 1},
    )
    order.refresh_from_db()
    assert (appeal.state, appeal.claimed_lines, appeal.message) == (
        AppealState.OPEN,
        {str(store.cola.pk): 1},
        "我只拿了一瓶",
    )
    assert (order.abnormal_reason, order.is_abnormal) == (ReviewReason.APPEAL, True)
    audit = AuditLogEntry.objects.get(object_type="orders.appeal")
    assert (audit.actor, audit.actor_username, audit.action) == (
        None,
        f"consumer:{order.consumer_id}",
        "create",
    )


def test_who_what_and_when_may_be_appealed(store: Store, settled: Callable[..., Any]) -> None:
    order = paid_order(store, settled)
    stranger = store.shopper(nickname="路人")
    cases = [
        (dict(consumer=stranger, order=order, reason="not_taken"), "orders.not_yours"),
        (dict(consumer=order.consumer, order=order, reason="because"), "orders.bad_appeal"),
        (
            dict(consumer=order.consumer, order=order, reason="other", claimed_lines={1: -1}),
            "orders.bad_lines",
        ),
    ]
    for kwargs, code in cases:
        with pytest.raises(OpenVendError) as refused:
            appeal_submit(**kwargs)  # type: ignore[arg-type]
        assert refused.value.code == code
    OrderPolicy.objects.create(merchant=store.device.merchant, appeal_within_days=3)
    Order.objects.filter(pk=order.pk).update(paid_at=timezone.now() - timedelta(days=3, minutes=1))
    with pytest.raises(OpenVendError) as refused:
        appeal_submit(consumer=order.consumer, order=order, reason="other")
    assert refused.value.code == "orders.appeal_too_late"
    review = review_order(store, settled)
    with pytest.raises(OpenVendError) as refused:
        appeal_submit(consumer=review.consumer, order=review, reason="other")
    assert refused.value.code == "orders.bad_appeal"
    assert not Appeal.objects.exists()
    order.refresh_from_db()
    assert order.abnormal_reason == ""


def test_one_open_appeal_per_order(store: Store, settled: Callable[..., Any]) -> None:
    order = owed_order(store, settled)  # an owed order may be appealed too
    appeal_submit(consumer=order.consumer, order=order, reason="wrong_price")
    with pytest.raises(OpenVendError) as refused:
        appeal_submit(consumer=order.consumer, order=order, reason="wrong_price")
    assert refused.value.code == "orders.appeal_open"
    assert Appeal.objects.count() == 1
    order.refresh_from_db()
    assert order.abnormal_reason == ReviewReason.PAYMENT_FAILED  # it already waited for staff


def test_uphold_with_the_claimed_lines_refunds_the_difference(
    store: Store, settled: Callable[..., Any], world_a: World
) -> None:
    order = paid_order(store, settled, colas=2)
    appeal = appeal_submit(
        consumer=order.consumer, order=order, reason="not_taken", claimed_lines={store.cola.pk: 1}
    )
    actor = staff(world_a)

    correction = settled(lambda: appeal_uphold(actor=actor, appeal=appeal, answer="已核实，退一瓶"))

    appeal.refresh_from_db()
    order.refresh_from_db()
    correction.refresh_from_db()
    assert (appeal.state, appeal.handled_by, appeal.answer) == (AppealState.UPHELD, actor, "已核实，退一瓶")
    assert (correction.kind, correction.appeal, correction.delta_fen, correction.state) == (
        CorrectionKind.APPEAL,
        appeal,
        -350,
        CorrectionState.DONE,
    )
    assert (order.state, order.refunded_fen, order.resolution, order.is_abnormal) == (
        OrderState.PAID,
        350,
        Resolution.CORRECTED,
        False,
    )
    assert lines_of(order) == [("COLA330", 1, 350, 350)]
    assert wallet_balance(store.device.merchant, order.consumer) == 2000 - 350
    audit = AuditLogEntry.objects.filter(object_type="orders.appeal", action="update").get()
    assert (audit.actor, audit.before["state"], audit.after["state"]) == (actor, "open", "upheld")


def test_uphold_with_an_amount_in_full_refunds_the_order(store: Store, settled: Callable[..., Any]) -> None:
    order = paid_order(store, settled, colas=2)
    appeal = appeal_submit(consumer=order.consumer, order=order, reason="charged_twice")
    settled(lambda: appeal_uphold(actor=staff(store.shop.world), appeal=appeal, refund_fen=700))
    order.refresh_from_db()
    assert (order.state, order.paid_fen, order.refunded_fen, order.resolution) == (
        OrderState.REFUNDED,
        700,
        700,
        Resolution.REFUNDED,
    )
    with pytest.raises(OpenVendError) as refused:  # answered already
        appeal_reject(actor=None, appeal=appeal, answer="no")
    assert refused.value.code == "orders.bad_appeal"


def test_uphold_refuses_more_than_was_paid_with_nothing_changed(
    store: Store, settled: Callable[..., Any]
) -> None:
    order = paid_order(store, settled, colas=1)
    appeal = appeal_submit(consumer=order.consumer, order=order, reason="other")
    for kwargs, code in (
        (dict(refund_fen=351), "orders.bad_amount"),
        (dict(lines={store.cola.pk: 2}), "orders.bad_appeal"),
        (dict(), "orders.bad_appeal"),
    ):
        with pytest.raises(OpenVendError) as refused:
            appeal_uphold(actor=None, appeal=appeal, **kwargs)  # type: ignore[arg-type]
        assert refused.value.code == code
    appeal.refresh_from_db()
    assert appeal.state == AppealState.OPEN
    assert not Refund.objects.exists() and Payment.objects.count() == 1


def test_reject_needs_an_answer_and_the_nth_rejection_blacklists(
    store: Store, settled: Callable[..., Any], world_a: World
) -> None:
    BlacklistRule.objects.create(
        merchant=world_a.merchant,
        kind=BlacklistRuleKind.APPEALS_REJECTED,
        threshold=2,
        window_days=7,
        ban_days=30,
    )
    shopper = store.shopper(balance_fen=5000)
    orders = []
    for _n in range(2):
        session = store.start(shopper)
        settled(lambda session=session: store.visit(session, [("s1-1", -COLA_G)]))
        orders.append(Order.objects.get(session=session))
    first = appeal_submit(consumer=shopper, order=orders[0], reason="other")
    with pytest.raises(OpenVendError):
        appeal_reject(actor=None, appeal=first, answer=" ")

    appeal_reject(actor=staff(world_a), appeal=first, answer="视频显示已拿走")
    assert not BlacklistEntry.objects.exists()
    assert check_preconditions(device=store.device, consumer=shopper, method="wallet") == []

    second = appeal_submit(consumer=shopper, order=orders[1], reason="other")
    appeal_reject(actor=staff(world_a), appeal=second, answer="视频显示已拿走")

    entry = BlacklistEntry.objects.get()
    assert (entry.consumer, entry.source, entry.rule.kind) == (
        shopper,
        BlacklistSource.RULE,
        "appeals_rejected",
    )
    assert entry.until is not None and entry.until - timezone.now() > timedelta(days=29, hours=23)
    orders[1].refresh_from_db()
    assert (orders[1].resolution, orders[1].state) == (Resolution.DISMISSED, OrderState.PAID)
    failures = check_preconditions(device=store.device, consumer=shopper, method="wallet")
    assert [f.code for f in failures] == ["shopper_blacklisted"]


# The sandbox's notifications reach the live server while this test writes: on SQLite they take
# turns on the connection they share (tests/shared_sqlite.py).
@pytest.mark.django_db(transaction=True)
def test_appeal_upheld_and_refunded_through_the_wechat_sandbox(
    wechat: WeChatSandbox,
    world_a: World,
) -> None:
    from openvend.payments.services.authorisations import start_authorisation

    store = store_in(world_a, "AP-CAB1")
    shopper = store.shopper()
    authorisation, next_action = start_authorisation(
        merchant=world_a.merchant,
        consumer=shopper,
        method=PaymentMethod.WECHAT_PAYSCORE,
        payer_id=SHOPPER,
        return_url="https://h5.example.com/auth-done",
    )
    assert agree_permission(next_action["confirm_url"]).status_code == 302
    wait_until(lambda: type(authorisation).objects.get(pk=authorisation.pk).state == "active")
    wechat.set_balance(SHOPPER, 2000)
    session = store.start(shopper, method=PaymentMethod.WECHAT_PAYSCORE)
    store.visit(session, [("s1-1", -COLA_G), ("s2-1", -CHIPS_G)])  # 350 + 600
    order = Order.objects.get(session=session)
    assert (order.state, order.paid_fen, wechat.balance(SHOPPER)) == (OrderState.PAID, 950, 1050)

    appeal = appeal_submit(
        consumer=shopper, order=order, reason="not_taken", claimed_lines={store.chips.pk: 1}
    )
    correction = appeal_uphold(actor=staff(world_a), appeal=appeal, answer="退可乐")
    wait_until(lambda: Refund.objects.get(pk=correction.refund_id).state == RefundState.SUCCEEDED)
    wait_until(lambda: Order.objects.get(pk=order.pk).refunded_fen == 350)
    correction.refresh_from_db()
    order.refresh_from_db()
    assert (correction.delta_fen, correction.state) == (-350, CorrectionState.DONE)
    assert (order.state, order.refunded_fen, order.payment.state) == (OrderState.PAID, 350, PaymentState.PAID)

    rest = order_refund(actor=staff(world_a), order=order, amount_fen=600, reason="全退")
    wait_until(lambda: Order.objects.get(pk=order.pk).state == OrderState.REFUNDED)
    order.refresh_from_db()
    rest.refresh_from_db()
    assert (order.paid_fen, order.refunded_fen, rest.state) == (950, 950, CorrectionState.DONE)
    assert [r.amount_fen for r in Refund.objects.filter(payment=order.payment).order_by("sequence")] == [
        350,
        600,
    ]
    wait_until(lambda: wechat.balance(SHOPPER) == 2000)
