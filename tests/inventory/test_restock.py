"""Free replenishment (自由补货): start → door-open command → door and weight events through the
gateway → close → counts → REPLENISHMENT movements; busy devices, expiry, photos, permissions."""

from __future__ import annotations

from datetime import timedelta
from io import BytesIO

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from PIL import Image

from openvend.audit.models import AuditLogEntry
from openvend.core.errors import ConflictError, OpenVendError
from openvend.devices.models import Command, DeviceState
from openvend.gateway import protocol
from openvend.gateway.ingest import DeviceDirectory, Received, ingest_batch
from openvend.inventory import restock_services as restock
from openvend.inventory.choices import MovementKind
from openvend.inventory.models import ReplenishmentOrder, RestockSession, StockMovement
from openvend.inventory.replenishment_selectors import restock_in_progress
from openvend.inventory.selectors import on_hand
from tests.devices.factories import activated_device
from tests.inventory.replenishment_factories import camera_less_kind, planogram, product, stock, track


class Feed:
    def __init__(self, code: str) -> None:
        self.code, self.seq, self.directory = code, 0, DeviceDirectory()

    def send(self, *events: dict) -> None:
        items = []
        for body in events:
            self.seq += 1
            topic, payload = protocol.encode_up(self.code, "event", seq=self.seq, body=body)
            items.append(Received(topic, payload, timezone.now()))
        result = ingest_batch(items, self.directory)
        assert result.dead == 0, result


@pytest.fixture
def cabinet(world_a):
    """Cola bridges sensors s1-1 and s1-2 (500 g a unit); water sits on s2-1 (330 g); tea shares
    s2-2 with crisps, so their weight cannot be told apart; juice is on track 1."""
    device, _secret = activated_device(world_a, "RS-CAB1")
    cola = product(world_a, "COLA", weight_g="500.00")
    water = product(world_a, "WATER", weight_g="330.00")
    tea, crisps = product(world_a, "TEA", weight_g="250.00"), product(world_a, "CRISPS", weight_g="80.00")
    juice = product(world_a, "JUICE")
    planogram(
        device,
        [
            (cola, ["s1-1", "s1-2"], 20, 12),
            (water, ["s2-1"], 10, 8),
            (tea, ["s2-2"], 6, 4),
            (crisps, ["s2-2"], 6, 4),
        ],
    )
    track(device, 1, juice, capacity=6, par=5)
    stock(device, cola, 2)
    return world_a, device, cola, water, juice


