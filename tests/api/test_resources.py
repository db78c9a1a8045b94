"""Every REST resource passes the shared contract. The tables are the preset roles' specification."""

from __future__ import annotations

from typing import Any

from openvend.accounts.models import Role, User
from openvend.audit.models import AuditLogEntry
from openvend.merchants import services as merchants
from openvend.merchants.models import DeviceGroup, Merchant, OrgUnit, Site
from tests.api.contract import ReadContract, ResourceContract
from tests.conftest import client_for
from tests.world import PASSWORD, World

CRUD = {"view", "add", "change", "delete"}


class TestSites(ResourceContract):
    url = "/api/v1/sites/"
    model = Site
    expected = {
        "merchant_admin": CRUD,
        "operations": {"view", "add", "change"},
        "replenisher": {"view"},
        "customer_service": {"view"},
        "store_manager": {"view", "change"},
        "finance": {"view"},
    }

    def make(self, world: World) -> Site:
        return merchants.site_create(
            actor=None,
            merchant=world.merchant,
            code=f"s-{self.unique()}",
            name="Contract site",
            org_unit=world.shanghai,
            address="1 Test Road",
            latitude="31.1",
            longitude="121.1",
        )

    def create_payload(self, world: World) -> dict[str, Any]:
        return {
            "code": f"new-{self.unique()}",
            "name": "新点位",
            "org_unit": world.shanghai.pk,
            "address": "漕溪北路88号",
            "latitude": "31.190000",
            "longitude": "121.440000",
        }

    def update_payload(self, world: World) -> dict[str, Any]:
        return {"name": "改名后的点位", "address": "虹桥路1号"}

    def test_business_hours_both_or_neither(self, world_a: World) -> None:
        site = self.make(world_a)
        client = client_for(world_a.user("merchant_admin"))
        url = self.detail(site)
        for bad in ({"opens_at": "08:00"}, {"opens_at": "08:00", "closes_at": "08:00"}):
            refused = client.patch(url, bad, content_type="application/json")
            assert refused.status_code == 400 and "closes_at" in refused.json()["error"]["fields"]
        site.refresh_from_db()
        assert (site.opens_at, site.closes_at) == (None, None)
        night = client.patch(
            url, {"opens_at": "22:00", "closes_at": "06:00"}, content_type="application/json"
        )
        assert night.status_code == 200
        assert (night.json()["opens_at"], night.json()["closes_at"]) == ("22:00:00", "06:00:00")
        row = AuditLogEntry.objects.filter(object_type="merchants.site", object_id=str(site.pk)).latest("id")
        assert (row.before["opens_at"], row.after["opens_at"], row.after["closes_at"]) == (
            None,
            "22:00:00",
            "06:00:00",
        )


class TestOrgUnits(ResourceContract):
    url = "/api/v1/org-units/"
    model = OrgUnit
    expected = {"merchant_admin": CRUD, "operations": {"view"}, "store_manager": {"view"}}

    def make(self, world: World) -> OrgUnit:
        return merchants.org_unit_create(
            actor=None, merchant=world.merchant, parent=world.shanghai, name=self.unique()
        )

    def create_payload(self, world: World) -> dict[str, Any]:
        return {"name": f"team-{self.unique()}", "parent": world.shanghai.pk}

    def update_payload(self, world: World) -> dict[str, Any]:
        return {"name": "徐汇一组"}


class TestDeviceGroups(ResourceContract):
    url = "/api/v1/device-groups/"
    model = DeviceGroup
    expected = {
        "merchant_admin": CRUD,
        "operations": CRUD,
        "replenisher": {"view"},
        "store_manager": {"view"},
    }

    def make(self, world: World) -> DeviceGroup:
        return merchants.device_group_create(
            actor=None, merchant=world.merchant, name=f"g-{self.unique()}", org_unit=world.shanghai
        )

    def create_payload(self, world: World) -> dict[str, Any]:
        return {"name": f"机组-{self.unique()}", "org_unit": world.shanghai.pk}

    def update_payload(self, world: World) -> dict[str, Any]:
        return {"note": "夜间补货"}


class TestUsers(ResourceContract):
    url = "/api/v1/users/"
    model = User
    expected = {
        "merchant_admin": CRUD,
        "customer_service": {"view"},
        "store_manager": {"view", "add", "change"},
    }

    def make(self, world: World) -> User:
        from openvend.accounts import services as accounts

        return accounts.user_create(
            actor=None,
            merchant=world.merchant,
            username=f"u-{self.unique()}",
            password=PASSWORD,
            org_unit=world.shanghai,
            roles=[world.role("replenisher")],
        )

    def create_payload(self, world: World) -> dict[str, Any]:
        return {
            "username": f"new-{self.unique()}",
            "password": PASSWORD,
            "org_unit": world.shanghai.pk,
            "roles": [world.role("replenisher").pk],
            "phone": "13800000000",
        }

    def update_payload(self, world: World) -> dict[str, Any]:
        return {"first_name": "王小明", "phone": "13900000000"}


class TestRoles(ResourceContract):
    url = "/api/v1/roles/"
    model = Role
    expected = {"merchant_admin": CRUD}

    def make(self, world: World) -> Role:
        from openvend.accounts import services as accounts

        return accounts.role_create(
            actor=None,
            merchant=world.merchant,
            code=f"r-{self.unique()}",
            name="夜班",
            permissions=["merchants.view_site", "menu.sites"],
            data_scope="sites",
            sites=[world.sites["sh-1"]],
        )

    def create_payload(self, world: World) -> dict[str, Any]:
        return {
            "code": f"night-{self.unique()}",
            "name": "夜班补货",
            "permissions": ["merchants.view_site", "menu.sites"],
            "data_scope": "sites",
            "sites": [world.sites["sh-1"].pk],
        }

    def update_payload(self, world: World) -> dict[str, Any]:
        return {"name": "晚班", "permissions": ["menu.sites", "merchants.change_site", "merchants.view_site"]}


class TestMerchants(ResourceContract):
    """Merchant staff see only their own merchant and can edit its profile, never create or delete."""

    url = "/api/v1/merchants/"
    model = Merchant
    expected = {"merchant_admin": {"view", "change"}, "finance": {"view"}}

    def make(self, world: World) -> Merchant:
        return world.merchant

    def create_payload(self, world: World) -> dict[str, Any]:
        return {"name": "New", "code": f"m-{self.unique()}"}

    def update_payload(self, world: World) -> dict[str, Any]:
        return {"contact_name": "李经理", "contact_phone": "021-88888888"}


class TestAuditLog(ReadContract):
    url = "/api/v1/audit-log/"
    model = AuditLogEntry
    expected = {"merchant_admin": {"view"}, "store_manager": {"view"}, "finance": {"view"}}

    def make(self, world: World) -> AuditLogEntry:
        # An entry written by a member of staff whose scope is narrowed: they can see their own.
        from openvend.audit.services import audit_record

        return audit_record(actor=world.users["store_manager"], action="update", instance=world.merchant)

    def test_log_cannot_be_written_through_the_api(self, world_a: World) -> None:
        entry = self.make(world_a)
        client = client_for(world_a.user("merchant_admin"))
        assert client.post(self.url, {"action": "login"}, format="json").status_code == 403
        assert client.delete(self.detail(entry)).status_code == 403
        assert client.patch(self.detail(entry), {"action": "login"}, format="json").status_code == 403
        entry.refresh_from_db()
        assert entry.action == "update"
