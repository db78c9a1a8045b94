"""Stock-taking by scan (扫码盘点).

    counting ──submit──▶ submitted ──approve──▶ approved   (one stock-take movement per differing line)
                                   └─reject───▶ rejected   (nothing posted)

`stocktake_start` snapshots what the ledger holds for every position of the device (each lane's
product, the active planogram's products, the tracks' products). Counting starts every line at 0
and adds what is scanned or typed: units not found are counted as not there. Approval posts the
difference counted − expected as a delta, so sales made between the count and the approval stay
in the ledger.

Who may approve: someone holding `inventory.approve_stocktake` (operations, store managers,
merchant administrators), and never the person who counted — four eyes on every adjustment —
except a merchant administrator, who may approve their own count (a one-person merchant has
nobody else to ask, and the administrator could grant themselves any role anyway).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from openvend.audit.choices import AuditAction
from openvend.audit.services import audit_record, snapshot
from openvend.core.errors import ConflictError, OpenVendError
from openvend.inventory import ledger, selectors
from openvend.inventory.choices import MovementKind, StockTakeState
from openvend.inventory.errors import InventoryErrorCode
from openvend.inventory.models import StockTake, StockTakeLine
from openvend.inventory.positions import check_position

SELF_APPROVING_ROLE = "merchant_admin"


def _visible(actor: Any, take: StockTake, action: str) -> StockTake:
    """The take, locked, if the actor may act on it; 'not found' reads the same as someone else's."""
    found = StockTake.objects.restrict(actor, action).select_for_update().filter(pk=take.pk).first()
    if found is None:
        raise PermissionDenied(_("You may not do this to this stock-take."))
    return found


def _require_state(take: StockTake, *states: str) -> None:
    if take.state not in states:
        raise ConflictError(
            InventoryErrorCode.BAD_STATE,
            _("This stock-take is %(state)s; that is not possible now.")
            % {"state": take.get_state_display()},
        )


def _audit_state(actor: Any, take: StockTake, before: dict[str, Any]) -> None:
    audit_record(actor=actor, action=AuditAction.UPDATE, instance=take, before=before, after=snapshot(take))


@transaction.atomic
def stocktake_start(*, actor: Any, device: Any) -> StockTake:
    """Open a count on a device with every position's expected on-hand; one open count per device."""
    from openvend.devices.models import Device

    if not actor.has_perm("inventory.add_stocktake"):
        raise PermissionDenied(_("You may not start stock-takes."))
    locked = Device.objects.restrict(actor, "view").select_for_update().filter(pk=device.pk).first()
    if locked is None:
        raise PermissionDenied(_("This device is outside what you may manage."))
    if selectors.open_stocktake(locked) is not None:
        raise ConflictError(
            InventoryErrorCode.STOCKTAKE_OPEN,
            _("This device already has a stock-take in progress: finish or decide it first."),
        )
    take = StockTake.objects.create(merchant_id=locked.merchant_id, device=locked, counted_by=actor)
    StockTakeLine.objects.bulk_create(
        StockTakeLine(stock_take=take, product_id=product_id, lane=lane, expected=on_hand, counted=0)
        for (product_id, lane), on_hand in sorted(selectors.stocktake_positions(locked).items())
    )
    audit_record(
        actor=actor,
        action=AuditAction.CREATE,
        instance=take,
        after={**snapshot(take), "lines": take.lines.count()},
    )
    return take


def _product_for(take: StockTake, barcode_or_product: Any) -> Any:
    from openvend.catalog.models import Product

    if isinstance(barcode_or_product, Product):
        product = barcode_or_product if barcode_or_product.merchant_id == take.merchant_id else None
    elif isinstance(barcode_or_product, int):
        product = Product.objects.filter(merchant_id=take.merchant_id, pk=barcode_or_product).first()
    else:
        code = str(barcode_or_product).strip()
        product = (
            Product.objects.filter(merchant_id=take.merchant_id, barcode=code).order_by("pk").first()
            if code
            else None
        )
    if product is None:
        message = _("No product of yours has the barcode %(code)s.") % {"code": barcode_or_product}
        raise OpenVendError(InventoryErrorCode.UNKNOWN_BARCODE, message, fields={"barcode": [message]})
    return product


def _line_for(take: StockTake, product: Any, lane: int | None) -> StockTakeLine:
    lines = StockTakeLine.objects.select_for_update().filter(stock_take=take, product=product)
    if lane is None:
        candidates = list(lines)
        if len(candidates) == 1:
            return candidates[0]
        if len(candidates) > 1:
            message = _("%(product)s sits in several lanes: say which.") % {"product": product.name}
            raise OpenVendError(InventoryErrorCode.BAD_LANE, message, fields={"lane": [message]})
        lane = 0
    line = lines.filter(lane=lane).first()
    if line is None:
        # Found where the ledger and the plan expect nothing: count it against what the ledger
        # holds, at a position the rule allows or one still holding this product (a count says what
        # is there rather than putting units in, so leftover stock can always be counted).
        check_position(take.device, product, lane, putting_in=False)
        line = StockTakeLine.objects.create(
            stock_take=take,
            product=product,
            lane=lane,
            expected=selectors.on_hand(device=take.device, product=product, lane=lane),
            counted=0,
        )
    return line


