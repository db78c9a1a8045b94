"""Who may do what on a restock visit, and where its units may go. One rule each, shared by the
services, the API and the phone pages."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from openvend.core.errors import OpenVendError
from openvend.inventory.errors import InventoryErrorCode
from openvend.inventory.models import RestockSession, Track

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


def _bad_lane(message: str) -> OpenVendError:
    return OpenVendError(InventoryErrorCode.BAD_LANE, message, fields={"lane": [message]})


def check_position(device: Any, product: Any, lane: int) -> None:
    """Where a restock line may sit: lane 0 (the shelves) on a cabinet; on a vending machine an
    existing track holding this very product — the units go where the machine will vend them from.
    Only vending machines get tracks (`track_services`), so a cabinet offers lane 0 alone."""
    from openvend.devices.choices import DeviceType

    if product.merchant_id != device.merchant_id:
        raise OpenVendError(
            InventoryErrorCode.OTHER_MERCHANT,
            _("Stock can only hold products from the device owner's own library."),
            fields={"product": [_("Not found.")]},
        )
    if isinstance(lane, bool) or not isinstance(lane, int) or lane < 0:
        raise _bad_lane(_("A lane is 0 or a track number."))
    if lane == 0:
        if device.kind.type == DeviceType.VENDING_MACHINE:
            raise _bad_lane(_("A vending machine keeps its stock on its tracks: say which track."))
        return
    track = Track.objects.filter(device=device, number=lane).first()
    if track is None:
        raise _bad_lane(_("This device has no track %(lane)s.") % {"lane": lane})
    if track.product_id != product.pk:
        raise _bad_lane(
            _("Track %(lane)s does not hold %(product)s.") % {"lane": lane, "product": product.name}
        )
