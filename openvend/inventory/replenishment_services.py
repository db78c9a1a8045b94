"""Writes for replenishment orders: created from suggestions, assigned, picked, dispatched,
completed (the only step that moves stock) or cancelled; and the pick-list workbook.

    draft ──► picking ──► in_transit ──► completed
      └──────────┴────────────┴────────► cancelled
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from io import BytesIO
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from openvend.audit.choices import AuditAction
from openvend.audit.services import audit_record, snapshot
from openvend.core.errors import ConflictError, CoreErrorCode, OpenVendError
from openvend.inventory.choices import MovementKind, ReplenishmentState
from openvend.inventory.errors import InventoryErrorCode
from openvend.inventory.ledger import Source, post_movement
from openvend.inventory.models import (
    ReplenishmentLine,
    ReplenishmentOrder,
    RestockSession,
    StockMovement,
)
from openvend.inventory.replenishment_selectors import (
    DEFAULT_LEAD_DAYS,
    DEFAULT_VELOCITY_DAYS,
    LIVE_RESTOCK_STATES,
    PickList,
    replenishment_suggestions,
)

S = ReplenishmentState
# Which states each transition may start from.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    S.PICKING: (S.DRAFT,),
    S.IN_TRANSIT: (S.PICKING,),
    S.COMPLETED: (S.IN_TRANSIT,),
    S.CANCELLED: (S.DRAFT, S.PICKING, S.IN_TRANSIT),
}


def order_snapshot(order: ReplenishmentOrder) -> dict[str, Any]:
    """The order with its lines, as the audit log keeps it."""
    data = snapshot(order)
    data["lines"] = [
        {
            "product": line.product_id,
            "lane": line.lane,
            "planned": line.quantity,
            "placed": line.placed_quantity,
        }
        for line in order.lines.all().order_by("lane", "product_id")
    ]
    return data


def _next_number(day: str) -> str:
    prefix = f"RP{day}-"
    last = (
        ReplenishmentOrder.objects.filter(number__startswith=prefix)
        .order_by("-number")
        .values_list("number", flat=True)
        .first()
    )
    serial = int(last.removeprefix(prefix)) + 1 if last else 1
    return f"{prefix}{serial:04d}"


def _create_numbered(order: ReplenishmentOrder) -> None:
    """Give the order the next free RPyyyymmdd-nnnn number; a concurrent writer that took the same
    number makes the unique constraint fail and we simply take the next one."""
    day = timezone.localdate().strftime("%Y%m%d")
    for _attempt in range(20):
        order.number = _next_number(day)
        try:
            with transaction.atomic():
                order.save()
            return
        except IntegrityError:
            if not ReplenishmentOrder.objects.filter(number=order.number).exists():
                raise
    raise ConflictError(CoreErrorCode.CONFLICT, _("Could not number the order; please retry."))


def _check_assignee(device: Any, assignee: Any) -> None:
    if assignee is None:
        return
    if assignee.merchant_id != device.merchant_id or not assignee.is_active:
        raise OpenVendError(
            InventoryErrorCode.BAD_ASSIGNEE,
            _("The replenisher must be an active member of the device owner's staff."),
            fields={"assignee": [_("Not found.")]},
        )


class NotFoundError(OpenVendError):
    """A referenced row the caller cannot see: answered exactly like a missing one."""

    status_code = 404


def check_device_visible(actor: Any, device: Any, action: str = "view") -> None:
    from openvend.devices.models import Device

    if actor is None:
        return
    if not Device.objects.restrict(actor, action).filter(pk=device.pk).exists():
        raise NotFoundError(
            CoreErrorCode.NOT_FOUND, _("Device not found."), fields={"device": [_("Not found.")]}
        )


@transaction.atomic
def replenishment_orders_from_suggestions(
    *,
    actor: Any,
    devices: Iterable[Any],
    assignee: Any = None,
    route: str = "",
    note: str = "",
    days: int = DEFAULT_VELOCITY_DAYS,
    lead_days: int = DEFAULT_LEAD_DAYS,
) -> list[ReplenishmentOrder]:
    """One draft order per device holding its positive suggestions. Devices with nothing to bring
    get no order; if none has anything, nothing is created and the caller is told so."""
    orders = []
    for device in devices:
        check_device_visible(actor, device)
        _check_assignee(device, assignee)
        wanted = [
            s for s in replenishment_suggestions(device, days=days, lead_days=lead_days) if s.suggested > 0
        ]
        if not wanted:
            continue
        order = ReplenishmentOrder(
            merchant_id=device.merchant_id,
            device=device,
            assignee=assignee,
            route=route[:60],
            note=note[:200],
            created_by=actor if getattr(actor, "pk", None) else None,
        )
        _create_numbered(order)
        ReplenishmentLine.objects.bulk_create(
            [
                ReplenishmentLine(order=order, product=s.product, lane=s.lane, quantity=s.suggested)
                for s in wanted
            ]
        )
        audit_record(actor=actor, action=AuditAction.CREATE, instance=order, after=order_snapshot(order))
        orders.append(order)
    if not orders:
        raise OpenVendError(
            InventoryErrorCode.NOTHING_TO_REPLENISH,
            _("Nothing to replenish: every chosen device is at or above its par levels."),
        )
    return orders


def _locked(order: ReplenishmentOrder) -> ReplenishmentOrder:
    return ReplenishmentOrder.objects.select_for_update().select_related("device").get(pk=order.pk)


def _refuse_transition(order: ReplenishmentOrder, target: str) -> OpenVendError:
    return ConflictError(
        InventoryErrorCode.BAD_TRANSITION,
        _("Order %(number)s is %(state)s; it cannot become %(target)s.")
        % {
            "number": order.number,
            "state": order.get_state_display(),
            "target": ReplenishmentState(target).label,
        },
    )


def _transition(actor: Any, order: ReplenishmentOrder, target: str, **stamps: Any) -> ReplenishmentOrder:
    locked = _locked(order)
    if locked.state not in TRANSITIONS[target]:
        raise _refuse_transition(locked, target)
    before = order_snapshot(locked)
    locked.state = target
    for name, value in stamps.items():
        setattr(locked, name, value)
    locked.save()
    audit_record(
        actor=actor, action=AuditAction.UPDATE, instance=locked, before=before, after=order_snapshot(locked)
    )
    return locked


@transaction.atomic
def replenishment_order_update(
    *, actor: Any, order: ReplenishmentOrder, data: Mapping[str, Any]
) -> ReplenishmentOrder:
    """Assign a replenisher and/or a route, or change the note, while the order is open."""
    locked = _locked(order)
    if locked.state in (S.COMPLETED, S.CANCELLED):
        raise ConflictError(
            InventoryErrorCode.BAD_TRANSITION,
            _("Order %(number)s is %(state)s and can no longer be changed.")
            % {"number": locked.number, "state": locked.get_state_display()},
        )
    allowed = {k: v for k, v in data.items() if k in {"assignee", "route", "note"}}
    if "assignee" in allowed:
        _check_assignee(locked.device, allowed["assignee"])
    before = order_snapshot(locked)
    for name, value in allowed.items():
        setattr(locked, name, value)
    locked.full_clean()
    locked.save()
    after = order_snapshot(locked)
    if after != before:
        audit_record(actor=actor, action=AuditAction.UPDATE, instance=locked, before=before, after=after)
    return locked


@transaction.atomic
def replenishment_order_start_picking(*, actor: Any, order: ReplenishmentOrder) -> ReplenishmentOrder:
    return _transition(actor, order, S.PICKING, picked_at=timezone.now())


@transaction.atomic
def replenishment_order_dispatch(*, actor: Any, order: ReplenishmentOrder) -> ReplenishmentOrder:
    return _transition(actor, order, S.IN_TRANSIT, dispatched_at=timezone.now())


@transaction.atomic
def replenishment_order_cancel(*, actor: Any, order: ReplenishmentOrder) -> ReplenishmentOrder:
    """Cancel an open order. Refused while a restock session against it is live (door opening,
    open, or closed and being counted): that session posts what is put in and settles the order
    when it completes, so the session is cancelled (or completed) first."""
    locked = _locked(order)
    if locked.state not in TRANSITIONS[S.CANCELLED]:
        raise _refuse_transition(locked, S.CANCELLED)
    live = _live_restock_session(locked)
    if live is not None:
        raise ConflictError(
            InventoryErrorCode.ORDER_BEING_RESTOCKED,
            _(
                "Order %(number)s is being restocked (restock session %(session)s): it cannot be "
                "cancelled now. Cancel the session first, or let it complete."
            )
            % {"number": locked.number, "session": live.pk},
        )
    return _transition(actor, locked, S.CANCELLED)


def _live_restock_session(order: ReplenishmentOrder) -> RestockSession | None:
    """The order's restock session still opening, open or being counted, if any."""
    return order.restock_sessions.filter(state__in=LIVE_RESTOCK_STATES).first()


