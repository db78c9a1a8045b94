"""REST contract and actions for replenishment orders, suggestions, pick lists and restock sessions."""

from __future__ import annotations

from io import BytesIO

import pytest
from django.utils import timezone, translation
from openpyxl import load_workbook

from openvend.audit.models import AuditLogEntry
from openvend.devices.models import Command, DeviceState
from openvend.inventory.models import ReplenishmentLine, ReplenishmentOrder, RestockSession, StockMovement
from openvend.inventory.selectors import on_hand
from tests.api.contract import ReadContract
from tests.conftest import client_for
from tests.devices.factories import activated_device
from tests.inventory.replenishment_factories import planogram, product, stock, track
from tests.world import World

VIEW_CHANGE = {"view", "change"}
RESTOCKERS = {"view", "add", "change"}


class TestReplenishmentOrders(ReadContract):
    url = "/api/v1/replenishment-orders/"
    model = ReplenishmentOrder
    expected = {
        "merchant_admin": {"view", "add", "change", "delete"},
        "operations": {"view", "add", "change", "delete"},
        "replenisher": VIEW_CHANGE,
        "store_manager": VIEW_CHANGE,
    }

    def make(self, world: World) -> ReplenishmentOrder:
        device, _secret = activated_device(world, f"RO-{self.unique()}")
        return ReplenishmentOrder.objects.create(
            merchant=world.merchant, device=device, number=f"RP-{self.unique()}"
        )


class TestRestockSessions(ReadContract):
    url = "/api/v1/restock-sessions/"
    model = RestockSession
    expected = {
        "merchant_admin": RESTOCKERS,
        "operations": RESTOCKERS,
        "replenisher": RESTOCKERS,
        "store_manager": RESTOCKERS,
    }

    def make(self, world: World) -> RestockSession:
        device, _secret = activated_device(world, f"RS-{self.unique()}")
        return RestockSession.objects.create(
            merchant=world.merchant, device=device, replenisher=world.users["replenisher"]
        )


@pytest.fixture
def shop(world_a):
    device, _secret = activated_device(world_a, "API-CAB1")
    cola, juice = product(world_a, "COLA"), product(world_a, "JUICE")
    planogram(device, [(cola, ["s1-1"], 10, 8)])
    track(device, 1, juice, capacity=6, par=5)
    stock(device, cola, 3)
    return world_a, device, cola, juice


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("replenisher", 200),
        ("operations", 200),
        ("store_manager", 200),
        ("finance", 403),
        ("customer_service", 403),
    ],
)
def test_suggestions_endpoint(shop, role, status) -> None:
    world, device, *_ = shop
    response = client_for(world.user(role)).get("/api/v1/replenishment-suggestions/", {"device": device.pk})
    assert response.status_code == status, response.content
    if status == 200:
        assert [
            (r["product_sku"], r["lane"], r["par"], r["on_hand"], r["suggested"]) for r in response.json()
        ] == [
            ("COLA", 0, 8, 3, 5),
            ("JUICE", 1, 5, 0, 5),
        ]


def test_suggestions_for_a_device_out_of_reach_is_404(shop, world_b) -> None:
    _world, device, *_ = shop
    client = client_for(world_b.user("operations"))
    response = client.get("/api/v1/replenishment-suggestions/", {"device": device.pk})
    assert response.status_code == 404
    assert client.get("/api/v1/replenishment-suggestions/").status_code == 400


