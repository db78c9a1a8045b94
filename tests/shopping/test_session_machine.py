"""The shared session machinery (`openvend.core.session_machine`) as shopping sessions use it: the
locked move, `changes`, the end stamp, repeats and refusals — with exact rows written."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone, translation

from openvend.core.session_machine import InvalidTransition, SessionMachine
from openvend.shopping.choices import SessionState as S
from openvend.shopping.errors import InvalidTransition as ShoppingInvalidTransition
from openvend.shopping.errors import ShoppingErrorCode
from openvend.shopping.models import ShoppingEvent, ShoppingSession
from openvend.shopping.services import MACHINE, _record, session_start, transition
from tests.shopping.conftest import WALLET, Shop

pytestmark = pytest.mark.django_db


def _start(shop: Shop) -> ShoppingSession:
    return session_start(consumer=shop.shopper(), method=WALLET, device=shop.device)


def _events(session: ShoppingSession) -> list[tuple[str, str, str, dict]]:
    return list(
        ShoppingEvent.objects.filter(session=session).values_list("kind", "from_state", "to_state", "detail")
    )


def test_shopping_moves_go_through_the_shared_machine(shop: Shop) -> None:
    assert (MACHINE.model, MACHINE.event_model, MACHINE.ended_field) == (
        ShoppingSession,
        ShoppingEvent,
        "ended_at",
    )
    assert MACHINE.final_states == frozenset({S.COMPLETED, S.FAILED, S.CANCELLED})


def test_changes_are_written_with_the_move_and_copied_to_the_callers_instance(shop: Shop) -> None:
    session = _start(shop)
    opened = timezone.now() - timedelta(seconds=5)
    assert transition(session, S.OPEN, "door_opened", {"door": 1}, changes={"opened_at": opened}) is True
    assert (session.state, session.opened_at) == (S.OPEN, opened)
    stored = ShoppingSession.objects.get(pk=session.pk)
    assert (stored.state, stored.opened_at, stored.updated_at) == (S.OPEN, opened, session.updated_at)
    assert _events(session)[-1] == ("door_opened", "opening", "open", {"door": 1})


def test_a_repeat_writes_nothing_not_even_its_changes(shop: Shop) -> None:
    session = _start(shop)
    opened = timezone.now() - timedelta(seconds=5)
    transition(session, S.OPEN, "door_opened", changes={"opened_at": opened})
    before = _events(session)
    later = opened + timedelta(seconds=3)
    assert transition(session, S.OPEN, "door_opened", changes={"opened_at": later}) is False
    assert ShoppingSession.objects.get(pk=session.pk).opened_at == opened
    assert _events(session) == before


def test_the_stored_state_decides_not_a_stale_instance(shop: Shop) -> None:
    session = _start(shop)
    stale = ShoppingSession.objects.get(pk=session.pk)
    transition(session, S.OPEN, "door_opened")
    assert stale.state == S.OPENING
    assert transition(stale, S.OPEN, "door_opened") is False  # already open: a repeat
    assert stale.state == S.OPEN
    with pytest.raises(ShoppingInvalidTransition):
        transition(stale, S.CANCELLED, "manual")  # open → cancelled is illegal, whatever `stale` said
    assert ShoppingEvent.objects.filter(session=session, kind="door_opened").count() == 1


def test_a_final_state_stamps_the_end_unless_the_caller_gave_it(shop: Shop) -> None:
    first = _start(shop)
    given = timezone.now() - timedelta(minutes=1)
    transition(first, S.CANCELLED, "manual", changes={"ended_at": given})
    assert ShoppingSession.objects.get(pk=first.pk).ended_at == given
    second = _start(shop)
    assert second.ended_at is None
    transition(second, S.OPEN, "door_opened")
    assert second.ended_at is None  # not final: no stamp
    transition(second, S.CLOSED, "door_closed")
    transition(second, S.RECOGNISING, "recognition_started")
    transition(second, S.FAILED, "recognition_failed")
    assert second.ended_at is not None
    assert ShoppingSession.objects.get(pk=second.pk).ended_at == second.ended_at


def test_shoppings_refusal_is_the_shared_error_with_its_own_code_and_words(shop: Shop) -> None:
    session = _start(shop)
    transition(session, S.OPEN, "door_opened")
    before = _events(session)
    with translation.override("en"), pytest.raises(InvalidTransition) as caught:
        transition(session, S.CANCELLED, "manual", changes={"ended_at": timezone.now()})
    error = caught.value
    assert isinstance(error, ShoppingInvalidTransition)
    assert (error.code, error.status_code, error.current, error.target, error.message) == (
        ShoppingErrorCode.BAD_TRANSITION,
        409,
        "open",
        "cancelled",
        "A shopping session that is open cannot become cancelled.",
    )
    stored = ShoppingSession.objects.get(pk=session.pk)
    assert (stored.state, stored.ended_at) == (S.OPEN, None)
    assert _events(session) == before


def test_a_machine_without_its_own_error_refuses_with_the_shared_one(shop: Shop) -> None:
    one_way = SessionMachine(
        model=ShoppingSession,
        event_model=ShoppingEvent,
        transitions={S.OPENING: frozenset({S.OPEN}), S.OPEN: frozenset()},
        final_states=frozenset(),
    )
    session = _start(shop)
    with translation.override("en"), pytest.raises(InvalidTransition) as caught:
        one_way.transition(session, S.CANCELLED, "manual")
    assert type(caught.value) is InvalidTransition
    assert (caught.value.code, caught.value.message) == (
        "core.bad_transition",
        "A session that is opening cannot become cancelled.",
    )
    assert one_way.transition(session, S.OPEN, "door_opened") is True
    assert session.ended_at is None  # no end field configured


def test_record_appends_an_event_without_a_move(shop: Shop) -> None:
    session = _start(shop)
    event = _record(session, "door_left_open", {"since": "12:00"})
    assert (event.merchant_id, event.session_id, event.kind, event.from_state, event.to_state) == (
        shop.world.merchant.pk,
        session.pk,
        "door_left_open",
        "",
        "",
    )
    assert event.detail == {"since": "12:00"}
    assert ShoppingSession.objects.get(pk=session.pk).state == S.OPENING
