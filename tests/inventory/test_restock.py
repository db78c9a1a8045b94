"""Free replenishment (自由补货): start → door-open command → door and weight events through the
gateway → close → counts → REPLENISHMENT movements; busy devices, expiry, photos, permissions."""

from __future__ import annotations

from datetime import timedelta
from io import BytesIO

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction
from django.test import Client
from django.utils import timezone, translation
from PIL import Image

from openvend.accounts import services as accounts
from openvend.audit.models import AuditLogEntry
from openvend.core.errors import ConflictError, OpenVendError
from openvend.devices import services as devices
from openvend.devices.models import Command, Device, DeviceKind, DeviceState
from openvend.gateway import protocol
from openvend.gateway.ingest import DeviceDirectory, Received, ingest_batch
from openvend.inventory import restock_services as restock
from openvend.inventory.choices import MovementKind
from openvend.inventory.models import ReplenishmentOrder, RestockSession, StockMovement
from openvend.inventory.replenishment_selectors import restock_in_progress
from openvend.inventory.restock_rules import may_act_on_restock, may_restock
from openvend.inventory.selectors import on_hand
from tests.conftest import client_for
from tests.devices.factories import activated_device
from tests.inventory.replenishment_factories import camera_less_kind, planogram, product, stock, track
from tests.world import PASSWORD


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
    s2-2 with crisps, so their weight cannot be told apart; juice has no place in the plan (a
    cabinet has no tracks: only vending machines do)."""
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
    # crisps share s2-2 → unknown.
    assert {k: line.sensor_quantity for k, line in lines.items()} == {
        ("COLA", 0): 3,
        ("WATER", 0): 5,
        ("TEA", 0): None,
        ("CRISPS", 0): None,
    }
    # Weight events after the door closed change nothing.
    feed.send({"kind": "weight_change", "session": sid, "detail": {"sensor": "s1-1", "delta_g": 500.0}})
    session.refresh_from_db()
    assert session.sensor_deltas_g["s1-1"] == 1000.0

    restock.restock_count(actor=replenisher, session=session, product=cola, counted=3)
    restock.restock_count(actor=replenisher, session=session, product=water, counted=4)
    for lane in (1, 7):  # a cabinet keeps its stock on its shelves: lane 0 only
        with pytest.raises(OpenVendError) as exc:
            restock.restock_count(actor=replenisher, session=session, product=juice, lane=lane, counted=1)
        assert exc.value.code == "inventory.bad_lane"
    # Juice has no slot, but a cabinet takes any of the merchant's products on its shelves;
    # no sensor group is juice's, so only the count says how many.
    restock.restock_count(actor=replenisher, session=session, product=juice, counted=5)
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
        ("JUICE", 0, 5, "replenishment"),
    ]
    lines = {(line.product.sku, line.lane): line for line in session.lines.select_related("product")}
    assert {k: (line.posted_quantity, line.discrepancy) for k, line in lines.items()} == {
        ("COLA", 0): (3, False),
        ("WATER", 0): (4, True),  # counted 4, sensors 5
        ("TEA", 0): (None, False),
        ("CRISPS", 0): (None, False),
        ("JUICE", 0): (5, False),
    }
    assert on_hand(device=device, product=cola) == 5
    assert on_hand(device=device, product=water) == 4
    assert on_hand(device=device, product=juice) == 5
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

    world, device, cola, water, _juice = cabinet
    replenisher = world.user("replenisher")
    [order] = orders.replenishment_orders_from_suggestions(
        actor=world.user("operations"), devices=[device], assignee=replenisher
    )
    planned = {(line.product.sku, line.lane): line.quantity for line in order.lines.select_related("product")}
    assert planned[("COLA", 0)] == 10 and planned[("WATER", 0)] == 8
    session = restock.restock_start(actor=replenisher, device=device, order=order)
    session = restock.restock_door_closed(actor=replenisher, session=session)
    restock.restock_complete(actor=replenisher, session=session, counts=[(cola, 0, 10), (water, 0, 4)])
    order.refresh_from_db()
    assert order.state == "completed"
    placed = {
        (line.product.sku, line.lane): line.placed_quantity for line in order.lines.select_related("product")
    }
    assert placed[("COLA", 0)] == 10 and placed[("WATER", 0)] == 4
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
    assert may_restock(world.user("replenisher"), device) is True
    assert may_restock(world.user("replenisher"), far) is False
    assert may_restock(world.user("customer_service"), device) is False


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


# --- Units taken out during a visit are removals, never negative replenishments -----------------


def _weigh(session: RestockSession, **deltas: float) -> None:
    for sensor, delta in deltas.items():
        restock.restock_door_event(
            device=session.device,
            session_key=str(session.command_id),
            kind="weight_change",
            detail={"sensor": sensor.replace("_", "-"), "delta_g": delta},
            at=timezone.now(),
        )


def test_units_taken_out_are_posted_as_a_removal(cabinet) -> None:
    world, device, cola, water, _juice = cabinet
    replenisher = world.user("replenisher")
    stock(device, water, 3)
    session = restock.restock_start(actor=replenisher, device=device)
    # Water: −712 g / 330 g = −2.16 → 2 units taken out (expired), nobody counts them.
    # Cola: −1000 g / 500 g = −2 by the sensors, but the replenisher counts 0 put in.
    _weigh(session, s2_1=-712.0, s1_1=-1000.0)
    session = restock.restock_door_closed(actor=replenisher, session=session)
    sensors = {line.product.sku: line.sensor_quantity for line in session.lines.select_related("product")}
    assert (sensors["WATER"], sensors["COLA"]) == (-2, -2)
    before = StockMovement.objects.count()

    with translation.override("zh-hans"):  # the reason is written in the language of the request
        result = restock.restock_complete(actor=replenisher, session=session, counts=[(cola, 0, 0)])

    assert [(m.product.sku, m.lane, m.quantity, m.kind, m.reason) for m in result.movements] == [
        ("WATER", 0, -2, "removal", "补货时取出"),
    ]
    [removal] = result.movements
    assert (removal.balance_after, removal.actor_id) == (1, replenisher.pk)
    assert (removal.source_type, removal.source_id) == ("inventory.restocksession", str(session.pk))
    assert StockMovement.objects.count() == before + 1
    assert not StockMovement.objects.filter(kind=MovementKind.REPLENISHMENT, quantity__lt=0).exists()
    assert (on_hand(device=device, product=water), on_hand(device=device, product=cola)) == (1, 2)
    lines = {line.product.sku: line for line in session.lines.select_related("product")}
    assert (lines["WATER"].posted_quantity, lines["WATER"].discrepancy) == (-2, False)  # sensors only
    assert (lines["COLA"].posted_quantity, lines["COLA"].discrepancy) == (0, True)  # counted 0 ≠ −2
    session.refresh_from_db()
    assert (session.state, session.has_discrepancy) == ("completed", True)
    # Completing again answers with the removal, posts nothing.
    again = restock.restock_complete(actor=replenisher, session=session)
    assert again.already_completed and [m.pk for m in again.movements] == [removal.pk]
    assert StockMovement.objects.count() == before + 1


def test_a_removal_beyond_the_stock_is_refused_and_nothing_is_posted(cabinet) -> None:
    world, device, _cola, water, _juice = cabinet
    replenisher = world.user("replenisher")
    stock(device, water, 1)
    session = restock.restock_start(actor=replenisher, device=device)
    _weigh(session, s2_1=-660.0)  # 2 units out, only 1 on hand
    session = restock.restock_door_closed(actor=replenisher, session=session)
    before = StockMovement.objects.count()
    with pytest.raises(OpenVendError) as exc:
        restock.restock_complete(actor=replenisher, session=session)
    assert exc.value.code == "inventory.would_go_negative"
    assert "商品 WATER" in exc.value.message and "1" in exc.value.message
    session.refresh_from_db()
    assert session.state == "closed" and StockMovement.objects.count() == before
    assert session.lines.get(product=water).posted_quantity is None
    # The replenisher counts what they put in (none): nothing is posted, the difference is flagged.
    result = restock.restock_complete(actor=replenisher, session=session, counts=[(water, 0, 0)])
    assert result.movements == [] and result.session.has_discrepancy is True
    assert on_hand(device=device, product=water) == 1


# --- The clock cancels only sessions whose door may be open, and locks the device ---------------


def test_expiry_cancels_opening_and_open_sessions_locks_them_and_keeps_closed_ones(cabinet) -> None:
    world, opening_device, *_ = cabinet
    replenisher = world.user("replenisher")
    open_device, _s = activated_device(world, "RS-OPEN")
    closed_device, _s = activated_device(world, "RS-SHUT")
    disabled_device, _s = activated_device(world, "RS-OFF")
    opening = restock.restock_start(actor=replenisher, device=opening_device)
    opened = restock.restock_start(actor=replenisher, device=open_device)
    closed = restock.restock_start(actor=replenisher, device=closed_device)
    disabled = restock.restock_start(actor=replenisher, device=disabled_device)
    restock.restock_door_event(
        device=open_device,
        session_key=str(opened.command_id),
        kind="door_opened",
        detail={},
        at=timezone.now(),
    )
    restock.restock_door_closed(actor=replenisher, session=closed)
    restock.restock_count(actor=replenisher, session=closed, product=product(world, "GUM"), counted=4)
    DeviceState.objects.filter(device=open_device).update(online=False)  # offline: the command waits
    Device.objects.filter(pk=disabled_device.pk).update(status="disabled")  # takes no commands at all
    now = timezone.now()
    RestockSession.objects.update(created_at=now - timedelta(hours=2))
    commands_before = set(Command.objects.values_list("pk", flat=True))

    assert restock.restock_sessions_expire(now) == 3

    states = {
        s.device.code: s.state
        for s in RestockSession.objects.filter(pk__in=[opening.pk, opened.pk, closed.pk, disabled.pk])
    }
    assert states == {
        "RS-CAB1": "cancelled",
        "RS-OPEN": "cancelled",
        "RS-SHUT": "closed",
        "RS-OFF": "cancelled",
    }
    locks = Command.objects.exclude(pk__in=commands_before).order_by("device__code")
    assert [(c.device.code, c.kind, c.params, c.status, c.created_by_id) for c in locks] == [
        ("RS-CAB1", "lock", {}, "pending", None),
        ("RS-OPEN", "lock", {}, "pending", None),
    ]
    # The closed session's count is intact and the replenisher can still finish it.
    closed.refresh_from_db()
    assert closed.lines.get(product__sku="GUM").counted_quantity == 4
    assert restock.restock_sessions_expire(now + timedelta(days=1)) == 0
    done = restock.restock_complete(actor=replenisher, session=closed)
    assert [(m.product.sku, m.quantity) for m in done.movements] == [("GUM", 4)]


def test_shoppers_are_refused_only_while_the_restock_door_may_be_open(cabinet) -> None:
    world, device, *_ = cabinet
    replenisher = world.user("replenisher")
    session = restock.restock_start(actor=replenisher, device=device)
    assert restock_in_progress(device) is True  # opening
    restock.restock_door_event(
        device=device, session_key=str(session.command_id), kind="door_opened", detail={}, at=timezone.now()
    )
    assert restock_in_progress(device) is True  # open
    restock.restock_door_event(
        device=device, session_key=str(session.command_id), kind="door_closed", detail={}, at=timezone.now()
    )
    session.refresh_from_db()
    assert session.state == "closed"
    assert restock_in_progress(device) is False  # counting behind a shut door: shoppers may buy
    # …but the session is still live: no second restock on the device.
    with pytest.raises(ConflictError) as exc:
        restock.restock_start(actor=world.user("operations"), device=device)
    assert exc.value.code == "inventory.device_busy"


# --- A restock line's lane must exist on the device ---------------------------------------------


def _vending_machine(world, code: str):
    kind, _created = DeviceKind.objects.get_or_create(
        code="test-vending-4", defaults={"name": "Vending 4", "type": "vending_machine", "tracks": 4}
    )
    devices.device_register(actor=None, code=code, kind=kind)
    machine, _secret = devices.device_activate(
        actor=None, merchant=world.merchant, code=code, site=world.sites["sh-1"]
    )
    return machine


def test_restock_lanes_are_checked_against_the_device(cabinet) -> None:
    world, _cabinet, cola, water, juice = cabinet
    replenisher = world.user("replenisher")
    machine = _vending_machine(world, "RS-VEND1")
    track(machine, 1, juice, capacity=6, par=5)
    track(machine, 2, cola, capacity=6, par=5)
    session = restock.restock_start(actor=replenisher, device=machine)
    session = restock.restock_door_closed(actor=replenisher, session=session)
    lines_before = sorted(session.lines.values_list("product__sku", "lane", "counted_quantity"))
    assert lines_before == [("COLA", 2, None), ("JUICE", 1, None)]

    refusals = [
        (juice, 0),  # a vending machine has no lane 0
        (juice, 3),  # no track 3 on this machine
        (juice, 2),  # track 2 holds cola, not juice
        (water, 1),
    ]
    for prod, lane in refusals:
        with pytest.raises(OpenVendError) as exc:
            restock.restock_count(actor=replenisher, session=session, product=prod, lane=lane, counted=2)
        assert exc.value.code == "inventory.bad_lane" and exc.value.fields["lane"], (prod.sku, lane)
    with pytest.raises(OpenVendError) as exc, translation.override("en"):
        restock.restock_complete(actor=replenisher, session=session, counts=[(juice, 1, 5), (juice, 0, 5)])
    assert exc.value.code == "inventory.bad_lane"
    assert exc.value.message == "A vending machine keeps its stock on its tracks: say which track."
    session.refresh_from_db()
    assert session.state == "closed"
    assert sorted(session.lines.values_list("product__sku", "lane", "counted_quantity")) == lines_before
    assert not StockMovement.objects.filter(device=machine).exists()

    restock.restock_count(actor=replenisher, session=session, product=juice, lane=1, counted=5)
    result = restock.restock_complete(actor=replenisher, session=session)
    assert [(m.product.sku, m.lane, m.quantity) for m in result.movements] == [("JUICE", 1, 5)]

    # A cabinet without tracks takes lane 0 only.
    devices.device_register(actor=None, code="RS-PLAIN", kind=camera_less_kind())
    plain, _secret = devices.device_activate(
        actor=None, merchant=world.merchant, code="RS-PLAIN", site=world.sites["sh-1"]
    )
    other = restock.restock_start(actor=replenisher, device=plain)
    with pytest.raises(OpenVendError) as exc:
        restock.restock_count(actor=replenisher, session=other, product=cola, lane=1, counted=1)
    assert exc.value.code == "inventory.bad_lane" and other.lines.count() == 0
    assert restock.restock_count(actor=replenisher, session=other, product=cola, lane=0, counted=1).lane == 0


# --- Who may act on a session: its replenisher or a supervisor, the same on the API and the phone


def _restock_helper(world):
    """Holds the restock-session permissions in Shanghai (view, add, change, and opening doors),
    but not `inventory.supervise_restocksession`: not a supervisor, so only their own sessions."""
    role = accounts.role_create(
        actor=None,
        merchant=world.merchant,
        code="restock-helper",
        name="补货助手",
        permissions=[
            "devices.view_device",
            "devices.open_door_device",
            "inventory.view_restocksession",
            "inventory.add_restocksession",
            "inventory.change_restocksession",
            "menu.replenishment",
        ],
        data_scope="org_units",
        org_units=[world.shanghai],
    )
    return accounts.user_create(
        actor=None,
        merchant=world.merchant,
        username="restock-helper",
        password=PASSWORD,
        roles=[role],
        org_unit=world.shanghai,
    )


def test_only_the_replenisher_or_a_supervisor_may_act_over_the_api(cabinet, world_b) -> None:
    world, device, cola, _water, _juice = cabinet
    replenisher, supervisor, helper = (
        world.user("replenisher"),
        world.user("operations"),
        _restock_helper(world),
    )
    session = restock.restock_start(actor=replenisher, device=device)
    assert may_act_on_restock(replenisher, session) is True
    assert may_act_on_restock(supervisor, session) is True
    assert may_act_on_restock(helper, session) is False
    colleague = accounts.user_create(
        actor=None,
        merchant=world.merchant,
        username="restock-colleague",
        password=PASSWORD,
        roles=[world.role("replenisher")],
        org_unit=world.shanghai,
    )
    assert may_act_on_restock(colleague, session) is False  # a fellow replenisher is no supervisor
    assert may_act_on_restock(world_b.user("operations"), session) is False
    DeviceState.objects.filter(device=device).update(door="closed")
    base = f"/api/v1/restock-sessions/{session.pk}/"

    helper_api = client_for(helper)
    assert helper_api.get(base).status_code == 200  # may look…
    for step, body in (("close/", {}), ("count/", {"product": cola.pk, "counted": 1}), ("cancel/", {})):
        refused = helper_api.post(base + step, body, format="json")
        assert refused.status_code == 403, (step, refused.content)
    assert client_for(world_b.user("operations")).post(base + "close/").status_code == 404
    session.refresh_from_db()
    assert session.state == "opening" and session.lines.count() == 0
    # …and the service itself refuses the same actor.
    with pytest.raises(PermissionDenied):
        restock.restock_cancel(actor=helper, session=session)

    ops = client_for(supervisor)
    assert ops.post(base + "close/").json()["state"] == "closed"
    counted = ops.post(base + "count/", {"product": cola.pk, "counted": 2}, format="json")
    assert counted.status_code == 200 and counted.json()["counted_quantity"] == 2
    done = ops.post(base + "complete/", {}, format="json")
    assert done.status_code == 200 and done.json()["state"] == "completed"
    [movement] = StockMovement.objects.filter(source_id=str(session.pk))
    assert (movement.product_id, movement.quantity, movement.actor_id) == (cola.pk, 2, supervisor.pk)


def test_only_the_replenisher_or_a_supervisor_may_act_on_the_phone(cabinet) -> None:
    world, device, cola, _water, _juice = cabinet
    replenisher, supervisor, helper = (
        world.user("replenisher"),
        world.user("operations"),
        _restock_helper(world),
    )
    phones = {}
    for name, user in (("replenisher", replenisher), ("supervisor", supervisor), ("helper", helper)):
        phones[name] = Client()
        phones[name].force_login(user)
    url = f"/m/restock/device/{device.pk}/"
    assert phones["replenisher"].post(url, {"action": "start"}).status_code == 302
    session = RestockSession.objects.get(device=device)
    DeviceState.objects.filter(device=device).update(door="closed")

    helper_page = phones["helper"].get(url).content.decode()
    assert 'data-testid="device-busy"' in helper_page and 'name="action" value="close"' not in helper_page
    assert phones["helper"].post(url, {"action": "close"}).status_code == 403
    count_url = f"{url}count/"
    assert (
        phones["helper"].post(count_url, {"product": cola.pk, "lane": 0, "counted": "1"}).status_code == 403
    )
    session.refresh_from_db()
    assert session.state == "opening"

    supervisor_page = phones["supervisor"].get(url).content.decode()
    assert 'data-testid="device-busy"' in supervisor_page and 'data-testid="supervising"' in supervisor_page
    assert 'name="action" value="close"' in supervisor_page
    assert phones["supervisor"].post(url, {"action": "close"}).status_code == 302
    session.refresh_from_db()
    assert session.state == "closed"
    row = phones["supervisor"].post(count_url, {"product": cola.pk, "lane": 0, "counted": "3"})
    assert row.status_code == 200 and 'value="3"' in row.content.decode()
    assert phones["supervisor"].post(url, {"action": "complete"}).status_code == 302
    session.refresh_from_db()
    assert session.state == "completed"
    assert on_hand(device=device, product=cola) == 5
    [movement] = StockMovement.objects.filter(source_id=str(session.pk))
    assert (movement.quantity, movement.actor_id) == (3, supervisor.pk)
