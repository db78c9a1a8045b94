"""The order pages of both consoles: the order list with its filters and Excel export, the abnormal
work queue and its badge, the order detail (lines, payment attempts, evidence, timeline), appeals,
correction orders, shopping sessions, blacklist rules and the order settings page."""

from __future__ import annotations

from collections.abc import Callable
from io import BytesIO
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext
from openpyxl import load_workbook

from openvend.audit.models import AuditLogEntry
from openvend.consoles.navigation import abnormal_order_count
from openvend.orders.choices import AppealReason, CorrectionKind, OrderState, ReviewReason
from openvend.orders.models import Appeal, Correction, Order, OrderPolicy
from openvend.shopping.models import BlacklistRule
from tests.conftest import console_login
from tests.orders.conftest import CHIPS_G, COLA_G, Store
from tests.world import PASSWORD, World, platform_user

pytestmark = pytest.mark.django_db

ORDERS = "/console/orders/order/"


def _login(client: Any, world: World, role: str) -> None:
    assert console_login(client, world.users[role].username, PASSWORD)


def _paid(store: Store, settled: Callable[..., Any]) -> Order:
    session = store.start(store.shopper(balance_fen=2000))
    settled(lambda: store.visit(session, [("s1-1", -COLA_G * 2 + 0.4), ("s2-1", -CHIPS_G - 0.3)]))
    return Order.objects.get(session=session)


def _held(store: Store, settled: Callable[..., Any]) -> Order:
    """Goods put in that were not taken: the order waits for staff."""
    session = store.start(store.shopper(balance_fen=2000, nickname="小明"))
    settled(lambda: store.visit(session, [("s1-1", COLA_G + 0.3)]))
    return Order.objects.get(session=session)


def _ids(page: Any) -> set[int]:
    return {row.pk for row in page.context["cl"].result_list}


def _in(language: str, message: str) -> str:
    with translation.override(language):
        return gettext(message)


@pytest.fixture
def paid(store: Store, settled: Callable[..., Any]) -> Order:
    return _paid(store, settled)


@pytest.fixture
def held(store: Store, settled: Callable[..., Any]) -> Order:
    return _held(store, settled)


def test_list_renders_in_chinese_and_english_with_money_in_yuan(
    paid: Order, held: Order, store: Store, client: Any
) -> None:
    _login(client, store.shop.world, "finance")
    page = client.get(ORDERS)
    assert page.status_code == 200
    assert _ids(page) == {paid.pk, held.pk}
    html = page.content.decode()
    assert paid.number in html and "¥13.00" in html
    assert _in("zh-hans", "awaiting payment") != "awaiting payment"  # the catalogue knows the state
    assert str(_in("zh-hans", "paid")) in html
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    english = client.get(ORDERS)
    assert english.status_code == 200
    assert english["Content-Language"] == "en"
    assert "under review" in english.content.decode()


def test_filters_state_abnormal_reason_device_site_and_date(
    paid: Order, held: Order, store: Store, client: Any
) -> None:
    _login(client, store.shop.world, "merchant_admin")
    assert _ids(client.get(ORDERS, {"state__exact": OrderState.PAID})) == {paid.pk}
    assert held.abnormal_reason == ReviewReason.PUT_IN
    assert _ids(client.get(ORDERS, {"abnormal": "yes"})) == {held.pk}
    assert _ids(client.get(ORDERS, {"abnormal": "no"})) == {paid.pk}
    assert _ids(client.get(ORDERS, {"abnormal_reason__exact": ReviewReason.PUT_IN})) == {held.pk}
    assert _ids(client.get(ORDERS, {"device__id__exact": store.device.pk})) == {paid.pk, held.pk}
    today = timezone.localdate()
    since = {"created_at__gte": f"{today}T00:00:00+08:00"}
    assert _ids(client.get(ORDERS, since)) == {paid.pk, held.pk}
    assert _ids(client.get(ORDERS, {"created_at__lt": "2000-01-01T00:00:00+08:00"})) == set()
    Order.objects.filter(pk=held.pk).update(resolution="waived")
    assert _ids(client.get(ORDERS, {"abnormal": "yes"})) == set()


