"""New-product applications (申请新品): a merchant applies, a platform reviewer approves (the
product joins the platform library and the applicant's) or rejects it with a reason."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from openvend.audit.choices import AuditAction
from openvend.audit.services import audit_record, audited_create, snapshot
from openvend.catalog.choices import ApplicationStatus, ProductKind
from openvend.catalog.errors import CatalogErrorCode
from openvend.catalog.library_services import (
    adopt_into,
    category_by_name,
    manufacturer_by_name,
    only_fields,
    require_library,
    validate_product,
)
from openvend.catalog.models import Product, ProductApplication
from openvend.core.errors import ConflictError, OpenVendError

REVIEW_FIELDS = ("status", "applicant", "reviewed_by", "reviewed_at", "review_note", "product")
APPLICATION_FIELDS = (  # in the order forms and the API show them
    "sku",
    "name",
    "barcode",
    "category_name",
    "manufacturer_name",
    "specification",
    "image",
    "kind",
    "unit_weight_g",
    "unit_weight_sd_g",
    "shelf_life_days",
    "suggested_price_fen",
    "reason",
)


def application_create(*, actor: Any, merchant: Any, **fields: Any) -> ProductApplication:
    require_library(actor, merchant.pk)
    application = ProductApplication(
        merchant=merchant,
        applicant=actor if getattr(actor, "pk", None) else None,
        status=ApplicationStatus.PENDING,
        **only_fields(fields, APPLICATION_FIELDS),
    )
    if application.unit_weight_g == 0 and application.kind != ProductKind.BY_WEIGHT:
        raise ValidationError(
            {"unit_weight_g": [_("Only products sold by weight may have a unit weight of 0 g.")]}
        )
    audited_create(actor=actor, instance=application)
    return application


def _require_reviewer(actor: Any) -> None:
    if actor is None:
        return
    if not (actor.is_platform_user and actor.has_perm("catalog.review_productapplication")):
        raise PermissionDenied(_("Only platform reviewers decide new-product applications."))


def _lock_pending(application: ProductApplication) -> ProductApplication:
    locked = ProductApplication.objects.select_for_update().get(pk=application.pk)
    if locked.status != ApplicationStatus.PENDING:
        raise ConflictError(
            CatalogErrorCode.APPLICATION_DECIDED,
            _("This application has already been decided (%(status)s); only pending ones can be.")
            % {"status": locked.get_status_display()},
        )
    return locked


def _decide(actor: Any, locked: ProductApplication, before: dict[str, Any], status: str, note: str) -> None:
    locked.status = status
    locked.reviewed_by = actor if getattr(actor, "pk", None) else None
    locked.reviewed_at = timezone.now()
    locked.review_note = note
    locked.full_clean()
    locked.save()
    audit_record(
        actor=actor,
        action=AuditAction.REVIEW,
        instance=locked,
        before=before,
        after=snapshot(locked),
        message=f"{status}: {note}",
    )


@transaction.atomic
def application_approve(*, actor: Any, application: ProductApplication, note: str = "") -> ProductApplication:
    """Add the applied-for product to the platform library and adopt it into the applicant's."""
    _require_reviewer(actor)
    locked = _lock_pending(application)
    before = snapshot(locked)
    if Product.objects.filter(merchant__isnull=True, sku=locked.sku).exists():
        raise ConflictError(
            CatalogErrorCode.SKU_TAKEN,
            _(
                "The platform library already has SKU %(sku)s: reject this application and let the "
                "merchant adopt that product."
            )
            % {"sku": locked.sku},
            fields={"sku": [_("Already in the platform library.")]},
        )
    # The rows below are the platform's doing on the reviewer's decision, which `_require_reviewer`
    # authorised: they are written as the system (a reviewer needs no right to edit the library),
    # and the decision's own audit row names the reviewer and the product it created.
    category = (
        category_by_name(actor=None, merchant_id=None, name=locked.category_name)
        if locked.category_name
        else None
    )
    manufacturer = (
        manufacturer_by_name(actor=None, merchant_id=None, name=locked.manufacturer_name)
        if locked.manufacturer_name
        else None
    )
    product = Product(
        merchant_id=None,
        sku=locked.sku,
        name=locked.name,
        barcode=locked.barcode,
        category=category,
        manufacturer=manufacturer,
        specification=locked.specification,
        image=locked.image,
        kind=locked.kind,
        unit_weight_g=locked.unit_weight_g,
        unit_weight_sd_g=locked.unit_weight_sd_g,
        shelf_life_days=locked.shelf_life_days,
        default_price_fen=locked.suggested_price_fen,
    )
    validate_product(product)
    audited_create(actor=None, instance=product)
    adopt_into(None, locked.merchant_id, product)
    locked.product = product
    _decide(actor, locked, before, ApplicationStatus.APPROVED, note)
    application.refresh_from_db()
    return application


@transaction.atomic
def application_reject(*, actor: Any, application: ProductApplication, note: str) -> ProductApplication:
    _require_reviewer(actor)
    if not note.strip():
        raise OpenVendError(
            CatalogErrorCode.INVALID,
            _("Say why the application is rejected."),
            fields={"note": [_("This field is required.")]},
        )
    locked = _lock_pending(application)
    before = snapshot(locked)
    _decide(actor, locked, before, ApplicationStatus.REJECTED, note.strip())
    application.refresh_from_db()
    return application
