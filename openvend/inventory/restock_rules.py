"""Who may do what on a restock visit, and where its units may go. One rule each, shared by the
services, the API and the phone pages.

Where a restock line may sit is the inventory-wide position rule (`positions.check_position`,
re-exported here): a restock count says what was put in, so it always needs a position the rule
allows — lane 0 on a cabinet, on a vending machine an existing track holding this very product."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from openvend.inventory.models import RestockSession
from openvend.inventory.positions import check_position as check_position

START_PERMISSIONS = ("inventory.add_restocksession", "devices.open_door_device")
# Operations staff and store managers may finish or cancel a visit their replenisher left behind.
SUPERVISOR_PERMISSION = "inventory.supervise_restocksession"


def may_restock(user: Any, device: Any) -> bool:
    """Whether `user` may open `device` for a restock: both permissions and the device in scope."""
    from openvend.devices.models import Device

    if not all(user.has_perm(code) for code in START_PERMISSIONS):
        return False
    return bool(Device.objects.restrict(user, "view").filter(pk=device.pk).exists())


def may_act_on_restock(user: Any, session: RestockSession) -> bool:
    """Whether `user` may close, count, complete, cancel or photograph `session`: the session's own
    replenisher, or a supervisor (`inventory.supervise_restocksession`) — and in both cases the
    session (its device) inside the user's data scope for changing restock sessions."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if not RestockSession.objects.restrict(user, "change").filter(pk=session.pk).exists():
        return False
    return session.replenisher_id == user.pk or bool(user.has_perm(SUPERVISOR_PERMISSION))


def check_may_act_on_restock(actor: Any, session: RestockSession) -> None:
    """Refuse an actor who may not act on `session` (None is the system itself: always allowed)."""
    if actor is not None and not may_act_on_restock(actor, session):
        raise PermissionDenied(_("Only the session's replenisher or a supervisor may act on this restock."))
