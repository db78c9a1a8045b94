"""The stock pages: console lists (read-only ledger, negative stock highlighted, Excel export), the
manual movement form, stock-takes in the console, and the replenisher's phone pages."""

from __future__ import annotations

from io import BytesIO
from typing import Any

import pytest
from django.utils import translation
from django.utils.html import escape
from django.utils.translation import gettext
from openpyxl import load_workbook

from openvend.audit.models import AuditLogEntry
from openvend.inventory import ledger
from openvend.inventory.models import StockLevel, StockMovement, StockTake
from openvend.inventory.stocktake_services import stocktake_count, stocktake_start, stocktake_submit
from tests.conftest import console_login
from tests.inventory.stock_world import Shop, build_shop
from tests.world import PASSWORD, World

LEVELS = "/console/inventory/stocklevel/"
MOVEMENTS = "/console/inventory/stockmovement/"
TAKES = "/console/inventory/stocktake/"


@pytest.fixture
def shop(world_a: World) -> Shop:
    shop = build_shop(world_a, "W")
    ledger.post_movement(device=shop.cabinet, product=shop.cola, quantity=5, kind="replenishment")
    ledger.post_movement(device=shop.cabinet, product=shop.water, quantity=-1, kind="sale")  # oversold
    return shop


def _login(client: Any, world: World, role: str) -> None:
    assert console_login(client, world.users[role].username, PASSWORD)


def _rows(content: bytes) -> list[tuple[Any, ...]]:
    return list(load_workbook(BytesIO(content)).active.iter_rows(values_only=True))


def _as_seen(message: str, **params: Any) -> str:
    """An English msgid as 阿尔法零售's staff read it: no language cookie, so their merchant's
    default language, zh-hans."""
    with translation.override("zh-hans"):
        text = gettext(message)
    return text % params if params else text


def test_stock_levels_list_filters_and_exports(shop: Shop, world_a: World, client: Any) -> None:
    _login(client, world_a, "finance")
    page = client.get(LEVELS)
    assert page.status_code == 200
    html = page.content.decode()
    assert "W-cola" in html and "W-water" in html
    negative = client.get(LEVELS, {"balance": "negative"})
    assert [(r.product.sku, r.on_hand) for r in negative.context["cl"].result_list] == [("W-water", -1)]
    assert "bg-red-100 text-red-700" in negative.content.decode()  # negative on-hand is shown in red
    assert "bg-red-100 text-red-700" not in client.get(LEVELS, {"balance": "stocked"}).content.decode()
    assert client.get(f"{LEVELS}add/").status_code == 403
    level = StockLevel.objects.get(device=shop.cabinet, product=shop.water)
    exported = client.post(
        LEVELS,
        {
            "action": "export_xlsx",
            "_selected_action": [level.pk, *StockLevel.objects.values_list("pk", flat=True)],
        },
    )
    assert exported.status_code == 200
    rows = _rows(exported.content)
    assert len(rows) == 3  # header and two positions
    assert sorted(row[3] for row in rows[1:]) == [-1, 5]


def test_movement_ledger_is_read_only(shop: Shop, world_a: World, client: Any) -> None:
    _login(client, world_a, "merchant_admin")
    movement = StockMovement.objects.filter(kind="sale").get()
    page = client.get(MOVEMENTS)
    assert page.status_code == 200
    assert f"{MOVEMENTS}add/" not in page.content.decode()
    assert client.get(f"{MOVEMENTS}add/").status_code == 403
    detail = client.get(f"{MOVEMENTS}{movement.pk}/change/")
    assert detail.status_code == 200
    assert 'name="_save"' not in detail.content.decode()
    before = list(StockMovement.objects.values_list())
    assert client.post(f"{MOVEMENTS}{movement.pk}/change/", {"reason": "edited"}).status_code == 403
    assert client.post(f"{MOVEMENTS}{movement.pk}/delete/", {"post": "yes"}).status_code == 403
    assert list(StockMovement.objects.values_list()) == before
    assert client.get(MOVEMENTS, {"kind__exact": "sale"}).status_code == 200
    exported = client.post(MOVEMENTS, {"action": "export_xlsx", "_selected_action": [movement.pk]})
    rows = _rows(exported.content)
    assert len(rows) == 2 and -1 in rows[1]


