"""Restock sessions on the shared session machinery: every move appends a RestockEvent with
from/to, illegal moves and repeated device events write nothing, the clock's cancellation is an
"expired" event with its lock command, and a restock never charges anyone."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from openvend.audit.models import AuditLogEntry
from openvend.core.errors import ConflictError
from openvend.core.session_machine import InvalidTransition
from openvend.devices.models import Command, DeviceState
from openvend.gateway import protocol
from openvend.gateway.ingest import DeviceDirectory, Received, ingest_batch
from openvend.inventory import restock_services as restock
from openvend.inventory.choices import MovementKind, RestockState
from openvend.inventory.models import RestockEvent, RestockLine, RestockSession, StockMovement
from openvend.inventory.restock_machine import RESTOCK_MACHINE, RESTOCK_TRANSITIONS
from openvend.inventory.selectors import on_hand
from openvend.orders.models import Order, OrderLine
from openvend.payments.models import Payment
from openvend.payments.models.immutable import ImmutableError
from openvend.shopping.models import ShoppingEvent, ShoppingSession
from tests.conftest import console_login
from tests.devices.factories import activated_device
from tests.inventory.replenishment_factories import planogram, product, stock
from tests.world import PASSWORD

pytestmark = pytest.mark.django_db
R = RestockState


class Feed:
    """Device events through the gateway's real ingest, as the cabinet would send them."""

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
    """Cola on sensor s1-1 (500 g a unit, 2 in stock), water on s2-1 (330 g, 3 in stock)."""
    device, _secret = activated_device(world_a, "RM-CAB1")
    cola = product(world_a, "COLA", weight_g="500.00")
    water = product(world_a, "WATER", weight_g="330.00")
    planogram(device, [(cola, ["s1-1"], 20, 12), (water, ["s2-1"], 10, 8)])
    stock(device, cola, 2)
    stock(device, water, 3)
    return world_a, device, cola, water


def _timeline(session: RestockSession) -> list[tuple[str, str, str]]:
    return list(RestockEvent.objects.filter(session=session).values_list("kind", "from_state", "to_state"))


def _detail(session: RestockSession, kind: str) -> dict:
    detail: dict = RestockEvent.objects.get(session=session, kind=kind).detail
    return detail


def _writes() -> tuple[int, int, int]:
    return RestockEvent.objects.count(), AuditLogEntry.objects.count(), StockMovement.objects.count()


def test_the_table_has_every_state_and_final_states_lead_nowhere() -> None:
    assert set(RESTOCK_TRANSITIONS) == set(R.values)
    assert RESTOCK_TRANSITIONS[R.COMPLETED] == RESTOCK_TRANSITIONS[R.CANCELLED] == frozenset()
    assert RESTOCK_TRANSITIONS[R.CLOSED] == frozenset({R.COMPLETED, R.CANCELLED})


def test_a_restock_visit_leaves_its_timeline_in_order(cabinet) -> None:
    world, device, cola, water = cabinet
    replenisher = world.user("replenisher")
    session = restock.restock_start(actor=replenisher, device=device)
    sid = str(session.command_id)
    feed = Feed(device.code)
    feed.send(
        {"kind": "door_opened", "session": sid, "detail": {"door": 1}},
        {"kind": "weight_change", "session": sid, "detail": {"sensor": "s1-1", "delta_g": 1500.0}},
        {"kind": "weight_change", "session": sid, "detail": {"sensor": "s2-1", "delta_g": -330.0}},
        {"kind": "door_closed", "session": sid, "detail": {"door": 1}},
    )
    restock.restock_count(actor=replenisher, session=session, product=cola, counted=3)
    restock.restock_count(actor=replenisher, session=session, product=cola, counted=3)  # unchanged
    result = restock.restock_complete(actor=replenisher, session=session)

    assert _timeline(session) == [
        ("started", "", "opening"),
        ("door_opened", "opening", "open"),
        ("door_closed", "open", "closed"),
        ("counted", "", ""),
        ("completed", "closed", "completed"),
    ]
    assert _detail(session, "started") == {"command": sid, "order": None}
    assert _detail(session, "door_closed") == {"reported_by": "device"}
    assert _detail(session, "counted") == {"product": cola.pk, "lane": 0, "counted": 3}
    # Three cola put in (counted), one water taken out (the sensors): both movements are named.
    assert [(m.product_id, m.quantity, m.kind) for m in result.movements] == [
        (cola.pk, 3, MovementKind.REPLENISHMENT),
        (water.pk, -1, MovementKind.REMOVAL),
    ]
    assert _detail(session, "completed") == {
        "movements": [m.pk for m in result.movements],
        "discrepancy": False,
    }
    session.refresh_from_db()
    assert (session.state, session.has_discrepancy) == (R.COMPLETED, False)
    assert session.completed_at is not None and session.opened_at is not None
    assert (on_hand(device=device, product=cola), on_hand(device=device, product=water)) == (5, 2)


