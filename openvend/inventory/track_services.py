"""Writes for vending-machine tracks (货道): generate, edit, clone onto other machines. All audited.

A track's stock lives in the ledger under `lane = track number`; nothing here moves stock. A
track's product cannot change while the ledger still holds units of the old product in that lane:
the units would be stranded under a product the track no longer sells. Empty the lane first (a
removal or a stock-take), then change it. Cloning obeys the same rule, all-or-nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from openvend.audit.choices import AuditAction
from openvend.audit.services import audit_record, ensure_still_visible, snapshot
from openvend.core.errors import ConflictError, CoreErrorCode, OpenVendError
from openvend.devices.models import Device
from openvend.inventory.errors import InventoryErrorCode
from openvend.inventory.models import StockLevel, Track
from openvend.inventory.planogram_selectors import is_vending_machine
from openvend.inventory.planogram_services import validate_capacity

TRACK_FIELDS = ("product", "price_fen", "capacity", "par_level", "enabled")


class NotFoundError(OpenVendError):
    """A referenced object the actor cannot see: answered exactly like a missing one."""

    status_code = 404


@dataclass(frozen=True)
class CloneResult:
    targets: int
    created: int
    updated: int
    unchanged: int


def require_vending_machine(device: Any) -> None:
    if not is_vending_machine(device.kind):
        raise OpenVendError(
            InventoryErrorCode.NOT_VENDING_MACHINE,
            _("%(device)s is a %(kind)s: only vending machines have tracks.")
            % {"device": device.code, "kind": device.kind.get_type_display()},
        )


def _validate_number(device: Any, number: Any) -> None:
    if not isinstance(number, int) or not 1 <= number <= device.kind.tracks:
        message = _("Track number must be between 1 and %(tracks)s.") % {"tracks": device.kind.tracks}
        raise OpenVendError(InventoryErrorCode.BAD_TRACK, message, fields={"number": [message]})


def _validate_values(device: Any, values: Mapping[str, Any]) -> None:
    product = values.get("product")
    if product is not None and product.merchant_id != device.merchant_id:
        message = _("Choose a product from your own product library.")
        raise OpenVendError(InventoryErrorCode.OTHER_MERCHANT, message, fields={"product": [message]})
    price = values.get("price_fen")
    if price is not None and (not isinstance(price, int) or price < 0):
        message = _("The price cannot be negative.")
        raise OpenVendError(InventoryErrorCode.BAD_TRACK, message, fields={"price_fen": [message]})
    validate_capacity(values.get("capacity"), values.get("par_level"))


def _stranded_stock(track: Track, new_product_id: int | None) -> int:
    """Units of the track's current product the ledger holds in its lane, if the product changes."""
    if track.pk is None or track.product_id is None or track.product_id == new_product_id:
        return 0
    level = StockLevel.objects.filter(
        device_id=track.device_id, product_id=track.product_id, lane=track.number
    ).first()
    return max(level.on_hand, 0) if level is not None else 0


def _stock_conflict(track: Track, units: int) -> ConflictError:
    return ConflictError(
        InventoryErrorCode.TRACK_HOLDS_STOCK,
        _(
            "Track %(number)s of %(device)s still holds %(units)s × %(product)s: empty the lane "
            "before changing its product."
        )
        % {"number": track.number, "device": track.device.code, "units": units, "product": track.product},
        fields={"product": [_("The track still holds stock.")]},
    )


def _values(track: Track) -> dict[str, Any]:
    return {field: getattr(track, field) for field in TRACK_FIELDS}


@transaction.atomic
def tracks_generate(*, actor: Any, device: Device) -> list[Track]:
    """Create the tracks 1..kind.tracks the machine does not have yet; existing ones are kept."""
    require_vending_machine(device)
    Device.objects.select_for_update().filter(pk=device.pk).first()
    existing = set(Track.objects.filter(device=device).values_list("number", flat=True))
    created = []
    for number in range(1, device.kind.tracks + 1):
        if number in existing:
            continue
        track = Track.objects.create(merchant_id=device.merchant_id, device=device, number=number)
        ensure_still_visible(actor=actor, instance=track, action="add")
        audit_record(actor=actor, action=AuditAction.CREATE, instance=track, after=snapshot(track))
        created.append(track)
    return created


def validate_track_create(device: Any, number: Any, values: Mapping[str, Any]) -> dict[str, Any]:
    """The new track's values, or the error that refuses them (nothing written)."""
    require_vending_machine(device)
    _validate_number(device, number)
    defaults = {"product": None, "price_fen": None, "capacity": 10, "par_level": 10, "enabled": True}
    values = {**defaults, **{k: v for k, v in values.items() if k in TRACK_FIELDS}}
    _validate_values(device, values)
    if Track.objects.filter(device=device, number=number).exists():
        message = _("%(device)s already has track %(number)s.") % {"device": device.code, "number": number}
        raise ConflictError(InventoryErrorCode.BAD_TRACK, message, fields={"number": [message]})
    return values


@transaction.atomic
def track_create(*, actor: Any, device: Device, number: int, **values: Any) -> Track:
    values = validate_track_create(device, number, values)
    track = Track.objects.create(merchant_id=device.merchant_id, device=device, number=number, **values)
    ensure_still_visible(actor=actor, instance=track, action="add")
    audit_record(actor=actor, action=AuditAction.CREATE, instance=track, after=snapshot(track))
    return track


