"""The session state machine: the transition table, the timeline, door events through the gateway,
the three flows from the QR code, and one session per device."""

from __future__ import annotations

import pytest
from django.utils import timezone

from openvend.core.errors import OpenVendError
from openvend.devices.choices import ShoppingFlow
from openvend.devices.models import Command
from openvend.devices.services import device_qr_token
from openvend.payments.models.immutable import ImmutableError
from openvend.shopping.choices import SessionState as S
from openvend.shopping.errors import DeviceBusy, InvalidTransition, ShoppingErrorCode
from openvend.shopping.models import ShoppingEvent, ShoppingSession
from openvend.shopping.services import (
    TRANSITIONS,
    session_door_event,
    session_start,
    transition,
)
from tests.shopping.conftest import WALLET, Feed, Shop

pytestmark = pytest.mark.django_db


def _timeline(session: ShoppingSession) -> list[tuple[str, str, str]]:
    return list(ShoppingEvent.objects.filter(session=session).values_list("kind", "from_state", "to_state"))


def _start(shop: Shop, **kwargs) -> ShoppingSession:
    return session_start(consumer=shop.shopper(), method=WALLET, **{"device": shop.device, **kwargs})


def test_the_table_has_every_state_and_final_states_lead_nowhere() -> None:
    assert set(TRANSITIONS) == set(S.values)
    assert TRANSITIONS[S.COMPLETED] == TRANSITIONS[S.FAILED] == TRANSITIONS[S.CANCELLED] == frozenset()
    assert TRANSITIONS[S.OPEN] == frozenset({S.CLOSED})


def test_illegal_transition_is_refused_and_writes_nothing(shop: Shop) -> None:
    session = _start(shop)
    transition(session, S.OPEN, "door_opened")
    before = _timeline(session)
    with pytest.raises(InvalidTransition) as caught:
        transition(session, S.CANCELLED, "manual")
    assert (caught.value.code, caught.value.current, caught.value.target) == (
        ShoppingErrorCode.BAD_TRANSITION,
        "open",
        "cancelled",
    )
    session.refresh_from_db()
    assert session.state == S.OPEN
    assert _timeline(session) == before


def test_transition_appends_from_and_to_and_repeating_it_is_a_no_op(shop: Shop) -> None:
    session = _start(shop)
    assert transition(session, S.OPEN, "door_opened", {"why": "test"}) is True
    assert transition(session, S.OPEN, "door_opened") is False
    assert session.state == S.OPEN
    last = ShoppingEvent.objects.filter(session=session).last()
    assert last is not None
    assert (last.kind, last.from_state, last.to_state, last.detail) == (
        "door_opened",
        "opening",
        "open",
        {"why": "test"},
    )
    assert ShoppingEvent.objects.filter(session=session).count() == 3


def test_reaching_a_final_state_stamps_the_end(shop: Shop) -> None:
    session = _start(shop)
    transition(session, S.CANCELLED, "manual")
    session.refresh_from_db()
    assert session.state == S.CANCELLED and session.ended_at is not None


def test_the_timeline_is_append_only(shop: Shop) -> None:
    session = _start(shop)
    event = ShoppingEvent.objects.filter(session=session).first()
    assert event is not None
    event.kind = "edited"
    with pytest.raises(ImmutableError):
        event.save()
    with pytest.raises(ImmutableError):
        ShoppingEvent.objects.filter(session=session).delete()


def test_door_events_through_the_gateway_drive_open_closed_recognising(shop: Shop) -> None:
    session = _start(shop)
    key = str(session.command_id)
    feed = Feed(shop.device.code)
    feed.send({"kind": "door_opened", "session": key, "detail": {"door": 1}})
    session.refresh_from_db()
    assert session.state == S.OPEN and session.opened_at is not None
    feed.send({"kind": "door_closed", "session": key, "detail": {"door": 1}})
    session.refresh_from_db()
    assert session.state == S.RECOGNISING and session.closed_at is not None
    assert _timeline(session) == [
        ("created", "", "created"),
        ("door_command", "created", "opening"),
        ("door_opened", "opening", "open"),
        ("door_closed", "open", "closed"),
        ("recognition_started", "closed", "recognising"),
    ]


