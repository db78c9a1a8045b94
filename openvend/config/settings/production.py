"""Production: everything from the environment; refuses to start without what it needs."""

import os
from pathlib import Path

import dj_database_url
import structlog
from django.core.exceptions import ImproperlyConfigured

from openvend.config.settings.base import *  # noqa: F403


def _required(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise ImproperlyConfigured(f"Environment variable {name} is required in production.")
    return value


DEBUG = False
SECRET_KEY = _required("SECRET_KEY")
DATABASES = {"default": dj_database_url.parse(_required("DATABASE_URL"), conn_max_age=60)}
REDIS_URL = _required("REDIS_URL")
MQTT_URL = _required("MQTT_URL")
MQTT_GATEWAY_USERNAME = os.environ.get("MQTT_GATEWAY_USERNAME", "openvend-gateway")
MQTT_GATEWAY_PASSWORD = os.environ.get("MQTT_GATEWAY_PASSWORD", "")
MQTT_GATEWAY_ROUTING = os.environ.get("MQTT_GATEWAY_ROUTING", "partitioned")
MQTT_SHARED_GROUP = os.environ.get("MQTT_SHARED_GROUP", "openvend-gateway")
MOSQUITTO_PASSWORD_FILE = os.environ.get("MOSQUITTO_PASSWORD_FILE", "")
MOSQUITTO_ACL_FILE = os.environ.get("MOSQUITTO_ACL_FILE", "")
MOSQUITTO_PID_FILE = os.environ.get("MOSQUITTO_PID_FILE", "")
DEVICE_MESSAGE_RETENTION_DAYS = int(os.environ.get("DEVICE_MESSAGE_RETENTION_DAYS", "30"))
CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
ALLOWED_HOSTS = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "").split(",") if h.strip()]
CSRF_TRUSTED_ORIGINS = [o.strip() for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()]

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = os.environ.get("SECURE_SSL_REDIRECT", "1") == "1"
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", STATIC_ROOT))  # noqa: F405
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", MEDIA_ROOT))  # noqa: F405

# One JSON object per log line for the log pipeline; Django's and our loggers both go through structlog.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": structlog.stdlib.ProcessorFormatter,
            "processors": [
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.JSONRenderer(ensure_ascii=False),
            ],
            "foreign_pre_chain": [
                structlog.stdlib.add_log_level,
                structlog.stdlib.add_logger_name,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
            ],
        }
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}
