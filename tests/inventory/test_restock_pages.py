"""The replenisher's phone pages and the console pages for replenishment, through the real views."""

from __future__ import annotations

from io import BytesIO

import pytest
from django.test import Client
from openpyxl import load_workbook

from openvend.devices.models import Command, DeviceState
from openvend.devices.services import device_qr_token
from openvend.inventory.models import ReplenishmentOrder, RestockSession, StockMovement
from openvend.inventory.selectors import on_hand
from tests.conftest import console_login
from tests.devices.factories import activated_device
from tests.inventory.replenishment_factories import planogram, product, stock, track
from tests.world import PASSWORD


@pytest.fixture
def shop(world_a):
    device, _secret = activated_device(world_a, "PG-CAB1")
    cola, juice = product(world_a, "COLA"), product(world_a, "JUICE")
    planogram(device, [(cola, ["s1-1"], 10, 8)])
    track(device, 1, juice, capacity=6, par=5)
    stock(device, cola, 3)
    return world_a, device, cola, juice


def _phone(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_phone_free_replenishment(shop) -> None:
    world, device, cola, juice = shop
    replenisher = world.user("replenisher")
    phone = _phone(replenisher)
    page = phone.get(f"/m/restock/device/{device.pk}/")
    assert page.status_code == 200 and b'data-testid="start-restock"' in page.content
    assert phone.post(f"/m/restock/device/{device.pk}/", {"action": "start"}).status_code == 302
    session = RestockSession.objects.get(device=device)
    assert Command.objects.get(pk=session.command_id).params == {"door": 1, "mode": "restock"}
    # Someone else sees the device busy and cannot start.
    other = _phone(world.user("operations"))
    busy = other.get(f"/m/restock/device/{device.pk}/").content
    assert b'data-testid="device-busy"' in busy and b'data-testid="start-restock"' not in busy
    other.post(f"/m/restock/device/{device.pk}/", {"action": "start"})
    assert RestockSession.objects.count() == 1

    DeviceState.objects.filter(device=device).update(door="closed")
    phone.post(f"/m/restock/device/{device.pk}/", {"action": "close"})
    session.refresh_from_db()
    assert session.state == "closed"
    page = phone.get(f"/m/restock/device/{device.pk}/")
    assert b'name="counted"' in page.content and b"hx-get" not in page.content  # no polling once closed
    row = phone.post(
        f"/m/restock/device/{device.pk}/count/",
        {"product": cola.pk, "lane": 0, "counted": "5"},
        HTTP_HX_REQUEST="true",
    )
    assert row.status_code == 200 and b'value="5"' in row.content
    bad = phone.post(
        f"/m/restock/device/{device.pk}/count/", {"product": juice.pk, "lane": 1, "counted": "x"}
    )
    assert bad.status_code == 400
    # A cabinet keeps its stock on its shelves (lane 0 only), whatever track rows say.
    refused = phone.post(
        f"/m/restock/device/{device.pk}/count/", {"product": juice.pk, "lane": 1, "counted": "2"}
    )
    assert refused.status_code == 400 and session.lines.get(product=juice, lane=1).counted_quantity is None
    phone.post(f"/m/restock/device/{device.pk}/count/", {"product": juice.pk, "lane": 0, "counted": "2"})
    phone.post(f"/m/restock/device/{device.pk}/", {"action": "complete"})
    session.refresh_from_db()
    assert session.state == "completed"
    assert (on_hand(device=device, product=cola), on_hand(device=device, product=juice)) == (8, 2)
    assert StockMovement.objects.filter(source_type="inventory.restocksession").count() == 2


def test_phone_pages_refuse_who_may_not_restock(shop, world_b) -> None:
    world, device, *_ = shop
    assert _phone(world.user("finance")).get(f"/m/restock/device/{device.pk}/").status_code == 403
    assert _phone(world_b.user("replenisher")).get(f"/m/restock/device/{device.pk}/").status_code == 404
    assert Client().get(f"/m/restock/device/{device.pk}/").status_code == 302  # to the login page
    assert RestockSession.objects.count() == 0


def test_phone_home_lists_my_orders_and_pick_list(shop) -> None:
    from openvend.inventory.replenishment_services import replenishment_orders_from_suggestions

    world, device, *_ = shop
    replenisher = world.user("replenisher")
    [order] = replenishment_orders_from_suggestions(
        actor=world.user("operations"), devices=[device], assignee=replenisher
    )
    page = _phone(replenisher).get("/m/restock/")
    assert page.status_code == 200
    text = page.content.decode()
    assert order.number in text and "× 5" in text and "<strong>10</strong>" in text
    assert "/m/restock/" in _phone(replenisher).get("/m/").content.decode()


def test_scan_page_offers_restock_to_replenishers_only(shop) -> None:
    world, device, *_ = shop
    url = f"/m/scan/{device_qr_token(device)}/"
    assert b'data-testid="restock-link"' in _phone(world.user("replenisher")).get(url).content
    assert b'data-testid="restock-link"' not in _phone(world.user("finance")).get(url).content
    assert b'data-testid="restock-link"' not in Client().get(url).content


def test_console_suggestions_orders_and_pick_list(shop) -> None:
    world, device, cola, _juice = shop
    client = Client()
    assert console_login(client, world.users["operations"].username, PASSWORD)
    base = "/console/inventory/replenishmentorder/"
    page = client.get(f"{base}suggestions/", {"device": device.pk})
    assert page.status_code == 200 and b'data-testid="suggestion-table"' in page.content
    created = client.post(
        f"{base}suggestions/",
        {"device": [device.pk], "assignee": world.users["replenisher"].pk, "route": "R9"},
    )
    assert created.status_code == 302
    order = ReplenishmentOrder.objects.get()
    assert (order.route, order.assignee_id, order.lines.count()) == ("R9", world.users["replenisher"].pk, 2)
    assert client.get(base).status_code == 200
    assert client.get(f"{base}{order.pk}/change/").status_code == 200
    client.get(f"{base}{order.pk}/start-picking/")
    client.get(f"{base}{order.pk}/dispatch/")
    order.refresh_from_db()
    assert order.state == "in_transit"
    line = order.lines.get(product=cola)
    assert client.get(f"{base}{order.pk}/complete/").status_code == 200
    client.post(f"{base}{order.pk}/complete/", {f"placed-{line.pk}": "4"})
    order.refresh_from_db()
    assert order.state == "completed" and order.lines.get(product=cola).placed_quantity == 4
    assert on_hand(device=device, product=cola) == 7

    assert client.get(f"{base}pick-list/").status_code == 200
    ReplenishmentOrder.objects.filter(pk=order.pk).update(state="draft")  # reopen to have something to pick
    xlsx = client.get(f"{base}pick-list/", {"route": "R9"})
    assert xlsx.status_code == 200
    totals = list(load_workbook(BytesIO(xlsx.content)).worksheets[1].iter_rows(values_only=True))
    assert [(row[0], row[3]) for row in totals[1:-1]] == [("COLA", 5), ("JUICE", 5)]

    sessions = client.get("/console/inventory/restocksession/", {"has_discrepancy__exact": "1"})
    assert sessions.status_code == 200


def test_console_replenisher_cannot_create_orders(shop) -> None:
    world, device, *_ = shop
    client = Client()
    assert console_login(client, world.users["replenisher"].username, PASSWORD)
    response = client.post("/console/inventory/replenishmentorder/suggestions/", {"device": [device.pk]})
    assert response.status_code in (302, 403)
    assert ReplenishmentOrder.objects.count() == 0


def test_phone_home_lists_the_devices_i_may_restock_without_scanning(shop, world_b) -> None:
    from tests.devices.factories import activated_device

    world, device, *_ = shop
    far, _secret = activated_device(world, "RP-FAR1", site="sz-1")  # outside the replenisher's scope
    theirs, _secret = activated_device(world_b, "RP-B1")
    page = _phone(world.user("replenisher")).get("/m/restock/").content.decode()
    assert f'href="/m/restock/device/{device.pk}/"' in page
    assert f'href="/m/restock/device/{far.pk}/"' not in page
    assert f'href="/m/restock/device/{theirs.pk}/"' not in page
    finance = _phone(world.user("finance")).get("/m/restock/")
    assert finance.status_code == 403  # no replenishment menu at all
