"""The stock resources pass the shared contract, and the stock-take flow works end to end over HTTP.

Preset roles (accounts/presets.py): all six merchant roles view stock levels, movements and
stock-takes (STOCK_VIEW); merchant administrators and operations post manual movements; those who
restock (operations, replenishers, store managers) and administrators start and count stock-takes;
operations, store managers and administrators approve them.
"""

from __future__ import annotations

from io import BytesIO
from typing import Any

import pytest
from django.utils import translation
from django.utils.translation import gettext
from openpyxl import load_workbook

from openvend.audit.models import AuditLogEntry
from openvend.inventory import ledger
from openvend.inventory.models import StockLevel, StockMovement, StockTake
from openvend.inventory.stocktake_services import stocktake_start
from tests.api.contract import ReadContract, ResourceContract
from tests.conftest import client_for
from tests.inventory.stock_world import Shop, build_shop
from tests.world import MERCHANT_ROLES, World

VIEW_ALL = {role: {"view"} for role in MERCHANT_ROLES}


class _Shops:
    """One shop per world, built on first use in each test."""

    @pytest.fixture(autouse=True)
    def _reset_shops(self) -> None:
        self.shops: dict[int, Shop] = {}

    def shop(self, world: World) -> Shop:
        if world.merchant.pk not in self.shops:
            self.shops[world.merchant.pk] = build_shop(world, world.merchant.code[:1].upper())
        return self.shops[world.merchant.pk]


def _not_allowed(client: Any, url: str) -> None:
    for method in ("put", "patch", "delete"):
        response = getattr(client, method)(url, {}, format="json")
        assert response.status_code == 405, (method, response.content)
        assert response.json()["error"]["code"] == "core.method_not_allowed"


class TestStockLevels(_Shops, ReadContract):
    url = "/api/v1/stock-levels/"
    model = StockLevel
    expected = VIEW_ALL

    def make(self, world: World) -> StockLevel:
        shop = self.shop(world)
        ledger.post_movement(device=shop.cabinet, product=shop.cola, quantity=3, kind="replenishment")
        return StockLevel.objects.get(device=shop.cabinet, product=shop.cola, lane=0)

    def test_read_only_and_negative_flag(self, world_a: World) -> None:
        shop = self.shop(world_a)
        ledger.post_movement(device=shop.cabinet, product=shop.water, quantity=-2, kind="sale")
        level = self.make(world_a)
        client = client_for(world_a.user("merchant_admin"))
        assert client.post(self.url, {}, format="json").status_code == 405
        _not_allowed(client, self.detail(level))
        rows = client.get(self.url, {"on_hand__lt": 0}).json()["results"]
        assert [(r["product_sku"], r["lane"], r["on_hand"], r["negative"]) for r in rows] == [
            ("A-water", 0, -2, True)
        ]
        row = client.get(self.detail(level)).json()
        assert (row["device_code"], row["on_hand"], row["negative"]) == ("ACAB1", 3, False)

    def test_scoped_staff_do_not_see_devices_outside_their_org_unit(self, world_a: World) -> None:
        shop = self.shop(world_a)
        ledger.post_movement(device=shop.far_cabinet, product=shop.cola, quantity=2, kind="replenishment")
        mine = self.make(world_a)
        scoped = client_for(world_a.user("replenisher")).get(self.url).json()["results"]
        everything = client_for(world_a.user("finance")).get(self.url).json()["results"]
        assert [r["id"] for r in scoped] == [mine.pk]
        assert len(everything) == 2

    def test_platform_reads_every_merchant(self, world_a: World, world_b: World, platform_admin: Any) -> None:
        mine, theirs = self.make(world_a), self.make(world_b)
        ids = {r["id"] for r in client_for(platform_admin).get(self.url).json()["results"]}
        assert {mine.pk, theirs.pk} <= ids


