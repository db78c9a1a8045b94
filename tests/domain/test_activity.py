"""The dashboard's activity chart counts exactly what the user may see, per local day."""

from __future__ import annotations

from openvend.audit.selectors import activity_by_day
from tests.conftest import console_login
from tests.world import PASSWORD


def test_activity_by_day_counts_and_scopes(world_a, world_b, client) -> None:
    admin = world_a.user("merchant_admin")
    assert console_login(client, admin.username, PASSWORD)
    assert not console_login(client, world_a.users["finance"].username, "wrong")
    assert console_login(client, world_b.users["finance"].username, PASSWORD)  # another tenant's login

    series = activity_by_day(world_a.user("merchant_admin"), days=14)
    assert len(series) == 14
    totals = {key: sum(day[key] for day in series) for key in ("logins", "failed", "changes")}
    assert (totals["logins"], totals["failed"]) == (1, 1)
    # Every create the world built for merchant A, and none of B's.
    from openvend.audit.models import AuditLogEntry

    expected_changes = AuditLogEntry.objects.filter(
        merchant=world_a.merchant, action__in=["create", "update", "delete"]
    ).count()
    assert totals["changes"] == expected_changes
    # Everything happened just now: nothing before yesterday (the run may straddle midnight).
    assert sum(day["logins"] + day["failed"] + day["changes"] for day in series[:-2]) == 0


def test_dashboard_renders_charts_for_the_merchant(world_a, client) -> None:
    assert console_login(client, world_a.users["merchant_admin"].username, PASSWORD)
    page = client.get("/console/").content.decode()
    assert 'id="activity-chart"' in page and 'id="activity-data"' in page
    assert "vendor/echarts/echarts.min.js" in page
    assert 'id="status-chart"' not in page  # the merchants-by-status pie is the platform's
