"""Reads of shopping sessions and the blacklist."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from openvend.shopping.choices import DEVICE_BUSY_STATES
from openvend.shopping.models import BlacklistEntry, SessionMedia, ShoppingEvent, ShoppingSession


def live_session_on(device: Any) -> ShoppingSession | None:
    """The session that has the device taken (door possibly open, or shelves being weighed)."""
    found: ShoppingSession | None = ShoppingSession.objects.filter(
        device=device, state__in=DEVICE_BUSY_STATES
    ).first()
    return found


def shopping_in_progress(device: Any) -> bool:
    """True while a shopper has the device: restocking must wait, or restocked goods would be charged."""
    return ShoppingSession.objects.filter(device=device, state__in=DEVICE_BUSY_STATES).exists()


def blacklist_entry_of(merchant: Any, consumer: Any, now: datetime | None = None) -> BlacklistEntry | None:
    """The entry that currently refuses the shopper at this merchant, if any (expired ones do not)."""
    now = now or timezone.now()
    found: BlacklistEntry | None = (
        BlacklistEntry.objects.filter(merchant=merchant, consumer=consumer, active=True)
        .filter(Q(until__isnull=True) | Q(until__gt=now))
        .order_by("-created_at")
        .first()
    )
    return found


def timeline_of(session: ShoppingSession) -> QuerySet[ShoppingEvent]:
    qs: QuerySet[ShoppingEvent] = ShoppingEvent.objects.filter(session=session).order_by("id")
    return qs


def session_media(session_id: int) -> QuerySet[SessionMedia]:
    """The photos and clips the cabinet's cameras reported for one visit, in the order they were taken."""
    qs: QuerySet[SessionMedia] = SessionMedia.objects.filter(session_id=session_id).order_by(
        "captured_at", "camera", "id"
    )
    return qs
