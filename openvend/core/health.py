"""Liveness and readiness. Readiness checks each backing service the deployment is configured with."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse


def check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return connection.vendor


def check_redis(url: str) -> str:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        if not client.ping():
            raise ConnectionError("no PONG")
    finally:
        client.close()
    return "ok"


def check_mqtt(url: str, timeout: float = 3.0) -> str:
    """A real MQTT CONNECT/CONNACK round trip (paho), not just an open port."""
    import paho.mqtt.client as mqtt

    parsed = urlparse(url)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"openvend-health-{time.monotonic_ns()}")
    if parsed.username:
        client.username_pw_set(parsed.username, parsed.password)
    else:
        # The broker refuses anonymous clients: probe with the gateway's own account.
        from django.conf import settings

        if settings.MQTT_GATEWAY_PASSWORD:
            client.username_pw_set(settings.MQTT_GATEWAY_USERNAME, settings.MQTT_GATEWAY_PASSWORD)
    if parsed.scheme in {"mqtts", "ssl"}:
        client.tls_set()
    result: dict[str, object] = {}

    def on_connect(client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        result.setdefault("reason", reason)

    client.on_connect = on_connect
    try:
        client.connect(parsed.hostname or "127.0.0.1", parsed.port or 1883, keepalive=10)
    except (TimeoutError, OSError) as exc:
        raise ConnectionError(str(exc)) from exc
    deadline = time.monotonic() + timeout
    while "reason" not in result and time.monotonic() < deadline:
        client.loop(timeout=0.1)
    client.disconnect()
    reason = result.get("reason")
    if reason is None:
        raise ConnectionError("no CONNACK")
    if getattr(reason, "is_failure", False):
        raise ConnectionError(f"refused: {reason}")
    return "ok"


def readiness() -> dict[str, dict[str, str]]:
    checks: dict[str, Callable[[], str]] = {"database": check_database}
    if settings.REDIS_URL:
        checks["redis"] = lambda: check_redis(settings.REDIS_URL)
    if settings.MQTT_URL:
        checks["mqtt"] = lambda: check_mqtt(settings.MQTT_URL)
    results: dict[str, dict[str, str]] = {}
    for name, check in checks.items():
        try:
            results[name] = {"status": "ok", "detail": check()}
        except Exception as exc:
            results[name] = {"status": "error", "detail": type(exc).__name__ + ": " + str(exc)[:200]}
    return results


def live(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def ready(request: HttpRequest) -> JsonResponse:
    results = readiness()
    ok = all(r["status"] == "ok" for r in results.values())
    return JsonResponse({"status": "ok" if ok else "error", "checks": results}, status=200 if ok else 503)