def test_free_replenishment_end_to_end(cabinet) -> None:
    world, device, cola, water, juice = cabinet
    replenisher = world.user("replenisher")
    session = restock.restock_start(actor=replenisher, device=device)
    assert session.state == "opening" and session.replenisher_id == replenisher.pk
    command = Command.objects.get(device=device)
    assert (command.kind, command.params, command.created_by_id) == (
        "open_door",
        {"door": 1, "mode": "restock"},
        replenisher.pk,
    )
    assert session.command_id == command.pk
    assert restock_in_progress(device) is True

    # A second start on the same device, by anyone, is refused: device busy.
    with pytest.raises(ConflictError) as exc:
        restock.restock_start(actor=world.user("operations"), device=device)
    assert exc.value.code == "inventory.device_busy"
    assert RestockSession.objects.count() == 1 and Command.objects.count() == 1
    # …and the database itself holds the line.
    with pytest.raises(IntegrityError), transaction.atomic():
        RestockSession.objects.create(merchant=world.merchant, device=device, replenisher=replenisher)

    feed = Feed(device.code)
    sid = str(command.pk)
    feed.send({"kind": "door_opened", "session": sid, "detail": {"door": 1}})
    session.refresh_from_db()
    assert session.state == "open" and session.opened_at is not None
    feed.send(
        {
            "kind": "weight_change",
            "session": sid,
            "detail": {"sensor": "s1-1", "delta_g": 1000.0, "weight_g": 1.0},
        },
        {
            "kind": "weight_change",
            "session": sid,
            "detail": {"sensor": "s1-2", "delta_g": 520.0, "weight_g": 1.0},
        },
        {
            "kind": "weight_change",
            "session": sid,
            "detail": {"sensor": "s2-1", "delta_g": 1000.0, "weight_g": 1.0},
        },
        {
            "kind": "weight_change",
            "session": sid,
            "detail": {"sensor": "s2-1", "delta_g": 650.0, "weight_g": 1.0},
        },
        {
            "kind": "weight_change",
            "session": sid,
            "detail": {"sensor": "s2-2", "delta_g": 330.0, "weight_g": 1.0},
        },
        # Another session's event (a shopper elsewhere) does not touch this one.
        {"kind": "weight_change", "session": "other", "detail": {"sensor": "s1-1", "delta_g": -500.0}},
    )
    session.refresh_from_db()
    assert session.sensor_deltas_g == {"s1-1": 1000.0, "s1-2": 520.0, "s2-1": 1650.0, "s2-2": 330.0}
    feed.send({"kind": "door_closed", "session": sid, "detail": {"door": 1, "open_s": 95}})
    session.refresh_from_db()
    assert session.state == "closed" and session.closed_at is not None
    lines = {(line.product.sku, line.lane): line for line in session.lines.select_related("product")}
    # cola 1520 g / 500 g = 3.04 → 3 (bridged sensors summed); water 1650 / 330 = 5; tea and
    # crisps share s2-2 → unknown; juice sits on a track → no sensor.
    assert {k: line.sensor_quantity for k, line in lines.items()} == {
        ("COLA", 0): 3,
        ("WATER", 0): 5,
        ("TEA", 0): None,
        ("CRISPS", 0): None,
        ("JUICE", 1): None,
    }
    # Weight events after the door closed change nothing.
    feed.send({"kind": "weight_change", "session": sid, "detail": {"sensor": "s1-1", "delta_g": 500.0}})
    session.refresh_from_db()
    assert session.sensor_deltas_g["s1-1"] == 1000.0

    restock.restock_count(actor=replenisher, session=session, product=cola, counted=3)
    restock.restock_count(actor=replenisher, session=session, product=water, counted=4)
    restock.restock_count(actor=replenisher, session=session, product=juice, lane=1, counted=5)
    with pytest.raises(OpenVendError) as exc:
        restock.restock_count(actor=replenisher, session=session, product=juice, lane=7, counted=1)
    assert exc.value.code == "inventory.bad_lane"
    with pytest.raises(OpenVendError) as exc:
        restock.restock_count(actor=replenisher, session=session, product=cola, counted=-1)
    assert exc.value.code == "inventory.bad_quantity"

    result = restock.restock_complete(actor=replenisher, session=session)
    session.refresh_from_db()
    assert session.state == "completed" and session.completed_at is not None
    assert session.has_discrepancy is True
    assert [(m.product.sku, m.lane, m.quantity, m.kind) for m in result.movements] == [
        ("COLA", 0, 3, "replenishment"),
        ("WATER", 0, 4, "replenishment"),
        ("JUICE", 1, 5, "replenishment"),
    ]
    lines = {(line.product.sku, line.lane): line for line in session.lines.select_related("product")}
    assert {k: (line.posted_quantity, line.discrepancy) for k, line in lines.items()} == {
        ("COLA", 0): (3, False),
        ("WATER", 0): (4, True),  # counted 4, sensors 5
        ("TEA", 0): (None, False),
        ("CRISPS", 0): (None, False),
        ("JUICE", 1): (5, False),
    }
    assert on_hand(device=device, product=cola) == 5
    assert on_hand(device=device, product=water) == 4
    assert on_hand(device=device, product=juice, lane=1) == 5
    assert restock_in_progress(device) is False
    # Nobody was charged: no sale, no order of any kind came out of the visit.
    assert not StockMovement.objects.filter(kind=MovementKind.SALE).exists()
    assert ReplenishmentOrder.objects.count() == 0
    entry = AuditLogEntry.objects.filter(object_type="inventory.restocksession").latest("id")
    assert (entry.before["state"], entry.after["state"]) == ("closed", "completed")

    # Completing again changes nothing.
    count = StockMovement.objects.count()
    again = restock.restock_complete(actor=replenisher, session=session)
    assert again.already_completed and [m.pk for m in again.movements] == [m.pk for m in result.movements]
    assert StockMovement.objects.count() == count
    # The device is free again.
    assert restock.restock_start(actor=replenisher, device=device).state == "opening"


