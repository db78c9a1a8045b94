"""Posting to the stock ledger: the only code that changes stock.

Each posting locks the position's `StockLevel` row (SELECT … FOR UPDATE on PostgreSQL; SQLite
serialises writers), appends one immutable `StockMovement` carrying the new balance, and updates
the level, all in one transaction. Posting the same business event twice (same idempotency key)
returns the first movement and changes nothing.

Selling the last unit twice — the policy:
- a vending track (lane > 0) dispenses only what the ledger holds: a sale that would take the lane
  below zero is refused with `inventory.out_of_stock` before anything moves, so of two concurrent
  vends of the last unit exactly one succeeds;
- a cabinet (lane 0) reports what a shopper physically took, which has already left the shelf: the
  sale is recorded even when the ledger says nothing is there, the balance goes negative and the
  movement is marked `oversold`, which puts the position on the discrepancy report until a
  stock-take or correction settles it. Refusing it would lose a real sale and hide a stock error.
- every other kind (removal, transfer out, correction) may not take a position below zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from openvend.audit.choices import AuditAction
from openvend.audit.services import audit_record
from openvend.core.errors import ConflictError, OpenVendError
from openvend.inventory.choices import MovementKind
from openvend.inventory.errors import InventoryErrorCode
from openvend.inventory.models import StockLevel, StockMovement


@dataclass(frozen=True)
class Source:
    """The business document a movement comes from (an order, a restock session, a stock-take)."""

    type: str
    id: str

    @classmethod
    def of(cls, document: Any) -> Source:
        return cls(document._meta.label_lower, str(document.pk))


def _check_same_merchant(device: Any, product: Any) -> None:
    if product.merchant_id != device.merchant_id:
        raise OpenVendError(
            InventoryErrorCode.OTHER_MERCHANT,
            _("Stock can only hold products from the device owner's own library."),
        )


def _check_posting(device: Any, product: Any, quantity: int, kind: str) -> None:
    if quantity == 0:
        raise OpenVendError(InventoryErrorCode.ZERO_QUANTITY, _("A stock movement must change the quantity."))
    if kind not in MovementKind.values:
        raise OpenVendError(
            InventoryErrorCode.BAD_STATE, _("Unknown movement kind %(kind)r.") % {"kind": kind}
        )
    _check_same_merchant(device, product)


def _locked_level(device: Any, product: Any, lane: int) -> StockLevel:
    level, _created = StockLevel.objects.select_for_update().get_or_create(
        device=device, product=product, lane=lane, defaults={"merchant_id": device.merchant_id}
    )
    return level


def _refusal(kind: str, lane: int, on_hand: int, quantity: int) -> OpenVendError | None:
    if on_hand + quantity >= 0 or quantity > 0:
        return None
    if kind == MovementKind.SALE and lane == 0:
        return None  # a cabinet sale already happened physically: record it as oversold
    if kind == MovementKind.SALE:
        return ConflictError(
            InventoryErrorCode.OUT_OF_STOCK,
            _("Track %(lane)s is empty: %(on_hand)s on hand, %(wanted)s wanted.")
            % {"lane": lane, "on_hand": on_hand, "wanted": -quantity},
        )
    return OpenVendError(
        InventoryErrorCode.WOULD_GO_NEGATIVE,
        _("Only %(on_hand)s on hand; cannot take out %(wanted)s.")
        % {"on_hand": on_hand, "wanted": -quantity},
    )


def post_movement(
    *,
    device: Any,
    product: Any,
    quantity: int,
    kind: str,
    lane: int = 0,
    actor: Any = None,
    reason: str = "",
    source: Source | None = None,
    idempotency_key: str | None = None,
    corrects: StockMovement | None = None,
) -> StockMovement:
    """Append one movement and move the position's on-hand by `quantity` (signed)."""
    _check_posting(device, product, quantity, kind)
    if idempotency_key is not None:
        existing = StockMovement.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return _same_event(existing, device, product, lane, quantity, kind)
    try:
        with transaction.atomic():
            return _post(
                device, product, quantity, kind, lane, actor, reason, source, idempotency_key, corrects
            )
    except IntegrityError:
        # A concurrent posting with the same key won the race: answer with its movement.
        if idempotency_key is None:
            raise
        winner = StockMovement.objects.filter(idempotency_key=idempotency_key).first()
        if winner is None:  # the failure was some other constraint: do not hide it
            raise
        return _same_event(winner, device, product, lane, quantity, kind)