@transaction.atomic
def stocktake_count(
    *,
    actor: Any,
    take: StockTake,
    barcode_or_product: Any,
    lane: int | None = None,
    counted: int | None = None,
    increment: int | None = None,
) -> StockTakeLine:
    """Record a count: `increment` adds (a scan adds one; −1 undoes one), `counted` sets the figure.
    With no lane, the product's only line is meant; a product found in no line gets one."""
    if (counted is None) == (increment is None):
        raise OpenVendError(InventoryErrorCode.BAD_STATE, _("Give either a count or an increment."))
    take = _visible(actor, take, "change")
    _require_state(take, StockTakeState.COUNTING)
    product = _product_for(take, barcode_or_product)
    line = _line_for(take, product, lane)
    new_count = counted if counted is not None else line.counted + (increment or 0)
    if new_count < 0:
        message = _("A count cannot be negative.")
        raise OpenVendError(InventoryErrorCode.WOULD_GO_NEGATIVE, message, fields={"counted": [message]})
    if new_count != line.counted:
        before = {"counted": line.counted}
        line.counted = new_count
        line.save(update_fields=["counted"])
        audit_record(
            actor=actor,
            action=AuditAction.UPDATE,
            instance=line,
            merchant_id=take.merchant_id,
            before=before,
            after={"counted": new_count},
        )
    return line


@transaction.atomic
def stocktake_submit(*, actor: Any, take: StockTake) -> StockTake:
    """Hand the count over for approval; counts are frozen from here on.

    `expected` is re-read from the ledger now: the count describes the shelf as it is when the
    counting ends, so a sale made while counting must not be subtracted a second time at approval.
    Sales after this moment are kept, because approval posts differences, not absolute counts."""
    take = _visible(actor, take, "change")
    _require_state(take, StockTakeState.COUNTING)
    before = snapshot(take)
    current = selectors.stocktake_positions(take.device)
    moved = []
    for line in take.lines.all():
        expected = current.get((line.product_id, line.lane), 0)
        if expected != line.expected:
            line.expected = expected
            moved.append(line)
    StockTakeLine.objects.bulk_update(moved, ["expected"])
    take.state = StockTakeState.SUBMITTED
    take.submitted_at = timezone.now()
    take.save(update_fields=["state", "submitted_at", "updated_at"])
    _audit_state(actor, take, before)
    return take


def _check_approver(approver: Any, take: StockTake) -> None:
    if approver.pk != take.counted_by_id:
        return
    if approver.roles.filter(code=SELF_APPROVING_ROLE, is_preset=True).exists():
        return
    raise OpenVendError(
        InventoryErrorCode.SELF_APPROVAL,
        _("You counted this stock-take: somebody else must approve it."),
    )


@transaction.atomic
def stocktake_approve(*, approver: Any, take: StockTake, reason: str) -> list[Any]:
    """Accept the count: post one stock-take movement per differing line (counted − expected)."""
    take = _visible(approver, take, "approve")
    _require_state(take, StockTakeState.SUBMITTED)
    _check_approver(approver, take)
    reason = (reason or "").strip()
    differing = list(take.lines.select_related("product").order_by("lane", "product_id"))
    differing = [line for line in differing if line.counted != line.expected]
    if differing and not reason:
        message = _("Say why the stock is adjusted.")
        raise OpenVendError(InventoryErrorCode.REASON_REQUIRED, message, fields={"reason": [message]})
    source = ledger.Source.of(take)
    movements = [
        ledger.post_movement(
            device=take.device,
            product=line.product,
            lane=line.lane,
            quantity=line.counted - line.expected,
            kind=MovementKind.STOCKTAKE,
            actor=approver,
            reason=reason,
            source=source,
            idempotency_key=f"stocktake:{take.pk}:{line.pk}",
        )
        for line in differing
    ]
    before = snapshot(take)
    take.state = StockTakeState.APPROVED
    take.approver = approver
    take.decided_at = timezone.now()
    take.reason = reason[:200]
    take.save(update_fields=["state", "approver", "decided_at", "reason", "updated_at"])
    _audit_state(approver, take, before)
    return movements


@transaction.atomic
def stocktake_reject(*, approver: Any, take: StockTake, note: str = "") -> StockTake:
    """Turn the count down: nothing is posted; the device is free for a new count."""
    take = _visible(approver, take, "approve")
    _require_state(take, StockTakeState.SUBMITTED)
    before = snapshot(take)
    take.state = StockTakeState.REJECTED
    take.approver = approver
    take.decided_at = timezone.now()
    take.decision_note = (note or "").strip()[:200]
    take.save(update_fields=["state", "approver", "decided_at", "decision_note", "updated_at"])
    _audit_state(approver, take, before)
    return take
