"""Unpaid orders: a failed charge marks the order abnormal; the sweep closes (waives) or escalates
orders unpaid past the merchant's limit, once, however often it runs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from openvend.audit.models import AuditLogEntry
from openvend.gateway.sweeps import run_sweeps
from openvend.orders.choices import OrderState, Resolution, ReviewReason, UnpaidAction
from openvend.orders.models import Order, OrderPolicy
from openvend.orders.unpaid import orders_unpaid_sweep
from openvend.payments.choices import PaymentState
from openvend.payments.selectors import unpaid_payments_of
from openvend.shopping.choices import BlacklistRuleKind
from openvend.shopping.models import BlacklistEntry, BlacklistRule, ShoppingEvent
from openvend.shopping.preconditions import check_preconditions
from tests.orders.conftest import Store
from tests.orders.test_staff_actions import owed_order, paid_order

pytestmark = pytest.mark.django_db
LATER = timedelta(hours=72, minutes=1)


def test_a_failed_charge_marks_the_order_abnormal(store: Store, settled: Callable[..., Any]) -> None:
    order = owed_order(store, settled)
    assert (order.abnormal_reason, order.resolution, order.is_abnormal) == (
        ReviewReason.PAYMENT_FAILED,
        "",
        True,
    )
    assert paid_order(store, settled).abnormal_reason == ""


def test_nothing_happens_before_the_limit(store: Store, settled: Callable[..., Any]) -> None:
    order = owed_order(store, settled)
    assert orders_unpaid_sweep(timezone.now() + timedelta(hours=71)) == {
        "unpaid_closed": 0,
        "unpaid_escalated": 0,
    }
    order.refresh_from_db()
    assert (order.state, order.escalated_at) == (OrderState.PENDING_PAYMENT, None)


def test_escalate_keeps_the_debt_once_and_feeds_the_blacklist_rule(
    store: Store, settled: Callable[..., Any]
) -> None:
    BlacklistRule.objects.create(
        merchant=store.device.merchant, kind=BlacklistRuleKind.UNPAID_ORDERS, threshold=1, window_days=30
    )
    order = owed_order(store, settled)
    now = timezone.now() + LATER

    assert orders_unpaid_sweep(now) == {"unpaid_closed": 0, "unpaid_escalated": 1}
    assert orders_unpaid_sweep(now) == {"unpaid_closed": 0, "unpaid_escalated": 0}

    order.refresh_from_db()
    assert (order.state, order.escalated_at, order.abnormal_reason, order.is_abnormal) == (
        OrderState.PENDING_PAYMENT,
        now,
        ReviewReason.UNPAID_ESCALATED,
        True,
    )
    assert list(unpaid_payments_of(order.consumer)) == [order.payment]
    assert ShoppingEvent.objects.filter(session=order.session, kind="order_escalated").count() == 1
    audit = AuditLogEntry.objects.get(object_type="orders.order", message="unpaid past the limit: escalated")
    assert (audit.before["escalated_at"], audit.after["abnormal_reason"]) == (None, "unpaid_escalated")
    entry = BlacklistEntry.objects.get()
    assert (entry.consumer, entry.until) == (order.consumer, None)  # no ban_days: until lifted
    failures = check_preconditions(device=store.device, consumer=order.consumer, method="wallet")
    assert [f.code for f in failures] == ["shopper_blacklisted", "unpaid_order"]


def test_close_waives_the_debt(store: Store, settled: Callable[..., Any]) -> None:
    OrderPolicy.objects.create(
        merchant=store.device.merchant, unpaid_after_h=24, unpaid_action=UnpaidAction.CLOSE
    )
    order = owed_order(store, settled)
    paid = paid_order(store, settled)
    now = timezone.now() + timedelta(hours=24, minutes=1)

    assert orders_unpaid_sweep(now) == {"unpaid_closed": 1, "unpaid_escalated": 0}
    assert orders_unpaid_sweep(now) == {"unpaid_closed": 0, "unpaid_escalated": 0}

    order.refresh_from_db()
    assert (order.state, order.resolution, order.resolved_by, order.escalated_at) == (
        OrderState.CLOSED,
        Resolution.WAIVED,
        None,
        None,
    )
    assert order.payment.state == PaymentState.CLOSED
    assert not unpaid_payments_of(order.consumer).exists()
    assert ShoppingEvent.objects.filter(session=order.session, kind="order_waived").count() == 1
    paid.refresh_from_db()
    assert (paid.state, paid.resolution) == (OrderState.PAID, "")
    assert check_preconditions(device=store.device, consumer=order.consumer, method="wallet") == []


def test_the_gateway_sweep_runs_it(store: Store, settled: Callable[..., Any]) -> None:
    order = owed_order(store, settled)
    result = run_sweeps(timezone.now() + LATER)
    assert (result["unpaid_escalated"], result["unpaid_closed"]) == (1, 0)
    assert Order.objects.get(pk=order.pk).escalated_at is not None