def test_manual_movement_form(shop: Shop, world_a: World, client: Any) -> None:
    _login(client, world_a, "operations")
    url = f"{MOVEMENTS}manual/"
    assert client.get(url).status_code == 200
    refused = client.post(
        url,
        {
            "operation": "removal",
            "device": shop.cabinet.pk,
            "product": shop.cola.pk,
            "lane": 0,
            "to_lane": 0,
            "quantity": 9,
            "reason": "expired",
        },
    )
    assert refused.status_code == 200
    only_five = _as_seen("Only %(on_hand)s on hand; cannot take out %(wanted)s.", on_hand=5, wanted=9)
    assert escape(only_five) in refused.content.decode()
    done = client.post(
        url,
        {
            "operation": "removal",
            "device": shop.cabinet.pk,
            "product": shop.cola.pk,
            "lane": 0,
            "to_lane": 0,
            "quantity": 2,
            "reason": "expired",
        },
    )
    assert done.status_code == 302
    removal = StockMovement.objects.get(kind="removal")
    assert (removal.quantity, removal.balance_after, removal.reason) == (-2, 3, "expired")
    assert AuditLogEntry.objects.filter(
        object_type="inventory.stockmovement", object_id=str(removal.pk)
    ).exists()
    client.logout()
    _login(client, world_a, "replenisher")
    assert client.get(url).status_code == 403


def test_stocktake_in_the_console(shop: Shop, world_a: World, client: Any) -> None:
    _login(client, world_a, "replenisher")
    started = client.post(f"{TAKES}add/", {"device": shop.cabinet.pk})
    assert started.status_code == 302, started.content.decode()[:2000]
    take = StockTake.objects.get()
    assert take.lines.count() == 2 and take.counted_by_id == world_a.users["replenisher"].pk
    stocktake_count(actor=world_a.user("replenisher"), take=take, barcode_or_product=shop.cola, counted=4)
    page = client.get(f"{TAKES}{take.pk}/change/")
    assert page.status_code == 200 and "W-cola" in page.content.decode()
    assert client.get(f"{TAKES}{take.pk}/submit/").status_code == 302
    assert StockTake.objects.get().state == "submitted"
    assert client.get(f"{TAKES}{take.pk}/decide/").status_code == 403  # counters do not approve
    client.logout()

    _login(client, world_a, "store_manager")
    report = client.get(f"{TAKES}{take.pk}/report/")
    html = report.content.decode()
    assert report.status_code == 200 and "-350" in html and "W-water" in html  # -1 → counted 0: +1, 200 fen
    xlsx = client.get(f"{TAKES}{take.pk}/report/", {"format": "xlsx"})
    assert _rows(xlsx.content)[-1] == (_as_seen("Total"), None, None, None, None, 0, -150)
    assert client.post(f"{TAKES}{take.pk}/decide/", {"decision": "approve", "reason": ""}).status_code == 200
    assert StockTake.objects.get().state == "submitted"  # a reason is required when stock changes
    decided = client.post(f"{TAKES}{take.pk}/decide/", {"decision": "approve", "reason": "月度盘点"})
    assert decided.status_code == 302
    assert StockTake.objects.get().state == "approved"
    assert sorted(StockMovement.objects.filter(kind="stocktake").values_list("quantity", flat=True)) == [
        -1,
        1,
    ]
    assert StockLevel.objects.get(device=shop.cabinet, product=shop.cola).on_hand == 4
    assert StockLevel.objects.get(device=shop.cabinet, product=shop.water).on_hand == 0


def test_another_merchants_stock_does_not_exist_for_me(
    shop: Shop, world_a: World, world_b: World, client: Any
) -> None:
    take = stocktake_start(actor=world_a.user("merchant_admin"), device=shop.cabinet)
    level = StockLevel.objects.filter(device=shop.cabinet).first()
    assert console_login(client, world_b.users["merchant_admin"].username, PASSWORD)
    for url in (f"{TAKES}{take.pk}/change/", f"{LEVELS}{level.pk}/change/"):
        response = client.get(url)
        assert response.status_code in (302, 404)
        assert "W-cola" not in response.content.decode()
    assert client.get(f"{TAKES}{take.pk}/report/").status_code == 404
    assert "W-cola" not in client.get(LEVELS).content.decode()


