"""What a planogram slot may be: what the recognition planogram format can represent and the
engine decodes well.

- a slot's sensors exist on the device kind and sit on the slot's shelf; several sensors form a
  bridged placement (an item resting across load cells) and must then be adjacent on that shelf;
- the product comes from the device owner's own library and has a unit weight;
- capacity ≥ 1 and 0 ≤ par level ≤ capacity;
- double booking: several products may share a sensor (the format allows it; the recognition
  check warns when they are confusable), but at most MAX_PRODUCTS_PER_SENSOR of them, because
  the check and the recognition search grow exponentially with the products on one load cell and
  a plate with more facings than that is not decodable by weight anyway; and one product may not
  occupy two slots that share a sensor — that is one placement, so raise its capacity instead
  (two placements over the same load cell would make recognition count the same units twice).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from openvend.core.errors import OpenVendError
from openvend.inventory.errors import InventoryErrorCode
from openvend.inventory.models import Planogram, PlanogramSlot
from openvend.inventory.planogram_selectors import has_weight_sensors

MAX_PRODUCTS_PER_SENSOR = 4
SLOT_FIELDS = ("shelf", "sensors", "product", "capacity", "par_level")
_SENSOR_ID = re.compile(r"^s(\d+)-(\d+)$")


@dataclass(frozen=True)
class SlotSpec:
    """A slot as it would be after a change (a saved slot or a proposed one)."""

    shelf: int
    sensors: tuple[str, ...]
    product: Any
    capacity: int
    par_level: int
    pk: int | None = None

    @classmethod
    def of(cls, slot: PlanogramSlot) -> SlotSpec:
        return cls(slot.shelf, tuple(slot.sensors), slot.product, slot.capacity, slot.par_level, slot.pk)


def require_weight_sensors(device: Any) -> None:
    if not has_weight_sensors(device.kind):
        raise OpenVendError(
            InventoryErrorCode.NO_WEIGHT_SENSORS,
            _(
                "%(device)s is a %(kind)s without weight sensors: only weighing cabinets have "
                "planograms (vending machines are laid out by tracks)."
            )
            % {"device": device.code, "kind": device.kind.get_type_display()},
        )


def _bad_sensors(message: str) -> OpenVendError:
    return OpenVendError(InventoryErrorCode.BAD_SENSORS, message, fields={"sensors": [message]})


def _validate_sensors(kind: Any, shelf: int, sensors: Sequence[str]) -> None:
    if not 1 <= shelf <= kind.shelves:
        message = _("Shelf must be between 1 and %(shelves)s.") % {"shelves": kind.shelves}
        raise OpenVendError(InventoryErrorCode.BAD_SENSORS, message, fields={"shelf": [message]})
    if not sensors or not all(isinstance(s, str) for s in sensors):
        raise _bad_sensors(_('List the weight sensors the slot rests on, e.g. ["s1-1"].'))
    if len(set(sensors)) != len(sensors):
        raise _bad_sensors(_("A sensor is listed twice."))
    known = set(kind.sensor_ids)
    unknown = [s for s in sensors if s not in known]
    if unknown:
        raise _bad_sensors(
            _("%(kind)s has no sensor %(sensors)s.") % {"kind": kind.name, "sensors": ", ".join(unknown)}
        )
    positions = []
    for sensor in sensors:
        match = _SENSOR_ID.match(sensor)
        assert match is not None  # every id of the kind matches
        if int(match.group(1)) != shelf:
            raise _bad_sensors(
                _("Sensor %(sensor)s is not on shelf %(shelf)s.") % {"sensor": sensor, "shelf": shelf}
            )
        positions.append(int(match.group(2)))
    positions.sort()
    if positions != list(range(positions[0], positions[0] + len(positions))):
        raise _bad_sensors(
            _("An item can only bridge adjacent sensors: %(sensors)s are not side by side.")
            % {"sensors": ", ".join(sensors)}
        )


def _validate_product(device: Any, product: Any) -> None:
    if product is None or product.merchant_id != device.merchant_id:
        message = _("Choose a product from your own product library.")
        raise OpenVendError(InventoryErrorCode.OTHER_MERCHANT, message, fields={"product": [message]})
    if not product.unit_weight_g or product.unit_weight_g <= 0:
        message = _("%(product)s has no unit weight; weight recognition needs one.") % {"product": product}
        raise OpenVendError(InventoryErrorCode.NO_UNIT_WEIGHT, message, fields={"product": [message]})


def validate_capacity(capacity: Any, par_level: Any) -> None:
    if not isinstance(capacity, int) or capacity < 1:
        message = _("Capacity must be at least 1.")
        raise OpenVendError(InventoryErrorCode.BAD_CAPACITY, message, fields={"capacity": [message]})
    if not isinstance(par_level, int) or not 0 <= par_level <= capacity:
        message = _("The par level must be between 0 and the capacity (%(capacity)s).") % {
            "capacity": capacity
        }
        raise OpenVendError(InventoryErrorCode.BAD_CAPACITY, message, fields={"par_level": [message]})


def _validate_booking(candidate: SlotSpec, others: Iterable[SlotSpec]) -> None:
    products_on: dict[str, set[int]] = {}
    for other in others:
        if other.pk is not None and other.pk == candidate.pk:
            continue
        shared = set(other.sensors) & set(candidate.sensors)
        if shared and other.product.pk == candidate.product.pk:
            raise OpenVendError(
                InventoryErrorCode.SENSOR_OVERBOOKED,
                _(
                    "%(product)s already has a slot on %(sensors)s: one product on one load cell is "
                    "one slot, so raise that slot's capacity instead."
                )
                % {"product": candidate.product, "sensors": ", ".join(sorted(shared))},
                fields={"sensors": [_("Already used by this product.")]},
            )
        for sensor in other.sensors:
            products_on.setdefault(sensor, set()).add(other.product.pk)
    for sensor in candidate.sensors:
        products = products_on.get(sensor, set()) | {candidate.product.pk}
        if len(products) > MAX_PRODUCTS_PER_SENSOR:
            raise OpenVendError(
                InventoryErrorCode.SENSOR_OVERBOOKED,
                _("Sensor %(sensor)s would carry %(count)s products; at most %(max)s can share one.")
                % {"sensor": sensor, "count": len(products), "max": MAX_PRODUCTS_PER_SENSOR},
                fields={"sensors": [_("Too many products on this sensor.")]},
            )


def validate_slot(planogram: Planogram, candidate: SlotSpec, others: Iterable[SlotSpec]) -> None:
    """Refuse a slot that breaks a rule of the module docstring, given the draft's other slots."""
    device = planogram.device
    _validate_sensors(device.kind, candidate.shelf, candidate.sensors)
    _validate_product(device, candidate.product)
    validate_capacity(candidate.capacity, candidate.par_level)
    _validate_booking(candidate, others)
