"""Shoppers scanning one cabinet at the same moment, one thread and connection each: exactly one
session starts, every other scan is told the device is busy, and nothing else is written."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

from openvend.devices.models import Command
from openvend.orders.models import Order
from openvend.shopping.choices import SessionState as S
from openvend.shopping.errors import DeviceBusy
from openvend.shopping.models import ShoppingEvent, ShoppingSession
from tests.concurrency import race
from tests.faults import ON_POSTGRES
from tests.faults.invariants import StockBaseline, assert_invariants
from tests.orders.conftest import Store

pytestmark = ON_POSTGRES
SCANS = 8


def _scans(store: Store, shoppers: list[Any]) -> Iterator[Callable[[], Any]]:
    for shopper in shoppers:
        yield partial(store.start, shopper)


def _visit_taking_nothing(store: Store, session: ShoppingSession) -> None:
    key = str(session.command_id)
    store.feed.send({"kind": "door_opened", "session": key}, {"kind": "door_closed", "session": key})


def test_of_concurrent_scans_one_session_starts_and_the_others_are_busy(
    store: Store, baseline: StockBaseline
) -> None:
    shoppers = [store.shopper(balance_fen=1000, nickname=f"shopper {n}") for n in range(SCANS)]

    results = race(list(_scans(store, shoppers)))

    started = [r for r in results if isinstance(r, ShoppingSession)]
    assert len(started) == 1, results
    assert all(isinstance(r, DeviceBusy) for r in results if r is not started[0]), results
    session = ShoppingSession.objects.get()
    assert (session.pk, session.state) == (started[0].pk, S.OPENING)
    assert Command.objects.filter(device=store.device, kind="open_door").count() == 1
    assert list(ShoppingEvent.objects.values_list("kind", flat=True)) == ["created", "door_command"]

    # The winner's visit ends with nothing taken (settled at once); then the cabinet is free again.
    _visit_taking_nothing(store, session)
    session.refresh_from_db()
    assert session.state == S.COMPLETED
    second = race([lambda: store.start(shoppers[1]), lambda: store.start(shoppers[2])])
    assert sorted(type(r).__name__ for r in second) == ["DeviceBusy", "ShoppingSession"]
    winner = next(r for r in second if isinstance(r, ShoppingSession))
    _visit_taking_nothing(store, winner)
    assert list(ShoppingSession.objects.values_list("state", flat=True)) == [S.COMPLETED, S.COMPLETED]
    assert Order.objects.filter(total_fen=0, payment__isnull=True).count() == 2
    assert_invariants(baseline)