def test_repeated_foreign_and_late_door_events_change_nothing(shop: Shop) -> None:
    session = _start(shop)
    at = timezone.now()
    key = str(session.command_id)
    assert session_door_event(device=shop.device, session_key=key, kind="door_opened", at=at) is True
    assert session_door_event(device=shop.device, session_key=key, kind="door_opened", at=at) is False
    other = "00000000-0000-4000-8000-000000000001"
    assert session_door_event(device=shop.device, session_key=other, kind="door_closed", at=at) is False
    assert (
        session_door_event(device=shop.device, session_key="not-a-uuid", kind="door_closed", at=at) is False
    )
    assert session_door_event(device=shop.device, session_key=key, kind="weight_change", at=at) is False
    assert session_door_event(device=shop.device, session_key=key, kind="door_closed", at=at) is True
    assert session_door_event(device=shop.device, session_key=key, kind="door_closed", at=at) is False
    session.refresh_from_db()
    assert session.state == S.RECOGNISING
    assert ShoppingEvent.objects.filter(session=session).count() == 5


def test_a_door_closed_without_an_opened_still_goes_to_recognition(shop: Shop) -> None:
    session = _start(shop)
    session_door_event(
        device=shop.device, session_key=str(session.command_id), kind="door_closed", at=timezone.now()
    )
    session.refresh_from_db()
    assert session.state == S.RECOGNISING
    assert [row[1:] for row in _timeline(session)][-2:] == [("opening", "closed"), ("closed", "recognising")]


@pytest.mark.parametrize("flow", [ShoppingFlow.FULL_AUTO, ShoppingFlow.SEMI_AUTO])
def test_door_flows_from_the_qr_code(shop: Shop, flow: str) -> None:
    session = session_start(
        consumer=shop.shopper(), method=WALLET, qr_token=device_qr_token(shop.device, flow)
    )
    session.refresh_from_db()
    assert (session.flow, session.state, session.device_id) == (flow, S.OPENING, shop.device.pk)
    assert Command.objects.filter(device=shop.device, kind="open_door").count() == 1


def test_open_shelf_has_no_door_and_ends_when_the_shopper_is_done(shop: Shop) -> None:
    from openvend.orders.cart_services import shelf_finish_without_buying

    token = device_qr_token(shop.device, ShoppingFlow.OPEN_SHELF)
    session = session_start(consumer=shop.shopper(), method=WALLET, qr_token=token)
    assert (session.flow, session.state) == (ShoppingFlow.OPEN_SHELF, S.OPEN)
    assert not Command.objects.filter(device=shop.device).exists()
    assert shelf_finish_without_buying(session) is True
    assert _timeline(session) == [
        ("created", "", "created"),
        ("shelf_started", "created", "open"),
        ("nothing_bought", "open", "closed"),
        ("nothing_bought", "closed", "recognising"),
        ("nothing_bought", "recognising", "completed"),
    ]


def test_shelf_done_is_refused_for_a_door_flow(shop: Shop) -> None:
    from openvend.orders.cart_services import shelf_finish_without_buying

    session = _start(shop)
    assert shelf_finish_without_buying(session) is False
    session.refresh_from_db()
    assert session.state == S.OPENING


def test_a_second_start_on_a_busy_device_is_refused(shop: Shop) -> None:
    _start(shop)
    with pytest.raises(DeviceBusy) as caught:
        _start(shop)
    assert caught.value.code == ShoppingErrorCode.DEVICE_BUSY and caught.value.status_code == 409
    assert ShoppingSession.objects.filter(device=shop.device).count() == 1
    assert Command.objects.filter(device=shop.device).count() == 1


def test_the_device_is_free_again_once_settling(shop: Shop) -> None:
    first = _start(shop)
    for state in (S.OPEN, S.CLOSED, S.RECOGNISING):
        transition(first, state, "test")
        with pytest.raises(DeviceBusy):
            _start(shop)
    transition(first, S.SETTLING, "test")
    assert _start(shop).state == S.OPENING


def test_a_forged_qr_code_opens_nothing(shop: Shop) -> None:
    token = device_qr_token(shop.device) + "x"
    with pytest.raises(OpenVendError) as caught:
        session_start(consumer=shop.shopper(), method=WALLET, qr_token=token)
    assert caught.value.code == "devices.bad_qr"
    assert not ShoppingSession.objects.exists()


def test_the_signed_code_decides_the_flow_and_a_bad_flow_is_refused(shop: Shop) -> None:
    token = device_qr_token(shop.device, ShoppingFlow.SEMI_AUTO)
    session = session_start(
        consumer=shop.shopper(), method=WALLET, qr_token=token, flow=ShoppingFlow.OPEN_SHELF
    )
    assert session.flow == ShoppingFlow.SEMI_AUTO
    with pytest.raises(OpenVendError) as caught:
        session_start(consumer=shop.shopper(), method=WALLET, device=shop.device, flow="walk_in")
    assert caught.value.code == ShoppingErrorCode.UNKNOWN_FLOW
    assert ShoppingSession.objects.count() == 1
