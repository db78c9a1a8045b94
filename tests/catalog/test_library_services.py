"""Product library writes: validation, tenancy of libraries, bulk status, adoption and applications."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import translation

from openvend.audit.models import AuditLogEntry
from openvend.catalog import application_services as applications
from openvend.catalog import library_services as library
from openvend.catalog.choices import ApplicationStatus, ProductKind, ProductStatus
from openvend.catalog.models import Category, Manufacturer, Product, ProductApplication
from openvend.core.errors import ConflictError, OpenVendError
from tests.catalog.library_factories import make_product
from tests.world import World, platform_user

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    with translation.override("en"):
        yield


def _audit(instance: object, action: str) -> AuditLogEntry:
    return AuditLogEntry.objects.filter(
        action=action,
        object_type=instance._meta.label_lower,
        object_id=str(instance.pk),  # type: ignore[attr-defined]
    ).latest("id")


# ---------------------------------------------------------------------------------------------
# Products
# ---------------------------------------------------------------------------------------------


def test_merchant_creates_product_in_own_library_audited(world_a: World) -> None:
    admin = world_a.user("merchant_admin")
    drinks = library.category_create(actor=admin, merchant=world_a.merchant, name="饮料")
    product = library.product_create(
        actor=admin,
        merchant=world_a.merchant,
        sku="COLA-500",
        name="可乐 500ml",
        barcode="6901234567892",
        category=drinks,
        unit_weight_g=Decimal("530.50"),
        unit_weight_sd_g=Decimal("3.20"),
        default_price_fen=350,
    )
    assert product.merchant_id == world_a.merchant.pk
    entry = _audit(product, "create")
    assert entry.actor_id == admin.pk
    assert entry.merchant_id == world_a.merchant.pk
    assert entry.before is None
    assert entry.after["sku"] == "COLA-500"
    assert entry.after["barcode"] == "6901234567892"
    assert entry.after["category"] == drinks.pk
    assert entry.after["unit_weight_g"] == "530.50"
    assert entry.after["default_price_fen"] == 350


def test_bad_barcode_and_standard_zero_weight_are_refused_and_nothing_saved(world_a: World) -> None:
    admin = world_a.user("merchant_admin")
    audit_before = AuditLogEntry.objects.count()
    with pytest.raises(ValidationError) as caught:
        library.product_create(
            actor=admin,
            merchant=world_a.merchant,
            sku="BAD",
            name="Bad",
            barcode="6901234567893",
            unit_weight_g=Decimal("0"),
            default_price_fen=-1,
        )
    errors = caught.value.message_dict
    assert errors["barcode"] == ["Barcode 6901234567893 fails its check digit: the last digit should be 2."]
    assert errors["unit_weight_g"] == ["Only products sold by weight may have a unit weight of 0 g."]
    assert errors["default_price_fen"] == ["Ensure this value is greater than or equal to 0."]
    assert not Product.objects.filter(sku="BAD").exists()
    assert AuditLogEntry.objects.count() == audit_before


def test_by_weight_product_may_weigh_zero_and_exception_flag_is_kept(world_a: World) -> None:
    apples = make_product(
        world_a.merchant,
        "APPLE",
        kind=ProductKind.BY_WEIGHT,
        unit_weight_g=Decimal("0"),
        default_price_fen=1280,  # per 100 g
        is_exception=True,
    )
    apples.refresh_from_db()
    assert (apples.kind, apples.unit_weight_g, apples.default_price_fen, apples.is_exception) == (
        ProductKind.BY_WEIGHT,
        Decimal("0.00"),
        1280,
        True,
    )
    assert "100 g" in str(Product._meta.get_field("default_price_fen").help_text)


def test_sku_is_unique_per_library_not_across(world_a: World, world_b: World) -> None:
    make_product(world_a.merchant, "SKU-1")
    make_product(world_b.merchant, "SKU-1")
    make_product(None, "SKU-1")
    with pytest.raises(ValidationError) as caught:
        make_product(world_a.merchant, "SKU-1")
    assert caught.value.message_dict["sku"] == ["SKU SKU-1 is already in this library."]
    with pytest.raises(ValidationError):
        make_product(None, "SKU-1")
    assert Product.objects.filter(sku="SKU-1").count() == 3


def test_update_audits_before_and_after(world_a: World) -> None:
    admin = world_a.user("merchant_admin")
    product = make_product(world_a.merchant, "P1", default_price_fen=300)
    library.product_update(actor=admin, product=product, data={"default_price_fen": 320, "name": "New name"})
    entry = _audit(product, "update")
    assert entry.before["default_price_fen"] == 300
    assert entry.after["default_price_fen"] == 320
    assert entry.before["name"] == "Product P1"
    assert entry.after["name"] == "New name"
    assert set(entry.changed_fields) == {"default_price_fen", "name"}


def test_category_from_another_library_is_refused(world_a: World, world_b: World) -> None:
    theirs = library.category_create(actor=None, merchant=world_b.merchant, name="Theirs")
    product = make_product(world_a.merchant, "P1")
    with pytest.raises(ValidationError) as caught:
        library.product_update(
            actor=world_a.user("merchant_admin"), product=product, data={"category": theirs}
        )
    assert caught.value.message_dict == {"category": ["Choose one from the same library as the product."]}
    assert Product.objects.get(pk=product.pk).category_id is None


def test_libraries_are_written_only_by_their_owners(world_a: World, platform_admin: object) -> None:
    platform_row = make_product(None, "PLAT-1")
    mine = make_product(world_a.merchant, "MINE-1")
    admin = world_a.user("merchant_admin")
    with pytest.raises(PermissionDenied):
        library.product_update(actor=admin, product=platform_row, data={"name": "Hijack"})
    with pytest.raises(PermissionDenied):
        library.product_delete(actor=admin, product=platform_row)
    with pytest.raises(PermissionDenied):
        library.product_update(actor=platform_admin, product=mine, data={"name": "Hijack"})
    with pytest.raises(PermissionDenied):
        library.product_create(
            actor=admin, merchant=None, sku="X", name="X", unit_weight_g=Decimal(1), default_price_fen=1
        )
    assert Product.objects.get(pk=platform_row.pk).name == "Product PLAT-1"
    assert Product.objects.get(pk=mine.pk).name == "Product MINE-1"
    # The platform writes its own library.
    created = library.product_create(
        actor=platform_admin,
        merchant=None,
        sku="PLAT-2",
        name="P",
        unit_weight_g=Decimal(1),
        default_price_fen=1,
    )
    assert created.merchant_id is None
    assert _audit(created, "create").merchant_id is None


def test_bulk_status_changes_only_what_differs(world_a: World) -> None:
    admin = world_a.user("merchant_admin")
    on = make_product(world_a.merchant, "A")
    off = make_product(world_a.merchant, "B", status=ProductStatus.OFF_SALE)
    changed = library.products_set_status(actor=admin, products=[on, off], status=ProductStatus.OFF_SALE)
    assert changed == 1
    assert set(Product.objects.filter(merchant=world_a.merchant).values_list("status", flat=True)) == {
        "off_sale"
    }
    entry = _audit(on, "update")
    assert (entry.before["status"], entry.after["status"]) == ("on_sale", "off_sale")
    with pytest.raises(OpenVendError) as caught:
        library.products_set_status(actor=admin, products=[on], status="sold_out")
    assert caught.value.code == "catalog.invalid"


def test_delete_in_use_category_is_a_conflict(world_a: World) -> None:
    admin = world_a.user("merchant_admin")
    drinks = library.category_create(actor=admin, merchant=world_a.merchant, name="Drinks")
    make_product(world_a.merchant, "P1", category=drinks)
    with pytest.raises(ConflictError) as caught:
        library.category_delete(actor=admin, category=drinks)
    assert caught.value.code == "core.in_use"
    assert Category.objects.filter(pk=drinks.pk).exists()


def test_category_rules(world_a: World) -> None:
    admin = world_a.user("merchant_admin")
    top = library.category_create(actor=admin, merchant=world_a.merchant, name="Food")
    child = library.category_create(actor=admin, merchant=world_a.merchant, name="Snacks", parent=top)
    with pytest.raises(ValidationError) as caught:
        library.category_create(actor=admin, merchant=world_a.merchant, name="Food")
    assert caught.value.message_dict == {"name": ["This level already has a category named Food."]}
    with pytest.raises(ValidationError) as caught:
        library.category_update(actor=admin, category=top, data={"parent": child})
    assert caught.value.message_dict == {"parent": ["A category cannot sit under itself."]}
    assert Category.objects.get(pk=top.pk).parent_id is None


def test_manufacturer_names_are_unique_per_library(world_a: World) -> None:
    admin = world_a.user("merchant_admin")
    library.manufacturer_create(actor=admin, merchant=world_a.merchant, name="Coca-Cola", phone="400-1")
    with pytest.raises(ValidationError):
        library.manufacturer_create(actor=admin, merchant=world_a.merchant, name="Coca-Cola")
    library.manufacturer_create(actor=None, merchant=None, name="Coca-Cola")
    assert Manufacturer.objects.filter(name="Coca-Cola").count() == 2


# ---------------------------------------------------------------------------------------------
# Adoption
# ---------------------------------------------------------------------------------------------


def _platform_cola() -> Product:
    food = library.category_create(actor=None, merchant=None, name="Food")
    drinks = library.category_create(actor=None, merchant=None, name="Drinks", parent=food)
    maker = library.manufacturer_create(
        actor=None, merchant=None, name="Coca-Cola", contact="Li", phone="400-8"
    )
    return make_product(
        None,
        "COLA",
        name="Cola",
        barcode="6901234567892",
        category=drinks,
        manufacturer=maker,
        specification="500 ml",
        unit="瓶",
        unit_weight_g=Decimal("530.25"),
        unit_weight_sd_g=Decimal("4.75"),
        shelf_life_days=365,
        is_exception=True,
        default_price_fen=300,
    )


def test_adopt_copies_fields_and_maps_category_and_manufacturer(world_a: World) -> None:
    source = _platform_cola()
    admin = world_a.user("merchant_admin")
    # The merchant already has a "Food" top-level category: it is reused, "Drinks" is created under it.
    own_food = library.category_create(actor=admin, merchant=world_a.merchant, name="Food")
    copy = library.product_adopt(actor=admin, merchant=world_a.merchant, source=source)
    copy.refresh_from_db()
    assert copy.merchant_id == world_a.merchant.pk
    assert copy.source_id == source.pk
    for field in library.ADOPTED_FIELDS:
        assert getattr(copy, field) == getattr(source, field), field
    assert copy.unit_weight_g == Decimal("530.25")
    assert copy.unit_weight_sd_g == Decimal("4.75")
    assert copy.category is not None and copy.category.merchant_id == world_a.merchant.pk
    assert (copy.category.name, copy.category.parent_id) == ("Drinks", own_food.pk)
    assert copy.manufacturer is not None
    assert (copy.manufacturer.merchant_id, copy.manufacturer.name, copy.manufacturer.phone) == (
        world_a.merchant.pk,
        "Coca-Cola",
        "400-8",
    )
    entry = _audit(copy, "create")
    assert entry.after["source"] == source.pk
    assert entry.after["merchant"] == world_a.merchant.pk
    assert entry.actor_id == admin.pk
    assert _audit(copy.manufacturer, "create").after["name"] == "Coca-Cola"


def test_adopting_twice_is_a_clear_conflict(world_a: World) -> None:
    source = _platform_cola()
    admin = world_a.user("merchant_admin")
    library.product_adopt(actor=admin, merchant=world_a.merchant, source=source)
    count = Product.objects.count()
    with pytest.raises(ConflictError) as caught:
        library.product_adopt(actor=admin, merchant=world_a.merchant, source=source)
    assert caught.value.code == "catalog.already_adopted"
    assert caught.value.message == "Cola is already in your library as SKU COLA."
    assert Product.objects.count() == count


def test_adopt_refuses_merchant_products_and_taken_skus(world_a: World, world_b: World) -> None:
    admin = world_a.user("merchant_admin")
    theirs = make_product(world_b.merchant, "THEIRS")
    with pytest.raises(OpenVendError) as caught:
        library.product_adopt(actor=admin, merchant=world_a.merchant, source=theirs)
    assert caught.value.code == "catalog.not_platform_product"
    source = make_product(None, "SAME")
    make_product(world_a.merchant, "SAME")
    with pytest.raises(ConflictError) as caught:
        library.product_adopt(actor=admin, merchant=world_a.merchant, source=source)
    assert caught.value.code == "catalog.sku_taken"
    assert not Product.objects.filter(source=source).exists()


# ---------------------------------------------------------------------------------------------
# New-product applications
# ---------------------------------------------------------------------------------------------


def _apply(world: World, sku: str = "NEW-1") -> ProductApplication:
    return applications.application_create(
        actor=world.user("merchant_admin"),
        merchant=world.merchant,
        sku=sku,
        name="New Tea",
        barcode="96385074",
        category_name="Tea",
        manufacturer_name="Tea Co",
        specification="330 ml",
        unit_weight_g=Decimal("350.00"),
        unit_weight_sd_g=Decimal("2.50"),
        shelf_life_days=180,
        suggested_price_fen=450,
        reason="Customers ask for it",
    )


def test_application_starts_pending_and_is_audited(world_a: World) -> None:
    application = _apply(world_a)
    assert application.status == ApplicationStatus.PENDING
    assert application.applicant_id == world_a.users["merchant_admin"].pk
    assert _audit(application, "create").after["status"] == "pending"


def test_approve_creates_platform_product_and_adopts_it(world_a: World, platform_admin: object) -> None:
    application = _apply(world_a)
    applications.application_approve(actor=platform_admin, application=application, note="ok")
    application.refresh_from_db()
    assert application.status == ApplicationStatus.APPROVED
    assert application.reviewed_by_id == platform_admin.pk  # type: ignore[attr-defined]
    assert application.reviewed_at is not None
    platform = application.product
    assert platform is not None and platform.merchant_id is None
    assert (platform.sku, platform.name, platform.barcode, platform.default_price_fen) == (
        "NEW-1",
        "New Tea",
        "96385074",
        450,
    )
    assert (platform.unit_weight_g, platform.unit_weight_sd_g, platform.shelf_life_days) == (
        Decimal("350.00"),
        Decimal("2.50"),
        180,
    )
    assert platform.category is not None and (platform.category.name, platform.category.merchant_id) == (
        "Tea",
        None,
    )
    assert platform.manufacturer is not None and platform.manufacturer.name == "Tea Co"
    copy = Product.objects.get(merchant=world_a.merchant, source=platform)
    assert (copy.sku, copy.default_price_fen) == ("NEW-1", 450)
    assert copy.category is not None and copy.category.merchant_id == world_a.merchant.pk
    entry = _audit(application, "review")
    assert (entry.before["status"], entry.after["status"]) == ("pending", "approved")
    assert (entry.before["product"], entry.after["product"]) == (None, platform.pk)
    assert entry.actor_id == platform_admin.pk  # type: ignore[attr-defined]


def test_reject_keeps_note_and_only_pending_can_be_decided(world_a: World, platform_admin: object) -> None:
    application = _apply(world_a)
    with pytest.raises(OpenVendError) as caught:
        applications.application_reject(actor=platform_admin, application=application, note="  ")
    assert caught.value.fields == {"note": ["This field is required."]}
    applications.application_reject(actor=platform_admin, application=application, note="Duplicate of COLA")
    application.refresh_from_db()
    assert (application.status, application.review_note) == (ApplicationStatus.REJECTED, "Duplicate of COLA")
    entry = _audit(application, "review")
    assert (entry.before["status"], entry.after["status"]) == ("pending", "rejected")
    assert entry.after["review_note"] == "Duplicate of COLA"
    products = Product.objects.count()
    for decide in (applications.application_approve, applications.application_reject):
        with pytest.raises(ConflictError) as conflict:
            decide(actor=platform_admin, application=application, note="again")
        assert conflict.value.code == "catalog.application_decided"
        assert conflict.value.message == (
            "This application has already been decided (Rejected); only pending ones can be."
        )
    assert Product.objects.count() == products
    application.refresh_from_db()
    assert application.review_note == "Duplicate of COLA"


def test_only_platform_reviewers_decide(world_a: World) -> None:
    application = _apply(world_a)
    with pytest.raises(PermissionDenied):
        applications.application_approve(actor=world_a.user("merchant_admin"), application=application)
    application.refresh_from_db()
    assert application.status == ApplicationStatus.PENDING
    assert not Product.objects.filter(sku="NEW-1").exists()
    # The merchant reviewers' preset decides new products too.
    applications.application_approve(actor=platform_user("platform_reviewer"), application=application)
    application.refresh_from_db()
    assert application.status == ApplicationStatus.APPROVED
    assert Product.objects.filter(merchant__isnull=True, sku="NEW-1").count() == 1


def test_approve_with_taken_platform_sku_changes_nothing(world_a: World, platform_admin: object) -> None:
    make_product(None, "NEW-1")
    application = _apply(world_a)
    count, audit = Product.objects.count(), AuditLogEntry.objects.count()
    with pytest.raises(ConflictError) as caught:
        applications.application_approve(actor=platform_admin, application=application)
    assert caught.value.code == "catalog.sku_taken"
    application.refresh_from_db()
    assert application.status == ApplicationStatus.PENDING
    assert (Product.objects.count(), AuditLogEntry.objects.count()) == (count, audit)
