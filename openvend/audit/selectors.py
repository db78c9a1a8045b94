from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from openvend.audit.choices import AuditAction
from openvend.audit.models import AuditLogEntry

CHANGES = [AuditAction.CREATE, AuditAction.UPDATE, AuditAction.DELETE]


def activity_by_day(user: Any, *, days: int = 14) -> list[dict[str, Any]]:
    """Logins, failed logins and changes per local day over the last `days` days, as the user may see them."""
    today = timezone.localdate()
    start = today - timedelta(days=days - 1)
    rows = (
        AuditLogEntry.objects.restrict(user, "view")
        .filter(created_at__date__gte=start)
        .annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))
        .values("day")
        .annotate(
            logins=Count("pk", filter=Q(action=AuditAction.LOGIN)),
            failed=Count("pk", filter=Q(action__in=[AuditAction.LOGIN_FAILED, AuditAction.LOCKED_OUT])),
            changes=Count("pk", filter=Q(action__in=CHANGES)),
        )
    )
    by_day = {row["day"]: row for row in rows}
    series = []
    for offset in range(days):
        day = start + timedelta(days=offset)
        row = by_day.get(day, {})
        series.append(
            {
                "day": day.isoformat(),
                "logins": row.get("logins", 0),
                "failed": row.get("failed", 0),
                "changes": row.get("changes", 0),
            }
        )
    return series
