"""Reads for the device registry and fleet monitoring."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q

from openvend.devices.choices import AlarmStatus
from openvend.devices.models import Device


def fleet_counts(user: Any) -> dict[str, int]:
    """The home page's fleet line: devices online, offline, and with a live alarm (异常)."""
    devices = Device.objects.restrict(user, "view")
    live = [AlarmStatus.OPEN, AlarmStatus.ACKNOWLEDGED]
    counts = devices.aggregate(
        total=Count("pk", distinct=True),
        online=Count("pk", filter=Q(state__online=True), distinct=True),
        abnormal=Count("pk", filter=Q(alarms__status__in=live), distinct=True),
    )
    counts["offline"] = counts["total"] - counts["online"]
    return counts
