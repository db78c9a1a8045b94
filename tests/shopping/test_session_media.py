"""Photos and clips of a visit (device event `media_captured`): the gateway attaches each link to its
shopping session once — also after the door shut, the order settled or went to review — staff see
them on the order page and in the API, another merchant never does, the shopper's receipt does not,
and a report for a session the cloud does not know is stored in the log with nothing attached."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openvend.devices.models import DeadLetter, DeviceMessage
from openvend.gateway import protocol
from openvend.gateway.ingest import BatchResult, DeviceDirectory, Received, ingest_batch
from openvend.orders.choices import OrderState
from openvend.orders.models import Order
from openvend.shopping.choices import SessionState
from openvend.shopping.media_services import session_media_attach
from openvend.shopping.models import SessionMedia, ShoppingEvent, ShoppingSession
from openvend.shopping.services import session_start
from tests.concurrency import race
from tests.conftest import client_for, console_login
from tests.devices.factories import activated_device
from tests.mobile.h5 import receipt_url, signed_in
from tests.orders.conftest import COLA_G, Store, store_in
from tests.shopping.conftest import WALLET, Shop, online, shop_in
from tests.world import PASSWORD, World

pytestmark = pytest.mark.django_db

SHA = "55c64d0fcd6f9d5f7c828093857e3fdfda68478bb4e9bd24d481ef391c7804e8"
CAPTURED_MS = 1795422400200  # 2026-11-23 08:26:40.200 UTC
CAPTURED_AT = datetime(2026, 11, 23, 8, 26, 40, 200000, tzinfo=UTC)
LATE_SEQ = 1000  # above every seq the store's Feed hands out in these tests


def photo_url(session: ShoppingSession, camera: int = 1) -> str:
    return f"https://media.example.com/{session.device.code}/{session.command_id}/{camera}.jpg"


def media_event(session: ShoppingSession | str, **detail: Any) -> dict[str, Any]:
    key = session if isinstance(session, str) else str(session.command_id)
    base: dict[str, Any] = {"camera": 1, "kind": "photo", "captured_at": CAPTURED_MS}
    if not isinstance(session, str):
        base["url"] = photo_url(session)
    return {"kind": "media_captured", "session": key, "detail": {**base, **detail}}


def send(code: str, seq: int, body: dict[str, Any], at: datetime | None = None) -> BatchResult:
    """One event with an exact seq through the gateway's real ingest (a replay repeats the seq)."""
    topic, payload = protocol.encode_up(code, "event", seq=seq, body=body, ts=CAPTURED_MS + 2400)
    return ingest_batch([Received(topic, payload, at or timezone.now())], DeviceDirectory())


def media_timeline(session: ShoppingSession) -> list[dict[str, Any]]:
    return list(
        ShoppingEvent.objects.filter(session=session, kind="media_captured").values_list("detail", flat=True)
    )


def api_media(row: SessionMedia) -> dict[str, Any]:
    """What the API shows of one row, spelt out."""
    return {
        "id": row.pk,
        "camera": row.camera,
        "kind": row.kind,
        "url": row.url,
        "captured_at": timezone.localtime(row.captured_at).isoformat() if row.captured_at else None,
        "received_at": timezone.localtime(row.received_at).isoformat(),
        "sha256": row.sha256,
        "size_bytes": row.size_bytes,
        "duration_ms": row.duration_ms,
    }


@pytest.fixture
def store(world_a: World) -> Store:
    return store_in(world_a, "MEDIA-CAB1")


def held_order(store: Store, settled: Callable[..., Any]) -> Order:
    """Goods put in that were not taken: the order waits for staff (review)."""
    session = store.start(store.shopper(balance_fen=2000))
    settled(lambda: store.visit(session, [("s1-1", COLA_G + 0.3)]))
    order = Order.objects.get(session=session)
    assert (order.state, order.session.state) == (OrderState.REVIEW, SessionState.REVIEW)
    return order


def paid_order(store: Store, settled: Callable[..., Any]) -> Order:
    session = store.start(store.shopper(balance_fen=2000))
    settled(lambda: store.visit(session, [("s1-1", -COLA_G)]))
    order = Order.objects.get(session=session)
    assert (order.state, order.session.state) == (OrderState.PAID, SessionState.COMPLETED)
    return order


# --- attaching -----------------------------------------------------------------------------------


