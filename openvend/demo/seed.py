"""The demo platform: two merchants with org units, sites, device groups and one user per preset role.

Safe to run again: existing rows are kept, and passwords already handed out (var/demo-logins.json)
keep working.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.db import transaction

from openvend.accounts import services as accounts
from openvend.accounts.models import Role, User
from openvend.accounts.presets import MERCHANT_PRESETS, PLATFORM_PRESETS
from openvend.demo.catalog import seed_catalog
from openvend.merchants import services as merchants
from openvend.merchants.choices import MerchantStatus
from openvend.merchants.models import DeviceGroup, Merchant, OrgUnit, Site

PLATFORM = "platform"


@dataclass(frozen=True)
class DemoSite:
    code: str
    name: str
    unit: str
    city: str
    address: str
    lat: str
    lng: str


@dataclass(frozen=True)
class DemoMerchant:
    code: str
    name: str
    language: str
    regions: dict[str, list[str]]
    sites: list[DemoSite]
    groups: list[str]
    scoped_unit: str  # the unit whose staff get narrowed scopes


MERCHANTS = [
    DemoMerchant(
        code="xianguo",
        name="鲜果智柜",
        language="zh-hans",
        regions={"华东区": ["上海徐汇", "杭州西湖"], "华南区": ["深圳南山"]},
        sites=[
            DemoSite(
                "xh-tower", "徐汇滨江写字楼", "上海徐汇", "上海", "龙腾大道2555号", "31.176300", "121.461900"
            ),
            DemoSite(
                "xh-campus", "漕河泾园区食堂", "上海徐汇", "上海", "桂平路391号", "31.168900", "121.398700"
            ),
            DemoSite("hz-lake", "西湖文化广场", "杭州西湖", "杭州", "中山北路2号", "30.279800", "120.166500"),
            DemoSite(
                "sz-tech", "南山科技园", "深圳南山", "深圳", "科技南十二路2号", "22.540300", "113.953400"
            ),
        ],
        groups=["上海写字楼机组", "华南校园机组"],
        scoped_unit="上海徐汇",
    ),
    DemoMerchant(
        code="northwind",
        name="Northwind Vending",
        language="en",
        regions={"North": ["Beijing Chaoyang"], "West": ["Chengdu Hi-tech"]},
        sites=[
            DemoSite(
                "bj-cbd",
                "Chaoyang CBD lobby",
                "Beijing Chaoyang",
                "北京",
                "建国门外大街1号",
                "39.908700",
                "116.459500",
            ),
            DemoSite(
                "cd-hitech",
                "Tianfu Software Park",
                "Chengdu Hi-tech",
                "成都",
                "天府大道中段1268号",
                "30.545100",
                "104.067200",
            ),
        ],
        groups=["Office towers", "Campus machines"],
        scoped_unit="Beijing Chaoyang",
    ),
]


def _fresh_password(username: str) -> str:
    """A random password the password rules accept for this user (a random one can, rarely, look too
    much like the username for the similarity rule)."""
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    probe = User(username=username)
    while True:
        password = f"Demo-{secrets.token_urlsafe(9)}"
        try:
            validate_password(password, probe)
        except ValidationError:
            continue
        return password


def _password_for(username: str, known: dict[str, str]) -> str:
    """Keep a password already handed out if it still works; otherwise set a fresh one."""
    user = User.objects.get(username=username)
    password = known.get(username)
    if password and user.check_password(password):
        return password
    password = _fresh_password(username)
    user.set_password(password)
    user.save(update_fields=["password"])
    return password


def _ensure_user(
    *, username: str, merchant: Merchant | None, role: Role, org_unit: OrgUnit | None, **extra: Any
) -> None:
    if not User.objects.filter(username=username).exists():
        accounts.user_create(
            actor=None,
            merchant=merchant,
            username=username,
            password=_fresh_password(username),
            roles=[role],
            org_unit=org_unit,
            **extra,
        )


def _seed_merchant(spec: DemoMerchant) -> Merchant:
    merchant = Merchant.objects.filter(code=spec.code).first()
    if merchant is None:
        merchant = merchants.merchant_register(
            name=spec.name,
            code=spec.code,
            contact_name="Demo",
            contact_phone="400-800-0000",
            default_language=spec.language,
        )
    if merchant.status == MerchantStatus.PENDING:
        merchants.merchant_approve(actor=None, merchant=merchant, note="demo")
    root = OrgUnit.objects.get(merchant=merchant, parent=None)
    units: dict[str, OrgUnit] = {}
    for region, cities in spec.regions.items():
        region_unit = OrgUnit.objects.filter(merchant=merchant, parent=root, name=region).first() or (
            merchants.org_unit_create(actor=None, merchant=merchant, parent=root, name=region)
        )
        units[region] = region_unit
        for city in cities:
            units[city] = OrgUnit.objects.filter(
                merchant=merchant, parent=region_unit, name=city
            ).first() or (
                merchants.org_unit_create(actor=None, merchant=merchant, parent=region_unit, name=city)
            )
    for site in spec.sites:
        if not Site.objects.filter(merchant=merchant, code=site.code).exists():
            merchants.site_create(
                actor=None,
                merchant=merchant,
                code=site.code,
                name=site.name,
                org_unit=units[site.unit],
                city=site.city,
                address=site.address,
                latitude=Decimal(site.lat),
                longitude=Decimal(site.lng),
            )
    for name in spec.groups:
        if not DeviceGroup.objects.filter(merchant=merchant, name=name).exists():
            merchants.device_group_create(
                actor=None, merchant=merchant, name=name, org_unit=units[spec.scoped_unit]
            )
    for preset in MERCHANT_PRESETS:
        role = Role.objects.get(merchant=merchant, code=preset.code)
        narrowed = preset.data_scope != "all"
        _ensure_user(
            username=f"{spec.code}-{preset.code.replace('_', '-')}",
            merchant=merchant,
            role=role,
            org_unit=units[spec.scoped_unit] if narrowed else root,
            first_name=str(preset.label),
        )
    return merchant


@transaction.atomic
def seed_demo(logins_path: Path) -> list[dict[str, str]]:
    known: dict[str, str] = {}
    if logins_path.exists():
        try:
            known = {row["username"]: row["password"] for row in json.loads(logins_path.read_text())}
        except (ValueError, KeyError, TypeError):
            known = {}
    platform_roles = {role.code: role for role in accounts.preset_roles_install(merchant=None)}
    for preset in PLATFORM_PRESETS:
        _ensure_user(
            username=f"platform-{preset.code.removeprefix('platform_').replace('_', '-')}",
            merchant=None,
            role=platform_roles[preset.code],
            org_unit=None,
            first_name=str(preset.label),
        )
    seeded = [_seed_merchant(spec) for spec in MERCHANTS]
    seed_catalog(seeded)

    logins: list[dict[str, str]] = []
    demo_users = User.objects.filter(username__startswith="platform-") | User.objects.filter(
        merchant__code__in=[spec.code for spec in MERCHANTS]
    )
    for user in demo_users.select_related("merchant").prefetch_related("roles").order_by("merchant_id", "id"):
        role = user.roles.first()
        logins.append(
            {
                "merchant": user.merchant.name if user.merchant else PLATFORM,
                "role": role.code if role else "",
                "username": user.username,
                "password": _password_for(user.username, known),
                "console": "/platform/" if user.merchant is None else "/console/",
            }
        )
    logins_path.parent.mkdir(parents=True, exist_ok=True)
    logins_path.write_text(json.dumps(logins, ensure_ascii=False, indent=2))
    logins_path.chmod(0o600)
    return logins
