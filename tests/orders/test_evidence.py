"""A closed visit is weighed only once every device message between its start and its door_closed is
stored (several gateways commit one device's messages out of order), or once the wait after the close
has run out, when the gap is noted on its timeline."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from openvend.orders.choices import OrderState
from openvend.orders.models import Order
from openvend.orders.services import settle_session_id
from openvend.orders.tasks import settle_session_task
from openvend.shopping.choices import SessionState as S
from openvend.shopping.evidence import EvidencePending, evidence_check, missing_messages
from openvend.shopping.models import ShoppingSession
from tests.orders.conftest import COLA_G, Store

pytestmark = pytest.mark.django_db


def _closed_with_a_gap(store: Store, settled: Any) -> ShoppingSession:
    """Door opened (seq 1), seq 2 not stored, door closed (seq 3): nothing settles it yet."""
    session = store.start(store.shopper(balance_fen=2000))
    key = str(session.command_id)
    store.feed.send({"kind": "door_opened", "session": key, "detail": {"door": 1}})
    store.feed.seq = 2
    settled(lambda: store.feed.send({"kind": "door_closed", "session": key, "detail": {"door": 1}}))
    session.refresh_from_db()
    return session


def test_the_visit_knows_its_sequence_numbers_and_counts_what_is_missing(store: Store, settled: Any) -> None:
    session = _closed_with_a_gap(store, settled)
    assert (session.state, session.start_seq, session.closed_seq) == (S.RECOGNISING, 0, 3)
    assert missing_messages(session) == 1
    assert not Order.objects.filter(session=session).exists()


def test_settling_waits_backing_off_then_settles_without_the_message_and_notes_the_gap(
    store: Store, settled: Any
) -> None:
    session = _closed_with_a_gap(store, settled)
    assert session.closed_at is not None
    with pytest.raises(EvidencePending) as soon:
        evidence_check(session, now=session.closed_at)
    assert (soon.value.missing, soon.value.retry_in_s) == (1, 0.05)
    with pytest.raises(EvidencePending) as later:
        evidence_check(session, now=session.closed_at + timedelta(seconds=1))
    assert later.value.retry_in_s == 0.5
    with pytest.raises(EvidencePending) as last:
        evidence_check(session, now=session.closed_at + timedelta(seconds=4.9))
    assert last.value.retry_in_s == 1.0
    assert evidence_check(session, now=session.closed_at + timedelta(seconds=5)) == 1

    with pytest.raises(EvidencePending):
        settle_session_id(session.pk)
    ShoppingSession.objects.filter(pk=session.pk).update(closed_at=timezone.now() - timedelta(seconds=6))
    order = settle_session_id(session.pk)
    assert order is not None and (order.state, order.total_fen) == (OrderState.CLOSED, 0)
    gap = session.events.get(kind="evidence_gap")
    assert gap.detail == {"missing": 1, "after_seq": 0, "before_seq": 3}
    assert settle_session_id(session.pk) == order  # settling again notes nothing more
    assert session.events.filter(kind="evidence_gap").count() == 1


def test_a_weight_change_stored_after_the_close_joins_the_visit_and_settles_it(
    store: Store, settled: Any
) -> None:
    session = _closed_with_a_gap(store, settled)
    key = str(session.command_id)
    store.feed.seq = 1
    change = {"kind": "weight_change", "session": key, "detail": {"sensor": "s1-1", "delta_g": -COLA_G}}
    settled(lambda: store.feed.send(change))
    session.refresh_from_db()
    assert session.sensor_deltas_g == {"s1-1": -COLA_G}
    assert session.state == S.COMPLETED  # the late change settled it (immediate task backend)
    order = Order.objects.get(session=session)
    assert (order.state, order.total_fen, order.paid_fen) == (OrderState.PAID, 350, 350)


def test_a_weight_change_after_the_close_is_not_evidence(store: Store, settled: Any) -> None:
    session = _closed_with_a_gap(store, settled)
    key = str(session.command_id)
    change = {"kind": "weight_change", "session": key, "detail": {"sensor": "s1-1", "delta_g": -COLA_G}}
    store.feed.send(change)
    session.refresh_from_db()
    assert (session.sensor_deltas_g, session.state) == ({}, S.RECOGNISING)


def test_the_task_backend_without_deferral_leaves_a_waiting_visit_to_the_sweeper(
    store: Store, settled: Any
) -> None:
    session = _closed_with_a_gap(store, settled)
    assert settle_session_task.call(session.pk) == "waiting"
    session.refresh_from_db()
    assert session.state == S.RECOGNISING
