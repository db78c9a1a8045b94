# mypy: disable-error-code="index"
"""Product templates, applying them to many devices, and sellable lists."""

from __future__ import annotations

import pytest

from openvend.audit.models import AuditLogEntry
from openvend.catalog import selling_services as selling
from openvend.catalog.choices import ProductStatus
from openvend.catalog.models import Product, ProductTemplate, SellableItem
from openvend.catalog.selectors import is_sellable, sellable_products
from openvend.catalog.selling_services import ApplyCounts
from openvend.core.errors import ConflictError, OpenVendError
from tests.catalog import selling_factories as make
from tests.world import World


def _lists() -> set[tuple[int, int, bool, int | None]]:
    return set(SellableItem.objects.values_list("device_id", "product_id", "enabled", "template_id"))


@pytest.fixture
def shop(world_a: World) -> dict:
    products = {sku: make.product(world_a, sku) for sku in ("COLA", "TEA", "WATER", "CHIPS")}
    devices = {
        "c1": make.cabinet(world_a, "SL-C1", site="sh-1"),
        "c2": make.cabinet(world_a, "SL-C2", site="sh-2"),
        "south": make.cabinet(world_a, "SL-SZ", site="sz-1"),
        "vm": make.vending_machine(world_a, "SL-VM", site="sh-1"),
    }
    template = selling.template_create(
        actor=world_a.user("merchant_admin"),
        merchant=world_a.merchant,
        name="饮料柜标准",
        device_type="gravity_cabinet",
        products=[products["COLA"], products["TEA"], products["WATER"]],
    )
    return {"p": products, "d": devices, "template": template}


def test_template_create_and_update_are_audited_with_their_products(world_a: World, shop: dict) -> None:
    template, p = shop["template"], shop["p"]
    assert list(template.items.values_list("product__sku", flat=True)) == ["COLA", "TEA", "WATER"]
    created = AuditLogEntry.objects.get(object_type="catalog.producttemplate", action="create")
    assert created.after["products"] == [p["COLA"].pk, p["TEA"].pk, p["WATER"].pk]
    assert created.after["name"] == "饮料柜标准"

    selling.template_update(
        actor=world_a.user("merchant_admin"),
        template=template,
        data={"name": "饮料柜B"},
        products=[p["CHIPS"], p["COLA"]],
    )
    assert list(template.items.values_list("product__sku", flat=True)) == ["CHIPS", "COLA"]
    updated = AuditLogEntry.objects.get(object_type="catalog.producttemplate", action="update")
    assert updated.before["products"] == [p["COLA"].pk, p["TEA"].pk, p["WATER"].pk]
    assert updated.after["products"] == [p["CHIPS"].pk, p["COLA"].pk]
    assert (updated.before["name"], updated.after["name"]) == ("饮料柜标准", "饮料柜B")


def test_template_refuses_other_merchants_products_and_duplicate_names(
    world_a: World, world_b: World, shop: dict
) -> None:
    theirs = make.product(world_b, "THEIRS")
    with pytest.raises(OpenVendError) as caught:
        selling.template_create(actor=None, merchant=world_a.merchant, name="x", products=[theirs])
    assert caught.value.code == "catalog.selling_foreign_reference"
    with pytest.raises(ConflictError):
        selling.template_create(actor=None, merchant=world_a.merchant, name="饮料柜标准")
    assert ProductTemplate.objects.count() == 1


def test_apply_merge_then_replace_counts_per_device(world_a: World, shop: dict) -> None:
    p, d, template = shop["p"], shop["d"], shop["template"]
    admin = world_a.user("merchant_admin")
    # c1 already sells TEA (disabled) and CHIPS; c2 has nothing.
    tea = selling.sellable_add(actor=admin, device=d["c1"], product=p["TEA"], enabled=False)
    selling.sellable_add(actor=admin, device=d["c1"], product=p["CHIPS"])

    counts = selling.template_apply(actor=admin, template=template, devices=[d["c1"], d["c2"]], mode="merge")
    assert counts == {
        d["c1"].pk: ApplyCounts(added=2, kept=1, removed=0),
        d["c2"].pk: ApplyCounts(added=3, kept=0, removed=0),
    }
    tea.refresh_from_db()
    assert (tea.enabled, tea.template_id) == (True, template.pk)
    assert [x.sku for x in sellable_products(d["c1"])] == ["CHIPS", "COLA", "TEA", "WATER"]
    assert [x.sku for x in sellable_products(d["c2"])] == ["COLA", "TEA", "WATER"]

    # Applying again changes nothing and writes no audit row.
    audit_before = AuditLogEntry.objects.count()
    again = selling.template_apply(actor=admin, template=template, devices=[d["c2"]], mode="merge")
    assert again == {d["c2"].pk: ApplyCounts(added=0, kept=3, removed=0)}
    assert AuditLogEntry.objects.count() == audit_before

    replaced = selling.template_apply(actor=admin, template=template, devices=[d["c1"]], mode="replace")
    assert replaced == {d["c1"].pk: ApplyCounts(added=0, kept=3, removed=1)}
    assert [x.sku for x in sellable_products(d["c1"])] == ["COLA", "TEA", "WATER"]
    removed = AuditLogEntry.objects.filter(object_type="catalog.sellableitem", action="delete").get()
    assert removed.before["product"] == p["CHIPS"].pk
    assert removed.actor_id == admin.pk