def test_closing_in_the_app_and_a_photo_are_on_the_timeline(cabinet) -> None:
    world, device, _cola, _water = cabinet
    replenisher = world.user("replenisher")
    session = restock.restock_start(actor=replenisher, device=device)
    DeviceState.objects.filter(device=device).update(door="closed")
    restock.restock_door_closed(actor=replenisher, session=session)
    restock.restock_door_closed(actor=replenisher, session=session)  # said twice: one event
    assert _timeline(session) == [("started", "", "opening"), ("door_closed", "opening", "closed")]
    assert _detail(session, "door_closed") == {"reported_by": "replenisher"}


def test_an_illegal_move_is_refused_and_writes_nothing(cabinet) -> None:
    world, device, _cola, _water = cabinet
    replenisher = world.user("replenisher")
    session = restock.restock_start(actor=replenisher, device=device)
    restock.restock_cancel(actor=replenisher, session=session)
    before = _writes()
    with pytest.raises(InvalidTransition) as caught:
        RESTOCK_MACHINE.transition(session, R.OPEN, "door_opened", changes={"opened_at": timezone.now()})
    assert (caught.value.code, caught.value.current, caught.value.target, caught.value.status_code) == (
        "inventory.bad_transition",
        "cancelled",
        "open",
        409,
    )
    # The services refuse first, with their own words; nothing is written either way.
    with pytest.raises(ConflictError) as refused:
        restock.restock_complete(actor=replenisher, session=session)
    assert refused.value.code == "inventory.bad_transition"
    session.refresh_from_db()
    assert (session.state, session.opened_at) == (R.CANCELLED, None)
    assert _writes() == before
    assert _timeline(session) == [("started", "", "opening"), ("cancelled", "opening", "cancelled")]


def test_a_repeated_or_late_door_event_writes_nothing(cabinet) -> None:
    world, device, _cola, _water = cabinet
    session = restock.restock_start(actor=world.user("replenisher"), device=device)
    sid, at = str(session.command_id), timezone.now()

    def door(kind: str) -> bool:
        return restock.restock_door_event(device=device, session_key=sid, kind=kind, detail={}, at=at)

    assert door("door_opened") is True
    before = _writes()
    assert door("door_opened") is False  # the device repeats itself
    assert _writes() == before
    assert door("door_closed") is True
    before = _writes()
    assert door("door_closed") is False
    assert door("door_opened") is False  # arrives after the close: ignored, not refused
    assert _writes() == before
    session.refresh_from_db()
    assert session.state == R.CLOSED
    assert _timeline(session) == [
        ("started", "", "opening"),
        ("door_opened", "opening", "open"),
        ("door_closed", "open", "closed"),
    ]