class TestStockMovements(_Shops, ResourceContract):
    url = "/api/v1/stock-movements/"
    model = StockMovement
    expected = {
        **VIEW_ALL,
        "merchant_admin": {"view", "add"},
        "operations": {"view", "add"},
    }

    @pytest.fixture(autouse=True)
    def _stock(self, _reset_shops: None, world_a: World) -> None:
        shop = self.shop(world_a)
        ledger.post_movement(device=shop.cabinet, product=shop.cola, quantity=10, kind="replenishment")

    def make(self, world: World) -> StockMovement:
        shop = self.shop(world)
        return ledger.post_movement(device=shop.cabinet, product=shop.water, quantity=2, kind="replenishment")

    def create_payload(self, world: World) -> dict[str, Any]:
        shop = self.shop(world)
        return {
            "operation": "removal",
            "device": shop.cabinet.pk,
            "product": shop.cola.pk,
            "quantity": 2,
            "reason": "过期",
        }

    def update_payload(self, world: World) -> dict[str, Any]:
        return {"quantity": 99}

    @pytest.mark.parametrize("role", MERCHANT_ROLES)
    def test_update(self, role: str, world_a: World, world_b: World) -> None:
        movement = self.make(world_a)
        before = list(StockMovement.objects.values_list())
        _not_allowed(client_for(world_a.user(role)), self.detail(movement))
        assert list(StockMovement.objects.values_list()) == before

    @pytest.mark.parametrize("role", MERCHANT_ROLES)
    def test_delete(self, role: str, world_a: World, world_b: World) -> None:
        movement = self.make(world_a)
        assert client_for(world_a.user(role)).delete(self.detail(movement)).status_code == 405
        assert StockMovement.objects.filter(pk=movement.pk).exists()

    def test_removal_moves_stock_exactly(self, world_a: World) -> None:
        shop = self.shop(world_a)
        response = client_for(world_a.user("operations")).post(
            self.url, self.create_payload(world_a), format="json"
        )
        assert response.status_code == 201, response.content
        body = response.json()
        assert (body["kind"], body["quantity"], body["balance_after"], body["reason"]) == (
            "removal",
            -2,
            8,
            "过期",
        )
        assert StockLevel.objects.get(device=shop.cabinet, product=shop.cola).on_hand == 8
        entry = AuditLogEntry.objects.get(object_type="inventory.stockmovement", object_id=str(body["id"]))
        assert entry.before == {"on_hand": 10}
        assert entry.after == {"on_hand": 8, "quantity": -2, "kind": "removal", "reason": "过期"}

    def test_correction_and_transfer(self, world_a: World) -> None:
        shop = self.shop(world_a)
        client = client_for(world_a.user("merchant_admin"))
        delivered = ledger.post_movement(
            device=shop.cabinet, product=shop.water, quantity=5, kind="replenishment"
        )
        response = client.post(
            self.url,
            {"operation": "correction", "corrects": delivered.pk, "reason": "wrong box"},
            format="json",
        )
        assert response.status_code == 201, response.content
        assert (response.json()["quantity"], response.json()["corrects"]) == (-5, delivered.pk)
        again = client.post(
            self.url, {"operation": "correction", "corrects": delivered.pk, "reason": "x"}, format="json"
        )
        assert (again.status_code, again.json()["error"]["code"]) == (409, "inventory.already_corrected")

        response = client.post(
            self.url,
            {
                "operation": "transfer",
                "device": shop.cabinet.pk,
                "product": shop.cola.pk,
                "quantity": 4,
                "to_device": shop.vending.pk,
                "to_lane": 1,
                "reason": "move to the machine",
            },
            format="json",
        )
        assert response.status_code == 201, response.content
        assert (response.json()["kind"], response.json()["quantity"]) == ("transfer_out", -4)
        assert StockLevel.objects.get(device=shop.cabinet, product=shop.cola, lane=0).on_hand == 6
        assert StockLevel.objects.get(device=shop.vending, product=shop.cola, lane=1).on_hand == 4

    def test_bad_manual_movements_change_nothing(self, world_a: World, world_b: World) -> None:
        shop, theirs = self.shop(world_a), self.shop(world_b)
        client = client_for(world_a.user("merchant_admin"))
        base = {"operation": "removal", "device": shop.cabinet.pk, "product": shop.cola.pk, "quantity": 1}
        cases = [
            ({**base, "reason": "  "}, 400, "core.invalid"),
            ({**base, "quantity": 11, "reason": "x"}, 400, "inventory.would_go_negative"),
            ({**base, "lane": 3, "reason": "x"}, 400, "inventory.bad_lane"),
            ({**base, "device": theirs.cabinet.pk, "reason": "x"}, 400, "core.invalid"),
            ({**base, "product": theirs.cola.pk, "reason": "x"}, 400, "core.invalid"),
            (
                {
                    "operation": "transfer",
                    **{k: v for k, v in base.items() if k != "operation"},
                    "reason": "x",
                },
                400,
                "core.invalid",
            ),
            (
                {**base, "operation": "transfer", "to_device": shop.cabinet.pk, "reason": "x"},
                400,
                "inventory.same_position",
            ),
            ({"operation": "correction", "reason": "x"}, 400, "core.invalid"),
        ]
        before = list(StockMovement.objects.values_list())
        for payload, status, code in cases:
            response = client.post(self.url, payload, format="json")
            assert (response.status_code, response.json()["error"]["code"]) == (status, code), payload
        assert list(StockMovement.objects.values_list()) == before

    def test_platform_reads_but_cannot_post(self, world_a: World, platform_admin: Any) -> None:
        movement = self.make(world_a)
        client = client_for(platform_admin)
        assert client.get(self.detail(movement)).status_code == 200
        assert client.post(self.url, self.create_payload(world_a), format="json").status_code == 403


