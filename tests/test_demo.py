"""The demo seed: two merchants, a user per preset role, printed logins that work, safe to re-run."""

from __future__ import annotations

import json

from openvend.accounts.models import Role, User
from openvend.accounts.presets import MERCHANT_PRESETS, PLATFORM_PRESETS
from openvend.demo.seed import seed_demo
from openvend.merchants.models import Merchant, OrgUnit, Site
from tests.conftest import console_login


def test_seed_is_complete_and_safe_to_rerun(db, tmp_path, client) -> None:
    logins_file = tmp_path / "demo-logins.json"
    first = seed_demo(logins_file)
    counts = (Merchant.objects.count(), OrgUnit.objects.count(), Site.objects.count(), User.objects.count())

    assert Merchant.objects.filter(status="active").count() == 2
    for merchant in Merchant.objects.all():
        staff_roles = sorted(r["role"] for r in first if r["merchant"] == merchant.name)
        assert staff_roles == sorted(p.code for p in MERCHANT_PRESETS)
        assert OrgUnit.objects.filter(merchant=merchant).count() >= 3
        assert Site.objects.filter(merchant=merchant).count() >= 2
    assert sorted(r["role"] for r in first if r["merchant"] == "platform") == sorted(
        p.code for p in PLATFORM_PRESETS
    )
    assert json.loads(logins_file.read_text()) == first
    assert {"merchant", "role", "username", "password"} <= set(first[0])
    assert Merchant.objects.get(code="xianguo").default_language == "zh-hans"

    second = seed_demo(logins_file)
    assert (
        Merchant.objects.count(),
        OrgUnit.objects.count(),
        Site.objects.count(),
        User.objects.count(),
    ) == counts
    assert second == first  # the same passwords keep working
    assert Role.objects.filter(merchant__isnull=False).count() == 2 * len(MERCHANT_PRESETS)

    for row in (second[0], next(r for r in second if r["merchant"] == "鲜果智柜")):
        client.logout()
        assert console_login(client, row["username"], row["password"], console=row["console"])
