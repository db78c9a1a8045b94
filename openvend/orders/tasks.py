"""Background work for orders: thin wrappers around the services, each safe to run twice. A lost
task loses nothing: the sweeper settles sessions left recognising (`sessions_settle_overdue`)."""

from __future__ import annotations

from django_tasks import task

from openvend.orders.services import settle_session
from openvend.shopping.models import ShoppingSession


@task()
def settle_session_task(session_id: int) -> str:
    session = ShoppingSession.objects.filter(pk=session_id).first()
    if session is None:
        return "missing"
    order = settle_session(session)
    return order.state if order is not None else "nothing"