def test_apply_refuses_bad_devices_and_changes_nothing(world_a: World, world_b: World, shop: dict) -> None:
    d, template = shop["d"], shop["template"]
    selling.template_apply(actor=None, template=template, devices=[d["c1"]])
    theirs = make.cabinet(world_b, "SL-B1")
    before, audit_before = _lists(), AuditLogEntry.objects.count()
    cases = [
        (world_a.user("merchant_admin"), [d["c2"], d["vm"]], "catalog.selling_wrong_device_type", "SL-VM"),
        (world_a.user("merchant_admin"), [d["c2"], theirs], "catalog.selling_foreign_reference", "SL-B1"),
        (world_a.user("operations"), [d["c2"], d["south"]], "catalog.selling_out_of_scope", "SL-SZ"),
    ]
    for actor, devices, code, named in cases:
        with pytest.raises(OpenVendError) as caught:
            selling.template_apply(actor=actor, template=template, devices=devices, mode="replace")
        assert caught.value.code == code
        assert named in caught.value.message
        assert _lists() == before
        assert AuditLogEntry.objects.count() == audit_before
    with pytest.raises(OpenVendError) as caught:
        selling.template_apply(actor=None, template=template, devices=[d["c2"]], mode="wipe")
    assert caught.value.code == "catalog.selling_bad_mode"
    assert _lists() == before


def test_untyped_template_applies_to_any_device(world_a: World, shop: dict) -> None:
    p, d = shop["p"], shop["d"]
    anywhere = selling.template_create(
        actor=None, merchant=world_a.merchant, name="通用", products=[p["WATER"]]
    )
    counts = selling.template_apply(actor=None, template=anywhere, devices=[d["vm"], d["c1"]])
    assert counts == {d["vm"].pk: ApplyCounts(added=1), d["c1"].pk: ApplyCounts(added=1)}


def test_sellable_list_add_disable_enable_remove(world_a: World, world_b: World, shop: dict) -> None:
    p, d = shop["p"], shop["d"]
    ops = world_a.user("operations")
    item = selling.sellable_add(actor=ops, device=d["c1"], product=p["COLA"])
    assert is_sellable(d["c1"], p["COLA"]) is True
    assert is_sellable(d["c2"], p["COLA"]) is False

    with pytest.raises(ConflictError):
        selling.sellable_add(actor=ops, device=d["c1"], product=p["COLA"])
    with pytest.raises(OpenVendError) as caught:
        selling.sellable_add(actor=ops, device=d["south"], product=p["COLA"])
    assert caught.value.code == "catalog.selling_out_of_scope"
    with pytest.raises(OpenVendError) as caught:
        selling.sellable_add(actor=ops, device=d["c1"], product=make.product(world_b, "X"))
    assert caught.value.code == "catalog.selling_foreign_reference"
    assert SellableItem.objects.count() == 1

    selling.sellable_set_enabled(actor=ops, item=item, enabled=False)
    assert is_sellable(d["c1"], p["COLA"]) is False
    entry = AuditLogEntry.objects.filter(object_type="catalog.sellableitem", action="update").get()
    assert (entry.before["enabled"], entry.after["enabled"]) == (True, False)

    selling.sellable_set_enabled(actor=ops, item=item, enabled=True)
    # A product taken off sale in the library stops everywhere, whatever the lists say.
    Product.objects.filter(pk=p["COLA"].pk).update(status=ProductStatus.OFF_SALE)
    p["COLA"].refresh_from_db()
    assert is_sellable(d["c1"], p["COLA"]) is False
    assert list(sellable_products(d["c1"])) == []

    selling.sellable_remove(actor=ops, item=item)
    assert SellableItem.objects.count() == 0


def test_bulk_add_and_bulk_enable(world_a: World, shop: dict) -> None:
    p, d = shop["p"], shop["d"]
    admin = world_a.user("merchant_admin")
    counts = selling.sellable_bulk_add(
        actor=admin, merchant=world_a.merchant, devices=[d["c1"], d["vm"]], products=[p["COLA"], p["TEA"]]
    )
    assert counts == {d["c1"].pk: ApplyCounts(added=2), d["vm"].pk: ApplyCounts(added=2)}
    items = SellableItem.objects.filter(device=d["c1"])
    assert selling.sellable_bulk_set_enabled(actor=admin, items=items, enabled=False) == 2
    assert selling.sellable_bulk_set_enabled(actor=admin, items=items, enabled=False) == 0
    assert list(sellable_products(d["c1"])) == []
    assert [x.sku for x in sellable_products(d["vm"])] == ["COLA", "TEA"]
    assert selling.sellable_bulk_remove(actor=admin, items=SellableItem.objects.filter(device=d["vm"])) == 2
    assert SellableItem.objects.filter(device=d["vm"]).count() == 0
