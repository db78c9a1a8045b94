"""Broker-side device authentication and ACL: Mosquitto (generated files) and the embedded amqtt broker."""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)


def notify_credentials_changed() -> None:
    """Regenerate Mosquitto's password and ACL files when this deployment manages them.
    The embedded broker reads credentials from the database on every CONNECT and needs nothing."""
    from django.conf import settings

    if not getattr(settings, "MOSQUITTO_PASSWORD_FILE", ""):
        return
    from openvend.gateway.broker.mosquitto import sync_mosquitto

    count = sync_mosquitto(
        password_path=settings.MOSQUITTO_PASSWORD_FILE,
        acl_path=settings.MOSQUITTO_ACL_FILE,
        pid_file=getattr(settings, "MOSQUITTO_PID_FILE", "") or None,
    )
    logger.info("mosquitto credentials synced", extra={"devices": count})
