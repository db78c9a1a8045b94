"""Background work for devices: thin wrappers around services, safe to run twice."""

from __future__ import annotations

import logging

from django_tasks import task

from openvend.devices.alarms import webhook_deliver

logger = logging.getLogger(__name__)


@task()
def deliver_alarm_webhook(alarm_id: int) -> int | None:
    try:
        return webhook_deliver(alarm_id)
    except OSError as exc:
        # The alarm itself is stored and visible in the console; a down receiver only loses the push.
        logger.warning("alarm webhook failed", extra={"alarm": alarm_id, "error": str(exc)})
        return None