class TestStockTakes(_Shops, ResourceContract):
    url = "/api/v1/stock-takes/"
    model = StockTake
    expected = {
        **VIEW_ALL,
        "merchant_admin": {"view", "add"},
        "operations": {"view", "add"},
        "replenisher": {"view", "add"},
        "store_manager": {"view", "add"},
    }

    @pytest.fixture(autouse=True)
    def _shop_first(self, _reset_shops: None, world_a: World) -> None:
        self.shop(world_a)  # built (and audited) before the contract counts audit rows

    def make(self, world: World) -> StockTake:
        return stocktake_start(actor=world.user("merchant_admin"), device=self.shop(world).cabinet)

    def create_payload(self, world: World) -> dict[str, Any]:
        return {"device": self.shop(world).cabinet.pk}

    def update_payload(self, world: World) -> dict[str, Any]:
        return {"reason": "x"}

    @pytest.mark.parametrize("role", MERCHANT_ROLES)
    def test_update(self, role: str, world_a: World, world_b: World) -> None:
        take = self.make(world_a)
        client = client_for(world_a.user(role))
        assert client.patch(self.detail(take), {"reason": "x"}, format="json").status_code == 405
        assert client.put(self.detail(take), {"reason": "x"}, format="json").status_code == 405

    @pytest.mark.parametrize("role", MERCHANT_ROLES)
    def test_delete(self, role: str, world_a: World, world_b: World) -> None:
        take = self.make(world_a)
        assert client_for(world_a.user(role)).delete(self.detail(take)).status_code == 405
        assert StockTake.objects.filter(pk=take.pk).exists()


@pytest.fixture
def shop_a(world_a: World) -> Shop:
    return build_shop(world_a, "F")


