"""Writes for cabinet planograms: drafts, their slots, activation. Every change is audited.

Versions: a new version starts as a draft (version = last + 1), optionally copying the slots of
another version. Only drafts can be edited. Activating a draft supersedes the version in force at
the same instant (its `effective_to` equals the new one's `effective_from`), in one transaction;
the `planogram_one_active` constraint keeps a single active version per device even under races.

Slot rules: see `openvend.inventory.planogram_rules`.

After every slot change and on activation the recognition planogram check runs on the version at
its par levels and its report is stored in `check_report`. Activation with warnings is allowed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from openvend.audit.choices import AuditAction
from openvend.audit.services import audit_record, ensure_still_visible, snapshot
from openvend.core.errors import ConflictError, OpenVendError
from openvend.devices.models import Device
from openvend.inventory.choices import PlanogramStatus
from openvend.inventory.errors import InventoryErrorCode
from openvend.inventory.models import Planogram, PlanogramSlot
from openvend.inventory.planogram_rules import (
    MAX_PRODUCTS_PER_SENSOR,
    SLOT_FIELDS,
    SlotSpec,
    require_weight_sensors,
    validate_capacity,
    validate_slot,
)
from openvend.inventory.planogram_selectors import planogram_in_force
from openvend.inventory.recognition_export import recognition_check

__all__ = [
    "MAX_PRODUCTS_PER_SENSOR",
    "SLOT_FIELDS",
    "SlotSpec",
    "planogram_activate",
    "planogram_draft_create",
    "planogram_draft_delete",
    "planogram_slot_add",
    "planogram_slot_remove",
    "planogram_slot_update",
    "planogram_update",
    "require_weight_sensors",
    "validate_capacity",
    "validate_slot",
]


def _real(actor: Any) -> Any:
    return actor if getattr(actor, "pk", None) else None


def _planogram_snapshot(planogram: Planogram) -> dict[str, Any]:
    # The check report is derived from the slots and can be long: the audit keeps the slots instead.
    data = snapshot(planogram)
    data.pop("check_report", None)
    return data


def _slot_rows(planogram: Planogram) -> list[dict[str, Any]]:
    return [snapshot(slot) for slot in planogram.slots.order_by("shelf", "id")]


def _require_draft(planogram: Planogram) -> None:
    if planogram.status != PlanogramStatus.DRAFT:
        raise ConflictError(
            InventoryErrorCode.PLANOGRAM_NOT_DRAFT,
            _(
                "Version %(version)s is %(status)s and can no longer be edited: "
                "create a new version from it instead."
            )
            % {"version": planogram.version, "status": planogram.get_status_display()},
        )


def _locked(planogram: Planogram) -> Planogram:
    return (
        Planogram.objects.select_for_update(of=("self",)).select_related("device__kind").get(pk=planogram.pk)
    )


def _others(planogram: Planogram) -> list[SlotSpec]:
    return [SlotSpec.of(slot) for slot in planogram.slots.select_related("product")]


def _refresh_check(planogram: Planogram) -> dict[str, Any]:
    planogram.check_report = recognition_check(planogram)
    planogram.save(update_fields=["check_report", "updated_at"])
    return planogram.check_report


# ------------------------------------------------------------------------------------- versions


@transaction.atomic
def planogram_draft_create(
    *,
    actor: Any,
    device: Device,
    copy_from: Planogram | None = None,
    copy_in_force: bool = False,
    note: str = "",
) -> Planogram:
    """A new draft version of the device's planogram, empty or with another version's slots
    (`copy_from`, or the version in force with `copy_in_force`)."""
    require_weight_sensors(device)
    # Lock the device row: two drafts created at once must not both take version last + 1.
    Device.objects.select_for_update().filter(pk=device.pk).first()
    last = Planogram.objects.filter(device=device).aggregate(m=Max("version"))["m"] or 0
    source = copy_from if copy_from is not None else (planogram_in_force(device) if copy_in_force else None)
    if source is not None and source.device_id != device.pk:
        raise OpenVendError(
            InventoryErrorCode.BAD_STATE, _("A new version can only copy a version of the same device.")
        )
    planogram = Planogram.objects.create(
        merchant_id=device.merchant_id,
        device=device,
        version=last + 1,
        status=PlanogramStatus.DRAFT,
        note=note[:200],
        created_by=_real(actor),
    )
    if source is not None:
        PlanogramSlot.objects.bulk_create(
            PlanogramSlot(
                planogram=planogram,
                shelf=slot.shelf,
                sensors=list(slot.sensors),
                product_id=slot.product_id,
                capacity=slot.capacity,
                par_level=slot.par_level,
            )
            for slot in source.slots.order_by("shelf", "id")
        )
    _refresh_check(planogram)
    ensure_still_visible(actor=actor, instance=planogram, action="add")
    audit_record(
        actor=actor,
        action=AuditAction.CREATE,
        instance=planogram,
        after={**_planogram_snapshot(planogram), "slots": _slot_rows(planogram)},
        message=f"copied from v{source.version}" if source is not None else "",
    )
    return planogram


@transaction.atomic
def planogram_update(*, actor: Any, planogram: Planogram, data: Mapping[str, Any]) -> Planogram:
    """Only the note is editable on a version; slots change through the slot services."""
    locked = _locked(planogram)
    before = _planogram_snapshot(locked)
    if "note" in data:
        locked.note = str(data["note"])[:200]
    locked.save(update_fields=["note", "updated_at"])
    ensure_still_visible(actor=actor, instance=locked, action="change")
    after = _planogram_snapshot(locked)
    if before != after:
        audit_record(actor=actor, action=AuditAction.UPDATE, instance=locked, before=before, after=after)
    planogram.refresh_from_db()
    return planogram


@transaction.atomic
def planogram_draft_delete(*, actor: Any, planogram: Planogram) -> None:
    """Discard a draft. Versions that were ever in force are history and stay."""
    locked = _locked(planogram)
    _require_draft(locked)
    audit_record(
        actor=actor,
        action=AuditAction.DELETE,
        instance=locked,
        before={**_planogram_snapshot(locked), "slots": _slot_rows(locked)},
    )
    locked.delete()


@transaction.atomic
def planogram_activate(*, actor: Any, planogram: Planogram) -> Planogram:
    """Put a draft in force now; the version in force until now is superseded at the same instant."""
    Device.objects.select_for_update().filter(pk=planogram.device_id).first()
    draft = _locked(planogram)
    _require_draft(draft)
    if not draft.slots.exists():
        raise OpenVendError(
            InventoryErrorCode.PLANOGRAM_EMPTY,
            _("Version %(version)s has no slots: add the products before putting it in force.")
            % {"version": draft.version},
        )
    now = timezone.now()
    previous = (
        Planogram.objects.select_for_update()
        .filter(device_id=draft.device_id, status=PlanogramStatus.ACTIVE)
        .first()
    )
    if previous is not None:
        before = _planogram_snapshot(previous)
        previous.status = PlanogramStatus.SUPERSEDED
        previous.effective_to = now
        previous.save(update_fields=["status", "effective_to", "updated_at"])
        audit_record(
            actor=actor,
            action=AuditAction.UPDATE,
            instance=previous,
            before=before,
            after=_planogram_snapshot(previous),
            message=f"superseded by v{draft.version}",
        )
    before = _planogram_snapshot(draft)
    draft.status = PlanogramStatus.ACTIVE
    draft.effective_from = now
    draft.effective_to = None
    draft.check_report = recognition_check(draft)
    draft.save(update_fields=["status", "effective_from", "effective_to", "check_report", "updated_at"])
    ensure_still_visible(actor=actor, instance=draft, action="change")
    crowded = sum(1 for row in draft.check_report.get("sensors", []) if row.get("confusable_count"))
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        instance=draft,
        before=before,
        after=_planogram_snapshot(draft),
        message=f"activated; {crowded} sensor(s) with confusable products" if crowded else "activated",
    )
    planogram.refresh_from_db()
    return planogram


# ----------------------------------------------------------------------------------------- slots


def _slot_audit(actor: Any, action: str, slot: PlanogramSlot, merchant_id: int, **kwargs: Any) -> None:
    audit_record(actor=actor, action=action, instance=slot, merchant_id=merchant_id, **kwargs)


@transaction.atomic
def planogram_slot_add(
    *,
    actor: Any,
    planogram: Planogram,
    shelf: int,
    sensors: Sequence[str],
    product: Any,
    capacity: int,
    par_level: int,
) -> PlanogramSlot:
    locked = _locked(planogram)
    _require_draft(locked)
    candidate = SlotSpec(shelf, tuple(sensors), product, capacity, par_level)
    validate_slot(locked, candidate, _others(locked))
    slot = PlanogramSlot.objects.create(
        planogram=locked,
        shelf=shelf,
        sensors=list(sensors),
        product=product,
        capacity=capacity,
        par_level=par_level,
    )
    _refresh_check(locked)
    _slot_audit(actor, AuditAction.CREATE, slot, locked.merchant_id, after=snapshot(slot))
    return slot


@transaction.atomic
def planogram_slot_update(*, actor: Any, slot: PlanogramSlot, data: Mapping[str, Any]) -> PlanogramSlot:
    locked = _locked(slot.planogram)
    _require_draft(locked)
    current = PlanogramSlot.objects.select_for_update().get(pk=slot.pk)
    before = snapshot(current)
    values = {field: data.get(field, getattr(current, field)) for field in SLOT_FIELDS}
    candidate = SlotSpec(
        values["shelf"],
        tuple(values["sensors"] or ()),
        values["product"],
        values["capacity"],
        values["par_level"],
        current.pk,
    )
    validate_slot(locked, candidate, _others(locked))
    for field, value in values.items():
        setattr(current, field, list(value) if field == "sensors" else value)
    current.save()
    after = snapshot(current)
    if after != before:
        _refresh_check(locked)
        _slot_audit(actor, AuditAction.UPDATE, current, locked.merchant_id, before=before, after=after)
    slot.refresh_from_db()
    return slot


@transaction.atomic
def planogram_slot_remove(*, actor: Any, slot: PlanogramSlot) -> None:
    locked = _locked(slot.planogram)
    _require_draft(locked)
    current = PlanogramSlot.objects.select_for_update().get(pk=slot.pk)
    _slot_audit(actor, AuditAction.DELETE, current, locked.merchant_id, before=snapshot(current))
    current.delete()
    _refresh_check(locked)
