"""Writes for merchants, the org tree, sites and device groups. Every change is audited."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from openvend.audit.choices import AuditAction
from openvend.audit.services import (
    audit_record,
    audited_create,
    audited_update,
    ensure_still_visible,
    snapshot,
)
from openvend.core.errors import OpenVendError
from openvend.merchants.choices import MerchantStatus
from openvend.merchants.errors import MerchantErrorCode
from openvend.merchants.models import DeviceGroup, Merchant, OrgUnit, Site

# Which status a merchant may move to from which.
TRANSITIONS: dict[str, set[str]] = {
    MerchantStatus.PENDING: {MerchantStatus.ACTIVE, MerchantStatus.REJECTED},
    MerchantStatus.REJECTED: {MerchantStatus.PENDING},
    MerchantStatus.ACTIVE: {MerchantStatus.FROZEN},
    MerchantStatus.FROZEN: {MerchantStatus.ACTIVE},
}


def _transition(*, actor: Any, merchant: Merchant, to: str, action: str, note: str = "") -> Merchant:
    locked = Merchant.objects.select_for_update().get(pk=merchant.pk)
    if to not in TRANSITIONS.get(locked.status, set()):
        raise OpenVendError(
            MerchantErrorCode.INVALID_TRANSITION,
            _("A merchant that is %(status)s cannot become %(target)s.")
            % {"status": locked.get_status_display(), "target": MerchantStatus(to).label},
        )
    before = snapshot(locked)
    locked.status = to
    if action == AuditAction.REVIEW:
        locked.review_note = note
        locked.reviewed_at = timezone.now()
    locked.save()
    audit_record(
        actor=actor, action=action, instance=locked, before=before, after=snapshot(locked), message=note
    )
    merchant.refresh_from_db()
    return merchant


@transaction.atomic
def merchant_register(*, actor: Any = None, name: str, code: str, **fields: Any) -> Merchant:
    """A new merchant waits for platform review before any of its users can sign in."""
    if Merchant.objects.filter(code=code).exists():
        raise OpenVendError(
            MerchantErrorCode.CODE_TAKEN,
            _("The merchant code %(code)s is already taken.") % {"code": code},
            fields={"code": [_("Already taken.")]},
        )
    merchant = Merchant(name=name, code=code, status=MerchantStatus.PENDING, **fields)
    audited_create(actor=actor, instance=merchant)
    return merchant


@transaction.atomic
def merchant_approve(*, actor: Any, merchant: Merchant, note: str = "") -> Merchant:
    from openvend.accounts.services import preset_roles_install

    _transition(
        actor=actor, merchant=merchant, to=MerchantStatus.ACTIVE, action=AuditAction.REVIEW, note=note
    )
    preset_roles_install(merchant=merchant)
    if not OrgUnit.objects.filter(merchant=merchant).exists():
        org_unit_create(actor=None, merchant=merchant, parent=None, name=merchant.name)
    return merchant


@transaction.atomic
def merchant_reject(*, actor: Any, merchant: Merchant, note: str) -> Merchant:
    return _transition(
        actor=actor, merchant=merchant, to=MerchantStatus.REJECTED, action=AuditAction.REVIEW, note=note
    )


@transaction.atomic
def merchant_reopen(*, actor: Any, merchant: Merchant, note: str = "") -> Merchant:
    """Put a rejected registration back in the review queue, e.g. after the merchant sent new papers."""
    return _transition(
        actor=actor, merchant=merchant, to=MerchantStatus.PENDING, action=AuditAction.REVIEW, note=note
    )


@transaction.atomic
def merchant_freeze(*, actor: Any, merchant: Merchant, reason: str = "") -> Merchant:
    return _transition(
        actor=actor, merchant=merchant, to=MerchantStatus.FROZEN, action=AuditAction.FREEZE, note=reason
    )


@transaction.atomic
def merchant_unfreeze(*, actor: Any, merchant: Merchant) -> Merchant:
    return _transition(actor=actor, merchant=merchant, to=MerchantStatus.ACTIVE, action=AuditAction.UNFREEZE)


def merchant_update(*, actor: Any, merchant: Merchant, data: dict[str, Any]) -> Merchant:
    # Status moves only through the review/freeze services above.
    data = {k: v for k, v in data.items() if k not in {"status", "code", "reviewed_at", "review_note"}}
    audited_update(actor=actor, instance=merchant, data=data)
    return merchant


def _check_same_merchant(merchant: Merchant, **related: Any) -> None:
    for field, obj in related.items():
        if obj is not None and obj.merchant_id != merchant.pk:
            raise OpenVendError(
                MerchantErrorCode.OTHER_TENANT_REFERENCE,
                _("A referenced item belongs to another merchant."),
                fields={field: [_("Not found.")]},
            )


@transaction.atomic
def org_unit_create(*, actor: Any, merchant: Merchant, parent: OrgUnit | None, name: str) -> OrgUnit:
    _check_same_merchant(merchant, parent=parent)
    unit = OrgUnit(merchant=merchant, parent=parent, name=name, path="/pending/")
    unit.full_clean(exclude=["path"])
    unit.save()
    unit.path = f"{parent.path if parent else '/'}{unit.pk}/"
    unit.save(update_fields=["path"])

    ensure_still_visible(actor=actor, instance=unit, action="add")
    audit_record(actor=actor, action=AuditAction.CREATE, instance=unit, after=snapshot(unit))
    return unit


@transaction.atomic
def org_unit_update(*, actor: Any, unit: OrgUnit, name: str | None = None, parent: Any = ...) -> OrgUnit:
    """Rename and/or move a unit. Moving rewrites the paths of its whole subtree."""
    data: dict[str, Any] = {}
    if name is not None:
        data["name"] = name
    if parent is not ...:
        _check_same_merchant(unit.merchant, parent=parent)
        if parent is not None and parent.path.startswith(unit.path):
            raise OpenVendError(
                MerchantErrorCode.ORG_UNIT_CYCLE,
                _("An org unit cannot be moved under itself or one of its descendants."),
                fields={"parent": [_("Would create a cycle.")]},
            )
        old_path = unit.path
        new_path = f"{parent.path if parent else '/'}{unit.pk}/"
        data["parent"] = parent
        data["path"] = new_path
        for child in OrgUnit.objects.filter(path__startswith=old_path).exclude(pk=unit.pk):
            child.path = new_path + child.path[len(old_path) :]
            child.save(update_fields=["path"])
    audited_update(actor=actor, instance=unit, data=data)
    return unit


def _create_in_merchant(model: Any, *, actor: Any, merchant: Merchant, **fields: Any) -> Any:
    _check_same_merchant(merchant, org_unit=fields.get("org_unit"))
    instance = model(merchant=merchant, **fields)
    audited_create(actor=actor, instance=instance)
    return instance


def _update_in_merchant(instance: Any, *, actor: Any, data: dict[str, Any]) -> Any:
    _check_same_merchant(instance.merchant, org_unit=data.get("org_unit"))
    audited_update(actor=actor, instance=instance, data=data)
    return instance


def site_create(*, actor: Any, merchant: Merchant, **fields: Any) -> Site:
    return _create_in_merchant(Site, actor=actor, merchant=merchant, **fields)


def site_update(*, actor: Any, site: Site, data: dict[str, Any]) -> Site:
    return _update_in_merchant(site, actor=actor, data=data)


def device_group_create(*, actor: Any, merchant: Merchant, **fields: Any) -> DeviceGroup:
    return _create_in_merchant(DeviceGroup, actor=actor, merchant=merchant, **fields)


def device_group_update(*, actor: Any, group: DeviceGroup, data: dict[str, Any]) -> DeviceGroup:
    return _update_in_merchant(group, actor=actor, data=data)