def test_a_clip_of_a_live_visit_is_attached_once_with_every_field(shop: Shop) -> None:
    session = session_start(consumer=shop.shopper(), method=WALLET, device=shop.device)
    send(shop.device.code, 1, {"kind": "door_opened", "session": str(session.command_id)})
    at = timezone.now()
    url = f"https://media.example.com/{shop.device.code}/{session.command_id}/1.mp4"
    body = media_event(
        session,
        camera=2,
        kind="video",
        url=url,
        captured_at=CAPTURED_MS,
        duration_ms=39400,
        sha256=SHA,
        bytes=6120448,
    )
    result = send(shop.device.code, 2, body, at)
    assert (result.stored, result.duplicates, result.dead, result.acks) == (1, 0, 0, {shop.device.code: 2})
    row = SessionMedia.objects.get()
    assert (
        row.merchant_id,
        row.session_id,
        row.camera,
        row.kind,
        row.url,
        row.captured_at,
        row.received_at,
        row.sha256,
        row.size_bytes,
        row.duration_ms,
    ) == (shop.world.merchant.pk, session.pk, 2, "video", url, CAPTURED_AT, at, SHA, 6120448, 39400)
    session.refresh_from_db()
    assert session.state == SessionState.OPEN  # evidence, not a move
    last = ShoppingEvent.objects.filter(session=session).last()
    assert last is not None
    assert (last.kind, last.from_state, last.to_state, last.detail) == (
        "media_captured",
        "",
        "",
        {"media": row.pk, "camera": 2, "kind": "video"},
    )


def test_a_replay_and_a_repeated_report_of_the_same_link_keep_one_row(shop: Shop) -> None:
    session = session_start(consumer=shop.shopper(), method=WALLET, device=shop.device)
    code = shop.device.code
    assert send(code, 5, media_event(session)).stored == 1
    replay = send(code, 5, media_event(session))
    assert (replay.stored, replay.duplicates, replay.acks) == (0, 1, {code: 5})
    again = send(code, 6, media_event(session, captured_at=CAPTURED_MS + 999))  # same url, new seq
    assert (again.stored, again.duplicates) == (1, 0)
    assert list(SessionMedia.objects.values_list("url", "captured_at")) == [(photo_url(session), CAPTURED_AT)]
    assert len(media_timeline(session)) == 1
    assert DeviceMessage.objects.filter(device=shop.device, type="event").count() == 2  # the log keeps both
    # Another camera's still is another link: a second row.
    assert send(code, 7, media_event(session, camera=2, url=photo_url(session, 2))).stored == 1
    assert list(SessionMedia.objects.order_by("camera").values_list("camera", flat=True)) == [1, 2]


def test_a_still_that_arrives_after_the_door_shut_and_the_order_settled_is_attached(
    store: Store, settled: Callable[..., Any]
) -> None:
    order = paid_order(store, settled)
    result = send(store.device.code, LATE_SEQ, media_event(order.session))
    assert (result.stored, result.dead) == (1, 0)
    row = SessionMedia.objects.get()
    assert (row.session_id, row.url, row.merchant_id) == (
        order.session_id,
        photo_url(order.session),
        order.merchant_id,
    )
    order.refresh_from_db()
    order.session.refresh_from_db()
    assert (order.state, order.session.state) == (OrderState.PAID, SessionState.COMPLETED)


