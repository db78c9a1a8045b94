"""What tenant scoping costs on the hottest read path: one page of a list.

Peer baseline, measured in the same run on the same data: the same page fetched with a
hand-written filter (merchant id, and for scoped staff the org-unit path) and no permission
or scope machinery. The ratio restricted / baseline is what `restrict()` adds.
"""

from __future__ import annotations

import json
import platform
import statistics
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

MERCHANTS = 20
UNITS_PER_MERCHANT = 12
SITES_PER_UNIT = 25
REPEATS = 300


def _build() -> dict[str, Any]:
    from django.core.management import call_command

    from openvend.accounts import services as accounts
    from openvend.accounts.models import Role, User
    from openvend.merchants import services as merchants
    from openvend.merchants.models import OrgUnit, Site

    call_command("migrate", verbosity=0, interactive=False)
    target: dict[str, Any] = {}
    for m in range(MERCHANTS):
        merchant = merchants.merchant_register(name=f"M{m}", code=f"m{m}")
        merchants.merchant_approve(actor=None, merchant=merchant)
        root = OrgUnit.objects.get(merchant=merchant, parent=None)
        units: list[Any] = []
        for u in range(UNITS_PER_MERCHANT):
            parent = root if u < 3 else units[u % 3]
            units.append(
                merchants.org_unit_create(actor=None, merchant=merchant, parent=parent, name=f"U{u}")
            )
        Site.objects.bulk_create(
            Site(
                merchant=merchant,
                org_unit=unit,
                code=f"s{m}-{u}-{s}",
                name=f"Site {m}-{u}-{s}",
                address="x",
                latitude=Decimal("31.2"),
                longitude=Decimal("121.4"),
            )
            for u, unit in enumerate(units)
            for s in range(SITES_PER_UNIT)
        )
        if m == MERCHANTS // 2:
            target["merchant"] = merchant
            target["unit"] = units[0]
            target["admin"] = accounts.user_create(
                actor=None,
                merchant=merchant,
                username="bench-admin",
                password="Vending-Cabinet-77",
                roles=[Role.objects.get(merchant=merchant, code="merchant_admin")],
                org_unit=root,
            )
            target["ops"] = accounts.user_create(
                actor=None,
                merchant=merchant,
                username="bench-ops",
                password="Vending-Cabinet-77",
                roles=[Role.objects.get(merchant=merchant, code="operations")],
                org_unit=units[0],
            )
    target["User"] = User
    target["Site"] = Site
    return target


def _time(fn: Callable[[], int], repeats: int) -> tuple[float, int]:
    fn()  # warm caches
    samples = []
    rows = 0
    for _ in range(repeats):
        start = time.perf_counter()
        rows = fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), rows


def main() -> int:
    import django

    django.setup()
    from django.db import connection

    world = _build()
    Site, User = world["Site"], world["User"]
    unit_path = world["unit"].path
    total_sites = Site.objects.count()

    def page(qs: Any) -> int:
        return len(list(qs.order_by("pk")[:50]))

    cases = {
        "merchant_admin": (
            lambda: page(Site.objects.restrict(User.objects.get(pk=world["admin"].pk), "view")),
            lambda: page(Site.objects.filter(merchant_id=User.objects.get(pk=world["admin"].pk).merchant_id)),
        ),
        "scoped_operations": (
            lambda: page(Site.objects.restrict(User.objects.get(pk=world["ops"].pk), "view")),
            lambda: page(
                Site.objects.filter(
                    merchant_id=User.objects.get(pk=world["ops"].pk).merchant_id,
                    org_unit__path__startswith=unit_path,
                )
            ),
        ),
    }
    print(f"tenancy benchmark on {connection.vendor}: {MERCHANTS} merchants, {total_sites} sites")
    print("restricted = a fresh user per request (as in a web request) + restrict() + one page of 50 rows")
    print(
        "baseline   = a fresh user + the same page with a hand-written filter, no permission or scope logic\n"
    )
    results: dict[str, Any] = {}
    for name, (restricted, baseline) in cases.items():
        t_restricted, rows_r = _time(restricted, REPEATS)
        t_baseline, rows_b = _time(baseline, REPEATS)
        assert rows_r == rows_b, (name, rows_r, rows_b)
        ratio = t_restricted / t_baseline
        results[name] = {
            "rows": rows_r,
            "restricted_ms": round(t_restricted * 1000, 3),
            "baseline_ms": round(t_baseline * 1000, 3),
            "ratio": round(ratio, 2),
        }
        print(
            f"{name:<18} rows={rows_r:<3} restricted={t_restricted * 1000:7.3f} ms  "
            f"baseline={t_baseline * 1000:7.3f} ms  ratio={ratio:5.2f}"
        )
    print()
    print(
        json.dumps(
            {
                "benchmark": "tenancy",
                "database": connection.vendor,
                "sites": total_sites,
                "python": platform.python_version(),
                "results": results,
            }
        )
    )
    return 0