@dataclass(frozen=True)
class Discrepancy:
    line: ReplenishmentLine
    planned: int
    placed: int


@dataclass
class CompletionResult:
    order: ReplenishmentOrder
    movements: list[StockMovement] = field(default_factory=list)
    discrepancies: list[Discrepancy] = field(default_factory=list)
    already_completed: bool = False


def _placed_for(lines: list[ReplenishmentLine], placed: Mapping[Any, Any] | None) -> dict[int, int]:
    """Placed quantity per line id: as given, else as planned. Unknown lines or bad numbers refuse
    the whole completion."""
    given = {}
    known = {line.pk for line in lines}
    for key, value in (placed or {}).items():
        try:
            line_id, quantity = int(key), int(value)
        except (TypeError, ValueError):
            line_id, quantity = -1, -1
        if line_id not in known or quantity < 0 or str(value).strip() != str(quantity):
            raise OpenVendError(
                InventoryErrorCode.BAD_QUANTITY,
                _("Placed quantities must be whole numbers ≥ 0 for lines of this order."),
                fields={"placed": [_("Line %(line)s: %(value)s") % {"line": key, "value": value}]},
            )
        given[line_id] = quantity
    return {line.pk: given.get(line.pk, line.quantity) for line in lines}


def _result_of(order: ReplenishmentOrder, movements: list[StockMovement], already: bool) -> CompletionResult:
    lines = list(order.lines.select_related("product").all())
    discrepancies = [
        Discrepancy(line=line, planned=line.quantity, placed=int(line.placed_quantity or 0))
        for line in lines
        if line.placed_quantity is not None and line.placed_quantity != line.quantity
    ]
    return CompletionResult(
        order=order, movements=movements, discrepancies=discrepancies, already_completed=already
    )