def test_the_clock_cancels_a_stale_session_with_an_expired_event(cabinet) -> None:
    world, device, _cola, _water = cabinet
    session = restock.restock_start(actor=world.user("replenisher"), device=device)
    Feed(device.code).send({"kind": "door_opened", "session": str(session.command_id), "detail": {}})
    now = timezone.now()
    RestockSession.objects.filter(pk=session.pk).update(created_at=now - timedelta(minutes=31))
    assert restock.restock_sessions_expire(now) == 1
    lock = Command.objects.get(device=device, kind="lock")
    assert _timeline(session) == [
        ("started", "", "opening"),
        ("door_opened", "opening", "open"),
        ("expired", "open", "cancelled"),
    ]
    assert _detail(session, "expired") == {"lock_command": str(lock.pk)}
    before = _writes()
    assert restock.restock_sessions_expire(now + timedelta(minutes=5)) == 0
    assert _writes() == before


def test_a_restock_never_charges_or_makes_a_shopping_session(cabinet) -> None:
    world, device, cola, _water = cabinet
    replenisher = world.user("replenisher")
    session = restock.restock_start(actor=replenisher, device=device)
    sid = str(session.command_id)
    Feed(device.code).send(
        {"kind": "door_opened", "session": sid, "detail": {}},
        {"kind": "weight_change", "session": sid, "detail": {"sensor": "s1-1", "delta_g": 1000.0}},
        {"kind": "door_closed", "session": sid, "detail": {}},
    )
    restock.restock_complete(actor=replenisher, session=session, counts=[(cola, 0, 2)])
    counts = [model.objects.count() for model in (Order, OrderLine, Payment, ShoppingSession, ShoppingEvent)]
    assert counts == [0, 0, 0, 0, 0]
    assert not StockMovement.objects.filter(kind=MovementKind.SALE).exists()
    assert RestockEvent.objects.filter(session=session).count() == 5


def test_the_timeline_is_append_only(cabinet) -> None:
    world, device, _cola, _water = cabinet
    session = restock.restock_start(actor=world.user("replenisher"), device=device)
    event = RestockEvent.objects.get(session=session)
    event.kind = "completed"
    with pytest.raises(ImmutableError):
        event.save()
    with pytest.raises(ImmutableError):
        RestockEvent.objects.filter(session=session).update(kind="completed")
    with pytest.raises(ImmutableError):
        event.delete()
    assert RestockEvent.objects.get(session=session).kind == "started"


def test_the_phone_and_the_console_show_the_timeline(cabinet) -> None:
    world, device, _cola, _water = cabinet
    replenisher = world.user("replenisher")
    session = restock.restock_start(actor=replenisher, device=device)
    restock.restock_door_event(
        device=device, session_key=str(session.command_id), kind="door_opened", detail={}, at=timezone.now()
    )
    phone = Client()
    phone.force_login(replenisher)
    phone.cookies["django_language"] = "en"
    page = phone.get(f"/m/restock/device/{device.pk}/")
    assert page.status_code == 200 and b'data-testid="restock-timeline"' in page.content
    text = page.content.decode()
    assert text.index("door-open command sent") < text.index("door opened")

    console = Client()
    assert console_login(console, world.users["operations"].username, PASSWORD)
    detail = console.get(f"/console/inventory/restocksession/{session.pk}/change/")
    assert detail.status_code == 200
    [timeline] = [
        inline.formset
        for inline in detail.context["inline_admin_formsets"]
        if inline.formset.model is RestockEvent
    ]
    assert list(timeline.queryset.values_list("kind", flat=True)) == ["started", "door_opened"]


def test_whoever_sees_a_restock_visit_sees_its_lines(cabinet) -> None:
    world, device, cola, _water = cabinet
    replenisher = world.user("replenisher")
    session = restock.restock_start(actor=replenisher, device=device)
    restock.restock_count(actor=replenisher, session=session, product=cola, lane=0, counted=4)

    console = Client()
    assert console_login(console, world.users["operations"].username, PASSWORD)
    detail = console.get(f"/console/inventory/restocksession/{session.pk}/change/")
    [lines] = [
        inline.formset
        for inline in detail.context["inline_admin_formsets"]
        if inline.formset.model is RestockLine
    ]
    assert list(lines.queryset.values_list("product_id", "counted_quantity")) == [(cola.pk, 4)]