def test_sensor_quantity_is_posted_when_nobody_counts(cabinet) -> None:
    world, device, cola, _water, _juice = cabinet
    replenisher = world.user("replenisher")
    session = restock.restock_start(actor=replenisher, device=device)
    Feed(device.code).send(
        {
            "kind": "weight_change",
            "session": str(session.command_id),
            "detail": {"sensor": "s2-1", "delta_g": 990.0},
        }
    )
    # No door event reached us: the replenisher says the door is closed. The device disagrees first.
    DeviceState.objects.filter(device=device).update(door="open")
    with pytest.raises(ConflictError) as exc:
        restock.restock_door_closed(actor=replenisher, session=session)
    assert exc.value.code == "inventory.door_still_open"
    with pytest.raises(ConflictError):
        restock.restock_complete(actor=replenisher, session=session)
    session.refresh_from_db()
    assert session.state == "opening"
    DeviceState.objects.filter(device=device).update(door="closed")
    session = restock.restock_door_closed(actor=replenisher, session=session)
    assert session.state == "closed"
    result = restock.restock_complete(actor=replenisher, session=session)
    assert [(m.product.sku, m.quantity) for m in result.movements] == [("WATER", 3)]  # 990 / 330
    assert result.session.has_discrepancy is False
    assert on_hand(device=device, product=cola) == 2


def test_cabinet_without_planogram_leaves_sensor_quantities_empty(world_a) -> None:
    device, _secret = activated_device(world_a, "RS-BARE")
    cola = product(world_a, "COLA")
    replenisher = world_a.user("replenisher")
    session = restock.restock_start(actor=replenisher, device=device)
    restock.restock_door_event(
        device=device,
        session_key=str(session.command_id),
        kind="weight_change",
        detail={"sensor": "s1-1", "delta_g": 1000.0},
        at=timezone.now(),
    )
    session = restock.restock_door_closed(actor=replenisher, session=session)
    assert session.lines.count() == 0
    result = restock.restock_complete(actor=replenisher, session=session, counts=[(cola, 0, 2)])
    assert [(m.product.sku, m.quantity) for m in result.movements] == [("COLA", 2)]
    line = session.lines.get()
    assert (line.counted_quantity, line.sensor_quantity, line.posted_quantity, line.discrepancy) == (
        2,
        None,
        2,
        False,
    )


def test_restock_against_an_order_settles_it_without_posting_twice(cabinet) -> None:
    from openvend.inventory import replenishment_services as orders

    world, device, cola, _water, juice = cabinet
    replenisher = world.user("replenisher")
    [order] = orders.replenishment_orders_from_suggestions(
        actor=world.user("operations"), devices=[device], assignee=replenisher
    )
    planned = {(line.product.sku, line.lane): line.quantity for line in order.lines.select_related("product")}
    assert planned[("COLA", 0)] == 10 and planned[("JUICE", 1)] == 5
    session = restock.restock_start(actor=replenisher, device=device, order=order)
    session = restock.restock_door_closed(actor=replenisher, session=session)
    restock.restock_complete(actor=replenisher, session=session, counts=[(cola, 0, 10), (juice, 1, 4)])
    order.refresh_from_db()
    assert order.state == "completed"
    placed = {
        (line.product.sku, line.lane): line.placed_quantity for line in order.lines.select_related("product")
    }
    assert placed[("COLA", 0)] == 10 and placed[("JUICE", 1)] == 4
    assert StockMovement.objects.filter(kind=MovementKind.REPLENISHMENT).count() == 3  # fixture + 2
    assert on_hand(device=device, product=cola) == 12


