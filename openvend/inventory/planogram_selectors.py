"""Reading planograms: the version in force at any instant, a device's history, the check's warnings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from openvend.devices.choices import DeviceType
from openvend.inventory.choices import PlanogramStatus
from openvend.inventory.models import Planogram, Track


def has_weight_sensors(kind: Any) -> bool:
    """Only cabinets that weigh their shelves get planograms; vending machines have tracks."""
    return kind.type != DeviceType.VENDING_MACHINE and kind.shelves > 0 and kind.sensors_per_shelf > 0


def is_vending_machine(kind: Any) -> bool:
    return kind.type == DeviceType.VENDING_MACHINE and kind.tracks > 0


def planogram_in_force(device: Any, at: datetime | None = None) -> Planogram | None:
    """The version that was (or is) in force at `at` (default now): effective_from ≤ at < effective_to.

    Superseded versions keep their period, so a past session is always judged against the layout
    the cabinet had then."""
    at = at or timezone.now()
    return (
        Planogram.objects.filter(device=device, effective_from__lte=at)
        .exclude(status=PlanogramStatus.DRAFT)
        .filter(Q(effective_to__isnull=True) | Q(effective_to__gt=at))
        .order_by("-effective_from")
        .first()
    )


def device_planograms(device: Any) -> QuerySet[Planogram]:
    return Planogram.objects.filter(device=device).order_by("-version")


def device_tracks(device: Any) -> QuerySet[Track]:
    return Track.objects.filter(device=device).select_related("product").order_by("number")


def check_warnings(report: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The sensors (or bridged sensor groups) where the check found confusable combinations:
    which SKUs are there, the predicted exact-decode rate and the closest confusable pairs."""
    warnings: list[dict[str, Any]] = []
    seen_groups: set[tuple[str, ...]] = set()
    for row in (report or {}).get("sensors", []):
        if not row.get("confusable_count"):
            continue
        group = tuple(row.get("group") or [row["sensor"]])
        if group in seen_groups:  # a bridged group is reported once per member sensor
            continue
        seen_groups.add(group)
        warnings.append(
            {
                "sensors": list(group),
                "skus": list(row.get("skus", [])),
                "predicted_accuracy": row.get("predicted_accuracy"),
                "confusable_count": row["confusable_count"],
                "confusable": [
                    {
                        "a": _describe(pair["a"]),
                        "b": _describe(pair["b"]),
                        "delta_g": pair["delta_g"],
                        "separation_sd": pair["separation_sd"],
                    }
                    for pair in row.get("confusable", [])
                ],
            }
        )
    return warnings


def _describe(items: list[dict[str, Any]]) -> str:
    """[{"sku": "A", "qty": 2}] → "2 × A"; nothing taken → "nothing"."""
    if not items:
        return _("nothing")
    return " + ".join(f"{item['qty']} × {item['sku']}" for item in items)