@dataclass(frozen=True)
class Posting:
    """One line of a business event that moves several positions of one device at once."""

    product: Any
    quantity: int
    idempotency_key: str
    lane: int = 0


def post_movements(
    *, device: Any, postings: Sequence[Posting], kind: str, reason: str = "", source: Source | None = None
) -> list[StockMovement]:
    """`post_movement` for every posting, as one step: the same movements, balances, refusals and
    idempotency, in a fixed number of statements rather than six per line (a visit's sale lines are
    posted here). Levels are locked in primary-key order, so two events that share positions cannot
    deadlock. A posting whose key was used before, or a race on a key, falls back to posting line by
    line, which answers each repeat exactly as `post_movement` does."""
    if len({(p.product.pk, p.lane) for p in postings}) != len(postings):
        raise OpenVendError(InventoryErrorCode.BAD_STATE, _("Each position may appear once in a posting."))
    for posting in postings:
        _check_posting(device, posting.product, posting.quantity, kind)
    if not postings:
        return []
    keys = [p.idempotency_key for p in postings]
    if StockMovement.objects.filter(idempotency_key__in=keys).exists():
        return _one_by_one(device, postings, kind, reason, source)
    try:
        with transaction.atomic():
            return _post_all(device, postings, kind, reason, source)
    except IntegrityError:
        if not StockMovement.objects.filter(idempotency_key__in=keys).exists():
            raise  # some other constraint: do not hide it
        return _one_by_one(device, postings, kind, reason, source)


def _one_by_one(
    device: Any, postings: Sequence[Posting], kind: str, reason: str, source: Source | None
) -> list[StockMovement]:
    with transaction.atomic():
        return [
            post_movement(
                device=device,
                product=p.product,
                quantity=p.quantity,
                kind=kind,
                lane=p.lane,
                reason=reason,
                source=source,
                idempotency_key=p.idempotency_key,
            )
            for p in postings
        ]


def _post_all(
    device: Any, postings: Sequence[Posting], kind: str, reason: str, source: Source | None
) -> list[StockMovement]:
    levels = {
        (level.product_id, level.lane): level
        for level in StockLevel.objects.select_for_update()
        .filter(device=device, product__in=[p.product for p in postings], lane__in={p.lane for p in postings})
        .order_by("pk")
    }
    movements = []
    for posting in postings:
        level = levels.get((posting.product.pk, posting.lane))
        if level is None:  # a position's first movement
            level = levels[(posting.product.pk, posting.lane)] = _locked_level(
                device, posting.product, posting.lane
            )
        refusal = _refusal(kind, posting.lane, level.on_hand, posting.quantity)
        if refusal is not None:
            raise refusal
        balance = level.on_hand + posting.quantity
        movements.append(
            _movement(
                device,
                posting.product,
                posting.lane,
                posting.quantity,
                kind,
                balance,
                reason,
                source,
                posting.idempotency_key,
            )
        )
    StockMovement.objects.bulk_create(movements)
    moved = []
    for posting, movement in zip(postings, movements, strict=True):
        level = levels[(posting.product.pk, posting.lane)]
        level.on_hand, level.last_movement = movement.balance_after, movement
        moved.append(level)
    StockLevel.objects.bulk_update(moved, ["on_hand", "last_movement"])
    return movements


def _same_event(
    existing: StockMovement, device: Any, product: Any, lane: int, quantity: int, kind: str
) -> StockMovement:
    """A repeated key is the same business event posted again; a different event under a used key
    is a caller's bug that must not pass silently as "already done"."""
    theirs = (existing.device_id, existing.product_id, existing.lane, existing.quantity, existing.kind)
    if theirs != (device.pk, product.pk, lane, quantity, kind):
        raise ConflictError(
            InventoryErrorCode.KEY_REUSED,
            _("This posting key was already used for a different movement (#%(id)s).") % {"id": existing.pk},
        )
    return existing


def _movement(
    device: Any,
    product: Any,
    lane: int,
    quantity: int,
    kind: str,
    balance: int,
    reason: str,
    source: Source | None,
    idempotency_key: str | None,
) -> StockMovement:
    """The movement to append (not saved yet): a cabinet sale below zero is marked oversold."""
    return StockMovement(
        merchant_id=device.merchant_id,
        device=device,
        product=product,
        lane=lane,
        quantity=quantity,
        kind=kind,
        balance_after=balance,
        oversold=balance < 0 and kind == MovementKind.SALE,
        reason=reason[:200],
        source_type=source.type if source else "",
        source_id=source.id if source else "",
        idempotency_key=idempotency_key,
    )


