"""Registration → platform review → active/frozen, with every step audited."""

from __future__ import annotations

import pytest

from openvend.accounts.models import Role
from openvend.audit.models import AuditLogEntry
from openvend.core.errors import OpenVendError
from openvend.merchants import services
from openvend.merchants.models import Merchant, OrgUnit
from tests.conftest import client_for, console_login
from tests.world import PASSWORD


@pytest.fixture
def pending(db) -> Merchant:
    return services.merchant_register(name="新商户", code="newbie", contact_phone="13800000000")


def test_registration_waits_for_review_and_cannot_sign_in(pending, client) -> None:
    from openvend.accounts import services as accounts

    assert pending.status == "pending"
    accounts.user_create(actor=None, merchant=pending, username="newbie-admin", password=PASSWORD)
    assert not console_login(client, "newbie-admin", PASSWORD)
    assert Role.objects.filter(merchant=pending).count() == 0


def test_approval_installs_preset_roles_and_root_unit(pending, platform_admin) -> None:
    services.merchant_approve(actor=platform_admin, merchant=pending, note="资料齐全")
    pending.refresh_from_db()
    assert pending.status == "active"
    assert pending.review_note == "资料齐全"
    assert sorted(Role.objects.filter(merchant=pending).values_list("code", flat=True)) == [
        "customer_service",
        "finance",
        "merchant_admin",
        "operations",
        "replenisher",
        "store_manager",
    ]
    root = OrgUnit.objects.get(merchant=pending, parent=None)
    assert root.path == f"/{root.pk}/"
    entry = AuditLogEntry.objects.get(action="review", object_id=str(pending.pk))
    assert entry.actor_id == platform_admin.pk
    assert entry.before["status"] == "pending"
    assert entry.after["status"] == "active"
    assert "status" in entry.changed_fields
    assert entry.merchant_id == pending.pk


def test_invalid_transitions_are_refused_and_change_nothing(pending, platform_admin) -> None:
    with pytest.raises(OpenVendError) as exc:
        services.merchant_freeze(actor=platform_admin, merchant=pending)
    assert exc.value.code == "merchants.invalid_transition"
    pending.refresh_from_db()
    assert pending.status == "pending"
    assert not AuditLogEntry.objects.filter(action="freeze").exists()


def test_freezing_a_merchant_locks_out_its_staff_and_unfreezing_restores(
    world_a, platform_admin, client
) -> None:
    admin = world_a.user("merchant_admin")
    assert console_login(client, admin.username, PASSWORD)
    assert client.get("/console/").status_code == 200

    services.merchant_freeze(actor=platform_admin, merchant=world_a.merchant, reason="欠费")
    # The open session ends at the next request; new sign-ins and API calls are refused.
    assert client.get("/console/").status_code == 302
    assert not console_login(client, admin.username, PASSWORD)
    assert client_for(world_a.user("merchant_admin")).get("/api/v1/sites/").status_code == 403

    services.merchant_unfreeze(actor=platform_admin, merchant=world_a.merchant)
    assert console_login(client, admin.username, PASSWORD)
    actions = list(
        AuditLogEntry.objects.filter(object_type="merchants.merchant", object_id=str(world_a.merchant.pk))
        .order_by("id")
        .values_list("action", "after__status")
    )
    assert actions[-2:] == [("freeze", "frozen"), ("unfreeze", "active")]


def test_platform_reviews_through_the_api(pending, platform_admin) -> None:
    client = client_for(platform_admin)
    response = client.post(f"/api/v1/merchants/{pending.pk}/approve/", {"note": "ok"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "active"
    again = client.post(f"/api/v1/merchants/{pending.pk}/approve/", {}, format="json")
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "merchants.invalid_transition"


def test_reviewer_role_can_review_but_not_freeze(pending, db) -> None:
    from tests.world import platform_user

    reviewer = platform_user("platform_reviewer")
    client = client_for(reviewer)
    assert client.post(f"/api/v1/merchants/{pending.pk}/approve/", {}, format="json").status_code == 200
    response = client.post(f"/api/v1/merchants/{pending.pk}/freeze/", {}, format="json")
    assert response.status_code == 403
    pending.refresh_from_db()
    assert pending.status == "active"


def test_merchant_code_must_be_unique_with_a_clear_error(pending) -> None:
    with pytest.raises(OpenVendError) as exc:
        services.merchant_register(name="重复", code="newbie")
    assert exc.value.code == "merchants.code_taken"
    assert list(exc.value.fields) == ["code"]
    assert Merchant.objects.filter(code="newbie").count() == 1


def test_platform_registers_rejects_and_reopens_through_the_api(platform_admin) -> None:
    client = client_for(platform_admin)
    created = client.post("/api/v1/merchants/", {"name": "回炉商户", "code": "again"}, format="json")
    assert created.status_code == 201, created.content
    merchant_id = created.json()["id"]
    registration = AuditLogEntry.objects.get(
        action="create", object_type="merchants.merchant", object_id=str(merchant_id)
    )
    assert registration.actor_id == platform_admin.pk
    assert registration.after["status"] == "pending"

    rejected = client.post(
        f"/api/v1/merchants/{merchant_id}/reject/", {"note": "营业执照模糊"}, format="json"
    )
    assert (rejected.status_code, rejected.json()["status"], rejected.json()["review_note"]) == (
        200,
        "rejected",
        "营业执照模糊",
    )
    reopened = client.post(f"/api/v1/merchants/{merchant_id}/reopen/", {"note": "已补交"}, format="json")
    assert (reopened.status_code, reopened.json()["status"]) == (200, "pending")
    frozen = client.post(f"/api/v1/merchants/{merchant_id}/freeze/", {"reason": "x"}, format="json")
    assert frozen.status_code == 400
    assert frozen.json()["error"]["code"] == "merchants.invalid_transition"
    assert [
        row
        for row in AuditLogEntry.objects.filter(object_id=str(merchant_id), action="review")
        .order_by("id")
        .values_list("before__status", "after__status")
    ] == [
        ("pending", "rejected"),
        ("rejected", "pending"),
    ]
