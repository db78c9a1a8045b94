"""Writes for what devices sell: product templates (商品模版) and each device's sellable list
(可售商品清单).

A template is a named list of products; applying it to many devices at once fills their
sellable lists in one transaction. Every device is checked before anything changes, so a bad
device in the selection leaves every list as it was.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from openvend.audit.choices import AuditAction
from openvend.audit.services import (
    audit_record,
    audited_delete,
    audited_update,
    ensure_still_visible,
    snapshot,
)
from openvend.catalog.errors import CatalogErrorCode
from openvend.catalog.models import Product, ProductTemplate, SellableItem, TemplateItem
from openvend.core.errors import ConflictError, CoreErrorCode, OpenVendError
from openvend.devices.models import Device
from openvend.merchants.models import Merchant

MODES = ("merge", "replace")


@dataclass(frozen=True)
class ApplyCounts:
    """What applying a template did to one device's list."""

    added: int = 0
    kept: int = 0
    removed: int = 0


# ---------------------------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------------------------


def check_products(merchant_id: int, products: Iterable[Product]) -> list[Product]:
    chosen = list(dict.fromkeys(products))  # keeps order, drops repeats
    for product in chosen:
        if product.merchant_id != merchant_id:
            raise OpenVendError(
                CatalogErrorCode.SELLING_FOREIGN_REFERENCE,
                _("Product %(product)s is not in this merchant's library.") % {"product": product},
                fields={"products": [_("Not found.")]},
            )
    return chosen


def check_devices(
    *, actor: Any, merchant_id: int, devices: Iterable[Device], device_type: str = ""
) -> list[Device]:
    """Every device belongs to the merchant, lies in the actor's data scope, and is of the
    template's device type. Raises naming the first device that fails; nothing has changed yet."""
    chosen = list(dict.fromkeys(devices))
    visible: set[int] | None = None
    if actor is not None and not getattr(actor, "is_platform_user", False):
        ids = [device.pk for device in chosen]
        visible = set(Device.objects.restrict(actor, "view").filter(pk__in=ids).values_list("pk", flat=True))
    for device in chosen:
        if device.merchant_id != merchant_id:
            raise OpenVendError(
                CatalogErrorCode.SELLING_FOREIGN_REFERENCE,
                _("Device %(device)s was not found.") % {"device": device.code},
                fields={"devices": [_("Device %(device)s was not found.") % {"device": device.code}]},
            )
        if visible is not None and device.pk not in visible:
            raise OpenVendError(
                CatalogErrorCode.SELLING_OUT_OF_SCOPE,
                _("Device %(device)s is outside your data scope.") % {"device": device.code},
                fields={
                    "devices": [_("Device %(device)s is outside your data scope.") % {"device": device.code}]
                },
            )
        if device_type and device.kind.type != device_type:
            message = _("Device %(device)s is a %(actual)s; this template is for %(expected)s.") % {
                "device": device.code,
                "actual": device.kind.get_type_display(),
                "expected": ProductTemplate(device_type=device_type).get_device_type_display(),
            }
            raise OpenVendError(
                CatalogErrorCode.SELLING_WRONG_DEVICE_TYPE, message, fields={"devices": [message]}
            )
    return chosen


# ---------------------------------------------------------------------------------------------
# Templates
# ---------------------------------------------------------------------------------------------


def template_state(template: ProductTemplate) -> dict[str, Any]:
    """The template as the audit log records it: its fields and its product ids in order."""
    return {**snapshot(template), "products": list(template.items.values_list("product_id", flat=True))}


def _set_items(template: ProductTemplate, products: Sequence[Product]) -> None:
    template.items.all().delete()
    TemplateItem.objects.bulk_create(
        TemplateItem(template=template, product=product, sort_order=index)
        for index, product in enumerate(products)
    )


def _check_name(merchant_id: int, name: str, exclude_pk: int | None = None) -> None:
    taken = ProductTemplate.objects.filter(merchant_id=merchant_id, name=name)
    if exclude_pk is not None:
        taken = taken.exclude(pk=exclude_pk)
    if taken.exists():
        raise ConflictError(
            CoreErrorCode.CONFLICT,
            _("A template named %(name)s already exists.") % {"name": name},
            fields={"name": [_("Already used.")]},
        )


@transaction.atomic
def template_create(
    *,
    actor: Any,
    merchant: Merchant,
    name: str,
    device_type: str = "",
    note: str = "",
    products: Iterable[Product] = (),
) -> ProductTemplate:
    chosen = check_products(merchant.pk, products)
    _check_name(merchant.pk, name)
    template = ProductTemplate(merchant=merchant, name=name, device_type=device_type, note=note)
    template.full_clean()
    template.save()
    _set_items(template, chosen)
    ensure_still_visible(actor=actor, instance=template, action="add")
    audit_record(actor=actor, action=AuditAction.CREATE, instance=template, after=template_state(template))
    return template


@transaction.atomic
def template_update(
    *,
    actor: Any,
    template: ProductTemplate,
    data: dict[str, Any],
    products: Iterable[Product] | None = None,
) -> ProductTemplate:
    """Rename, retype or re-list a template. Devices keep their lists until it is applied again."""
    locked = ProductTemplate.objects.select_for_update().get(pk=template.pk)
    before = template_state(locked)
    allowed = {k: v for k, v in data.items() if k in ("name", "device_type", "note")}
    if "name" in allowed:
        _check_name(locked.merchant_id, allowed["name"], exclude_pk=locked.pk)
    for field, value in allowed.items():
        setattr(locked, field, value)
    locked.full_clean()
    locked.save()
    if products is not None:
        _set_items(locked, check_products(locked.merchant_id, products))
    ensure_still_visible(actor=actor, instance=locked, action="change")
    after = template_state(locked)
    if before != after:
        audit_record(actor=actor, action=AuditAction.UPDATE, instance=locked, before=before, after=after)
    template.refresh_from_db()
    return template


