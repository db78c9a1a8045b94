"""The gateway's settlers: a door closing committed by the ingest is settled on a settler thread, not
in the ingest; a settle held up (here: waiting for a stock row another transaction holds) does not
hold up the ingest of other messages; stopping settles what is queued and hands settling back to the
task queue."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest
from django.db import connection, transaction

from openvend.gateway.settlers import Settlers
from openvend.inventory.models import StockLevel
from openvend.inventory.selectors import on_hand
from openvend.orders.choices import OrderState
from openvend.orders.models import Order
from openvend.shopping.choices import SessionState as S
from openvend.shopping.models import ShoppingSession
from tests.orders.conftest import CHIPS_G, COLA_G, Store, store_in
from tests.world import build_world

pytestmark = pytest.mark.django_db(transaction=True)


def _wait_until(check: Callable[[], bool], timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.02)
    raise AssertionError("the expected change did not happen in time")


def _state(session: ShoppingSession) -> str:
    return str(ShoppingSession.objects.get(pk=session.pk).state)


def _settles_done(settlers: Settlers, count: int) -> Callable[[], bool]:
    """Waiting on the settlers' own counters, not the database: SQLite's shared in-memory test
    database refuses a write while another connection reads the same table."""
    return lambda: settlers.stats["settled"] + settlers.stats["settle_errors"] >= count


def _close(store: Store, session: ShoppingSession, deltas: list[tuple[str, float]]) -> None:
    """The door opens, the goods leave, the door closes: three ingest batches, each committed."""
    key = str(session.command_id)
    store.feed.send({"kind": "door_opened", "session": key, "detail": {"door": 1}})
    store.feed.send(
        *[
            {"kind": "weight_change", "session": key, "detail": {"sensor": sensor, "delta_g": grams}}
            for sensor, grams in deltas
        ]
    )
    store.feed.send({"kind": "door_closed", "session": key, "detail": {"door": 1}})


@pytest.fixture
def store() -> Store:
    return store_in(build_world("settlers", "结算商户"), "SETTLE-CAB1")


@pytest.fixture
def settlers() -> Iterator[Settlers]:
    running = Settlers(2).start()
    yield running
    running.stop()


def test_a_door_closing_is_settled_by_a_settler_once_its_batch_commits(
    store: Store, settlers: Settlers
) -> None:
    shopper = store.shopper(balance_fen=2000)
    session = store.start(shopper)
    _close(store, session, [("s1-1", -COLA_G), ("s2-1", -CHIPS_G)])

    _wait_until(_settles_done(settlers, 1))
    assert settlers.stats["settle_errors"] == 0
    assert _state(session) == S.COMPLETED
    order = Order.objects.get(session=session)
    assert (order.state, order.total_fen, order.paid_fen) == (OrderState.PAID, 950, 950)
    assert (settlers.stats["settles_queued"], settlers.stats["settled"]) == (1, 1)
    assert on_hand(device=store.device, product=store.cola, lane=0) == 9
    assert on_hand(device=store.device, product=store.chips, lane=0) == 9


def test_stopping_settles_what_is_queued_and_hands_settling_back_to_the_task_queue(store: Store) -> None:
    settlers = Settlers(1).start()
    first = store.start(store.shopper(balance_fen=2000, nickname="甲"))
    _close(store, first, [("s1-1", -COLA_G)])
    settlers.stop()
    assert _state(first) == S.COMPLETED
    assert settlers.stats["settled"] == 1

    # Nobody settles in this process any more: the (immediate) task backend does, inside the ingest.
    second = store.start(store.shopper(balance_fen=2000, nickname="乙"))
    _close(store, second, [("s2-1", -CHIPS_G)])
    assert _state(second) == S.COMPLETED
    assert settlers.stats["settles_queued"] == 1
    assert Order.objects.get(session=second).paid_fen == 600


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="Row locks only block on PostgreSQL.")
def test_a_settle_waiting_on_a_lock_does_not_hold_up_the_ingest(store: Store, settlers: Settlers) -> None:
    locked, release = threading.Event(), threading.Event()

    def hold_the_cola_stock_row() -> None:
        from django.db import connection as own

        try:
            with transaction.atomic():
                StockLevel.objects.select_for_update().get(device=store.device, product=store.cola, lane=0)
                locked.set()
                release.wait(30)
        finally:
            own.close()

    holder = threading.Thread(target=hold_the_cola_stock_row)
    holder.start()
    try:
        assert locked.wait(10)
        session = store.start(store.shopper(balance_fen=2000))
        _close(store, session, [("s1-1", -COLA_G)])
        # The settler has taken the session and waits for the stock row; the ingest goes on.
        _wait_until(lambda: settlers.stats["settles_queued"] == 1 and settlers.backlog == 0)
        started = time.monotonic()
        store.feed.send({"kind": "weight_change", "session": "not-a-visit", "detail": {"sensor": "s1-1"}})
        assert time.monotonic() - started < 5
        assert _state(session) == S.RECOGNISING and settlers.stats["settled"] == 0
    finally:
        release.set()
        holder.join(30)

    _wait_until(_settles_done(settlers, 1))
    assert _state(session) == S.COMPLETED
    assert Order.objects.get(session=session).paid_fen == 350
    assert (settlers.stats["settled"], settlers.stats["settle_errors"]) == (1, 0)


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="Threads read while the test writes.")
def test_a_visit_missing_a_message_waits_for_it_and_is_settled_when_it_comes(
    store: Store, settlers: Settlers
) -> None:
    session = store.start(store.shopper(balance_fen=2000))
    key = str(session.command_id)
    store.feed.send({"kind": "door_opened", "session": key, "detail": {"door": 1}})  # seq 1
    store.feed.seq = 2  # seq 2 is in another gateway's batch
    store.feed.send({"kind": "door_closed", "session": key, "detail": {"door": 1}})  # seq 3
    _wait_until(lambda: settlers.stats["settles_waiting"] >= 2)  # looked, and looked again
    assert _state(session) == S.RECOGNISING and settlers.stats["settled"] == 0

    store.feed.seq = 1
    change = {"kind": "weight_change", "session": key, "detail": {"sensor": "s1-1", "delta_g": -COLA_G}}
    store.feed.send(change)
    _wait_until(lambda: _state(session) == S.COMPLETED)
    order = Order.objects.get(session=session)
    assert (order.state, order.total_fen, order.paid_fen) == (OrderState.PAID, 350, 350)
    assert on_hand(device=store.device, product=store.cola, lane=0) == 9
    assert not session.events.filter(kind="evidence_gap").exists()
    assert settlers.stats["settle_errors"] == 0


def test_stopping_leaves_a_visit_still_waiting_for_a_message_to_the_sweeper(store: Store) -> None:
    settlers = Settlers(1).start()
    session = store.start(store.shopper(balance_fen=2000))
    key = str(session.command_id)
    store.feed.seq = 1  # seq 1 never arrives
    store.feed.send({"kind": "door_closed", "session": key, "detail": {"door": 1}})
    _wait_until(lambda: settlers.stats["settles_waiting"] >= 1)
    settlers.stop()
    assert settlers.stats["settled"] == 0
    assert _state(session) == S.RECOGNISING
