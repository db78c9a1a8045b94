"""Every console page opens for the people who may use it, and forms save through the audited path."""

from __future__ import annotations

import pytest

from openvend.accounts.models import Role, User
from openvend.audit.models import AuditLogEntry
from openvend.merchants.models import Site
from tests.conftest import console_login
from tests.world import PASSWORD

MODELS = [
    "merchants/merchant",
    "merchants/orgunit",
    "merchants/site",
    "merchants/devicegroup",
    "accounts/user",
    "accounts/role",
    "audit/auditlogentry",
]


@pytest.mark.parametrize("path", MODELS)
def test_merchant_admin_pages_open(world_a, client, path: str) -> None:
    assert console_login(client, world_a.users["merchant_admin"].username, PASSWORD)
    assert client.get(f"/console/{path}/").status_code == 200
    add = client.get(f"/console/{path}/add/")
    assert add.status_code == (403 if path in {"merchants/merchant", "audit/auditlogentry"} else 200)


@pytest.mark.parametrize("path", MODELS)
def test_platform_admin_pages_open(world_a, platform_admin, client, path: str) -> None:
    assert console_login(client, platform_admin.username, PASSWORD, console="/platform/")
    page = client.get(f"/platform/{path}/")
    assert page.status_code == 200
    if path == "merchants/site":
        # The platform sees every tenant, with the merchant as a column.
        assert world_a.merchant.name in page.content.decode()


def test_change_pages_open(world_a, client) -> None:
    assert console_login(client, world_a.users["merchant_admin"].username, PASSWORD)
    objects = {
        "merchants/merchant": world_a.merchant.pk,
        "merchants/orgunit": world_a.east.pk,
        "merchants/site": world_a.sites["sh-1"].pk,
        "merchants/devicegroup": world_a.group.pk,
        "accounts/user": world_a.users["finance"].pk,
        "accounts/role": world_a.role("operations").pk,
    }
    for path, pk in objects.items():
        assert client.get(f"/console/{path}/{pk}/change/").status_code == 200, path


def test_adding_staff_and_a_custom_role_in_the_console(world_a, client) -> None:
    admin = world_a.user("merchant_admin")
    assert console_login(client, admin.username, PASSWORD)
    response = client.post(
        "/console/accounts/role/add/",
        {
            "code": "night-shift",
            "name": "夜班补货",
            "data_scope": "sites",
            "sites": [world_a.sites["sz-1"].pk],
            "permissions": ["menu.sites", "merchants.view_site"],
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    role = Role.objects.get(merchant=world_a.merchant, code="night-shift")
    assert (role.permissions, role.data_scope, list(role.sites.all())) == (
        ["menu.sites", "merchants.view_site"],
        "sites",
        [world_a.sites["sz-1"]],
    )
    response = client.post(
        "/console/accounts/user/add/",
        {
            "username": "night-1",
            "first_name": "夜班一号",
            "phone": "13700000000",
            "org_unit": world_a.south.pk,
            "roles": [role.pk],
            "language": "",
            "password1": "Night-Shift-2026",
            "password2": "Night-Shift-2026",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    user = User.objects.get(username="night-1")
    assert (user.merchant_id, user.org_unit_id) == (world_a.merchant.pk, world_a.south.pk)
    entry = AuditLogEntry.objects.get(action="create", object_type="accounts.user", object_id=str(user.pk))
    assert entry.channel == "console" and entry.actor_id == admin.pk
    assert entry.after["roles"] == [role.pk] and entry.after["password"] == "***"
    client.logout()
    assert console_login(client, "night-1", "Night-Shift-2026")
    sites = client.get("/console/merchants/site/").content.decode()
    assert world_a.sites["sz-1"].name in sites and world_a.sites["sh-1"].name not in sites
    assert Site.objects.restrict(User.objects.get(pk=user.pk)).count() == 1


def test_list_filters_offer_only_the_callers_rows(world_a, world_b, client) -> None:
    """A relation filter lists the related rows of the user's own list, never another merchant's."""
    from tests.devices.factories import activated_device

    activated_device(world_a, "FILTER-A1")
    activated_device(world_b, "FILTER-B1")
    Site.objects.filter(pk=world_b.sites["sh-1"].pk).update(name="别家的秘密点位")
    assert console_login(client, world_a.users["merchant_admin"].username, PASSWORD)
    page = client.get("/console/devices/device/").content.decode()
    assert world_a.sites["sh-1"].name in page
    assert "别家的秘密点位" not in page
