"""Movements staff post by hand from the console, the API or a phone: correcting a movement,
removing expired or damaged units, moving units between devices. Each needs a reason, runs
through the ledger (which writes the audit row) and only touches devices the actor may manage.
Lanes follow the inventory-wide position rule (`positions.check_position`): units are taken out
of a position the rule allows or that still holds them, and put into one the rule allows. A
correction reverses a movement at that movement's own position and is not checked again."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from openvend.core.errors import OpenVendError
from openvend.inventory import ledger
from openvend.inventory.choices import MovementKind
from openvend.inventory.errors import InventoryErrorCode
from openvend.inventory.models import StockMovement
from openvend.inventory.positions import allowed_lanes as allowed_lanes  # the phone pages' lane list
from openvend.inventory.positions import check_position

MANUAL_KINDS = (MovementKind.CORRECTION, MovementKind.REMOVAL, MovementKind.TRANSFER_OUT)


def require_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        message = _("Say why: a manual stock movement needs a reason.")
        raise OpenVendError(InventoryErrorCode.REASON_REQUIRED, message, fields={"reason": [message]})
    return reason


def _check_may_post(actor: Any, *devices: Any) -> None:
    """The actor holds `add_stockmovement` and every device is inside their data scope."""
    from openvend.devices.models import Device

    if not actor.has_perm("inventory.add_stockmovement"):
        raise PermissionDenied(_("You may not post stock movements."))
    visible = Device.objects.restrict(actor, "view").filter(pk__in=[d.pk for d in devices]).count()
    if visible != len({d.pk for d in devices}):
        raise PermissionDenied(_("This device is outside what you may manage."))


def movement_correct(*, actor: Any, movement: StockMovement, reason: str) -> StockMovement:
    """Reverse a movement with an opposite one (at most once; a correction is never corrected)."""
    reason = require_reason(reason)
    _check_may_post(actor, movement.device)
    return ledger.correct_movement(movement=movement, actor=actor, reason=reason)


def movement_remove(
    *, actor: Any, device: Any, product: Any, quantity: int, reason: str, lane: int = 0
) -> StockMovement:
    """Take expired or damaged units out of stock; never below zero."""
    reason = require_reason(reason)
    if quantity <= 0:
        raise OpenVendError(
            InventoryErrorCode.ZERO_QUANTITY,
            _("Remove at least one unit."),
            fields={"quantity": [_("Must be at least 1.")]},
        )
    _check_may_post(actor, device)
    check_position(device, product, lane, putting_in=False)
    return ledger.post_movement(
        device=device,
        product=product,
        lane=lane,
        quantity=-quantity,
        kind=MovementKind.REMOVAL,
        actor=actor,
        reason=reason,
    )


def movement_transfer(
    *,
    actor: Any,
    product: Any,
    quantity: int,
    from_device: Any,
    to_device: Any,
    reason: str,
    from_lane: int = 0,
    to_lane: int = 0,
) -> tuple[StockMovement, StockMovement]:
    """Move units from one position to another (both legs or neither)."""
    reason = require_reason(reason)
    _check_may_post(actor, from_device, to_device)
    check_position(from_device, product, from_lane, putting_in=False)
    check_position(to_device, product, to_lane)
    return ledger.transfer(
        product=product,
        quantity=quantity,
        from_device=from_device,
        to_device=to_device,
        from_lane=from_lane,
        to_lane=to_lane,
        actor=actor,
        reason=reason,
    )


MANUAL_OPERATIONS = ("correction", "removal", "transfer")


def movement_manual(*, actor: Any, operation: str, data: dict[str, Any]) -> StockMovement:
    """One manual posting from the console or the API: `operation` picks the service; `data` holds
    its fields (`corrects`; or `device`, `product`, `lane`, `quantity`; `to_device`, `to_lane` for a
    transfer) and a `reason`. A transfer answers with its outgoing leg."""
    if operation == "correction":
        return movement_correct(actor=actor, movement=data["corrects"], reason=data["reason"])
    if operation == "removal":
        return movement_remove(
            actor=actor,
            device=data["device"],
            product=data["product"],
            lane=data["lane"],
            quantity=data["quantity"],
            reason=data["reason"],
        )
    if operation != "transfer":
        raise OpenVendError(InventoryErrorCode.BAD_STATE, _("Unknown operation %(op)r.") % {"op": operation})
    out, _inn = movement_transfer(
        actor=actor,
        product=data["product"],
        quantity=data["quantity"],
        from_device=data["device"],
        from_lane=data["lane"],
        to_device=data["to_device"],
        to_lane=data["to_lane"],
        reason=data["reason"],
    )
    return out