@transaction.atomic
def template_delete(*, actor: Any, template: ProductTemplate) -> None:
    """Devices keep what the template put on their lists; the items just forget the template."""
    audited_delete(actor=actor, instance=template)


@transaction.atomic
def template_apply(
    *, actor: Any, template: ProductTemplate, devices: Iterable[Device], mode: str = "merge"
) -> dict[int, ApplyCounts]:
    """Put the template's products on each device's sellable list, enabled.

    merge: add what is missing, enable (and link to this template) what is already there,
    leave everything else alone. replace: the same, and remove every item not in the template.
    Returns the counts per device id. Refuses, changing nothing, when a device is another
    merchant's, outside the actor's scope, or of a different type than the template's."""
    if mode not in MODES:
        raise OpenVendError(
            CatalogErrorCode.SELLING_BAD_MODE,
            _("Mode must be merge or replace."),
            fields={"mode": [_("Choose merge or replace.")]},
        )
    chosen = check_devices(
        actor=actor,
        merchant_id=template.merchant_id,
        devices=devices,
        device_type=template.device_type,
    )
    products = [item.product for item in template.items.select_related("product")]
    return {
        device.pk: _apply(
            actor=actor, device=device, products=products, template=template, replace=mode == "replace"
        )
        for device in chosen
    }


def _apply(
    *,
    actor: Any,
    device: Device,
    products: Sequence[Product],
    template: ProductTemplate | None,
    replace: bool,
) -> ApplyCounts:
    existing = {
        item.product_id: item for item in SellableItem.objects.select_for_update().filter(device=device)
    }
    wanted = {product.pk for product in products}
    added = kept = removed = 0
    for product in products:
        item = existing.get(product.pk)
        if item is None:
            item = SellableItem(
                merchant_id=device.merchant_id,
                device=device,
                product=product,
                enabled=True,
                template=template,
            )
            item.save()
            audit_record(actor=actor, action=AuditAction.CREATE, instance=item, after=snapshot(item))
            added += 1
            continue
        kept += 1
        changes: dict[str, Any] = {"enabled": True}
        if template is not None:
            changes["template"] = template
        if any(getattr(item, field) != value for field, value in changes.items()):
            before = snapshot(item)
            for field, value in changes.items():
                setattr(item, field, value)
            item.save(update_fields=[*changes, "updated_at"])
            audit_record(
                actor=actor, action=AuditAction.UPDATE, instance=item, before=before, after=snapshot(item)
            )
    if replace:
        for product_id, item in existing.items():
            if product_id not in wanted:
                audit_record(actor=actor, action=AuditAction.DELETE, instance=item, before=snapshot(item))
                item.delete()
                removed += 1
    return ApplyCounts(added=added, kept=kept, removed=removed)


# ---------------------------------------------------------------------------------------------
# Sellable lists
# ---------------------------------------------------------------------------------------------


@transaction.atomic
def sellable_add(*, actor: Any, device: Device, product: Product, enabled: bool = True) -> SellableItem:
    """Put one product on one device's list."""
    check_devices(actor=actor, merchant_id=device.merchant_id, devices=[device])
    check_products(device.merchant_id, [product])
    if SellableItem.objects.filter(device=device, product=product).exists():
        raise ConflictError(
            CoreErrorCode.CONFLICT,
            _("%(product)s is already on the list of %(device)s.")
            % {"product": product, "device": device.code},
            fields={"product": [_("Already on this device's list.")]},
        )
    item = SellableItem(merchant_id=device.merchant_id, device=device, product=product, enabled=enabled)
    item.full_clean()
    item.save()
    ensure_still_visible(actor=actor, instance=item, action="add")
    audit_record(actor=actor, action=AuditAction.CREATE, instance=item, after=snapshot(item))
    return item


@transaction.atomic
def sellable_bulk_add(
    *, actor: Any, merchant: Merchant, devices: Iterable[Device], products: Iterable[Product]
) -> dict[int, ApplyCounts]:
    """Add (or re-enable) these products on every one of these devices; other items stay."""
    chosen_devices = check_devices(actor=actor, merchant_id=merchant.pk, devices=devices)
    chosen_products = check_products(merchant.pk, products)
    return {
        device.pk: _apply(actor=actor, device=device, products=chosen_products, template=None, replace=False)
        for device in chosen_devices
    }


def sellable_set_enabled(*, actor: Any, item: SellableItem, enabled: bool) -> SellableItem:
    """Stop or resume selling a product on a device without losing it from the list."""
    audited_update(actor=actor, instance=item, data={"enabled": enabled})
    return item


@transaction.atomic
def sellable_bulk_set_enabled(*, actor: Any, items: Iterable[SellableItem], enabled: bool) -> int:
    """Enable or disable many items; returns how many changed."""
    changed = 0
    for item in items:
        if item.enabled != enabled:
            sellable_set_enabled(actor=actor, item=item, enabled=enabled)
            changed += 1
    return changed


@transaction.atomic
def sellable_remove(*, actor: Any, item: SellableItem) -> None:
    audited_delete(actor=actor, instance=item)


@transaction.atomic
def sellable_bulk_remove(*, actor: Any, items: Iterable[SellableItem]) -> int:
    removed = 0
    for item in items:
        sellable_remove(actor=actor, item=item)
        removed += 1
    return removed
