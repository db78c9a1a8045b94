"""The payment resources pass the shared read contract; refunds and provider queries over HTTP follow
the preset roles, are audited, and another merchant's payment is a 404 like a missing one.

Preset roles (accounts/presets.py): merchant administrators, customer service and finance view,
refund and query payments; store managers view and query (their org units' sites only); operations
and replenishers do not see payments.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.utils.translation import gettext as _

from openvend.audit.models import AuditLogEntry
from openvend.payments.choices import PaymentMethod, PaymentState, RefundState
from openvend.payments.models import Payment, Refund
from openvend.payments.providers.base import ChargeResult, ChargeState, RefundResult
from openvend.payments.providers.base import RefundState as ProviderRefundState
from openvend.payments.services.charging import create_payment, send_charge
from tests.api.contract import ReadContract
from tests.conftest import client_for
from tests.payments.domain.conftest import configure_accounts
from tests.payments.domain.fakes import ScriptedProvider
from tests.world import MERCHANT_ROLES, World

PAYMENT_ROLES = {
    "merchant_admin": {"view", "refund", "sync"},
    "customer_service": {"view", "refund", "sync"},
    "finance": {"view", "refund", "sync"},
    "store_manager": {"view", "sync"},
}


def _paid(world: World, order_ref: str = "ORD1001", site: str = "sh-1") -> Payment:
    configure_accounts(world.merchant)
    payment = create_payment(
        merchant=world.merchant,
        order_ref=order_ref,
        amount_fen=1000,
        method=PaymentMethod.WECHAT_PAYSCORE,
        description="Cola",
        site=world.sites[site],
        payer_id="openid-1",
    )
    send_charge(payment)
    payment.refresh_from_db()
    return payment


@pytest.mark.usefixtures("wechat")
class TestPayments(ReadContract):
    url = "/api/v1/payments/"
    model = Payment
    expected = PAYMENT_ROLES

    def make(self, world: World) -> Payment:
        return _paid(world, order_ref=f"O{self.unique()}")


@pytest.mark.usefixtures("wechat")
class TestRefunds(ReadContract):
    url = "/api/v1/refunds/"
    model = Refund
    expected = {role: {"view"} for role, actions in PAYMENT_ROLES.items() if "view" in actions}

    def make(self, world: World) -> Refund:
        payment = _paid(world, order_ref=f"O{self.unique()}")
        return Refund.objects.create(
            merchant=world.merchant,
            payment=payment,
            sequence=1,
            out_refund_no=f"{payment.out_trade_no}R1",
            amount_fen=100,
        )


@pytest.mark.django_db
def test_detail_has_the_timeline_and_refunds(world_a: World, wechat: ScriptedProvider) -> None:
    payment = _paid(world_a)
    body = client_for(world_a.user("finance")).get(f"/api/v1/payments/{payment.pk}/").json()
    assert (body["out_trade_no"], body["state"], body["amount_fen"], body["refunds"]) == (
        "ORD1001-01",
        "paid",
        1000,
        [],
    )
    assert [(e["kind"], e["from_state"], e["to_state"]) for e in body["events"]] == [
        ("created", "", "created"),
        ("charge_sent", "created", "pending"),
        ("charge_response", "pending", "paid"),
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("role", MERCHANT_ROLES)
def test_refund_over_http(
    role: str,
    world_a: World,
    world_b: World,
    wechat: ScriptedProvider,
    django_capture_on_commit_callbacks: Any,
) -> None:
    mine, theirs = _paid(world_a), _paid(world_b, order_ref="B1001")
    wechat.refund_answers.append(
        RefundResult(ProviderRefundState.SUCCEEDED, provider_refund_id="50", refund_fen=300)
    )
    client = client_for(world_a.user(role))
    audit_before = AuditLogEntry.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/api/v1/payments/{mine.pk}/refunds/", {"amount_fen": 300, "reason": "warm"}, format="json"
        )
    if "refund" not in PAYMENT_ROLES.get(role, set()):
        assert response.status_code == 403, response.content
        assert Refund.objects.count() == 0
        assert AuditLogEntry.objects.count() == audit_before
        return
    assert response.status_code == 201, response.content
    assert {k: response.json()[k] for k in ("out_refund_no", "amount_fen", "state", "reason")} == {
        "out_refund_no": "ORD1001-01R1",
        "amount_fen": 300,
        "state": RefundState.CREATED,  # it is sent once the request's transaction has committed
        "reason": "warm",
    }
    assert Refund.objects.get(pk=response.json()["id"]).state == RefundState.SUCCEEDED
    assert Payment.objects.get(pk=mine.pk).refunded_fen == 300
    entry = AuditLogEntry.objects.filter(object_type="payments.refund").get()
    assert (entry.action, entry.actor_id, entry.channel, entry.merchant_id) == (
        "create",
        world_a.users[role].pk,
        "api",
        world_a.merchant.pk,
    )
    other = client.post(
        f"/api/v1/payments/{theirs.pk}/refunds/", {"amount_fen": 1, "reason": "x"}, format="json"
    )
    missing = client.post("/api/v1/payments/987654/refunds/", {"amount_fen": 1, "reason": "x"}, format="json")
    assert other.status_code == missing.status_code == 404
    assert other.json() == missing.json()
    assert Refund.objects.filter(payment=theirs).count() == 0
    too_much = client.post(
        f"/api/v1/payments/{mine.pk}/refunds/", {"amount_fen": 701, "reason": "x"}, format="json"
    )
    assert too_much.status_code == 400
    assert too_much.json()["error"] == {
        "code": "payments.refund_too_large",
        "message": _("At most %(room)s fen of this payment can still be refunded.") % {"room": 700},
        "fields": {},
    }
    invalid = client.post(
        f"/api/v1/payments/{mine.pk}/refunds/", {"amount_fen": 0, "reason": "x"}, format="json"
    )
    assert (invalid.status_code, list(invalid.json()["error"]["fields"])) == (400, ["amount_fen"])


@pytest.mark.django_db
@pytest.mark.parametrize("role", MERCHANT_ROLES)
def test_sync_over_http(role: str, world_a: World, world_b: World, wechat: ScriptedProvider) -> None:
    configure_accounts(world_a.merchant)
    wechat.charge_answers.append(ChargeResult(ChargeState.PENDING))
    mine = _paid(world_a)
    assert mine.state == PaymentState.PENDING
    theirs = _paid(world_b, order_ref="B1001")
    wechat.query_answers.append(ChargeResult(ChargeState.PAID, provider_trade_no="42", amount_fen=1000))
    client = client_for(world_a.user(role))
    response = client.post(f"/api/v1/payments/{mine.pk}/sync/")
    if "sync" not in PAYMENT_ROLES.get(role, set()):
        assert response.status_code == 403
        assert Payment.objects.get(pk=mine.pk).state == PaymentState.PENDING
        return
    assert response.status_code == 200, response.content
    assert (response.json()["state"], response.json()["provider_trade_no"]) == ("paid", "42")
    assert response.json()["events"][-1]["kind"] == "query"
    entry = AuditLogEntry.objects.filter(object_type="payments.payment", object_id=str(mine.pk)).get()
    assert (entry.action, entry.actor_id, entry.changed_fields) == (
        "update",
        world_a.users[role].pk,
        ["next_check_at", "paid_at", "provider_trade_no", "state"],
    )
    assert client.post(f"/api/v1/payments/{theirs.pk}/sync/").status_code == 404
    assert wechat.called("query") == [mine.out_trade_no]


@pytest.mark.django_db
def test_scoped_staff_see_payments_of_their_sites_only(world_a: World, wechat: ScriptedProvider) -> None:
    near, far = _paid(world_a, "ORD1", "sh-1"), _paid(world_a, "ORD2", "sz-1")
    scoped = client_for(world_a.user("store_manager")).get("/api/v1/payments/").json()["results"]
    everything = client_for(world_a.user("finance")).get("/api/v1/payments/").json()["results"]
    assert [row["id"] for row in scoped] == [near.pk]
    assert sorted(row["id"] for row in everything) == sorted([near.pk, far.pk])


@pytest.mark.django_db
def test_filters_and_search(world_a: World, wechat: ScriptedProvider) -> None:
    wechat.charge_answers.append(ChargeResult(ChargeState.FAILED, failure_code="NOTENOUGH"))
    failed, paid = _paid(world_a, "ORD1"), _paid(world_a, "ORD2")
    client = client_for(world_a.user("finance"))
    assert [r["id"] for r in client.get("/api/v1/payments/", {"state": "failed"}).json()["results"]] == [
        failed.pk
    ]
    assert [r["id"] for r in client.get("/api/v1/payments/", {"search": "ORD2-01"}).json()["results"]] == [
        paid.pk
    ]


@pytest.mark.django_db
def test_payments_cannot_be_written_directly(world_a: World, wechat: ScriptedProvider) -> None:
    payment = _paid(world_a)
    client = client_for(world_a.user("merchant_admin"))
    assert client.post("/api/v1/payments/", {}, format="json").status_code == 405
    for method in ("put", "patch", "delete"):
        assert (
            getattr(client, method)(f"/api/v1/payments/{payment.pk}/", {}, format="json").status_code == 405
        )
