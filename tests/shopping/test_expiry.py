"""The clock: a door never opened cancels the session and relocks; a door left open raises one alarm."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from openvend.devices.models import Alarm, Command
from openvend.gateway.sweeps import run_sweeps
from openvend.shopping.choices import SessionState as S
from openvend.shopping.models import ShoppingEvent, ShoppingSession
from openvend.shopping.services import session_door_event, session_start, sessions_expire
from tests.shopping.conftest import WALLET, Shop, online

pytestmark = pytest.mark.django_db


def _start(shop: Shop) -> ShoppingSession:
    return session_start(consumer=shop.shopper(), device=shop.device, method=WALLET)


def _lock_commands(shop: Shop) -> int:
    return Command.objects.filter(device=shop.device, kind="lock").count()


@override_settings(SHOPPING_OPENING_TIMEOUT_S=60)
def test_a_door_never_opened_is_cancelled_and_relocked(shop: Shop) -> None:
    session = _start(shop)
    start = session.created_at
    assert sessions_expire(start + timedelta(seconds=59)) == {
        "shopping_sessions_cancelled": 0,
        "shopping_door_alarms": 0,
    }
    assert sessions_expire(start + timedelta(seconds=61))["shopping_sessions_cancelled"] == 1
    session.refresh_from_db()
    assert session.state == S.CANCELLED and session.ended_at is not None
    assert _lock_commands(shop) == 1
    last = ShoppingEvent.objects.filter(session=session).last()
    assert last is not None
    assert (last.kind, last.from_state, last.to_state, last.detail) == (
        "expired",
        "opening",
        "cancelled",
        {"lock_command": True},
    )
    assert sessions_expire(start + timedelta(seconds=120))["shopping_sessions_cancelled"] == 0
    assert _lock_commands(shop) == 1
    assert _start(shop).state == S.OPENING  # the device is free again


def test_no_lock_command_when_the_device_reports_itself_locked(shop: Shop) -> None:
    online(shop.device, lock="locked", door="closed")
    session = _start(shop)
    assert sessions_expire(session.created_at + timedelta(minutes=5))["shopping_sessions_cancelled"] == 1
    assert _lock_commands(shop) == 0
    assert ShoppingEvent.objects.filter(session=session).last().detail == {"lock_command": False}  # type: ignore[union-attr]


def test_an_opened_door_is_never_cancelled_by_the_clock(shop: Shop) -> None:
    session = _start(shop)
    session_door_event(
        device=shop.device, session_key=str(session.command_id), kind="door_opened", at=timezone.now()
    )
    sessions_expire(timezone.now() + timedelta(minutes=2))
    session.refresh_from_db()
    assert session.state == S.OPEN


@override_settings(SHOPPING_DOOR_OPEN_MAX_S=300)
def test_a_door_left_open_raises_one_alarm(shop: Shop) -> None:
    session = _start(shop)
    opened = timezone.now()
    session_door_event(device=shop.device, session_key=str(session.command_id), kind="door_opened", at=opened)
    assert sessions_expire(opened + timedelta(seconds=299))["shopping_door_alarms"] == 0
    assert Alarm.objects.filter(device=shop.device).count() == 0
    assert sessions_expire(opened + timedelta(seconds=301))["shopping_door_alarms"] == 1
    assert sessions_expire(opened + timedelta(seconds=900))["shopping_door_alarms"] == 0
    alarm = Alarm.objects.get(device=shop.device)
    assert (alarm.kind, alarm.severity, alarm.occurrences, alarm.status) == (
        "lock_not_engaged",
        "critical",
        1,
        "open",
    )
    assert alarm.detail == {"shopping_session": session.pk, "door_open_since": opened.isoformat()}
    assert ShoppingEvent.objects.filter(session=session, kind="door_left_open").count() == 1
    session.refresh_from_db()
    assert session.state == S.OPEN and session.door_alarm_at == opened + timedelta(seconds=301)


def test_the_gateway_sweeps_run_the_shopping_clock(shop: Shop) -> None:
    session = _start(shop)
    result = run_sweeps(session.created_at + timedelta(minutes=10))
    assert (result["shopping_sessions_cancelled"], result["shopping_door_alarms"]) == (1, 0)
    session.refresh_from_db()
    assert session.state == S.CANCELLED
