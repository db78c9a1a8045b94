"""Background work for orders: thin wrappers around the services, each safe to run twice. A lost
task loses nothing: the sweeper settles sessions left recognising (`sessions_settle_overdue`)."""

from __future__ import annotations

from django_tasks import task

from openvend.orders.services import settle_session_id


@task()
def settle_session_task(session_id: int) -> str:
    order = settle_session_id(session_id)
    return order.state if order is not None else "nothing"  # nothing to settle, or no such session
