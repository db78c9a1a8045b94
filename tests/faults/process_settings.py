"""Settings for the `openvend gateway` and `openvend worker` processes the fault tests spawn: the
test settings, pointed at the test database, the test's broker and, when asked, the database task
queue (so settling and charging run in the worker instead of inside the gateway)."""

import os

from openvend.config.settings.test import *  # noqa: F403

MQTT_URL = os.environ.get("FAULTS_MQTT_URL", "")
MQTT_GATEWAY_USERNAME = os.environ.get("FAULTS_GATEWAY_USERNAME", "openvend-gateway")
MQTT_GATEWAY_PASSWORD = os.environ.get("FAULTS_GATEWAY_PASSWORD", "")
MQTT_SHARED_GROUP = ""
if os.environ.get("FAULTS_TASKS") == "database":
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