def test_abnormal_badge_counts_the_work_queue(held: Order, store: Store, rf: Any) -> None:
    request = rf.get("/console/")
    request.user = store.shop.world.user("customer_service")
    assert abnormal_order_count(request) == "1"
    Order.objects.filter(pk=held.pk).update(resolution="waived")
    assert abnormal_order_count(request) == "0"
    Order.objects.filter(pk=held.pk).update(resolution="")
    request.user = store.shop.world.user("replenisher")  # may not see orders
    assert abnormal_order_count(request) == "0"


def test_excel_export_has_one_row_per_order_with_yuan(
    paid: Order, held: Order, store: Store, client: Any
) -> None:
    _login(client, store.shop.world, "finance")
    exported = client.post(ORDERS, {"action": "export_xlsx", "_selected_action": [paid.pk, held.pk]})
    assert exported.status_code == 200
    rows = list(load_workbook(BytesIO(exported.content)).active.iter_rows(values_only=True))
    assert len(rows) == 3
    by_number = {row[0]: row for row in rows[1:]}
    assert by_number[paid.number][5:8] == ("¥13.00", "¥13.00", "¥0.00")


def test_detail_shows_lines_attempts_evidence_and_timeline(paid: Order, store: Store, client: Any) -> None:
    _login(client, store.shop.world, "customer_service")
    page = client.get(f"{ORDERS}{paid.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "可乐 330ml" in html and "¥3.50" in html and "¥7.00" in html  # the cola line: 2 × ¥3.50
    assert f"{paid.number}-01" in html  # the payment attempt
    assert "s1-1" in html and "-709.6 g" in html  # the weight evidence
    assert "order_paid" in html and "charge_scheduled" in html  # session and payment timeline
    assert [entry.kind for entry in page.context["timeline"]][-1] == "order_paid"
    assert page.context["evidence"]["items"] == [
        {"sku": "CHIPS52", "name": "薯片", "qty": 1},
        {"sku": "COLA330", "name": "可乐 330ml", "qty": 2},
    ]
    assert 'name="_save"' not in html
    assert client.get(f"{ORDERS}add/").status_code == 403


def test_another_merchants_order_is_not_found(paid: Order, world_b: World, client: Any) -> None:
    _login(client, world_b, "merchant_admin")
    assert client.get(f"{ORDERS}{paid.pk}/change/").status_code == 404
    assert client.get(f"{ORDERS}987654/change/").status_code == 404
    assert _ids(client.get(ORDERS)) == set()


def test_roles_without_orders_see_no_list(paid: Order, store: Store, client: Any) -> None:
    _login(client, store.shop.world, "replenisher")
    assert client.get(ORDERS).status_code == 403


def test_platform_console_reads_orders_without_buttons(paid: Order, client: Any) -> None:
    admin = platform_user("platform_admin")
    assert console_login(client, admin.username, PASSWORD, console="/platform/")
    page = client.get("/platform/orders/order/")
    assert page.status_code == 200 and _ids(page) == {paid.pk}
    detail = client.get(f"/platform/orders/order/{paid.pk}/change/")
    assert detail.status_code == 200
    assert f"/orders/order/{paid.pk}/refund/" not in detail.content.decode()


def test_appeal_correction_and_session_pages(paid: Order, store: Store, client: Any) -> None:
    world = store.shop.world
    appeal = Appeal.objects.create(
        merchant=world.merchant,
        order=paid,
        consumer=paid.consumer,
        reason=AppealReason.NOT_TAKEN,
        message="我只拿了一瓶",
    )
    correction = Correction.objects.create(
        merchant=world.merchant,
        number=f"{paid.number}-C1",
        order=paid,
        kind=CorrectionKind.STAFF,
        reason="one cola fewer",
        delta_fen=-350,
    )
    _login(client, world, "customer_service")
    appeals = client.get("/console/orders/appeal/")
    assert appeals.status_code == 200 and _ids(appeals) == {appeal.pk}
    detail = client.get(f"/console/orders/appeal/{appeal.pk}/change/")
    assert detail.status_code == 200 and "我只拿了一瓶" in detail.content.decode()
    corrections = client.get("/console/orders/correction/")
    assert _ids(corrections) == {correction.pk} and "-¥3.50" in corrections.content.decode()
    sessions = client.get("/console/shopping/shoppingsession/")
    assert _ids(sessions) == {paid.session_id}
    session_page = client.get(f"/console/shopping/shoppingsession/{paid.session_id}/change/")
    assert session_page.status_code == 200 and "door_closed" in session_page.content.decode()
    order_page = client.get(f"{ORDERS}{paid.pk}/change/").content.decode()
    assert f"{paid.number}-C1" in order_page and "我只拿了一瓶" in order_page


def test_blacklist_rules_crud_is_audited(store: Store, client: Any) -> None:
    world = store.shop.world
    _login(client, world, "merchant_admin")
    url = "/console/shopping/blacklistrule/"
    created = client.post(
        f"{url}add/",
        {"kind": "appeals_rejected", "threshold": 3, "window_days": 30, "ban_days": 7, "active": "on"},
    )
    assert created.status_code == 302, created.content
    rule = BlacklistRule.objects.get()
    assert (rule.merchant_id, rule.kind, rule.threshold, rule.ban_days) == (
        world.merchant.pk,
        "appeals_rejected",
        3,
        7,
    )
    entry = AuditLogEntry.objects.filter(object_type="shopping.blacklistrule").get()
    assert (entry.action, entry.actor_id) == ("create", world.users["merchant_admin"].pk)
    _login(client, world, "customer_service")
    assert client.get(url).status_code == 403


def test_order_settings_page_is_one_row_per_merchant(store: Store, world_b: World, client: Any) -> None:
    world = store.shop.world
    _login(client, world, "merchant_admin")
    first = client.get("/console/orders/orderpolicy/")
    assert (first.status_code, first.url) == (302, "/console/orders/orderpolicy/add/")
    saved = client.post(
        "/console/orders/orderpolicy/add/",
        {"unpaid_after_h": 48, "unpaid_action": "close", "checkout_within_min": 15, "appeal_within_days": 5},
    )
    assert saved.status_code == 302
    policy = OrderPolicy.objects.get()
    assert (policy.merchant_id, policy.unpaid_after_h, policy.unpaid_action) == (
        world.merchant.pk,
        48,
        "close",
    )
    again = client.get("/console/orders/orderpolicy/")
    assert again.url == f"/console/orders/orderpolicy/{policy.pk}/change/"
    assert client.get("/console/orders/orderpolicy/add/").status_code == 403
    _login(client, world_b, "merchant_admin")
    assert client.get(f"/console/orders/orderpolicy/{policy.pk}/change/").status_code == 404


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_every_new_page_opens_in_both_languages(
    paid: Order, store: Store, client: Any, language: str
) -> None:
    _login(client, store.shop.world, "merchant_admin")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    pages = [
        ORDERS,
        f"{ORDERS}?abnormal=yes",
        f"{ORDERS}{paid.pk}/change/",
        "/console/orders/appeal/",
        "/console/orders/correction/",
        "/console/shopping/shoppingsession/",
        "/console/shopping/blacklistentry/",
        "/console/shopping/blacklistentry/add/",
        "/console/shopping/blacklistrule/",
        "/console/orders/orderpolicy/add/",
    ]
    for url in pages:
        page = client.get(url)
        assert (page.status_code, page["Content-Language"]) == (200, language), url
    with translation.override(language):
        assert gettext("Abnormal orders") in client.get(ORDERS).content.decode()  # the sidebar entry


def test_platform_pages_open(paid: Order, client: Any) -> None:
    admin = platform_user("platform_admin")
    assert console_login(client, admin.username, PASSWORD, console="/platform/")
    for path in ("orders/appeal", "orders/correction", "shopping/shoppingsession"):
        assert client.get(f"/platform/{path}/").status_code == 200, path
    assert client.get(f"/platform/shopping/shoppingsession/{paid.session_id}/change/").status_code == 200
    assert client.get("/platform/shopping/blacklistentry/").status_code == 404  # each merchant's own


def test_existing_preset_roles_get_the_order_permissions() -> None:
    from importlib import import_module

    from django.apps import apps

    from openvend.accounts.models import Role
    from tests.world import build_world

    world = build_world("gamma", "伽马零售")
    role = Role.objects.get(merchant=world.merchant, code="customer_service")
    role.permissions = [code for code in role.permissions if not code.startswith(("orders.", "menu.orders"))]
    role.save(update_fields=["permissions"])
    import_module("openvend.accounts.migrations.0004_preset_roles_orders").grant(apps, None)
    role.refresh_from_db()
    assert {"menu.orders", "orders.view_order", "orders.refund_order", "orders.handle_appeal"} <= set(
        role.permissions
    )
    assert "orders.resolve_order" not in role.permissions
