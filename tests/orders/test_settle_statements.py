"""How many SQL statements settling one visit takes, pinned: recognition reads the on-hand counts of
every planogram position in one query, the order is written once with its total and its payment,
session moves take no savepoint of their own, and the charge follows after commit. A change that
adds a query per slot, per line or per step fails here first (raise a bound only on purpose)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from openvend.inventory.models import PlanogramSlot
from openvend.orders.choices import OrderState
from openvend.orders.models import Order
from openvend.orders.services import settle_session_id
from openvend.shopping.choices import SessionState as S
from tests.orders.conftest import CHIPS_G, COLA_G, Store

pytestmark = pytest.mark.django_db

# Measured on PostgreSQL and SQLite alike (in a test the outer transaction is a savepoint: the same
# count as BEGIN and COMMIT). The decision: session, the count of the visit's stored device messages
# (its evidence is complete), order check, recognition (alarms, planogram, slots, on-hand, sellable),
# the locked session, the prices (one query for every line), order, lines, the sale postings (one
# step for every line: key check, lock, insert, update), the settling move (the locked row is not
# read again), the payment. After commit: the charge sent (the payment locked once), the wallet
# debit (the account locked once), and the paid payment, order and session, without a savepoint
# for each move.
DECISION_STATEMENTS = 35
AFTER_COMMIT_STATEMENTS = 27


def _count(queries: CaptureQueriesContext, prefix: str) -> int:
    return sum(q["sql"].startswith(prefix) for q in queries.captured_queries)


def _listing(queries: CaptureQueriesContext) -> str:
    return "\n".join(q["sql"][:120] for q in queries.captured_queries)


def test_settling_a_two_product_visit_takes_a_known_number_of_statements(
    store: Store, django_capture_on_commit_callbacks: Any
) -> None:
    # More positions than products taken: the on-hand read must not grow with them.
    plan = store.device.planograms.get()
    for n, sensor in enumerate(("s1-2", "s2-2"), start=3):
        PlanogramSlot.objects.create(
            planogram=plan, shelf=n - 2, sensors=[sensor], product=store.cola, capacity=10, par_level=10
        )
    session = store.start(store.shopper(balance_fen=2000))
    store.visit(session, [("s1-1", -COLA_G * 2), ("s2-1", -CHIPS_G)])  # nothing runs after this commit
    session.refresh_from_db()
    assert session.state == S.RECOGNISING

    with (
        CaptureQueriesContext(connection) as decision,
        django_capture_on_commit_callbacks(execute=False) as after_commit,
    ):
        settle_session_id(session.pk)
    with CaptureQueriesContext(connection) as charge:
        for callback in after_commit:
            callback()

    order = Order.objects.get(session=session)
    assert (order.state, order.total_fen, order.paid_fen) == (OrderState.PAID, 1300, 1300)
    assert _count(decision, 'SELECT "inventory_stocklevel"."product_id"') == 1, _listing(decision)
    assert _count(decision, 'SELECT COUNT(*) AS "__count" FROM "devices_devicemessage"') == 1
    assert _count(decision, 'INSERT INTO "orders_order"') == 1
    assert _count(decision, 'UPDATE "orders_order"') == 0, "the order is written once"
    assert _count(decision, 'INSERT INTO "inventory_stockmovement"') == 1, "both sale lines in one insert"
    assert _count(decision, 'SELECT "catalog_pricerule"') == 1, "both lines priced together"
    assert len(decision) <= DECISION_STATEMENTS, _listing(decision)
    assert len(charge) <= AFTER_COMMIT_STATEMENTS, _listing(charge)
