"""Free replenishment (自由补货) on a phone at 375 px, in Chinese: the replenisher signs in, sees their
orders and pick list, opens a gravity cabinet in restock mode, the device's door events arrive through
the gateway, the polling page follows the door to "closed", two counts are saved with htmx, and
completing posts exactly those REPLENISHMENT movements — nobody is charged, no order appears.
A cabinet whose kind has a camera also offers the shelf photo; one without does not."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.utils import timezone

from openvend.devices import services as devices
from openvend.devices.models import Command, Device, DeviceState
from openvend.gateway import protocol
from openvend.gateway.ingest import DeviceDirectory, Received, ingest_batch
from openvend.inventory.models import ReplenishmentOrder, RestockSession, StockMovement
from openvend.inventory.replenishment_selectors import restock_in_progress
from openvend.inventory.replenishment_services import replenishment_orders_from_suggestions
from openvend.inventory.selectors import on_hand
from tests.browser.test_consoles import CHROMIUM_ARGS, _shot
from tests.devices.factories import activated_device
from tests.inventory.replenishment_factories import camera_less_kind, planogram, product, stock
from tests.world import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

POLL_WAIT_MS = 15_000  # the page polls every 3 s


@pytest.fixture
def browser(chromium: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _fits(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= 375


class _Feed:
    """The device's uplink: event messages in sequence, through the gateway's real ingest."""

    def __init__(self, code: str) -> None:
        self.code, self.seq, self.directory = code, 0, DeviceDirectory()

    def send(self, *events: dict) -> None:
        items = []
        for body in events:
            self.seq += 1
            topic, payload = protocol.encode_up(self.code, "event", seq=self.seq, body=body)
            items.append(Received(topic, payload, timezone.now()))
        result = ingest_batch(items, self.directory)
        assert (result.stored, result.dead) == (len(events), 0), result


def _cameraless_cabinet(world) -> Device:
    devices.device_register(actor=None, code="RM-GRAV1", kind=camera_less_kind())
    device, _secret = devices.device_activate(
        actor=None, merchant=world.merchant, code="RM-GRAV1", name="重力柜 RM-GRAV1", site=world.sites["sh-1"]
    )
    return device


def _live_text(page) -> str:
    return page.inner_text("#restock-live")


def test_free_replenishment_on_a_phone_in_chinese(browser, live_server, world_a) -> None:
    replenisher = world_a.user("replenisher")
    cola = product(world_a, "COLA", weight_g="500.00")
    water = product(world_a, "WATER", weight_g="330.00")
    cabinet = _cameraless_cabinet(world_a)
    planogram(cabinet, [(cola, ["s1-1"], 10, 8), (water, ["s2-1"], 10, 8)])
    stock(cabinet, cola, 2)
    # A vision cabinet (its kind has a camera) with an order assigned to the replenisher: it fills
    # their order list and pick list, and later shows the photo control.
    vision, _secret = activated_device(world_a, "RM-VIS1")
    planogram(vision, [(cola, ["s1-1"], 12, 6)])
    [order] = replenishment_orders_from_suggestions(
        actor=world_a.user("operations"), devices=[vision], assignee=replenisher
    )
    [order_line] = order.lines.select_related("product")
    assert (order_line.product, order_line.lane, order_line.quantity) == (cola, 0, 6)
    movements_before = StockMovement.objects.count()

    context = browser.new_context(locale="zh-CN", viewport={"width": 375, "height": 740}, is_mobile=True)
    context.add_cookies([{"name": "django_language", "value": "zh-hans", "url": live_server.url}])
    page = context.new_page()
    page.goto(f"{live_server.url}/m/login/")
    page.fill("input[name=username]", replenisher.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/m/")
    assert "补货：我的补货单和拣货单" in page.inner_text("body")

    # My orders and pick list.
    page.click("a[href='/m/restock/']")
    page.wait_for_url("**/m/restock/")
    orders_text = page.inner_text("[data-testid=my-orders]")
    assert "我的未完成补货单" in orders_text and order.number in orders_text and "RM-VIS1" in orders_text
    picks_text = page.inner_text("[data-testid=my-pick-list]")
    assert "我的拣货单" in picks_text and "本轮总装载量" in picks_text
    assert "商品 COLA" in picks_text and "× 6" in picks_text and "总件数: 6" in picks_text.replace("：", ":")
    _fits(page)
    _shot(page, "mobile-restock-home-zh")

    # The gravity cabinet (no camera, no order): free replenishment.
    page.goto(f"{live_server.url}/m/restock/device/{cabinet.pk}/")
    live = _live_text(page)
    assert "补货期间不会向任何人扣费；柜门关闭前顾客无法购物。" in live
    assert page.locator("#order").count() == 0  # no order for this cabinet: nothing to choose
    assert page.inner_text("[data-testid=start-restock]") == "开门补货"
    assert restock_in_progress(cabinet) is False
    _fits(page)
    page.click("[data-testid=start-restock]")
    page.wait_for_selector("text=柜门正在打开。请补货，完成后关门。")
    session = RestockSession.objects.get(device=cabinet)
    command = Command.objects.get(device=cabinet)
    assert (command.kind, command.params, command.created_by_id) == (
        "open_door",
        {"door": 1, "mode": "restock"},
        replenisher.pk,
    )
    assert (session.state, session.command_id, session.replenisher_id, session.order_id) == (
        "opening",
        command.pk,
        replenisher.pk,
        None,
    )
    assert restock_in_progress(cabinet) is True
    assert page.inner_text("#restock-live h3") == "正在开门"
    assert "柜门指令: 待下发" in _live_text(page).replace("：", ":")
    assert page.locator("#photo").count() == 0  # this cabinet's kind has no camera
    assert page.get_attribute("#restock-live", "hx-trigger") == "every 3s"
    # From here on the page must not reload: polling and counts are htmx swaps.
    page.evaluate("window.__sameDocument = true")

    feed = _Feed(cabinet.code)
    sid = str(command.pk)
    feed.send({"kind": "door_opened", "session": sid, "detail": {"door": 1}})
    page.wait_for_selector("#restock-live h3:text-is('柜门已开')", timeout=POLL_WAIT_MS)
    assert "柜门: 未关闭" in _live_text(page).replace("：", ":")
    assert restock_in_progress(cabinet) is True
    feed.send(
        {"kind": "weight_change", "session": sid, "detail": {"sensor": "s1-1", "delta_g": 1510.0}},
        {"kind": "door_closed", "session": sid, "detail": {"door": 1, "open_s": 80}},
    )
    page.wait_for_selector("#restock-live h3:text-is('柜门已关，正在清点')", timeout=POLL_WAIT_MS)
    assert DeviceState.objects.get(device=cabinet).door == "closed"
    session.refresh_from_db()
    assert session.state == "closed" and session.sensor_deltas_g == {"s1-1": 1510.0}
    assert restock_in_progress(cabinet) is False  # the door is shut: shoppers may use it again
    live = _live_text(page)
    assert "柜门: 已关闭" in live.replace("：", ":")
    assert "放入数量" in live and "请填写放入数量。留空则使用传感器数据。" in live
    assert page.get_attribute("#restock-live", "hx-get") is None  # closed: polling stops
    assert page.locator("[data-testid=door-closed]").count() == 0
    assert page.inner_text("[data-testid=complete-restock]") == "完成补货"
    cola_row, water_row = page.locator(f"#line-{cola.pk}-0"), page.locator(f"#line-{water.pk}-0")
    # 1510 g / 500 g → 3 units by the sensors; water's sensor did not change → 0.
    assert "传感器: 3" in cola_row.inner_text().replace("：", ":")
    assert "传感器: 0" in water_row.inner_text().replace("：", ":")
    assert cola_row.locator("input[name=counted]").get_attribute("aria-label") == "实盘数量"
    _fits(page)

    # Counts, saved by htmx when a field changes. The phone keyboard's Enter ("前往") saves the
    # count in place — it must not submit the row as a page load.
    count_url = f"**/m/restock/device/{cabinet.pk}/count/"
    cola_input, water_input = (
        cola_row.locator("input[name=counted]"),
        water_row.locator("input[name=counted]"),
    )
    with page.expect_response(count_url) as answer:
        cola_input.fill("4")
        cola_input.press("Enter")
    assert answer.value.status == 200
    page.wait_for_function(f"document.querySelector('#line-{cola.pk}-0 input[name=counted]').value === '4'")
    assert page.url == f"{live_server.url}/m/restock/device/{cabinet.pk}/"
    # A refused count shows its error in the row, and saves nothing.
    with page.expect_response(count_url) as answer:
        water_input.fill("-2")
        water_input.press("Tab")
    assert answer.value.status == 400
    page.wait_for_selector(f"#line-{water.pk}-0 .error:text-is('数量须为 ≥ 0 的整数。')")
    assert {line.product_id: line.counted_quantity for line in session.lines.all()} == {
        cola.pk: 4,
        water.pk: None,
    }
    assert page.evaluate("window.__sameDocument") is True
    _fits(page)
    _shot(page, "mobile-restock-counted-zh")
    # The last count is typed and "完成补货" tapped straight away: the count is saved before completing.
    water_input.fill("5")
    page.click("[data-testid=complete-restock]")
    page.wait_for_selector("text=补货完成：已入库 2 种商品。")
    assert page.evaluate("window.__sameDocument") is None  # the completion is a page load
    session.refresh_from_db()
    assert (session.state, session.has_discrepancy) == ("completed", True)  # counts differ from sensors
    assert {
        line.product_id: (line.sensor_quantity, line.counted_quantity, line.posted_quantity)
        for line in session.lines.all()
    } == {
        cola.pk: (3, 4, 4),
        water.pk: (0, 5, 5),
    }
    assert restock_in_progress(cabinet) is False
    posted = StockMovement.objects.filter(source_type="inventory.restocksession", source_id=str(session.pk))
    assert sorted((m.device_id, m.product_id, m.lane, m.quantity, m.kind) for m in posted) == sorted(
        [
            (cabinet.pk, cola.pk, 0, 4, "replenishment"),
            (cabinet.pk, water.pk, 0, 5, "replenishment"),
        ]
    )
    assert all(m.actor_id == replenisher.pk for m in posted)
    assert StockMovement.objects.count() == movements_before + 2  # nothing else moved
    assert (on_hand(device=cabinet, product=cola), on_hand(device=cabinet, product=water)) == (6, 5)
    # Nobody was charged: no sale of any kind, no order came out of the visit, the existing one untouched.
    assert not StockMovement.objects.exclude(kind="replenishment").exists()
    assert list(ReplenishmentOrder.objects.values_list("pk", "state")) == [(order.pk, "draft")]
    assert page.inner_text("[data-testid=start-restock]") == "开门补货"  # the cabinet is free again
    _fits(page)
    _shot(page, "mobile-restock-completed-zh")

    # The vision cabinet: its order may be chosen, free replenishment is the default, and the
    # restock page offers the shelf photo. Cancelling posts nothing.
    page.goto(f"{live_server.url}/m/restock/device/{vision.pk}/")
    assert page.locator("#order option:checked").inner_text() == "自由补货（无补货单）"
    assert page.locator("#order option").all_inner_texts() == ["自由补货（无补货单）", order.number]
    page.click("[data-testid=start-restock]")
    page.wait_for_selector("text=柜门正在打开。请补货，完成后关门。")
    vision_session = RestockSession.objects.get(device=vision)
    assert vision_session.order_id is None and restock_in_progress(vision) is True
    assert page.is_visible("#photo") and page.get_attribute("#photo", "accept") == "image/*"
    assert "货架照片" in _live_text(page) and "上传照片" in _live_text(page)
    _fits(page)
    _shot(page, "mobile-restock-vision-zh")
    page.click("#restock-live button:text-is('取消')")
    page.wait_for_selector("text=补货已取消；未入库任何商品。")
    vision_session.refresh_from_db()
    assert vision_session.state == "cancelled" and restock_in_progress(vision) is False
    assert StockMovement.objects.count() == movements_before + 2
    assert list(ReplenishmentOrder.objects.values_list("pk", "state")) == [(order.pk, "draft")]
    context.close()