def test_stocktake_flow_over_the_api(shop_a: Shop, world_a: World, world_b: World) -> None:
    ledger.post_movement(device=shop_a.vending, product=shop_a.cola, lane=1, quantity=6, kind="replenishment")
    ledger.post_movement(
        device=shop_a.vending, product=shop_a.water, lane=2, quantity=5, kind="replenishment"
    )
    counter = client_for(world_a.user("replenisher"))
    approver = client_for(world_a.user("operations"))
    started = counter.post("/api/v1/stock-takes/", {"device": shop_a.vending.pk}, format="json")
    assert started.status_code == 201, started.content
    take = started.json()
    url = f"/api/v1/stock-takes/{take['id']}/"
    assert [(li["product_sku"], li["lane"], li["expected"], li["counted"]) for li in take["lines"]] == [
        ("F-cola", 1, 6, 0),
        ("F-water", 2, 5, 0),
    ]
    for _ in range(4):  # four scans of the cola barcode
        scanned = counter.post(f"{url}count/", {"barcode": "6901234567892"}, format="json")
        assert scanned.status_code == 200, scanned.content
    assert (scanned.json()["counted"], scanned.json()["difference"]) == (4, -2)
    typed = counter.post(f"{url}count/", {"product": shop_a.water.pk, "lane": 2, "counted": 6}, format="json")
    assert (typed.json()["counted"], typed.json()["difference"]) == (6, 1)
    unknown = counter.post(f"{url}count/", {"barcode": "123"}, format="json")
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (400, "inventory.unknown_barcode")

    # Counters do not approve; a second submission is a state error.
    assert counter.post(f"{url}submit/").json()["state"] == "submitted"
    assert counter.post(f"{url}submit/").json()["error"]["code"] == "inventory.bad_state"
    assert counter.post(f"{url}approve/", {"reason": "x"}, format="json").status_code == 403

    report = approver.get(f"{url}report/")
    assert report.status_code == 200
    assert [
        (r["sku"], r["lane"], r["expected"], r["counted"], r["difference"], r["value_fen"])
        for r in report.json()
    ] == [
        ("F-cola", 1, 6, 4, -2, -700),
        ("F-water", 2, 5, 6, 1, 200),
    ]
    xlsx = approver.get(f"{url}report/", {"format": "xlsx"})
    assert xlsx.status_code == 200
    assert xlsx["Content-Type"].startswith("application/vnd.openxmlformats")
    rows = list(load_workbook(BytesIO(xlsx.content)).active.iter_rows(values_only=True))
    # The request has no Accept-Language, so the workbook is in the site default, zh-hans.
    with translation.override("zh-hans"):
        total = gettext("Total")
    assert rows[1:] == [
        ("F-cola", "商品 F-cola", 1, 6, 4, -2, -700),
        ("F-water", "商品 F-water", 2, 5, 6, 1, 200),
        (total, None, None, None, None, -1, -500),
    ]

    # Another merchant cannot reach the take at all.
    stranger = client_for(world_b.user("merchant_admin"))
    for method, suffix in (
        ("get", ""),
        ("get", "report/"),
        ("post", "count/"),
        ("post", "approve/"),
        ("post", "reject/"),
    ):
        assert getattr(stranger, method)(f"{url}{suffix}", {}, format="json").status_code == 404

    ledger.post_movement(device=shop_a.vending, product=shop_a.cola, lane=1, quantity=-1, kind="sale")
    decided = approver.post(f"{url}approve/", {"reason": "月度盘点"}, format="json")
    assert decided.status_code == 200, decided.content
    assert (decided.json()["state"], decided.json()["reason"]) == ("approved", "月度盘点")
    posted = StockMovement.objects.filter(kind="stocktake").order_by("lane")
    assert [(m.lane, m.quantity, m.balance_after, m.source_id) for m in posted] == [
        (1, -2, 3, str(take["id"])),
        (2, 1, 6, str(take["id"])),
    ]
    assert approver.post(f"{url}reject/", {}, format="json").json()["error"]["code"] == "inventory.bad_state"


def test_rejected_stocktake_posts_nothing(shop_a: Shop, world_a: World) -> None:
    ledger.post_movement(device=shop_a.cabinet, product=shop_a.cola, quantity=3, kind="replenishment")
    take = stocktake_start(actor=world_a.user("replenisher"), device=shop_a.cabinet)
    client = client_for(world_a.user("replenisher"))
    client.post(
        f"/api/v1/stock-takes/{take.pk}/count/", {"barcode": "6901234567892", "counted": 1}, format="json"
    )
    client.post(f"/api/v1/stock-takes/{take.pk}/submit/")
    before = list(StockMovement.objects.values_list())
    response = client_for(world_a.user("store_manager")).post(
        f"/api/v1/stock-takes/{take.pk}/reject/", {"note": "recount"}, format="json"
    )
    assert (response.status_code, response.json()["state"], response.json()["decision_note"]) == (
        200,
        "rejected",
        "recount",
    )
    assert list(StockMovement.objects.values_list()) == before
