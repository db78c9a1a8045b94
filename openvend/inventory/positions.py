"""Where a product's stock may sit on a device: one rule for manual movements, stock-takes and
restock visits. A position is (device, product, lane); lane 0 is a cabinet's shelves, lane n is
a vending machine's track n. The ledger itself (`ledger.post_movement`) accepts any lane: the
services that take a lane from a person check it here first."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from openvend.core.errors import OpenVendError
from openvend.devices.choices import DeviceType
from openvend.inventory.errors import InventoryErrorCode
from openvend.inventory.models import StockLevel, Track


def _bad_lane(message: str) -> OpenVendError:
    return OpenVendError(InventoryErrorCode.BAD_LANE, message, fields={"lane": [message]})


def is_vending_machine(device: Any) -> bool:
    return bool(device.kind.type == DeviceType.VENDING_MACHINE)


def allowed_lanes(device: Any) -> list[int]:
    """The lanes the rule offers on `device` to some product: [0] on a cabinet, the numbers of the
    tracks it has on a vending machine (none before its tracks are generated)."""
    if not is_vending_machine(device):
        return [0]
    return list(Track.objects.filter(device=device).order_by("number").values_list("number", flat=True))


def holds_stock(device: Any, product: Any, lane: int) -> bool:
    """Whether the ledger holds a balance other than 0 of `product` at `lane` of `device`."""
    return StockLevel.objects.filter(device=device, product=product, lane=lane).exclude(on_hand=0).exists()


def check_position(device: Any, product: Any, lane: int, *, putting_in: bool = True) -> None:
    """Refuse a position `product` may not have on `device` (`inventory.bad_lane`, with the lane as
    the field; a product of another merchant's library is `inventory.other_merchant`).

    The rule, decided by the kind's type (not by its track count):
    - a cabinet (every kind that is not a vending machine) keeps its stock on its shelves: lane 0,
      any product of the owner's library;
    - a vending machine keeps it on its tracks: lane n must be an existing track n (`Track` row)
      whose product is this very product — the units go where the machine will vend them from.
      Lane 0 is refused, as is a track of another product, an empty track or a missing one.

    Except for stock already there: with `putting_in=False` — the movement takes units out,
    corrects or counts what is at the position (a removal, the sending leg of a transfer, a
    stock-take line) — a position where the ledger holds a balance other than 0 of this product
    is always accepted, whatever the rule says now (its track was given another product or
    removed, or the units were posted there before this rule). Leftover stock can then always be
    removed, moved away or counted, and a stock-take is never blocked by it. A position the rule
    allows but where nothing is held is accepted too (the ledger refuses taking out what is not
    there). Putting units in (`putting_in=True`: a restock count, the receiving leg of a
    transfer) always needs a position the rule allows, held stock or not."""
    if product.merchant_id != device.merchant_id:
        raise OpenVendError(
            InventoryErrorCode.OTHER_MERCHANT,
            _("Stock can only hold products from the device owner's own library."),
            fields={"product": [_("Not found.")]},
        )
    if isinstance(lane, bool) or not isinstance(lane, int) or lane < 0:
        raise _bad_lane(_("A lane is 0 or a track number."))
    if not putting_in and holds_stock(device, product, lane):
        return
    if not is_vending_machine(device):
        if lane != 0:
            raise _bad_lane(_("This device keeps its stock in lane 0."))
        return
    if lane == 0:
        raise _bad_lane(_("A vending machine keeps its stock on its tracks: say which track."))
    track = Track.objects.filter(device=device, number=lane).first()
    if track is None:
        raise _bad_lane(_("This device has no track %(lane)s.") % {"lane": lane})
    if track.product_id != product.pk:
        raise _bad_lane(
            _("Track %(lane)s does not hold %(product)s.") % {"lane": lane, "product": product.name}
        )
