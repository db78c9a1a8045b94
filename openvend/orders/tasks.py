"""Background work for orders: thin wrappers around the services, each safe to run twice. A lost
task loses nothing: the sweeper settles sessions left recognising (`sessions_settle_overdue`)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from django_tasks import task

from openvend.orders.services import settle_session_id
from openvend.shopping.evidence import EvidencePending


@task()
def settle_session_task(session_id: int) -> str:
    try:
        order = settle_session_id(session_id)
    except EvidencePending as pending:
        if not settle_session_task.get_backend().supports_defer:
            return "waiting"  # the sweeper settles it once the wait has run out
        run_after = timezone.now() + timedelta(seconds=pending.retry_in_s)
        settle_session_task.using(run_after=run_after).enqueue(session_id)
        return "waiting"
    return order.state if order is not None else "nothing"  # nothing to settle, or no such session