def test_platform_reads_stock_and_changes_nothing(shop: Shop, platform_admin: Any, client: Any) -> None:
    assert console_login(client, platform_admin.username, PASSWORD, console="/platform/")
    assert "W-cola" in client.get("/platform/inventory/stocklevel/").content.decode()
    assert client.get("/platform/inventory/stockmovement/").status_code == 200
    assert client.get("/platform/inventory/stockmovement/manual/").status_code == 403
    assert client.get("/platform/inventory/stocktake/").status_code == 404


# --- Phone pages --------------------------------------------------------------------------------------


def test_phone_stocktake_by_scan(shop: Shop, world_a: World, client: Any) -> None:
    client.force_login(world_a.users["replenisher"])
    listing = client.get("/m/stock/").content.decode()
    assert shop.cabinet.code in listing and shop.vending.code in listing
    assert shop.far_cabinet.code not in listing  # Shenzhen is outside a Shanghai replenisher's scope
    url = f"/m/stock/{shop.cabinet.pk}/take/"
    assert escape(_as_seen("Start a stock-take")) in client.get(url).content.decode()
    assert client.post(url).status_code == 302
    take = StockTake.objects.get()
    page = client.get(url).content.decode()
    assert 'name="barcode"' in page and "BarcodeDetector" in page

    htmx = {"HTTP_HX_REQUEST": "true"}
    for _ in range(3):
        scanned = client.post(f"/m/stock/takes/{take.pk}/scan/", {"barcode": "6901234567892"}, **htmx)
    assert scanned.status_code == 200
    notice = _as_seen("%(product)s: %(counted)s counted", product=shop.cola.name, counted=3)
    assert escape(notice) in scanned.content.decode()
    unknown = client.post(f"/m/stock/takes/{take.pk}/scan/", {"barcode": "999"}, **htmx).content.decode()
    assert escape(_as_seen("No product of yours has the barcode %(code)s.", code="999")) in unknown
    line = take.lines.get(product=shop.cola)
    client.post(f"/m/stock/takes/{take.pk}/lines/{line.pk}/", {"step": "-1", "counted": "3"}, **htmx)
    line.refresh_from_db()
    assert line.counted == 2
    client.post(f"/m/stock/takes/{take.pk}/lines/{line.pk}/", {"counted": "6"}, **htmx)
    line.refresh_from_db()
    assert line.counted == 6
    bad = client.post(f"/m/stock/takes/{take.pk}/lines/{line.pk}/", {"counted": "x"}, **htmx)
    assert escape(_as_seen("Type a whole number.")) in bad.content.decode()
    assert client.post(f"/m/stock/takes/{take.pk}/submit/").status_code == 302
    take.refresh_from_db()
    assert take.state == "submitted"
    assert 'name="barcode"' not in client.get(url).content.decode()  # frozen after submission
    assert (
        client.post(f"/m/stock/takes/{take.pk}/scan/", {"barcode": "6901234567892"}, **htmx).status_code
        == 200
    )
    assert take.lines.get(product=shop.cola).counted == 6


def test_phone_pages_respect_roles_and_tenancy(
    shop: Shop, world_a: World, world_b: World, client: Any
) -> None:
    client.force_login(world_a.users["finance"])
    assert client.post(f"/m/stock/{shop.cabinet.pk}/take/").status_code == 302
    assert StockTake.objects.count() == 0  # finance may look, not count
    take = stocktake_start(actor=world_a.user("replenisher"), device=shop.cabinet)
    stocktake_submit(actor=world_a.user("replenisher"), take=take)
    client.force_login(world_b.users["merchant_admin"])
    assert client.get(f"/m/stock/{shop.cabinet.pk}/take/").status_code == 404
    assert client.post(f"/m/stock/takes/{take.pk}/scan/", {"barcode": "6901234567892"}).status_code == 404
    assert client.post(f"/m/stock/takes/{take.pk}/submit/").status_code == 404
