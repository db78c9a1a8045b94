"""Menu-permission callbacks for the sidebar: `menu_sites` shows the item when a role grants `menu.sites`."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest


def open_alarm_count(request: HttpRequest) -> str:
    """Sidebar badge: how many live alarms the user can see."""
    from openvend.devices.alarms import LIVE
    from openvend.devices.models import Alarm

    count = Alarm.objects.restrict(request.user, "view").filter(status__in=LIVE).count()
    return str(count)


def abnormal_order_count(request: HttpRequest) -> str:
    """Sidebar badge: abnormal orders waiting for staff that the user can see."""
    from openvend.orders.models import Order

    waiting = Order.objects.restrict(request.user, "view").filter(resolution="").exclude(abnormal_reason="")
    return str(waiting.count())


def __getattr__(name: str) -> Any:
    if not name.startswith("menu_"):
        raise AttributeError(name)
    code = "menu." + name.removeprefix("menu_")

    def check(request: HttpRequest) -> bool:
        return bool(request.user.is_authenticated and request.user.has_perm(code))

    check.__name__ = name
    return check
