"""Sign-in, lockout, freeze, password reset, escalation, API tokens — each with its audit rows."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt

from openvend.accounts import services
from openvend.accounts.models import ApiToken, User
from openvend.audit.models import AuditLogEntry
from openvend.core.errors import OpenVendError
from tests.conftest import client_for, console_login
from tests.world import PASSWORD


def test_login_and_failed_login_are_audited(world_a, client) -> None:
    user = world_a.user("finance")
    assert not console_login(client, user.username, "wrong-password")
    assert console_login(client, user.username, PASSWORD)
    rows = list(
        AuditLogEntry.objects.filter(actor_username=user.username)
        .order_by("id")
        .values_list("action", "channel", "merchant_id", "ip_address")
    )
    assert rows == [
        ("login_failed", "console", world_a.merchant.pk, "127.0.0.1"),
        ("login", "console", world_a.merchant.pk, "127.0.0.1"),
    ]


def test_five_failures_lock_the_account_even_with_the_right_password(world_a, client) -> None:
    user = world_a.user("operations")
    wrong = {"username": user.username, "password": "wrong"}
    statuses = [client.post("/console/login/", wrong).status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 200, 429]
    response = client.post("/console/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 429
    assert AccessAttempt.objects.get(username=user.username).failures_since_start == 6
    assert AuditLogEntry.objects.filter(action="locked_out", actor_username=user.username).count() >= 1
    # The API door is locked too.
    api = client_for(None)
    response = api.post(
        "/api/v1/auth/token", {"username": user.username, "password": PASSWORD}, format="json"
    )
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "accounts.locked_out"
    # An administrator's password reset lifts the lock.
    new_password = services.user_reset_password(actor=world_a.user("merchant_admin"), user=user)
    assert not AccessAttempt.objects.filter(username=user.username).exists()
    assert console_login(client, user.username, new_password)


def test_freeze_blocks_sign_in_and_revokes_tokens_then_unfreeze_restores(world_a, client) -> None:
    admin, user = world_a.user("merchant_admin"), world_a.user("replenisher")
    token, _ = services.api_token_issue(user=user)
    api = client_for(None)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api.get("/api/v1/sites/").status_code == 200

    response = client_for(admin).post(f"/api/v1/users/{user.pk}/freeze/", {"reason": "离职"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["is_frozen"] is True
    assert api.get("/api/v1/sites/").status_code == 401
    assert not console_login(client, user.username, PASSWORD)
    assert ApiToken.objects.filter(user=user, revoked_at__isnull=True).count() == 0

    entry = AuditLogEntry.objects.get(action="freeze", object_id=str(user.pk))
    assert (entry.before["is_active"], entry.after["is_active"]) == (True, False)
    assert entry.before["frozen_at"] is None and entry.after["frozen_at"] is not None
    assert entry.after["frozen_reason"] == "离职"
    assert entry.actor_id == admin.pk

    services.user_unfreeze(actor=admin, user=User.objects.get(pk=user.pk))
    assert console_login(client, user.username, PASSWORD)


def test_nobody_freezes_themselves(world_a) -> None:
    admin = world_a.user("merchant_admin")
    with pytest.raises(OpenVendError) as exc:
        services.user_freeze(actor=admin, user=admin)
    assert exc.value.code == "accounts.cannot_freeze_self"


def test_password_reset_by_admin_never_logs_the_password(world_a, client) -> None:
    admin, user = world_a.user("merchant_admin"), world_a.user("finance")
    response = client_for(admin).post(
        f"/api/v1/users/{user.pk}/reset-password/", {"new_password": "Brand-New-Pass-99"}, format="json"
    )
    assert response.status_code == 200
    assert response.json() == {"password": "Brand-New-Pass-99"}
    assert console_login(client, user.username, "Brand-New-Pass-99")
    entry = AuditLogEntry.objects.get(action="reset_password", object_id=str(user.pk))
    assert entry.before == {"password": "***"}
    assert entry.after == {"password": "*** (changed)"}
    assert "Brand-New-Pass-99" not in str(
        list(AuditLogEntry.objects.values_list("before", "after", "message"))
    )


def test_weak_password_is_refused_with_field_errors(world_a) -> None:
    response = client_for(world_a.user("merchant_admin")).post(
        "/api/v1/users/", {"username": "weak", "password": "123"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "accounts.invalid_password"
    assert "password" in response.json()["error"]["fields"]
    assert not User.objects.filter(username="weak").exists()


def test_store_manager_cannot_grant_a_role_stronger_than_their_own(world_a) -> None:
    client = client_for(world_a.user("store_manager"))
    response = client.post(
        "/api/v1/users/",
        {
            "username": "sneaky",
            "password": PASSWORD,
            "org_unit": world_a.shanghai.pk,
            "roles": [world_a.role("merchant_admin").pk],
        },
        format="json",
    )
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["roles"]
    assert not User.objects.filter(username="sneaky").exists()


def test_update_audit_row_has_exact_before_and_after(world_a) -> None:
    admin, user = world_a.user("merchant_admin"), world_a.user("finance")
    response = client_for(admin).patch(
        f"/api/v1/users/{user.pk}/",
        {"first_name": "赵会计", "roles": [world_a.role("customer_service").pk]},
        format="json",
    )
    assert response.status_code == 200, response.content
    entry = AuditLogEntry.objects.filter(action="update", object_id=str(user.pk)).latest("id")
    assert entry.changed_fields == ["first_name", "roles"]
    assert (entry.before["first_name"], entry.after["first_name"]) == ("", "赵会计")
    assert (entry.before["roles"], entry.after["roles"]) == (
        [world_a.role("finance").pk],
        [world_a.role("customer_service").pk],
    )
    assert entry.before["password"] == entry.after["password"] == "***"
    assert entry.channel == "api"


def test_token_endpoint(world_a) -> None:
    api = client_for(None)
    bad = api.post("/api/v1/auth/token", {"username": "alpha-finance", "password": "nope"}, format="json")
    assert bad.status_code == 401
    assert bad.json()["error"]["code"] == "accounts.invalid_credentials"
    missing = api.post("/api/v1/auth/token", {"username": "alpha-finance"}, format="json")
    assert missing.status_code == 400
    assert list(missing.json()["error"]["fields"]) == ["password"]
    good = api.post("/api/v1/auth/token", {"username": "alpha-finance", "password": PASSWORD}, format="json")
    assert good.status_code == 200
    token = good.json()["token"]
    stored = ApiToken.objects.get(user__username="alpha-finance")
    assert stored.key_hash != token and token not in stored.key_hash and len(stored.key_hash) == 64
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api.get("/api/v1/sites/").json()["count"] == 3
    api.credentials(HTTP_AUTHORIZATION="Bearer ovt_forged")
    forged = api.get("/api/v1/sites/")
    assert forged.status_code == 401
    assert forged["WWW-Authenticate"] == "Bearer"


def test_console_lists_are_scoped_and_other_tenants_objects_are_missing(world_a, world_b, client) -> None:
    user = world_a.user("operations")
    assert console_login(client, user.username, PASSWORD)
    page = client.get("/console/merchants/site/").content.decode()
    assert "alpha sh-1" not in page  # names are "<merchant name> <code>"
    assert world_a.sites["sh-1"].name in page
    assert world_a.sites["sz-1"].name not in page
    assert world_b.sites["sh-1"].name not in page
    theirs = client.get(f"/console/merchants/site/{world_b.sites['sh-1'].pk}/change/")
    missing = client.get("/console/merchants/site/987654/change/")
    assert theirs.status_code == missing.status_code == 302
    assert theirs.url == missing.url == "/console/"


def test_platform_user_cannot_use_merchant_console_and_vice_versa(world_a, platform_admin, client) -> None:
    assert not console_login(client, platform_admin.username, PASSWORD, console="/console/")
    assert not console_login(client, world_a.user("merchant_admin").username, PASSWORD, console="/platform/")
    assert console_login(client, platform_admin.username, PASSWORD, console="/platform/")


def test_console_offers_only_assignable_roles_and_refuses_escalation(world_a, client) -> None:
    manager = world_a.user("store_manager")
    target = world_a.user("replenisher")
    assert console_login(client, manager.username, PASSWORD)
    form_page = client.get(f"/console/accounts/user/{target.pk}/change/").content.decode()
    admin_role = world_a.role("merchant_admin")
    assert f'value="{world_a.role("replenisher").pk}"' in form_page
    assert f'value="{admin_role.pk}"' not in form_page
    response = client.post(
        f"/console/accounts/user/{target.pk}/change/",
        {
            "username": target.username,
            "org_unit": world_a.shanghai.pk,
            "roles": [admin_role.pk],
            "language": "",
        },
    )
    assert response.status_code == 200  # the form comes back with an error
    assert list(User.objects.get(pk=target.pk).roles.values_list("code", flat=True)) == ["replenisher"]


def test_roles_cannot_grant_more_than_their_author_holds(world_a) -> None:
    from openvend.accounts.models import Role

    manager = world_a.user("store_manager")
    with pytest.raises(OpenVendError) as exc:
        services.role_create(
            actor=manager,
            merchant=world_a.merchant,
            code="x",
            name="x",
            data_scope="all",
            permissions=["merchants.view_site", "accounts.delete_role"],
        )
    assert exc.value.code == "accounts.role_not_assignable"
    assert exc.value.fields == {"permissions": ["accounts.delete_role"]}
    assert not Role.objects.filter(merchant=world_a.merchant, code="x").exists()


def test_console_change_of_a_site_is_audited_with_before_and_after(world_a, client) -> None:
    admin = world_a.user("merchant_admin")
    site = world_a.sites["sh-1"]
    assert console_login(client, admin.username, PASSWORD)
    response = client.post(
        f"/console/merchants/site/{site.pk}/change/",
        {
            "name": "徐汇新名字",
            "code": site.code,
            "org_unit": world_a.shanghai.pk,
            "is_active": "on",
            "contact_phone": "",
            "province": "",
            "city": "上海",
            "district": "",
            "address": site.address,
            "latitude": "31.200000",
            "longitude": "121.400000",
            # The site page's devices inline (empty here) posts its management form too.
            "devices-TOTAL_FORMS": "0",
            "devices-INITIAL_FORMS": "0",
            "devices-MIN_NUM_FORMS": "0",
            "devices-MAX_NUM_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    entry = AuditLogEntry.objects.filter(action="update", object_id=str(site.pk)).latest("id")
    assert entry.channel == "console"
    assert entry.actor_id == admin.pk
    assert entry.changed_fields == ["city", "name"]
    assert (entry.before["name"], entry.after["name"]) == (site.name, "徐汇新名字")
    assert (entry.before["city"], entry.after["city"]) == ("", "上海")


def test_console_exports_the_audit_log_to_excel(world_a, world_b, client) -> None:
    from io import BytesIO

    from openpyxl import load_workbook

    admin = world_a.user("merchant_admin")
    assert console_login(client, admin.username, PASSWORD)
    mine = list(AuditLogEntry.objects.filter(merchant=world_a.merchant).values_list("pk", flat=True))
    theirs = list(AuditLogEntry.objects.filter(merchant=world_b.merchant).values_list("pk", flat=True))[:3]
    response = client.post(
        "/console/audit/auditlogentry/",
        {"action": "export_xlsx", "_selected_action": [*mine, *theirs], "index": 0},
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("时间", "操作人用户名", "操作")
    # Only this merchant's rows: the other tenant's ids in the request are ignored.
    assert len(rows) - 1 == len(mine)