def _post(
    device: Any,
    product: Any,
    quantity: int,
    kind: str,
    lane: int,
    actor: Any,
    reason: str,
    source: Source | None,
    idempotency_key: str | None,
    corrects: StockMovement | None,
) -> StockMovement:
    level = _locked_level(device, product, lane)
    refusal = _refusal(kind, lane, level.on_hand, quantity)
    if refusal is not None:
        raise refusal
    balance = level.on_hand + quantity
    movement = _movement(device, product, lane, quantity, kind, balance, reason, source, idempotency_key)
    movement.actor = actor if getattr(actor, "pk", None) else None
    movement.corrects = corrects
    movement.save(force_insert=True)
    StockLevel.objects.filter(pk=level.pk).update(on_hand=balance, last_movement=movement)
    if actor is not None:
        audit_record(
            actor=actor,
            action=AuditAction.CREATE,
            instance=movement,
            before={"on_hand": level.on_hand},
            after={"on_hand": balance, "quantity": quantity, "kind": kind, "reason": reason},
        )
    return movement


def correct_movement(*, movement: StockMovement, actor: Any, reason: str) -> StockMovement:
    """Reverse a movement with a new, opposite one. A movement is corrected at most once."""
    if movement.kind == MovementKind.CORRECTION and movement.corrects_id is not None:
        raise OpenVendError(
            InventoryErrorCode.ALREADY_CORRECTED, _("A correction cannot itself be corrected.")
        )
    if StockMovement.objects.filter(corrects=movement).exists():
        raise ConflictError(
            InventoryErrorCode.ALREADY_CORRECTED, _("This movement has already been corrected.")
        )
    return post_movement(
        device=movement.device,
        product=movement.product,
        lane=movement.lane,
        quantity=-movement.quantity,
        kind=MovementKind.CORRECTION,
        actor=actor,
        reason=reason,
        source=Source.of(movement),
        idempotency_key=f"correct:{movement.pk}",
        corrects=movement,
    )


@transaction.atomic
def transfer(
    *,
    product: Any,
    quantity: int,
    from_device: Any,
    to_device: Any,
    from_lane: int = 0,
    to_lane: int = 0,
    actor: Any = None,
    reason: str = "",
) -> tuple[StockMovement, StockMovement]:
    """Move units between two positions (two devices, or two lanes of one): both legs or neither."""
    if quantity <= 0:
        raise OpenVendError(InventoryErrorCode.ZERO_QUANTITY, _("A transfer moves at least one unit."))
    if from_device.pk == to_device.pk and from_lane == to_lane:
        raise OpenVendError(InventoryErrorCode.SAME_POSITION, _("A transfer needs two different positions."))
    out = post_movement(
        device=from_device,
        product=product,
        lane=from_lane,
        quantity=-quantity,
        kind=MovementKind.TRANSFER_OUT,
        actor=actor,
        reason=reason,
    )
    inn = post_movement(
        device=to_device,
        product=product,
        lane=to_lane,
        quantity=quantity,
        kind=MovementKind.TRANSFER_IN,
        actor=actor,
        reason=reason,
        source=Source.of(out),
    )
    return out, inn


def set_on_hand(
    *,
    device: Any,
    product: Any,
    counted: int,
    lane: int = 0,
    kind: str = MovementKind.STOCKTAKE,
    actor: Any = None,
    reason: str = "",
    source: Source | None = None,
    idempotency_key: str | None = None,
) -> StockMovement | None:
    """Bring a position to a counted quantity with one movement of the difference (None if equal).
    The difference is computed under the position's lock, so a sale racing the count is kept."""
    if counted < 0:
        raise OpenVendError(InventoryErrorCode.WOULD_GO_NEGATIVE, _("A count cannot be negative."))
    with transaction.atomic():
        level = _locked_level(device, product, lane)
        difference = counted - level.on_hand
        if difference == 0:
            return None
        return post_movement(
            device=device,
            product=product,
            lane=lane,
            quantity=difference,
            kind=kind,
            actor=actor,
            reason=reason,
            source=source,
            idempotency_key=idempotency_key,
        )