def movement_key(order: ReplenishmentOrder, line: ReplenishmentLine) -> str:
    return f"replenish:{order.pk}:{line.pk}"


@transaction.atomic
def replenishment_order_complete(
    *, actor: Any, order: ReplenishmentOrder, placed: Mapping[Any, Any] | None = None
) -> CompletionResult:
    """Record what was placed per line (default: as planned) and post one REPLENISHMENT movement
    per line with placed > 0. Completing an already completed order again changes nothing and
    answers with the first completion's result (the movements are keyed per line).

    An order with a live restock session (door opening, open or closed and being counted) is
    refused: that session posts what was put in and settles the order when it completes, so
    completing the order as well would count the same units twice."""
    locked = _locked(order)
    if locked.state == S.COMPLETED:
        keys = [movement_key(locked, line) for line in locked.lines.all()]
        existing = list(StockMovement.objects.filter(idempotency_key__in=keys).order_by("id"))
        return _result_of(locked, existing, already=True)
    if locked.state not in TRANSITIONS[S.COMPLETED]:
        raise _refuse_transition(locked, S.COMPLETED)
    live = _live_restock_session(locked)
    if live is not None:
        raise ConflictError(
            InventoryErrorCode.ORDER_BEING_RESTOCKED,
            _(
                "Order %(number)s is being restocked (restock session %(session)s): it completes "
                "when that session completes. Complete or cancel the session first."
            )
            % {"number": locked.number, "session": live.pk},
        )
    lines = list(locked.lines.select_related("product").all())
    quantities = _placed_for(lines, placed)
    before = order_snapshot(locked)
    movements = []
    for line in lines:
        line.placed_quantity = quantities[line.pk]
        line.save(update_fields=["placed_quantity"])
        if line.placed_quantity > 0:
            movements.append(
                post_movement(
                    device=locked.device,
                    product=line.product,
                    lane=line.lane,
                    quantity=line.placed_quantity,
                    kind=MovementKind.REPLENISHMENT,
                    actor=actor,
                    reason=locked.number,
                    source=Source.of(locked),
                    idempotency_key=movement_key(locked, line),
                )
            )
    locked.state = S.COMPLETED
    locked.completed_at = timezone.now()
    locked.save()
    audit_record(
        actor=actor, action=AuditAction.UPDATE, instance=locked, before=before, after=order_snapshot(locked)
    )
    return _result_of(locked, movements, already=False)


@transaction.atomic
def replenishment_order_settle_from_restock(
    *, actor: Any, order: ReplenishmentOrder, placed_by_position: Mapping[tuple[int, int], int]
) -> ReplenishmentOrder | None:
    """A restock session done against this order already moved the stock: record what was placed
    per line and complete the order without posting again. Orders already closed are left alone."""
    locked = _locked(order)
    if locked.state not in (S.DRAFT, S.PICKING, S.IN_TRANSIT):
        return None
    before = order_snapshot(locked)
    for line in locked.lines.all():
        line.placed_quantity = max(0, placed_by_position.get((line.product_id, line.lane), 0))
        line.save(update_fields=["placed_quantity"])
    locked.state = S.COMPLETED
    locked.completed_at = timezone.now()
    locked.save()
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        instance=locked,
        before=before,
        after=order_snapshot(locked),
        message="completed by restock session",
    )
    return locked


def pick_list_workbook(picks: PickList, *, title: str = "") -> bytes:
    """Excel pick list: sheet 1 the lines per device, sheet 2 the pre-kitting totals per product."""
    from openpyxl import Workbook

    book = Workbook()
    by_device = book.active
    assert by_device is not None
    by_device.title = _("By device")[:31]
    by_device.append(
        [
            _("Device code"),
            _("Device"),
            _("Site"),
            pgettext("replenishment", "Order"),
            _("Lane"),
            _("SKU"),
            _("Product"),
            _("Quantity"),
        ]
    )
    for group in picks.devices:
        site = group.device.site.name if group.device.site_id else ""
        for line in group.lines:
            by_device.append(
                [
                    group.device.code,
                    group.device.name,
                    site,
                    line.order.number,
                    line.lane,
                    line.product.sku,
                    line.product.name,
                    line.quantity,
                ]
            )
    totals = book.create_sheet(_("Pre-kitting totals")[:31])
    totals.append([_("SKU"), _("Product"), _("Barcode"), _("Quantity")])
    for total in picks.totals:
        totals.append([total.product.sku, total.product.name, total.product.barcode, total.quantity])
    totals.append([_("Total"), "", "", picks.total_units])
    if title:
        book.properties.title = title
    buffer = BytesIO()
    book.save(buffer)
    return buffer.getvalue()