def test_a_late_still_of_an_order_in_review_shows_on_its_page_and_in_the_api(
    store: Store, settled: Callable[..., Any], client: Any
) -> None:
    order = held_order(store, settled)
    session = order.session
    video_url = f"https://media.example.com/{store.device.code}/{session.command_id}/1.mp4"
    send(store.device.code, LATE_SEQ, media_event(session))
    send(
        store.device.code, LATE_SEQ + 1, media_event(session, kind="video", url=video_url, duration_ms=39400)
    )
    photo, video = SessionMedia.objects.order_by("id")
    assert (photo.session_id, video.session_id) == (session.pk, session.pk)
    order.refresh_from_db()
    assert order.state == OrderState.REVIEW  # staff still decide; the evidence only joined it

    world = store.shop.world
    assert console_login(client, world.users["customer_service"].username, PASSWORD)
    page = client.get(f"/console/orders/order/{order.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    url = photo_url(session)
    img = re.search(
        r'<a href="(?P<href>[^"]+)" target="_blank" rel="noopener noreferrer"><img (?P<attrs>[^>]+)>', html
    )
    assert img is not None
    assert img["href"] == url
    assert f'src="{url}"' in img["attrs"] and 'loading="lazy"' in img["attrs"]
    assert f'<a href="{video_url}" target="_blank"' in html and "39.4" in html
    assert html.count(url) == 2  # the thumbnail and its link, nowhere else (not in the timeline)

    api = client_for(world.user("customer_service")).get(f"/api/v1/orders/{order.pk}/")
    assert api.status_code == 200
    assert api.json()["media"] == [api_media(photo), api_media(video)]
    first, second = api.json()["media"]
    assert (first["camera"], first["kind"], first["url"], first["sha256"], first["size_bytes"]) == (
        1,
        "photo",
        url,
        "",
        None,
    )
    assert first["captured_at"] == timezone.localtime(CAPTURED_AT).isoformat()
    assert (second["kind"], second["url"], second["duration_ms"]) == ("video", video_url, 39400)


def test_another_merchants_media_is_never_shown(
    world_a: World, world_b: World, settled: Callable[..., Any], client: Any
) -> None:
    mine, theirs = store_in(world_a, "MEDIA-A1"), store_in(world_b, "MEDIA-B1")
    my_order, their_order = held_order(mine, settled), held_order(theirs, settled)
    send(mine.device.code, LATE_SEQ, media_event(my_order.session))
    send(theirs.device.code, LATE_SEQ, media_event(their_order.session))
    assert SessionMedia.objects.count() == 2
    # The device's merchant decides: A's cabinet cannot attach to B's session (same command id or not).
    stranger = media_event(their_order.session, camera=2, url=photo_url(their_order.session, 2))
    assert send(mine.device.code, LATE_SEQ + 1, stranger).stored == 1
    assert SessionMedia.objects.filter(session=their_order.session).count() == 1

    api = client_for(world_a.user("merchant_admin"))
    assert api.get(f"/api/v1/orders/{their_order.pk}/").status_code == 404
    assert api.get(f"/api/v1/shopping-sessions/{their_order.session_id}/").status_code == 404
    assert [m["url"] for m in api.get(f"/api/v1/orders/{my_order.pk}/").json()["media"]] == [
        photo_url(my_order.session)
    ]
    assert [
        m["url"] for m in api.get(f"/api/v1/shopping-sessions/{my_order.session_id}/").json()["media"]
    ] == [photo_url(my_order.session)]
    theirs_api = client_for(world_b.user("merchant_admin")).get(f"/api/v1/orders/{their_order.pk}/")
    assert [m["url"] for m in theirs_api.json()["media"]] == [photo_url(their_order.session)]

    assert console_login(client, world_a.users["merchant_admin"].username, PASSWORD)
    assert client.get(f"/console/orders/order/{their_order.pk}/change/").status_code == 404
    assert (
        photo_url(their_order.session)
        not in client.get(f"/console/orders/order/{my_order.pk}/change/").content.decode()
    )


def test_a_report_for_a_session_the_cloud_does_not_know_attaches_nothing(shop: Shop) -> None:
    other, _secret = activated_device(shop.world, "SHOP-CAB2")
    online(other)
    elsewhere = session_start(consumer=shop.shopper(), method=WALLET, device=other)
    code = shop.device.code
    url = "https://media.example.com/x/1.jpg"
    results = [
        send(code, 1, media_event(str(uuid.uuid4()), url=url)),  # a restock or a device's own session
        send(code, 2, media_event("local-7", url=url)),  # not a command id at all
        send(code, 3, media_event(elsewhere, url=url)),  # another cabinet's visit
    ]
    assert [(r.stored, r.dead) for r in results] == [(1, 0), (1, 0), (1, 0)]
    assert SessionMedia.objects.count() == 0
    assert DeviceMessage.objects.filter(device=shop.device, type="event").count() == 3
    assert media_timeline(elsewhere) == []


def test_a_link_that_is_not_https_is_a_dead_letter_and_attaches_nothing(shop: Shop) -> None:
    session = session_start(consumer=shop.shopper(), method=WALLET, device=shop.device)
    topic, _payload = protocol.encode_up(shop.device.code, "event", seq=1, body=media_event(session))
    payload = _payload.replace(b'"url":"https://', b'"url":"http://')
    result = ingest_batch([Received(topic, payload, timezone.now())], DeviceDirectory())
    assert (result.stored, result.dead, result.dead_reasons, result.acks) == (0, 1, {"schema": 1}, {})
    letter = DeadLetter.objects.get()
    assert (letter.device_code, letter.reason) == (shop.device.code, "schema")
    assert letter.detail.startswith("body.detail.url: 'http://")
    assert SessionMedia.objects.count() == 0 and DeviceMessage.objects.count() == 0


def test_the_service_refuses_a_malformed_report_and_keeps_an_unreadable_clock_empty(shop: Shop) -> None:
    session = session_start(consumer=shop.shopper(), method=WALLET, device=shop.device)
    key, at = str(session.command_id), timezone.now()
    bad = [
        {"camera": 1, "kind": "image", "url": photo_url(session), "captured_at": 1},
        {"kind": "photo", "url": photo_url(session), "captured_at": 1},
        {"camera": 1, "kind": "photo", "url": "http://media.example.com/1.jpg", "captured_at": 1},
        {"camera": 1, "kind": "photo", "captured_at": 1},
    ]
    for detail in bad:
        assert (
            session_media_attach(device=shop.device, session_key=key, detail=detail, received_at=at) is None
        )
    assert SessionMedia.objects.count() == 0 and media_timeline(session) == []
    far = {"camera": 1, "kind": "photo", "url": photo_url(session), "captured_at": protocol.MAX_SEQ}
    row = session_media_attach(device=shop.device, session_key=key, detail=far, received_at=at)
    assert row is not None and row.captured_at is None and row.received_at == at


def test_the_database_keeps_one_row_per_session_and_link(shop: Shop) -> None:
    session = session_start(consumer=shop.shopper(), method=WALLET, device=shop.device)
    send(shop.device.code, 1, media_event(session))
    row = SessionMedia.objects.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        SessionMedia.objects.create(
            merchant_id=row.merchant_id,
            session=session,
            camera=2,
            kind="photo",
            url=row.url,
            received_at=row.received_at,
        )
    assert SessionMedia.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="Row locks and unique inserts only race on PostgreSQL; SQLite serialises every writer.",
)
def test_gateways_attaching_the_same_link_at_once_keep_one_row(world_a: World) -> None:
    shop = shop_in(world_a, "MEDIA-RACE1")
    session = session_start(consumer=shop.shopper(), method=WALLET, device=shop.device)
    detail = media_event(session)["detail"]

    def attach() -> SessionMedia | None:
        with transaction.atomic():
            return session_media_attach(
                device=shop.device,
                session_key=str(session.command_id),
                detail=detail,
                received_at=timezone.now(),
            )

    results = race([attach for _ in range(6)])
    assert [type(r) for r in results if r is not None] == [SessionMedia], results
    assert results.count(None) == 5
    assert SessionMedia.objects.filter(session=session).count() == 1
    assert len(media_timeline(session)) == 1


