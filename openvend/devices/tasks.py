"""Background work for devices: thin wrappers around services, safe to run twice."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.utils import timezone
from django_tasks import task

from openvend.devices.alarms import webhook_deliver

logger = logging.getLogger(__name__)

# A receiver that is down gets the push again after 1 min, 5 min, 30 min and 2 h, then we give up:
# the alarm itself is stored and visible in the console either way.
RETRY_DELAYS_S = (60, 300, 1800, 7200)


@task()
def deliver_alarm_webhook(alarm_id: int, attempt: int = 0) -> int | None:
    try:
        return webhook_deliver(alarm_id)
    except OSError as exc:
        retried = schedule_webhook_retry(alarm_id, attempt)
        logger.warning(
            "alarm webhook failed",
            extra={"alarm": alarm_id, "attempt": attempt, "retry": retried, "error": str(exc)},
        )
        return None


def schedule_webhook_retry(alarm_id: int, attempt: int) -> bool:
    """Enqueue the next delivery attempt, if any are left and the task backend can defer work."""
    if attempt >= len(RETRY_DELAYS_S) or not deliver_alarm_webhook.get_backend().supports_defer:
        return False
    run_after = timezone.now() + timedelta(seconds=RETRY_DELAYS_S[attempt])
    deliver_alarm_webhook.using(run_after=run_after).enqueue(alarm_id, attempt + 1)
    return True
