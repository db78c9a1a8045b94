"""A small merchant estate built through the real services, for tests.

root
├── 华东区 (east)
│   └── 上海徐汇 (shanghai)   ← scoped staff live here; sites "sh-1", "sh-2"; device group "sh-group"
└── 华南区 (south)            ← site "sz-1"
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from openvend.accounts import services as accounts
from openvend.accounts.models import Role, User
from openvend.accounts.presets import MERCHANT_PRESETS
from openvend.merchants import services as merchants
from openvend.merchants.models import DeviceGroup, Merchant, OrgUnit, Site

PASSWORD = "Correct-Horse-42"
MERCHANT_ROLES = [preset.code for preset in MERCHANT_PRESETS]


@dataclass
class World:
    merchant: Merchant
    root: OrgUnit
    east: OrgUnit
    shanghai: OrgUnit
    south: OrgUnit
    sites: dict[str, Site] = field(default_factory=dict)
    group: DeviceGroup | None = None
    users: dict[str, User] = field(default_factory=dict)

    def role(self, code: str) -> Role:
        return Role.objects.get(merchant=self.merchant, code=code)

    def user(self, role_code: str) -> User:
        # A fresh instance each time: permission and scope caches live on the instance.
        return User.objects.get(pk=self.users[role_code].pk)


def build_world(code: str, name: str, *, language: str = "zh-hans") -> World:
    merchant = merchants.merchant_register(name=name, code=code, default_language=language)
    merchants.merchant_approve(actor=None, merchant=merchant)
    root = OrgUnit.objects.get(merchant=merchant, parent=None)
    east = merchants.org_unit_create(actor=None, merchant=merchant, parent=root, name="华东区")
    shanghai = merchants.org_unit_create(actor=None, merchant=merchant, parent=east, name="上海徐汇")
    south = merchants.org_unit_create(actor=None, merchant=merchant, parent=root, name="华南区")
    world = World(merchant=merchant, root=root, east=east, shanghai=shanghai, south=south)
    for site_code, unit in (("sh-1", shanghai), ("sh-2", shanghai), ("sz-1", south)):
        world.sites[site_code] = merchants.site_create(
            actor=None,
            merchant=merchant,
            code=site_code,
            name=f"{name} {site_code}",
            org_unit=unit,
            address="测试路1号",
            latitude=Decimal("31.200000"),
            longitude=Decimal("121.400000"),
        )
    world.group = merchants.device_group_create(
        actor=None, merchant=merchant, name="sh-group", org_unit=shanghai
    )
    for role_code in MERCHANT_ROLES:
        narrowed = world.role(role_code).data_scope != "all"
        world.users[role_code] = accounts.user_create(
            actor=None,
            merchant=merchant,
            username=f"{code}-{role_code}",
            password=PASSWORD,
            roles=[world.role(role_code)],
            org_unit=shanghai if narrowed else root,
        )
    return world


def platform_user(role_code: str) -> User:
    roles = {role.code: role for role in accounts.preset_roles_install(merchant=None)}
    username = f"platform-{role_code}"
    existing = User.objects.filter(username=username).first()
    if existing:
        return existing
    return accounts.user_create(
        actor=None, merchant=None, username=username, password=PASSWORD, roles=[roles[role_code]]
    )
