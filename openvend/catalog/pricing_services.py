"""Writes for price strategies (商品价格策略): price rules and their platform review.

A rule in force is never edited: changing a price is a new rule (the newer one wins, see
`selectors.price_for`), and an old one is withdrawn, so every price a shopper was ever charged
stays explainable. Only a rule still waiting for review may be edited or deleted.

When a merchant's `CatalogSettings.price_changes_need_review` is on, new rules start PENDING and
price nothing until a platform reviewer (`catalog.review_pricerule`) approves them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from openvend.audit.choices import AuditAction
from openvend.audit.services import audit_record, audited_create, audited_delete, audited_update, snapshot
from openvend.catalog.choices import PriceScope, PriceStatus
from openvend.catalog.errors import CatalogErrorCode
from openvend.catalog.models import CatalogSettings, PriceRule, Product
from openvend.catalog.selectors import catalog_settings_for
from openvend.core.errors import ConflictError, OpenVendError
from openvend.devices.models import Device
from openvend.merchants.models import Merchant, Site

REVIEW_PERMISSION = "catalog.review_pricerule"
SETTINGS_PERMISSION = "catalog.change_catalogsettings"
EDITABLE_FIELDS = ("price_fen", "member_price_fen", "effective_from", "effective_to", "note")


def _foreign(field: str) -> OpenVendError:
    return OpenVendError(
        CatalogErrorCode.PRICE_FOREIGN_REFERENCE,
        _("A referenced item belongs to another merchant."),
        fields={field: [_("Not found.")]},
    )


def _check_amounts(price_fen: Any, member_price_fen: Any) -> None:
    for field, value in (("price_fen", price_fen), ("member_price_fen", member_price_fen)):
        if value is None and field == "member_price_fen":
            continue
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise OpenVendError(
                CatalogErrorCode.PRICE_BAD_AMOUNT,
                _("Prices are whole fen and cannot be negative."),
                fields={field: [_("Enter a whole number of fen, 0 or more.")]},
            )
    if member_price_fen is not None and member_price_fen > price_fen:
        raise OpenVendError(
            CatalogErrorCode.PRICE_BAD_AMOUNT,
            _("A member price cannot be higher than the price."),
            fields={"member_price_fen": [_("Must not exceed the price.")]},
        )


def _check_period(effective_from: datetime, effective_to: datetime | None) -> None:
    if effective_to is not None and effective_to <= effective_from:
        raise OpenVendError(
            CatalogErrorCode.PRICE_BAD_PERIOD,
            _("A price must end after it starts."),
            fields={"effective_to": [_("Must be later than the start.")]},
        )


def _check_target(
    *, actor: Any, merchant_id: int, scope: str, site: Site | None, device: Device | None
) -> None:
    """The target matches the scope, belongs to the product's merchant, and lies in the actor's
    data scope. A merchant-wide price touches every device, so it needs a whole-merchant scope."""
    expected = {
        PriceScope.MERCHANT: (False, False),
        PriceScope.SITE: (True, False),
        PriceScope.DEVICE: (False, True),
    }
    if scope not in expected:
        raise OpenVendError(
            CatalogErrorCode.PRICE_BAD_TARGET,
            _("Unknown price scope %(scope)s.") % {"scope": scope},
            fields={"scope": [_("Choose merchant, site or device.")]},
        )
    wants_site, wants_device = expected[PriceScope(scope)]
    for field, obj, wanted in (("site", site, wants_site), ("device", device, wants_device)):
        if (obj is not None) != wanted:
            message = _("Required for this scope.") if wanted else _("Must be empty for this scope.")
            raise OpenVendError(
                CatalogErrorCode.PRICE_BAD_TARGET,
                _("A %(scope)s price needs exactly its own target.") % {"scope": PriceScope(scope).label},
                fields={field: [message]},
            )
        if obj is not None and obj.merchant_id != merchant_id:
            raise _foreign(field)
    if actor is None or getattr(actor, "is_platform_user", False):
        return
    if scope == PriceScope.MERCHANT and not actor.data_scope.everything:
        raise OpenVendError(
            CatalogErrorCode.PRICE_OUT_OF_SCOPE,
            _("A merchant-wide price needs access to the whole merchant; set a site or device price."),
            fields={"scope": [_("Outside your data scope.")]},
        )
    for field, obj, model in (("site", site, Site), ("device", device, Device)):
        if obj is not None and not model.objects.restrict(actor, "view").filter(pk=obj.pk).exists():
            raise OpenVendError(
                CatalogErrorCode.PRICE_OUT_OF_SCOPE,
                _("%(target)s is outside your data scope.") % {"target": obj},
                fields={field: [_("Outside your data scope.")]},
            )


def price_rule_check(
    *,
    actor: Any,
    product: Product,
    scope: str,
    site: Site | None,
    device: Device | None,
    price_fen: Any,
    member_price_fen: Any,
    effective_from: datetime,
    effective_to: datetime | None,
) -> None:
    """Raise OpenVendError (with `fields`) unless these make a valid new rule for `actor`.
    `price_rule_create` runs it; forms run it first to show errors next to their fields."""
    actor_merchant = getattr(actor, "merchant_id", None)
    if product.merchant_id is None or (actor_merchant is not None and product.merchant_id != actor_merchant):
        raise _foreign("product")
    _check_target(actor=actor, merchant_id=product.merchant_id, scope=scope, site=site, device=device)
    _check_amounts(price_fen, member_price_fen)
    _check_period(effective_from, effective_to)


def price_rule_check_terms(
    *, price_fen: Any, member_price_fen: Any, effective_from: datetime, effective_to: datetime | None
) -> None:
    """The amounts and period alone: what editing a pending rule can change."""
    _check_amounts(price_fen, member_price_fen)
    _check_period(effective_from, effective_to)


def price_rule_create(
    *,
    actor: Any,
    product: Product,
    scope: str,
    price_fen: int,
    site: Site | None = None,
    device: Device | None = None,
    member_price_fen: int | None = None,
    effective_from: datetime | None = None,
    effective_to: datetime | None = None,
    note: str = "",
) -> PriceRule:
    """A new price for `product`. Starts PENDING when the merchant's prices need review."""
    effective_from = effective_from or timezone.now()
    price_rule_check(
        actor=actor,
        product=product,
        scope=scope,
        site=site,
        device=device,
        price_fen=price_fen,
        member_price_fen=member_price_fen,
        effective_from=effective_from,
        effective_to=effective_to,
    )
    assert product.merchant_id is not None  # checked above
    needs_review = catalog_settings_for(product.merchant_id).price_changes_need_review
    rule = PriceRule(
        merchant_id=product.merchant_id,
        product=product,
        scope=scope,
        site=site,
        device=device,
        price_fen=price_fen,
        member_price_fen=member_price_fen,
        effective_from=effective_from,
        effective_to=effective_to,
        note=note,
        status=PriceStatus.PENDING if needs_review else PriceStatus.ACTIVE,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    audited_create(actor=actor, instance=rule)
    return rule


def _locked(rule: PriceRule) -> PriceRule:
    return PriceRule.objects.select_for_update().get(pk=rule.pk)


def _refusal_message(doing: str) -> str:
    """The whole sentence per action, so that each translates as one (a verb spliced into a
    translated sentence stays English)."""
    if doing == "approve":
        return _("Cannot approve a price rule that is %(status)s.")
    if doing == "reject":
        return _("Cannot reject a price rule that is %(status)s.")
    if doing == "withdraw":
        return _("Cannot withdraw a price rule that is %(status)s.")
    raise ValueError(f"no refusal message for {doing!r}")


def _refuse_state(rule: PriceRule, doing: str) -> ConflictError:
    return ConflictError(
        CatalogErrorCode.PRICE_RULE_STATE,
        _refusal_message(doing) % {"status": rule.get_status_display()},
    )


@transaction.atomic
def price_rule_update(*, actor: Any, rule: PriceRule, data: dict[str, Any]) -> PriceRule:
    """Edit a rule still waiting for review. A rule in force is replaced by a new rule instead."""
    locked = _locked(rule)
    if locked.status != PriceStatus.PENDING:
        raise ConflictError(
            CatalogErrorCode.PRICE_RULE_STATE,
            _("Only a price waiting for review can be edited; create a new price to change it."),
        )
    unknown = sorted(set(data) - set(EDITABLE_FIELDS))
    if unknown:
        raise OpenVendError(
            CatalogErrorCode.PRICE_BAD_TARGET,
            _("The product and target of a price cannot change; create a new price instead."),
            fields={field: [_("Cannot be changed.")] for field in unknown},
        )
    merged = {field: data.get(field, getattr(locked, field)) for field in EDITABLE_FIELDS}
    _check_amounts(merged["price_fen"], merged["member_price_fen"])
    _check_period(merged["effective_from"], merged["effective_to"])
    audited_update(actor=actor, instance=locked, data=data)
    rule.refresh_from_db()
    return rule


def _transition(
    *, actor: Any, rule: PriceRule, allowed: tuple[str, ...], doing: str, action: str, **changes: Any
) -> PriceRule:
    locked = _locked(rule)
    if locked.status not in allowed:
        raise _refuse_state(locked, doing)
    before = snapshot(locked)
    for field, value in changes.items():
        setattr(locked, field, value)
    locked.save(update_fields=[*changes, "updated_at"])
    audit_record(
        actor=actor, action=action, instance=locked, before=before, after=snapshot(locked), message=doing
    )
    rule.refresh_from_db()
    return rule


@transaction.atomic
def price_rule_withdraw(*, actor: Any, rule: PriceRule, note: str = "") -> PriceRule:
    """Take a rule out of force (or out of the review queue). The row stays as history.

    A rule already in force is ended now rather than erased: its period closes at this instant,
    so `price_for` keeps answering for the past exactly as it did when sales were priced.
    A rule that never took effect (pending, or starting in the future) is withdrawn outright."""
    now = timezone.now()
    changes: dict[str, Any] = {"status": PriceStatus.WITHDRAWN}
    if rule.status == PriceStatus.ACTIVE and rule.effective_from < now:
        if rule.effective_to is not None and rule.effective_to <= now:
            raise _refuse_state(rule, "withdraw")  # its period is over already
        changes = {"effective_to": now}
    if note:
        changes["note"] = note[:200]
    return _transition(
        actor=actor,
        rule=rule,
        allowed=(PriceStatus.ACTIVE, PriceStatus.PENDING),
        doing="withdraw",
        action=AuditAction.UPDATE,
        **changes,
    )


@transaction.atomic
def price_rule_delete(*, actor: Any, rule: PriceRule) -> None:
    """Delete a rule that never priced anything (still pending). Others are withdrawn instead."""
    locked = _locked(rule)
    if locked.status != PriceStatus.PENDING:
        raise ConflictError(
            CatalogErrorCode.PRICE_RULE_STATE,
            _("Only a price waiting for review can be deleted; withdraw it instead to keep its history."),
        )
    audited_delete(actor=actor, instance=locked)


def _require_platform(actor: Any, permission: str) -> None:
    """Reviewing prices and setting the review policy are the platform's; merchant staff never
    may, even with a role that names the permission."""
    if actor is None:
        return
    if not (getattr(actor, "is_platform_user", False) and actor.has_perm(permission)):
        raise OpenVendError(
            CatalogErrorCode.PRICE_NOT_REVIEWER,
            _("Only the platform may do this."),
        )


@transaction.atomic
def price_rule_approve(*, actor: Any, rule: PriceRule, note: str = "") -> PriceRule:
    """The platform approves a pending price. It takes effect from its own effective_from, but
    never before the approval: a price cannot change what sales already cost."""
    _require_platform(actor, REVIEW_PERMISSION)
    locked = _locked(rule)
    # The status first: a rule already decided is refused as such, whatever its period.
    if locked.status != PriceStatus.PENDING:
        raise _refuse_state(locked, "approve")
    now = timezone.now()
    starts = max(locked.effective_from, now)
    if locked.effective_to is not None and locked.effective_to <= starts:
        raise ConflictError(
            CatalogErrorCode.PRICE_PERIOD_PASSED,
            _("This price's period is already over; it can only be rejected."),
        )
    return _transition(
        actor=actor,
        rule=rule,
        allowed=(PriceStatus.PENDING,),
        doing="approve",
        action=AuditAction.REVIEW,
        effective_from=starts,
        status=PriceStatus.ACTIVE,
        reviewed_by=actor if getattr(actor, "pk", None) else None,
        reviewed_at=timezone.now(),
        review_note=note[:300],
    )


@transaction.atomic
def price_rule_reject(*, actor: Any, rule: PriceRule, note: str) -> PriceRule:
    """The platform rejects a pending price; the note tells the merchant why."""
    _require_platform(actor, REVIEW_PERMISSION)
    if not note.strip():
        raise OpenVendError(
            CatalogErrorCode.PRICE_RULE_STATE,
            _("Say why the price is rejected."),
            fields={"note": [_("Required when rejecting.")]},
        )
    return _transition(
        actor=actor,
        rule=rule,
        allowed=(PriceStatus.PENDING,),
        doing="reject",
        action=AuditAction.REVIEW,
        status=PriceStatus.REJECTED,
        reviewed_by=actor if getattr(actor, "pk", None) else None,
        reviewed_at=timezone.now(),
        review_note=note.strip()[:300],
    )


@transaction.atomic
def catalog_settings_update(
    *, actor: Any, merchant: Merchant, price_changes_need_review: bool
) -> CatalogSettings:
    """Platform side (`catalog.change_catalogsettings` on a platform account): whether this
    merchant's price changes wait for platform review.

    Turning review off does not approve rules already waiting: they still need a decision."""
    _require_platform(actor, SETTINGS_PERMISSION)
    found = CatalogSettings.objects.select_for_update().filter(merchant=merchant).first()
    if found is None:
        created = CatalogSettings(merchant=merchant, price_changes_need_review=price_changes_need_review)
        # ensure_still_visible would ask for catalog.add_catalogsettings, which no role holds;
        # the platform's right to set the policy is checked above, so audit directly.
        created.full_clean()
        created.save()
        audit_record(actor=actor, action=AuditAction.CREATE, instance=created, after=snapshot(created))
        return created
    before = snapshot(found)
    found.price_changes_need_review = price_changes_need_review
    found.save(update_fields=["price_changes_need_review", "updated_at"])
    after = snapshot(found)
    if before != after:
        audit_record(actor=actor, action=AuditAction.UPDATE, instance=found, before=before, after=after)
    return found
