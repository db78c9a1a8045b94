"""What a visit's weights say was taken: recognition against the device's active planogram with the
ledger's on-hand counts, and the evidence staff need to judge it. Read-only: deciding what to do
with a verdict is `orders.services`' job."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from openvend.orders.choices import ReviewReason
from openvend.shopping.models import ShoppingSession


@dataclass(frozen=True)
class Taken:
    product: Any
    quantity: int


@dataclass
class Verdict:
    """What recognition concluded and what we make of it. `evidence` is kept on the order."""

    evidence: dict[str, Any]
    taken: list[Taken] = field(default_factory=list)
    review_reason: str = ""


def _active_planogram(session: ShoppingSession) -> Any:
    from openvend.inventory.choices import PlanogramStatus
    from openvend.inventory.models import Planogram

    return (
        Planogram.objects.filter(device_id=session.device_id, status=PlanogramStatus.ACTIVE)
        .select_related("device", "device__kind")
        .order_by("-version")
        .first()
    )


def recognise_visit(session: ShoppingSession) -> Verdict:
    """Read the session's weight changes against the planogram with the ledger's on-hand counts."""
    from openvend.catalog.selectors import sellable_products
    from openvend.inventory.recognition_export import COUNTS_ON_HAND, ordered_slots, recognition_planogram
    from openvend.recognition.model import Evidence, Planogram, recognize

    deltas = {str(sensor): float(grams) for sensor, grams in (session.sensor_deltas_g or {}).items()}
    evidence: dict[str, Any] = {"sensor_deltas_g": deltas}
    faults = _device_faults_during(session)
    if faults:
        evidence["device_faults"] = faults
    plan = _active_planogram(session)
    if plan is None:
        return Verdict(evidence, review_reason=ReviewReason.NO_PLANOGRAM)
    evidence["planogram_version"] = plan.version
    try:
        slots = ordered_slots(plan)
        engine_plan = Planogram.from_dict(recognition_planogram(plan, counts=COUNTS_ON_HAND, slots=slots))
        result = recognize(engine_plan, Evidence(session=str(session.pk), deltas_g=deltas))
    except (ValueError, KeyError) as exc:
        evidence["error"] = str(exc)[:200]
        return Verdict(evidence, review_reason=ReviewReason.BAD_EVIDENCE)
    found = result.to_dict()
    found.pop("session", None)
    evidence.update(found)
    if faults:  # the weights may be wrong however sure recognition is
        return Verdict(evidence, review_reason=ReviewReason.DEVICE_FAULT)
    if result.decision != "accept":
        return Verdict(evidence, review_reason=ReviewReason.RECOGNITION)
    if any(qty < 0 for _sku, qty in result.items):
        return Verdict(evidence, review_reason=ReviewReason.PUT_IN)
    products = {slot.product.sku: slot.product for slot in slots}
    if any(sku not in products for sku, _qty in result.items):
        return Verdict(evidence, review_reason=ReviewReason.UNKNOWN_PRODUCT)
    taken = [Taken(products[sku], qty) for sku, qty in result.items]
    wanted = {item.product.pk for item in taken}
    if sellable_products(session.device).filter(pk__in=wanted).count() != len(wanted):
        return Verdict(evidence, review_reason=ReviewReason.NOT_SELLABLE)
    return Verdict(evidence, taken=taken)


# Device alarms that make a visit's weights untrustworthy when raised while the visit was under way.
FAULT_ALARMS = ("camera_fault", "offline", "foreign_object", "lock_not_engaged")


def _device_faults_during(session: ShoppingSession) -> list[dict[str, Any]]:
    """Alarms the device raised between the scan and the door closing — except the door-left-open
    alarm the session itself raised (that is the shopper's doing, not a fault)."""
    from openvend.devices.models import Alarm

    until = session.closed_at or timezone.now()
    alarms = Alarm.objects.filter(
        device_id=session.device_id,
        kind__in=FAULT_ALARMS,
        opened_at__gte=session.created_at,
        opened_at__lte=until,
    ).order_by("opened_at")
    return [
        {"alarm": alarm.pk, "kind": alarm.kind, "at": alarm.opened_at.isoformat()}
        for alarm in alarms
        if (alarm.detail or {}).get("shopping_session") != session.pk
    ]