def test_media_rows_are_evidence_and_cannot_be_edited(shop: Shop) -> None:
    from openvend.payments.models.immutable import ImmutableError

    session = session_start(consumer=shop.shopper(), method=WALLET, device=shop.device)
    send(shop.device.code, 1, media_event(session))
    row = SessionMedia.objects.get()
    row.url = "https://elsewhere.example.com/1.jpg"
    with pytest.raises(ImmutableError):
        row.save()
    with pytest.raises(ImmutableError):
        SessionMedia.objects.filter(pk=row.pk).update(camera=2)
    with pytest.raises(ImmutableError):
        SessionMedia.objects.filter(pk=row.pk).delete()


def test_the_shoppers_receipt_does_not_show_the_media(store: Store, settled: Callable[..., Any]) -> None:
    order = paid_order(store, settled)
    send(store.device.code, LATE_SEQ, media_event(order.session))
    assert SessionMedia.objects.count() == 1
    page = signed_in(order.consumer).get(receipt_url(order))
    assert page.status_code == 200
    html = page.content.decode()
    assert order.number in html and "media.example.com" not in html


# --- what the protocol accepts, the model stores -----------------------------------------------

accepted_by_protocol = protocol.compile_schema("event")

labels = st.from_regex(r"\A[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?\Z")
hosts = st.builds(
    lambda parts, tld: ".".join([*parts, tld]),
    st.lists(labels, min_size=1, max_size=4),
    st.from_regex(r"\A[A-Za-z]{2,6}\Z"),
)
tails = st.text(alphabet="abcXYZ019._~:/?#[]@!$&'()*+,;=%-", max_size=40)
urls = st.builds(
    lambda host, port, sep, tail: f"https://{host}{port}{sep}{tail}" if sep else f"https://{host}{port}",
    hosts,
    st.sampled_from(["", ":1", ":443", ":99999"]),
    st.sampled_from(["", "/", "?", "#"]),
    tails,
)


@given(urls)
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
def test_every_link_the_protocol_accepts_passes_the_models_validators(url: str) -> None:
    body = {
        "kind": "media_captured",
        "session": "s",
        "detail": {"camera": 1, "kind": "photo", "url": url, "captured_at": 0},
    }
    if accepted_by_protocol(body):
        SessionMedia._meta.get_field("url").run_validators(url)
