"""Real races on PostgreSQL, one connection per thread: of eight shoppers scanning the same device at
the same moment exactly one gets it and seven are told it is busy. SQLite serialises every writer, so
this only means something on PostgreSQL (the second pass)."""

from __future__ import annotations

import pytest
from django.db import connection

from openvend.devices.models import Command
from openvend.shopping.errors import DeviceBusy
from openvend.shopping.models import ShoppingEvent, ShoppingSession
from openvend.shopping.services import session_start
from tests.concurrency import race
from tests.shopping.conftest import WALLET, shop_in
from tests.world import build_world

THREADS = 8

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="Row locks and unique inserts only race on PostgreSQL; SQLite serialises every writer.",
    ),
]


def test_concurrent_starts_on_one_device_make_exactly_one_session() -> None:
    shop = shop_in(build_world("race", "竞速商户"), "RACE-CAB1")
    shoppers = [shop.shopper(f"shopper {n}") for n in range(THREADS)]
    results = race(
        [
            lambda consumer=consumer: session_start(consumer=consumer, device=shop.device, method=WALLET)
            for consumer in shoppers
        ]
    )
    winners = [r for r in results if isinstance(r, ShoppingSession)]
    busy = [r for r in results if isinstance(r, DeviceBusy)]
    assert (len(winners), len(busy)) == (1, THREADS - 1), results
    assert ShoppingSession.objects.filter(device=shop.device).count() == 1
    assert Command.objects.filter(device=shop.device, kind="open_door").count() == 1
    assert ShoppingEvent.objects.filter(session=winners[0]).count() == 2