def test_order_lifecycle_over_the_api(shop, world_b) -> None:
    world, device, cola, juice = shop
    replenisher = world.user("replenisher")
    forbidden = client_for(replenisher).post(
        "/api/v1/replenishment-orders/from-suggestions/", {"devices": [device.pk]}, format="json"
    )
    assert forbidden.status_code == 403 and ReplenishmentOrder.objects.count() == 0
    ops = client_for(world.user("operations"))
    created = ops.post(
        "/api/v1/replenishment-orders/from-suggestions/",
        {"devices": [device.pk], "assignee": replenisher.pk, "route": "R1"},
        format="json",
    )
    assert created.status_code == 201, created.content
    [order] = created.json()
    today = timezone.localdate().strftime("%Y%m%d")
    assert (order["number"], order["state"], order["assignee"], order["route"]) == (
        f"RP{today}-0001",
        "draft",
        replenisher.pk,
        "R1",
    )
    assert [(line["product_sku"], line["lane"], line["quantity"]) for line in order["lines"]] == [
        ("COLA", 0, 5),
        ("JUICE", 1, 5),
    ]
    # Another merchant's staff cannot be assigned, nor another merchant's device ordered.
    other = ops.post(
        "/api/v1/replenishment-orders/from-suggestions/",
        {"devices": [device.pk], "assignee": world_b.users["replenisher"].pk},
        format="json",
    )
    assert other.status_code == 400 and ReplenishmentOrder.objects.count() == 1

    client = client_for(replenisher)
    base = f"/api/v1/replenishment-orders/{order['id']}/"
    bad = client.post(f"{base}dispatch/")
    assert bad.status_code == 409 and bad.json()["error"]["code"] == "inventory.bad_transition"
    assert client.post(f"{base}start-picking/").json()["state"] == "picking"
    assert client.post(f"{base}dispatch/").json()["state"] == "in_transit"
    assert (
        client_for(world_b.user("replenisher")).post(f"{base}complete/", {}, format="json").status_code == 404
    )
    cola_line = ReplenishmentLine.objects.get(order_id=order["id"], product=cola)
    done = client.post(f"{base}complete/", {"lines": [{"line": cola_line.pk, "placed": 4}]}, format="json")
    assert done.status_code == 200, done.content
    body = done.json()
    assert body["order"]["state"] == "completed" and body["already_completed"] is False
    assert len(body["movements"]) == 2
    assert [(d["product"], d["planned"], d["placed"]) for d in body["discrepancies"]] == [(cola.pk, 5, 4)]
    assert (on_hand(device=device, product=cola), on_hand(device=device, product=juice, lane=1)) == (7, 5)
    again = client.post(f"{base}complete/", {}, format="json")
    assert again.status_code == 200 and again.json()["already_completed"] is True
    assert again.json()["movements"] == body["movements"]
    assert on_hand(device=device, product=cola) == 7
    assert client.post(f"{base}cancel/").status_code == 409
    # Finance may not even look.
    assert client_for(world.user("finance")).get(base).status_code == 403