def test_cancel_and_expiry(cabinet, world_b) -> None:
    world, device, *_ = cabinet
    other, _secret = activated_device(world, "RS-CAB2")
    replenisher = world.user("replenisher")
    stale = restock.restock_start(actor=replenisher, device=device)
    fresh = restock.restock_start(actor=replenisher, device=other)
    now = timezone.now()
    RestockSession.objects.filter(pk=stale.pk).update(created_at=now - timedelta(minutes=31))
    RestockSession.objects.filter(pk=fresh.pk).update(created_at=now - timedelta(minutes=29))
    assert restock.restock_sessions_expire(now) == 1
    stale.refresh_from_db()
    fresh.refresh_from_db()
    assert (stale.state, fresh.state) == ("cancelled", "opening")
    assert restock_in_progress(device) is False and restock_in_progress(other) is True
    entry = AuditLogEntry.objects.filter(object_id=str(stale.pk), action="update").latest("id")
    assert (entry.after["state"], entry.message, entry.actor_id) == ("cancelled", "expired", None)
    assert restock.restock_sessions_expire(now) == 0
    assert restock.restock_sessions_expire(now + timedelta(minutes=2)) == 1
    # Cancelling by hand posts nothing; a cancelled session cannot be cancelled or completed.
    session = restock.restock_start(actor=replenisher, device=device)
    restock.restock_cancel(actor=replenisher, session=session)
    for step in (restock.restock_cancel, restock.restock_complete):
        with pytest.raises(ConflictError):
            step(actor=replenisher, session=session)
    assert StockMovement.objects.filter(kind=MovementKind.REPLENISHMENT).count() == 1


def test_who_may_start(cabinet, world_b) -> None:
    world, device, *_ = cabinet
    with pytest.raises(PermissionDenied):
        restock.restock_start(actor=world.user("customer_service"), device=device)  # may open, not restock
    with pytest.raises(PermissionDenied):
        restock.restock_start(actor=world.user("finance"), device=device)
    with pytest.raises(OpenVendError) as exc:
        restock.restock_start(actor=world_b.user("replenisher"), device=device)
    assert exc.value.code == "core.not_found"
    far, _secret = activated_device(world, "RS-FAR", site="sz-1")  # outside the Shanghai scope
    with pytest.raises(OpenVendError):
        restock.restock_start(actor=world.user("replenisher"), device=far)
    assert RestockSession.objects.count() == 0 and Command.objects.count() == 0
    assert restock.may_restock(world.user("replenisher"), device) is True
    assert restock.may_restock(world.user("replenisher"), far) is False
    assert restock.may_restock(world.user("customer_service"), device) is False


def _png() -> SimpleUploadedFile:
    buffer = BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, format="PNG")
    return SimpleUploadedFile("shelf.png", buffer.getvalue(), content_type="image/png")


def test_photo_for_vision_cabinets_only(cabinet) -> None:
    from openvend.devices import services as devices

    world, device, *_ = cabinet
    replenisher = world.user("replenisher")
    session = restock.restock_start(actor=replenisher, device=device)
    with pytest.raises(OpenVendError) as exc:
        restock.restock_photo_upload(
            actor=replenisher, session=session, photo=SimpleUploadedFile("x.png", b"not an image")
        )
    assert exc.value.code == "inventory.bad_photo"
    session.refresh_from_db()
    assert not session.photo
    session = restock.restock_photo_upload(actor=replenisher, session=session, photo=_png())
    assert session.photo.name.startswith("restock/restock-") and session.photo.name.endswith(".png")

    devices.device_register(actor=None, code="RS-NOCAM", kind=camera_less_kind())
    plain, _secret = devices.device_activate(
        actor=None, merchant=world.merchant, code="RS-NOCAM", site=world.sites["sh-1"]
    )
    other = restock.restock_start(actor=replenisher, device=plain)
    with pytest.raises(OpenVendError) as exc:
        restock.restock_photo_upload(actor=replenisher, session=other, photo=_png())
    assert exc.value.code == "inventory.no_camera"
