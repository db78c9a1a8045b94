# mypy: disable-error-code="index"
"""Prices, product templates and sellable lists pass the shared API contract; their actions
(review, withdraw, quote, apply, bulk) answer exactly and refuse bad input without changes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.utils import timezone, translation
from django.utils.translation import gettext

from openvend.audit.models import AuditLogEntry
from openvend.catalog import pricing_services as pricing
from openvend.catalog import selling_services as selling
from openvend.catalog.choices import PriceScope, PriceStatus
from openvend.catalog.models import PriceRule, ProductTemplate, SellableItem
from tests.api.contract import ResourceContract
from tests.catalog import selling_factories as make
from tests.conftest import client_for
from tests.world import World, platform_user

CRUD = {"view", "add", "change", "delete"}
T0 = datetime(2025, 3, 1, tzinfo=UTC)


def _product(world: World, unique: str):
    return make.product(world, f"SKU-{unique}", price_fen=350)


class TestPriceRules(ResourceContract):
    url = "/api/v1/price-rules/"
    model = PriceRule
    expected = {
        "merchant_admin": CRUD,
        "operations": {"view"},
        "customer_service": {"view"},
        "store_manager": CRUD,
        "finance": {"view"},
    }

    def make(self, world: World) -> PriceRule:
        # Pending (the merchant's prices need review), so it can still be edited and deleted.
        pricing.catalog_settings_update(actor=None, merchant=world.merchant, price_changes_need_review=True)
        return pricing.price_rule_create(
            actor=None,
            product=_product(world, self.unique()),
            scope=PriceScope.SITE,
            site=world.sites["sh-1"],
            price_fen=300,
        )

    def create_payload(self, world: World) -> dict[str, Any]:
        return {
            "product": _product(world, self.unique()).pk,
            "scope": "site",
            "site": world.sites["sh-1"].pk,
            "price_fen": 320,
            "member_price_fen": 300,
            "effective_from": "2025-03-01T00:00:00Z",
        }

    def update_payload(self, world: World) -> dict[str, Any]:
        return {"price_fen": 310, "note": "周末价"}


class TestProductTemplates(ResourceContract):
    url = "/api/v1/product-templates/"
    model = ProductTemplate
    expected = {
        "merchant_admin": CRUD,
        "operations": {"view"},
        "replenisher": {"view"},
        "customer_service": {"view"},
        "store_manager": {"view"},
        "finance": {"view"},
    }

    def make(self, world: World) -> ProductTemplate:
        return selling.template_create(
            actor=None,
            merchant=world.merchant,
            name=f"t-{self.unique()}",
            products=[_product(world, self.unique())],
        )

    def create_payload(self, world: World) -> dict[str, Any]:
        return {
            "name": f"饮料-{self.unique()}",
            "device_type": "gravity_cabinet",
            "products": [_product(world, self.unique()).pk],
        }

    def update_payload(self, world: World) -> dict[str, Any]:
        return {"name": "零食柜", "note": "夏季"}


class TestSellableItems(ResourceContract):
    url = "/api/v1/sellable-items/"
    model = SellableItem
    expected = {
        "merchant_admin": CRUD,
        "operations": CRUD,
        "replenisher": {"view"},
        "customer_service": {"view"},
        "store_manager": {"view"},
        "finance": {"view"},
    }

    def make(self, world: World) -> SellableItem:
        device = make.cabinet(world, f"SI-{self.unique()}", site="sh-1")
        return selling.sellable_add(actor=None, device=device, product=_product(world, self.unique()))

    def create_payload(self, world: World) -> dict[str, Any]:
        device = make.quiet_cabinet(world, f"SI-{self.unique()}", site="sh-2")
        return {"device": device.pk, "product": _product(world, self.unique()).pk, "enabled": True}

    def update_payload(self, world: World) -> dict[str, Any]:
        return {"enabled": False}


# --- actions ---------------------------------------------------------------------------------


def test_review_actions_through_the_api(world_a: World) -> None:
    pricing.catalog_settings_update(actor=None, merchant=world_a.merchant, price_changes_need_review=True)
    manager = client_for(world_a.user("store_manager"))
    created = manager.post(
        "/api/v1/price-rules/",
        {
            "product": _product(world_a, "R1").pk,
            "scope": "site",
            "site": world_a.sites["sh-1"].pk,
            "price_fen": 280,
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    assert created.json()["status"] == "pending"
    rule_id = created.json()["id"]

    # Merchant staff cannot review their own prices.
    admin = client_for(world_a.user("merchant_admin"))
    assert admin.post(f"/api/v1/price-rules/{rule_id}/approve/", {}, format="json").status_code == 403

    reviewer = client_for(platform_user("platform_reviewer"))
    rejected = reviewer.post(f"/api/v1/price-rules/{rule_id}/reject/", {}, format="json")
    assert rejected.status_code == 400
    # The request has no Accept-Language, so the API answers in the site default, zh-hans.
    with translation.override("zh-hans"):
        assert rejected.json()["error"]["fields"] == {"note": [gettext("Required when rejecting.")]}
    approved = reviewer.post(f"/api/v1/price-rules/{rule_id}/approve/", {"note": "同意"}, format="json")
    assert approved.status_code == 200, approved.content
    assert (approved.json()["status"], approved.json()["review_note"]) == ("active", "同意")
    entry = AuditLogEntry.objects.get(
        object_type="catalog.pricerule", object_id=str(rule_id), action="review"
    )
    assert (entry.before["status"], entry.after["status"], entry.channel) == ("pending", "active", "api")

    # In force now: no edit, no delete; withdraw instead.
    edit = manager.patch(f"/api/v1/price-rules/{rule_id}/", {"price_fen": 1}, format="json")
    assert (edit.status_code, edit.json()["error"]["code"]) == (409, "catalog.price_rule_state")
    assert manager.delete(f"/api/v1/price-rules/{rule_id}/").status_code == 409
    withdrawn = manager.post(f"/api/v1/price-rules/{rule_id}/withdraw/", {"note": "停用"}, format="json")
    # It was in force, so it is ended now (its past stays priced) rather than erased.
    rule = PriceRule.objects.get(pk=rule_id)
    assert (withdrawn.json()["status"], withdrawn.json()["note"]) == ("active", "停用")
    assert (rule.price_fen, rule.status) == (280, PriceStatus.ACTIVE)
    assert rule.effective_to is not None and rule.effective_from <= rule.effective_to <= timezone.now()
    again = manager.post(f"/api/v1/price-rules/{rule_id}/withdraw/", {}, format="json")
    assert (again.status_code, again.json()["error"]["code"]) == (409, "catalog.price_rule_state")


def test_scoped_staff_cannot_price_outside_their_scope(world_a: World, world_b: World) -> None:
    manager = client_for(world_a.user("store_manager"))
    count = PriceRule.objects.count()
    outside = manager.post(
        "/api/v1/price-rules/",
        {
            "product": _product(world_a, "O1").pk,
            "scope": "site",
            "site": world_a.sites["sz-1"].pk,
            "price_fen": 1,
        },
        format="json",
    )
    assert outside.status_code == 400
    assert list(outside.json()["error"]["fields"]) == ["site"]
    merchant_wide = manager.post(
        "/api/v1/price-rules/",
        {"product": _product(world_a, "O2").pk, "scope": "merchant", "price_fen": 1},
        format="json",
    )
    assert merchant_wide.json()["error"]["code"] == "catalog.price_out_of_scope"
    theirs = manager.post(
        "/api/v1/price-rules/",
        {"product": _product(world_b, "O3").pk, "scope": "merchant", "price_fen": 1},
        format="json",
    )
    assert theirs.status_code == 400
    assert list(theirs.json()["error"]["fields"]) == ["product"]
    assert PriceRule.objects.count() == count


def test_price_quote(world_a: World, world_b: World) -> None:
    cola = _product(world_a, "Q1")
    cabinet = make.cabinet(world_a, "PQ-1", site="sh-1")
    site_rule = pricing.price_rule_create(
        actor=None,
        product=cola,
        scope=PriceScope.SITE,
        site=world_a.sites["sh-1"],
        price_fen=300,
        member_price_fen=270,
        effective_from=T0,
    )
    client = client_for(world_a.user("customer_service"))
    url = "/api/v1/price-quote/"
    before = client.get(url, {"device": cabinet.pk, "product": cola.pk, "at": "2025-02-28T23:59:59Z"})
    assert before.status_code == 200, before.content
    assert (before.json()["price_fen"], before.json()["source"], before.json()["rule_id"]) == (
        350,
        "default",
        None,
    )
    member = client.get(
        url, {"device": cabinet.pk, "product": cola.pk, "at": "2025-03-01T00:00:00Z", "member": "true"}
    )
    assert {k: member.json()[k] for k in ("price_fen", "list_price_fen", "source", "rule_id")} == {
        "price_fen": 270,
        "list_price_fen": 300,
        "source": "site",
        "rule_id": site_rule.pk,
    }
    machine = make.vending_machine(world_a, "PQ-VM")
    track = make.track(machine, 3, cola, price_fen=250)
    tracked = client.get(url, {"device": machine.pk, "product": cola.pk, "track": track.pk})
    assert (tracked.json()["price_fen"], tracked.json()["source"]) == (250, "track")

    # Another merchant's device or product is simply not found; replenishers have no price rights.
    their_device = make.cabinet(world_b, "PQ-B")
    assert client.get(url, {"device": their_device.pk, "product": cola.pk}).status_code == 404
    assert client.get(url, {"device": cabinet.pk, "product": _product(world_b, "QB").pk}).status_code == 404
    assert client.get(url, {"device": cabinet.pk}).status_code == 400
    replenisher = client_for(world_a.user("replenisher"))
    assert replenisher.get(url, {"device": cabinet.pk, "product": cola.pk}).status_code == 403


@pytest.fixture
def template_world(world_a: World) -> dict[str, Any]:
    products = [_product(world_a, sku) for sku in ("A", "B")]
    template = selling.template_create(
        actor=None, merchant=world_a.merchant, name="柜", device_type="gravity_cabinet", products=products
    )
    return {
        "template": template,
        "products": products,
        "c1": make.cabinet(world_a, "TA-1", site="sh-1"),
        "c2": make.cabinet(world_a, "TA-2", site="sh-2"),
        "south": make.cabinet(world_a, "TA-SZ", site="sz-1"),
        "vm": make.vending_machine(world_a, "TA-VM"),
    }


def test_template_apply_through_the_api(world_a: World, world_b: World, template_world: dict) -> None:
    tw = template_world
    url = f"/api/v1/product-templates/{tw['template'].pk}/apply/"
    ops = client_for(world_a.user("operations"))
    stray = selling.sellable_add(actor=None, device=tw["c1"], product=_product(world_a, "STRAY"))

    def lists() -> set:
        return set(SellableItem.objects.values_list("device_id", "product_id", "enabled"))

    before = lists()
    bad = [
        ({"devices": [tw["c2"].pk, tw["vm"].pk]}, "catalog.selling_wrong_device_type"),
        ({"devices": [tw["c2"].pk, make.cabinet(world_b, "TA-B").pk]}, "core.invalid"),
        ({"devices": [tw["c2"].pk, tw["south"].pk]}, "core.invalid"),  # outside the ops scope: unseen
        ({"devices": [tw["c2"].pk], "mode": "wipe"}, "core.invalid"),
        ({"devices": []}, "core.invalid"),
    ]
    for payload, code in bad:
        response = ops.post(url, payload, format="json")
        assert response.status_code == 400, response.content
        assert response.json()["error"]["code"] == code
    assert "TA-VM" in ops.post(url, bad[0][0], format="json").json()["error"]["message"]
    assert lists() == before

    replaced = ops.post(url, {"devices": [tw["c1"].pk, tw["c2"].pk], "mode": "replace"}, format="json")
    assert replaced.status_code == 200, replaced.content
    assert replaced.json() == {
        "mode": "replace",
        "devices": [
            {"device": tw["c1"].pk, "added": 2, "kept": 0, "removed": 1},
            {"device": tw["c2"].pk, "added": 2, "kept": 0, "removed": 0},
        ],
    }
    assert not SellableItem.objects.filter(pk=stray.pk).exists()
    # Replenishers may read templates but not fill lists.
    replenisher = client_for(world_a.user("replenisher"))
    assert replenisher.post(url, {"devices": [tw["c1"].pk]}, format="json").status_code == 403
    # Another merchant's template is not found.
    theirs = selling.template_create(actor=None, merchant=world_b.merchant, name="theirs")
    missing = ops.post(
        f"/api/v1/product-templates/{theirs.pk}/apply/", {"devices": [tw["c1"].pk]}, format="json"
    )
    assert missing.status_code == 404


def test_sellable_bulk_actions(world_a: World, template_world: dict) -> None:
    tw = template_world
    ops = client_for(world_a.user("operations"))
    added = ops.post(
        "/api/v1/sellable-items/bulk-add/",
        {"devices": [tw["c1"].pk, tw["c2"].pk], "products": [p.pk for p in tw["products"]]},
        format="json",
    )
    assert added.status_code == 200, added.content
    assert [row["added"] for row in added.json()["devices"]] == [2, 2]
    ids = list(SellableItem.objects.filter(device=tw["c1"]).values_list("pk", flat=True))
    disabled = ops.post(
        "/api/v1/sellable-items/bulk-update/", {"items": ids, "enabled": False}, format="json"
    )
    assert disabled.json() == {"changed": 2}
    assert SellableItem.objects.filter(enabled=False).count() == 2
    removed = ops.post("/api/v1/sellable-items/bulk-delete/", {"items": ids}, format="json")
    assert removed.json() == {"changed": 2}
    assert SellableItem.objects.count() == 2
    remaining = SellableItem.objects.get(device=tw["c2"], product=tw["products"][0])
    moved = ops.patch(f"/api/v1/sellable-items/{remaining.pk}/", {"device": tw["c1"].pk}, format="json")
    assert moved.status_code == 400
    remaining.refresh_from_db()
    assert remaining.device_id == tw["c2"].pk