def test_patch_assigns_a_route(shop) -> None:
    world, device, *_ = shop
    order = ReplenishmentOrder.objects.create(merchant=world.merchant, device=device, number="RP-X-1")
    response = client_for(world.user("replenisher")).patch(
        f"/api/v1/replenishment-orders/{order.pk}/", {"route": "夜班", "note": "后门"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert (response.json()["route"], response.json()["note"]) == ("夜班", "后门")
    entry = AuditLogEntry.objects.filter(object_id=str(order.pk), action="update").latest("id")
    assert (entry.before["route"], entry.after["route"], entry.channel) == ("", "夜班", "api")
    assert (
        client_for(world.user("operations"))
        .post("/api/v1/replenishment-orders/", {}, format="json")
        .status_code
        == 400
    )


def test_pick_list_and_xlsx(shop) -> None:
    world, device, _cola, _juice = shop
    replenisher = world.user("replenisher")
    client_for(world.user("operations")).post(
        "/api/v1/replenishment-orders/from-suggestions/",
        {"devices": [device.pk], "assignee": replenisher.pk, "route": "R1"},
        format="json",
    )
    client = client_for(replenisher)
    mine = client.get("/api/v1/pick-lists/").json()
    assert [
        (d["device_code"], [(line["product_sku"], line["quantity"]) for line in d["lines"]])
        for d in mine["devices"]
    ] == [("API-CAB1", [("COLA", 5), ("JUICE", 5)])]
    assert [(t["product_sku"], t["quantity"]) for t in mine["totals"]] == [("COLA", 5), ("JUICE", 5)]
    assert mine["total_units"] == 10
    assert client.get("/api/v1/pick-lists/", {"route": "R2"}).json()["total_units"] == 0
    assert client.get("/api/v1/pick-lists/", {"assignee": 987654}).status_code == 404
    with translation.override("en"):
        response = client.get("/api/v1/pick-lists/xlsx/", {"route": "R1"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    book = load_workbook(BytesIO(response.content))
    totals = list(book[book.sheetnames[1]].iter_rows(values_only=True))
    assert [(row[0], row[3]) for row in totals[1:]] == [("COLA", 5), ("JUICE", 5), (totals[-1][0], 10)]
    assert client_for(world.user("finance")).get("/api/v1/pick-lists/").status_code == 403


def test_restock_session_flow_over_the_api(shop) -> None:
    world, device, cola, juice = shop
    replenisher = world.user("replenisher")
    client = client_for(replenisher)
    refused = client_for(world.user("customer_service")).post(
        "/api/v1/restock-sessions/start/", {"device": device.pk}, format="json"
    )
    assert refused.status_code == 403 and RestockSession.objects.count() == 0
    started = client.post("/api/v1/restock-sessions/start/", {"device": device.pk}, format="json")
    assert started.status_code == 201, started.content
    session = started.json()
    assert session["state"] == "opening"
    command = Command.objects.get(pk=session["command"])
    assert (command.kind, command.params) == ("open_door", {"door": 1, "mode": "restock"})
    busy = client_for(world.user("operations")).post(
        "/api/v1/restock-sessions/start/", {"device": device.pk}, format="json"
    )
    assert busy.status_code == 409 and busy.json()["error"]["code"] == "inventory.device_busy"

    base = f"/api/v1/restock-sessions/{session['id']}/"
    DeviceState.objects.filter(device=device).update(door="open")
    still_open = client.post(f"{base}close/")
    assert still_open.status_code == 409 and still_open.json()["error"]["code"] == "inventory.door_still_open"
    DeviceState.objects.filter(device=device).update(door="closed")
    closed = client.post(f"{base}close/").json()
    assert closed["state"] == "closed"
    assert sorted((line["product_sku"], line["lane"]) for line in closed["lines"]) == [
        ("COLA", 0),
        ("JUICE", 1),
    ]
    counted = client.post(f"{base}count/", {"product": cola.pk, "counted": 5}, format="json")
    assert counted.status_code == 200 and counted.json()["counted_quantity"] == 5
    bad = client.post(f"{base}count/", {"product": cola.pk, "counted": -2}, format="json")
    assert bad.status_code == 400
    # A cabinet keeps its stock on its shelves (lane 0 only), whatever track rows say: refused whole.
    on_track = client.post(
        f"{base}complete/", {"counts": [{"product": juice.pk, "lane": 1, "counted": 4}]}, format="json"
    )
    assert (on_track.status_code, on_track.json()["error"]["code"]) == (400, "inventory.bad_lane")
    assert client.get(base).json()["state"] == "closed"
    assert not StockMovement.objects.filter(source_type="inventory.restocksession").exists()
    done = client.post(
        f"{base}complete/", {"counts": [{"product": juice.pk, "lane": 0, "counted": 4}]}, format="json"
    )
    assert done.status_code == 200, done.content
    assert done.json()["state"] == "completed"
    assert (on_hand(device=device, product=cola), on_hand(device=device, product=juice)) == (8, 4)
    assert StockMovement.objects.filter(source_type="inventory.restocksession").count() == 2
    assert client.post(f"{base}cancel/").status_code == 409


def test_restock_session_cancel_and_other_merchant(shop, world_b) -> None:
    world, device, *_ = shop
    client = client_for(world.user("replenisher"))
    session = client.post("/api/v1/restock-sessions/start/", {"device": device.pk}, format="json").json()
    base = f"/api/v1/restock-sessions/{session['id']}/"
    assert client_for(world_b.user("replenisher")).post(f"{base}cancel/").status_code == 404
    other_device = client_for(world_b.user("replenisher")).post(
        "/api/v1/restock-sessions/start/", {"device": device.pk}, format="json"
    )
    assert other_device.status_code == 400  # the device reads as not existing
    assert client_for(world.user("finance")).post(f"{base}cancel/").status_code == 403
    assert client.post(f"{base}cancel/").json()["state"] == "cancelled"
