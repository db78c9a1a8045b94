"""Two shoppers tap "Open the door" on the same cabinet at the same moment, one connection each: one
gets the visit page, the other the busy page. Only PostgreSQL races (the second pass)."""

from __future__ import annotations

import pytest
from django.db import connection

from openvend.devices.models import Command
from openvend.shopping.models import ShoppingSession
from tests.concurrency import race
from tests.mobile.h5 import scan_url, signed_in, visit_url
from tests.shopping.conftest import WALLET, shop_in
from tests.world import build_world

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="Row locks and unique inserts only race on PostgreSQL; SQLite serialises every writer.",
    ),
]


def test_of_two_concurrent_scans_one_opens_and_the_other_is_told_busy() -> None:
    shop = shop_in(build_world("h5race", "竞速商户"), "H5-RACE1")
    phones = [signed_in(shop.shopper(name)) for name in ("甲", "乙")]
    url = f"{scan_url(shop.device)}open/"
    responses = race([lambda phone=phone: phone.post(url, {"method": WALLET}) for phone in phones])
    assert sorted(response.status_code for response in responses) == [302, 409], responses
    session = ShoppingSession.objects.get(device=shop.device)
    [opened] = [r for r in responses if r.status_code == 302]
    [busy] = [r for r in responses if r.status_code == 409]
    assert opened.url == visit_url(session)
    assert "Someone else is using this cabinet" in busy.content.decode()
    assert Command.objects.filter(device=shop.device, kind="open_door").count() == 1
