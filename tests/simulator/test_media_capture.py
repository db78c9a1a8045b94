"""A simulated vision cabinet reports one still per camera when a door session's door shuts, with a
deterministic link; only when asked and only if its kind has a camera, so benchmark cabinets send
nothing extra. End to end, through Mosquitto and the gateway, the still joins the shopper's visit."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator

import pytest
from django.db import connection

from openvend.gateway import protocol
from openvend.payments.choices import PaymentMethod
from openvend.shopping.models import SessionMedia
from openvend.simulator.behaviour import Cabinet, Event
from openvend.simulator.device import SimulatedDevice
from openvend.simulator.fleet import Fleet
from openvend.simulator.shoppers import Shelf, ShopperCabinet, door_visit, wait_settled
from tests.gateway.conftest import RunningBroker, mosquitto_broker  # noqa: F401 (fixture)
from tests.orders.conftest import COLA_G, Store, store_in
from tests.simulator.cabinets import cabinet_and_gateway
from tests.world import World

SESSION = "29247907-c561-4261-a532-6e489c1d3410"
URL = f"https://media.example.invalid/cab-0042/{SESSION}/1.jpg"


def test_a_cabinet_with_a_working_camera_reports_one_still_per_camera() -> None:
    cabinet = Cabinet(["s1-1"], random.Random(1))
    events = cabinet.photos("cab-0042", SESSION, 1795422400200)
    detail = {"camera": 1, "kind": "photo", "url": URL, "captured_at": 1795422400200}
    assert events == [Event("media_captured", SESSION, detail)]
    # What the simulator sends is what the protocol accepts.
    topic, payload = protocol.encode_up("cab-0042", "event", seq=1, body=events[0].body())
    assert protocol.decode_up(topic, payload).body == {
        "kind": "media_captured",
        "session": SESSION,
        "detail": detail,
    }


def test_no_still_without_a_working_camera() -> None:
    assert Cabinet([], random.Random(1), has_camera=False).photos("cab-0042", SESSION, 1) == []
    faulty = Cabinet([], random.Random(1))
    faulty.inject("camera_fault")
    assert faulty.photos("cab-0042", SESSION, 1) == []


def test_media_capture_is_off_unless_asked_and_follows_the_kinds_camera() -> None:
    assert SimulatedDevice("cab-0042", "secret", "mqtt://127.0.0.1:1").capture_media is False
    fleet = Fleet.from_credentials(
        [{"code": "cab-0042", "secret": "s", "has_camera": False}, {"code": "cab-0043", "secret": "s"}],
        "mqtt://127.0.0.1:1",
        capture_media=True,
    )
    assert [(d.capture_media, d.cabinet.has_camera, d.cabinet.camera) for d in fleet] == [
        (True, False, "absent"),
        (True, True, "ok"),
    ]


@pytest.fixture
def store(world_a: World) -> Store:
    return store_in(world_a, "MEDIA-SIM1")


@pytest.fixture
def running(mosquitto_broker: RunningBroker, store: Store) -> Iterator[ShopperCabinet]:  # noqa: F811
    with cabinet_and_gateway(mosquitto_broker, store) as (cabinet, _gateway):
        yield cabinet


@pytest.mark.mqtt
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="The gateway writes from its own thread while the shopper scans; in-memory SQLite locks tables.",
)
def test_a_vision_cabinets_still_joins_the_visit_through_the_gateway(
    running: ShopperCabinet, store: Store
) -> None:
    cabinet = running
    shopper = store.shopper(balance_fen=10_000)
    basket = {"s1-1": (Shelf("s1-1", store.cola, COLA_G), 1)}

    def visit() -> str:
        done = door_visit(
            cabinet=cabinet,
            device=store.device,
            consumer=shopper,
            method=PaymentMethod.WALLET,
            picked=basket,
            timeout=10,
        )
        assert cabinet.wait_idle(10)  # every event of the visit is stored and acknowledged
        assert wait_settled(done)["state"] == "completed"  # the cabinet is free for the next shopper
        return done.command_id

    visit()
    assert SessionMedia.objects.count() == 0  # not asked: a benchmark cabinet sends nothing extra
    cabinet.capture_media = True
    command_id = visit()
    deadline = time.monotonic() + 10
    while not SessionMedia.objects.exists():
        assert time.monotonic() < deadline, "the still never reached the visit"
        time.sleep(0.05)
    row = SessionMedia.objects.get()
    assert (str(row.session.command_id), row.camera, row.kind, row.url) == (
        command_id,
        1,
        "photo",
        f"https://media.example.invalid/{store.device.code}/{command_id}/1.jpg",
    )
