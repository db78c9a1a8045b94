"""The order resources pass the shared contract, and the staff actions over HTTP call their services:
the order's state and money exactly as the service leaves them, refusals in the API's error shape
with nothing changed, another merchant's order a 404 like a missing one.

Preset roles (accounts/presets.py): every merchant role but replenishers views orders and correction
orders; operations and store managers also view shopping sessions, customer service too. Store
managers and administrators resolve abnormal orders; customer service, finance and administrators
refund. Customer service and administrators handle appeals (store managers and finance view them).
Store managers and administrators keep the blacklist; administrators alone write blacklist rules and
the order settings.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from openvend.audit.models import AuditLogEntry
from openvend.catalog.models import SellableItem
from openvend.orders.appeal_services import appeal_submit
from openvend.orders.choices import AppealState, CorrectionKind, CorrectionState, OrderState, Resolution
from openvend.orders.models import Appeal, Correction, Order, OrderPolicy
from openvend.shopping.blacklist_services import blacklist_add
from openvend.shopping.models import BlacklistEntry, BlacklistRule, ShoppingSession
from tests.api.contract import ReadContract, ResourceContract
from tests.conftest import client_for
from tests.orders.conftest import CHIPS_G, COLA_G, Store, store_in
from tests.world import MERCHANT_ROLES, World

pytestmark = pytest.mark.django_db

ORDER_VIEWERS = ("merchant_admin", "operations", "customer_service", "store_manager", "finance")
VIEW_ORDERS = {role: {"view"} for role in ORDER_VIEWERS}
APPEAL_VIEWERS = {
    role: {"view"} for role in ("merchant_admin", "customer_service", "store_manager", "finance")
}
SESSION_VIEWERS = {
    role: {"view"} for role in ("merchant_admin", "operations", "customer_service", "store_manager")
}
BLACKLIST_KEEPERS = {role: {"view", "add", "change"} for role in ("merchant_admin", "store_manager")}
RULE_WRITERS = {"merchant_admin": {"view", "add", "change", "delete"}}
RESOLVERS = {"merchant_admin", "store_manager"}
REFUNDERS = {"merchant_admin", "customer_service", "finance"}
APPEAL_HANDLERS = {"merchant_admin", "customer_service"}


class _Stores:
    """One stocked cabinet per world; visits settle as they would after commit."""

    @pytest.fixture(autouse=True)
    def _stores(self, django_capture_on_commit_callbacks: Any) -> None:
        self.stores: dict[int, Store] = {}
        self.capture = django_capture_on_commit_callbacks

    def store(self, world: World) -> Store:
        if world.merchant.pk not in self.stores:
            self.stores[world.merchant.pk] = store_in(world, f"API-{world.merchant.code}")
        return self.stores[world.merchant.pk]

    def settled(self, action: Callable[[], Any]) -> Any:
        with self.capture(execute=True):
            return action()

    def paid(self, world: World, colas: int = 2) -> Order:
        store = self.store(world)
        session = store.start(store.shopper(balance_fen=2000))
        self.settled(lambda: store.visit(session, [("s1-1", -COLA_G * colas)]))
        return Order.objects.get(session=session)

    def review(self, world: World) -> Order:
        """Chips no longer on sale here: one cola and one chips wait for staff."""
        store = self.store(world)
        SellableItem.objects.filter(product=store.chips).delete()
        session = store.start(store.shopper(balance_fen=2000))
        self.settled(lambda: store.visit(session, [("s1-1", -COLA_G), ("s2-1", -CHIPS_G)]))
        order = Order.objects.get(session=session)
        assert order.state == OrderState.REVIEW
        return order

    def appeal(self, world: World) -> Appeal:
        order = self.paid(world)
        claimed = {self.store(world).cola.pk: 1}
        return appeal_submit(consumer=order.consumer, order=order, reason="not_taken", claimed_lines=claimed)


def _not_offered(client: Any, url: str) -> None:
    for method in ("put", "patch", "delete"):
        response = getattr(client, method)(url, {}, format="json")
        assert response.status_code == 405, (method, response.content)


class TestOrders(_Stores, ReadContract):
    url = "/api/v1/orders/"
    model = Order
    expected = VIEW_ORDERS

    def make(self, world: World) -> Order:
        return self.paid(world)

    def test_detail_filters_and_read_only(self, world_a: World) -> None:
        paid, held = self.paid(world_a), self.review(world_a)
        client = client_for(world_a.user("customer_service"))
        assert client.post(self.url, {}, format="json").status_code == 405
        _not_offered(client, self.detail(paid))
        detail = client.get(self.detail(paid)).json()
        assert (detail["state"], detail["total_fen"], detail["paid_fen"], detail["is_abnormal"]) == (
            "paid",
            700,
            700,
            False,
        )
        assert [(line["sku"], line["quantity"], line["unit_price_fen"]) for line in detail["lines"]] == [
            ("COLA330", 2, 350)
        ]
        assert len(detail["payment_attempts"]) == 1
        assert detail["recognition"]["sensor_deltas_g"] == {"s1-1": -710.0}
        timeline = detail["timeline"]
        assert (timeline[-1]["source"], timeline[-1]["kind"]) == ("session", "order_paid")
        assert {entry["source"] for entry in timeline} == {"session", "payment"}

        def ids(params: dict[str, str]) -> list[int]:
            return [row["id"] for row in client.get(self.url, params).json()["results"]]

        assert ids({"abnormal": "true"}) == [held.pk]
        assert ids({"abnormal": "false"}) == [paid.pk]
        assert ids({"state": "paid"}) == [paid.pk]
        assert ids({"abnormal_reason": held.abnormal_reason}) == [held.pk]
        assert ids({"created_at__lt": "2000-01-01T00:00:00Z"}) == []

    @pytest.mark.parametrize("role", MERCHANT_ROLES)
    def test_adjust_follows_the_role(self, role: str, world_a: World) -> None:
        order = self.review(world_a)
        store = self.store(world_a)
        body = {"lines": {str(store.cola.pk): 2, str(store.chips.pk): 0}, "reason": "两瓶可乐"}
        response = self.settled(
            lambda: client_for(world_a.user(role)).post(f"{self.detail(order)}adjust/", body, format="json")
        )
        order.refresh_from_db()
        if role not in RESOLVERS:
            assert response.status_code == 403, response.content
            assert (order.state, order.resolution) == (OrderState.REVIEW, "")
            return
        assert response.status_code == 200, response.content
        assert (order.state, order.total_fen, order.paid_fen, order.resolution) == (
            OrderState.PAID,
            700,
            700,
            Resolution.ADJUSTED,
        )
        assert response.json()["lines"][0]["amount_fen"] == 700
        entry = AuditLogEntry.objects.filter(object_type="orders.order", object_id=str(order.pk)).latest("id")
        assert (entry.actor_id, entry.channel) == (world_a.users[role].pk, "api")

    def test_confirm_waive_and_wrong_state(self, world_a: World) -> None:
        client = client_for(world_a.user("store_manager"))
        order = self.review(world_a)
        confirmed = self.settled(lambda: client.post(f"{self.detail(order)}confirm/"))
        assert confirmed.status_code == 200, confirmed.content
        assert (confirmed.json()["state"], confirmed.json()["total_fen"]) == (
            "pending_payment",
            950,
        )  # charging
        order.refresh_from_db()
        assert (order.state, order.paid_fen, order.resolution) == (OrderState.PAID, 950, Resolution.CONFIRMED)
        again = client.post(f"{self.detail(order)}waive/", {"reason": "x"}, format="json")
        assert again.status_code == 409
        assert again.json()["error"]["code"] == "orders.wrong_state"
        assert Order.objects.get(pk=order.pk).state == OrderState.PAID
        missing_reason = client.post(f"{self.detail(order)}waive/", {}, format="json")
        assert missing_reason.status_code == 400
        assert missing_reason.json()["error"]["fields"].keys() == {"reason"}

    def test_charge_refuses_a_paid_order(self, world_a: World) -> None:
        order = self.paid(world_a)
        response = client_for(world_a.user("merchant_admin")).post(f"{self.detail(order)}charge/")
        assert response.status_code == 409
        assert Order.objects.get(pk=order.pk).payment.attempt == 1

    @pytest.mark.parametrize("role", MERCHANT_ROLES)
    def test_refund_follows_the_role(self, role: str, world_a: World) -> None:
        order = self.paid(world_a)
        body = {"amount_fen": 250, "reason": "少找零"}
        response = self.settled(
            lambda: client_for(world_a.user(role)).post(f"{self.detail(order)}refund/", body, format="json")
        )
        order.refresh_from_db()
        if role not in REFUNDERS:
            assert response.status_code == 403
            assert (order.refunded_fen, Correction.objects.count()) == (0, 0)
            return
        assert response.status_code == 201, response.content
        assert (response.json()["delta_fen"], response.json()["state"]) == (-250, "pending")  # refunding
        assert Correction.objects.get(pk=response.json()["id"]).state == CorrectionState.DONE
        assert (order.state, order.paid_fen, order.refunded_fen) == (OrderState.PAID, 700, 250)

    def test_refund_over_what_was_paid_is_refused(self, world_a: World) -> None:
        order = self.paid(world_a)
        client = client_for(world_a.user("finance"))
        response = client.post(
            f"{self.detail(order)}refund/", {"amount_fen": 701, "reason": "x"}, format="json"
        )
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "orders.bad_amount"
        assert Order.objects.get(pk=order.pk).refunded_fen == 0 and not Correction.objects.exists()

    def test_supplement_makes_a_correction(self, world_a: World) -> None:
        order = self.paid(world_a, colas=1)
        store = self.store(world_a)
        body = {"lines": {str(store.cola.pk): 1, str(store.chips.pk): 1}, "reason": "漏算薯片"}
        response = self.settled(
            lambda: client_for(world_a.user("merchant_admin")).post(
                f"{self.detail(order)}supplement/", body, format="json"
            )
        )
        assert response.status_code == 201, response.content
        assert (response.json()["kind"], response.json()["delta_fen"]) == (CorrectionKind.SUPPLEMENT, 600)
        assert Order.objects.get(pk=order.pk).total_fen == 950

    def test_another_merchants_order_actions_are_not_found(self, world_a: World, world_b: World) -> None:
        theirs = self.review(world_b)
        client = client_for(world_a.user("merchant_admin"))
        for name in ("confirm", "adjust", "waive", "charge", "refund", "supplement"):
            response = client.post(f"{self.detail(theirs)}{name}/", {"reason": "x"}, format="json")
            assert response.status_code == 404, name
            assert response.json()["error"]["code"] == "core.not_found"
        theirs.refresh_from_db()
        assert (theirs.state, theirs.resolution) == (OrderState.REVIEW, "")


class TestAppeals(_Stores, ReadContract):
    url = "/api/v1/appeals/"
    model = Appeal
    expected = APPEAL_VIEWERS

    def make(self, world: World) -> Appeal:
        return self.appeal(world)

    @pytest.mark.parametrize("role", MERCHANT_ROLES)
    def test_uphold_follows_the_role(self, role: str, world_a: World) -> None:
        appeal = self.appeal(world_a)
        response = self.settled(
            lambda: client_for(world_a.user(role)).post(
                f"{self.detail(appeal)}uphold/", {"answer": "已退款"}, format="json"
            )
        )
        appeal.refresh_from_db()
        if role not in APPEAL_HANDLERS:
            assert response.status_code == 403
            assert appeal.state == AppealState.OPEN
            return
        assert response.status_code == 201, response.content
        assert response.json()["delta_fen"] == -350  # claimed one cola of the two
        assert (appeal.state, appeal.answer, appeal.order.refunded_fen) == (AppealState.UPHELD, "已退款", 350)

    def test_uphold_with_an_amount_and_reject(self, world_a: World) -> None:
        client = client_for(world_a.user("customer_service"))
        first, second = self.appeal(world_a), self.appeal(world_a)
        refunded = self.settled(
            lambda: client.post(f"{self.detail(first)}uphold/", {"refund_fen": 120}, format="json")
        )
        assert refunded.status_code == 201, refunded.content
        assert Order.objects.get(pk=first.order_id).refunded_fen == 120
        no_answer = client.post(f"{self.detail(second)}reject/", {}, format="json")
        assert no_answer.status_code == 400
        rejected = client.post(f"{self.detail(second)}reject/", {"answer": "称重记录为两瓶"}, format="json")
        assert rejected.status_code == 200, rejected.content
        assert (rejected.json()["state"], rejected.json()["answer"]) == ("rejected", "称重记录为两瓶")
        twice = client.post(f"{self.detail(second)}reject/", {"answer": "again"}, format="json")
        assert twice.status_code == 409


class TestCorrections(_Stores, ReadContract):
    url = "/api/v1/corrections/"
    model = Correction
    expected = VIEW_ORDERS

    def make(self, world: World) -> Correction:
        from openvend.orders.staff_services import order_refund

        order = self.paid(world)
        return self.settled(
            lambda: order_refund(actor=world.user("merchant_admin"), order=order, amount_fen=100, reason="x")
        )


class TestShoppingSessions(_Stores, ReadContract):
    url = "/api/v1/shopping-sessions/"
    model = ShoppingSession
    expected = SESSION_VIEWERS

    def make(self, world: World) -> ShoppingSession:
        return self.paid(world).session

    def test_detail_has_the_timeline(self, world_a: World) -> None:
        session = self.make(world_a)
        detail = client_for(world_a.user("operations")).get(self.detail(session)).json()
        kinds = [event["kind"] for event in detail["events"]]
        assert kinds[0] == "created" and kinds[-1] == "order_paid"
        assert (detail["state"], detail["sensor_deltas_g"]) == ("completed", {"s1-1": -710.0})


class TestBlacklistEntries(_Stores, ReadContract):
    url = "/api/v1/blacklist-entries/"
    model = BlacklistEntry
    expected = {role: {"view"} for role in BLACKLIST_KEEPERS}

    def make(self, world: World) -> BlacklistEntry:
        order = self.paid(world)
        return blacklist_add(actor=None, merchant=world.merchant, consumer=order.consumer, reason="异物")

    @pytest.mark.parametrize("role", MERCHANT_ROLES)
    def test_add_and_lift_follow_the_role(self, role: str, world_a: World, world_b: World) -> None:
        mine, stranger = self.paid(world_a).consumer, self.paid(world_b).consumer
        client = client_for(world_a.user(role))
        response = client.post(self.url, {"consumer": mine.pk, "reason": "多次放入异物"}, format="json")
        if role not in BLACKLIST_KEEPERS:
            assert response.status_code == 403
            assert not BlacklistEntry.objects.exists()
            return
        assert response.status_code == 201, response.content
        entry = BlacklistEntry.objects.get(pk=response.json()["id"])
        assert (entry.merchant_id, entry.consumer_id, entry.active, entry.created_by_id) == (
            world_a.merchant.pk,
            mine.pk,
            True,
            world_a.users[role].pk,
        )
        # A shopper who never ordered here cannot be named.
        unknown = client.post(self.url, {"consumer": stranger.pk, "reason": "x"}, format="json")
        assert unknown.status_code == 400 and unknown.json()["error"]["fields"].keys() == {"consumer"}
        lifted = client.post(f"{self.detail(entry)}lift/")
        assert (lifted.status_code, lifted.json()["active"]) == (200, False)
        assert client.post(f"{self.detail(entry)}lift/").status_code == 409


class TestBlacklistRules(_Stores, ResourceContract):
    url = "/api/v1/blacklist-rules/"
    model = BlacklistRule
    expected = RULE_WRITERS

    def make(self, world: World) -> BlacklistRule:
        return BlacklistRule.objects.create(merchant=world.merchant, kind="unpaid_orders", threshold=2)

    def create_payload(self, world: World) -> dict[str, Any]:
        return {"kind": "appeals_rejected", "threshold": 3, "window_days": 30, "ban_days": 7}

    def update_payload(self, world: World) -> dict[str, Any]:
        return {"threshold": 5, "active": False}


class TestOrderPolicy(_Stores):
    url = "/api/v1/order-policy/"

    @pytest.mark.parametrize("role", MERCHANT_ROLES)
    def test_read_and_update_own(self, role: str, world_a: World, world_b: World) -> None:
        client = client_for(world_a.user(role))
        response = client.get(self.url)
        if role != "merchant_admin":
            assert response.status_code == 403
            assert client.patch(self.url, {"unpaid_after_h": 1}, format="json").status_code == 403
            assert not OrderPolicy.objects.exists()
            return
        assert response.json() == {
            "unpaid_after_h": 72,
            "unpaid_action": "escalate",
            "checkout_within_min": 10,
            "appeal_within_days": 7,
        }
        saved = client.patch(self.url, {"unpaid_after_h": 24, "unpaid_action": "close"}, format="json")
        assert saved.status_code == 200, saved.content
        policy = OrderPolicy.objects.get()
        assert (policy.merchant_id, policy.unpaid_after_h, policy.unpaid_action) == (
            world_a.merchant.pk,
            24,
            "close",
        )
        assert (
            client.patch(self.url, {"appeal_within_days": 3}, format="json").json()["appeal_within_days"] == 3
        )
        actions = list(
            AuditLogEntry.objects.filter(object_type="orders.orderpolicy")
            .order_by("id")
            .values_list("action", flat=True)
        )
        assert actions == ["create", "update"]
        bad = client.patch(self.url, {"unpaid_action": "forget"}, format="json")
        assert bad.status_code == 400 and OrderPolicy.objects.get().unpaid_action == "close"
        other = client_for(world_b.user("merchant_admin")).get(self.url).json()
        assert other["unpaid_after_h"] == 72  # each merchant reads its own