def validate_track_update(track: Track, data: Mapping[str, Any]) -> dict[str, Any]:
    """The track's values after `data` is applied, or the error that refuses them (nothing written)."""
    values = {**_values(track), **{k: v for k, v in data.items() if k in TRACK_FIELDS}}
    _validate_values(track.device, values)
    product = values["product"]
    units = _stranded_stock(track, product.pk if product is not None else None)
    if units:
        raise _stock_conflict(track, units)
    return values


@transaction.atomic
def track_update(*, actor: Any, track: Track, data: Mapping[str, Any]) -> Track:
    current = (
        Track.objects.select_for_update(of=("self",))
        .select_related("device__kind", "product")
        .get(pk=track.pk)
    )
    values = validate_track_update(current, data)
    before = snapshot(current)
    for field, value in values.items():
        setattr(current, field, value)
    current.save()
    ensure_still_visible(actor=actor, instance=current, action="change")
    after = snapshot(current)
    if after != before:
        audit_record(actor=actor, action=AuditAction.UPDATE, instance=current, before=before, after=after)
    track.refresh_from_db()
    return track


@transaction.atomic
def track_delete(*, actor: Any, track: Track) -> None:
    current = (
        Track.objects.select_for_update(of=("self",)).select_related("device", "product").get(pk=track.pk)
    )
    units = _stranded_stock(current, None)
    if units:
        raise _stock_conflict(current, units)
    audit_record(actor=actor, action=AuditAction.DELETE, instance=current, before=snapshot(current))
    current.delete()


def _visible_ids(actor: Any, devices: Iterable[Device]) -> set[int]:
    ids = [d.pk for d in devices]
    if actor is None:
        return set(ids)
    return set(Device.objects.restrict(actor, "view").filter(pk__in=ids).values_list("pk", flat=True))


def _check_clone_targets(actor: Any, source: Device, targets: Sequence[Device]) -> None:
    if not targets:
        message = _("Choose at least one other machine to clone the tracks to.")
        raise OpenVendError(CoreErrorCode.INVALID, message, fields={"target_devices": [message]})
    visible = _visible_ids(actor, [source, *targets])
    hidden = [d for d in (source, *targets) if d.pk not in visible or d.merchant_id != source.merchant_id]
    if hidden:
        raise NotFoundError(CoreErrorCode.NOT_FOUND, _("Not found."))
    mismatched = [t for t in targets if t.kind_id != source.kind_id]
    if mismatched:
        names = ", ".join(f"{t.code} ({t.kind.name})" for t in mismatched)
        message = _(
            "Tracks can only be cloned to machines of the same kind as %(source)s (%(kind)s); "
            "these differ: %(targets)s."
        ) % {"source": source.code, "kind": source.kind.name, "targets": names}
        raise OpenVendError(InventoryErrorCode.KIND_MISMATCH, message, fields={"target_devices": [message]})


@transaction.atomic
def tracks_clone(
    *,
    actor: Any,
    source_device: Device,
    target_devices: Iterable[Device],
    numbers: Iterable[int] | None = None,
) -> CloneResult:
    """Copy the source machine's tracks (all, or the given numbers) onto machines of the same kind:
    product, price, capacity, par level and enabled. Stock is never copied. Missing target tracks
    are created. Every target is checked before anything is written: all or nothing."""
    require_vending_machine(source_device)
    targets = list({d.pk: d for d in target_devices if d.pk != source_device.pk}.values())
    _check_clone_targets(actor, source_device, targets)
    sources = Track.objects.filter(device=source_device).select_related("product").order_by("number")
    if numbers is not None:
        sources = sources.filter(number__in=list(numbers))
    source_tracks = list(sources)
    if not source_tracks:
        raise OpenVendError(
            InventoryErrorCode.BAD_TRACK,
            _("%(device)s has no tracks to clone.") % {"device": source_device.code},
        )
    existing = {
        (t.device_id, t.number): t
        for t in Track.objects.select_for_update(of=("self",))
        .select_related("device", "product")
        .filter(device__in=targets, number__in=[s.number for s in source_tracks])
    }
    # Plan first, refuse before writing anything.
    conflicts = []
    for target in targets:
        for source in source_tracks:
            current = existing.get((target.pk, source.number))
            if current is not None:
                units = _stranded_stock(current, source.product_id)
                if units:
                    conflicts.append(_stock_conflict(current, units).message)
    if conflicts:
        raise ConflictError(InventoryErrorCode.TRACK_HOLDS_STOCK, " ".join(conflicts))
    created = updated = unchanged = 0
    message = f"cloned from {source_device.code}"
    for target in targets:
        for source in source_tracks:
            values = _values(source)
            current = existing.get((target.pk, source.number))
            if current is None:
                track = Track.objects.create(
                    merchant_id=target.merchant_id, device=target, number=source.number, **values
                )
                ensure_still_visible(actor=actor, instance=track, action="add")
                audit_record(
                    actor=actor,
                    action=AuditAction.CREATE,
                    instance=track,
                    after=snapshot(track),
                    message=message,
                )
                created += 1
                continue
            if _values(current) == values:
                unchanged += 1
                continue
            before = snapshot(current)
            for field, value in values.items():
                setattr(current, field, value)
            current.save()
            ensure_still_visible(actor=actor, instance=current, action="change")
            audit_record(
                actor=actor,
                action=AuditAction.UPDATE,
                instance=current,
                before=before,
                after=snapshot(current),
                message=message,
            )
            updated += 1
    return CloneResult(targets=len(targets), created=created, updated=updated, unchanged=unchanged)
