"""Settings shapes, and the real backing services the deployment talks to."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.test import override_settings

from openvend.core import health

PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "openvend.config.settings.production",
    "SECRET_KEY": "x" * 64 + "-not-a-real-key-but-long-and-random-enough-1234",
    "DATABASE_URL": "postgres://openvend@127.0.0.1:5432/openvend",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "MQTT_URL": "mqtt://127.0.0.1:1883",
    "ALLOWED_HOSTS": "openvend.example.com",
}


def _manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in PRODUCTION_ENV}
    return subprocess.run(
        [sys.executable, "-m", "django", *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_settings_pass_the_deploy_check() -> None:
    result = _manage(PRODUCTION_ENV, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize("missing", ["SECRET_KEY", "DATABASE_URL", "REDIS_URL", "MQTT_URL"])
def test_production_refuses_to_start_without_required_environment(missing: str) -> None:
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != missing}
    result = _manage(env, "check")
    assert result.returncode != 0
    assert f"Environment variable {missing} is required in production." in result.stderr


def test_production_hashes_passwords_with_argon2() -> None:
    result = _manage(
        PRODUCTION_ENV,
        "shell",
        "-c",
        "from django.contrib.auth.hashers import make_password; print(make_password('x').split('$')[0])",
    )
    assert result.stdout.strip().splitlines()[-1] == "argon2", result.stderr


def test_no_secret_is_committed() -> None:
    from openvend.config.settings import base

    assert not hasattr(base, "SECRET_KEY")


@pytest.mark.redis
@pytest.mark.mqtt
def test_readiness_against_real_redis_and_mqtt(db, client, redis_url: str, mqtt_url: str) -> None:
    with override_settings(REDIS_URL=redis_url, MQTT_URL=mqtt_url):
        response = client.get("/health/ready")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok"
    assert {name: check["status"] for name, check in body["checks"].items()} == {
        "database": "ok",
        "redis": "ok",
        "mqtt": "ok",
    }


@pytest.mark.redis
def test_readiness_reports_a_dead_service(db, client, redis_url: str) -> None:
    with override_settings(REDIS_URL=redis_url, MQTT_URL="mqtt://127.0.0.1:1"):
        response = client.get("/health/ready")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["redis"]["status"] == "ok"
    assert checks["mqtt"]["status"] == "error"
    assert checks["mqtt"]["detail"].startswith("ConnectionError")


@pytest.mark.redis
def test_redis_cache_backend_round_trip(redis_url: str) -> None:
    """Production's cache (locks, rate limits later on) is Django's Redis backend on a real server."""
    from django.core.cache.backends.redis import RedisCache

    cache = RedisCache(redis_url, {"KEY_PREFIX": "openvend-test"})
    cache.set("probe", {"fen": 1234}, timeout=30)
    assert cache.get("probe") == {"fen": 1234}
    assert (
        cache.incr("counter-" + str(os.getpid()), 1) if cache.add("counter-" + str(os.getpid()), 41) else True
    )
    cache.delete("probe")
    assert cache.get("probe") is None


@pytest.mark.mqtt
def test_mqtt_check_refuses_bad_url() -> None:
    with pytest.raises(ConnectionError):
        health.check_mqtt("mqtt://127.0.0.1:1", timeout=1)


def test_liveness(client) -> None:
    assert client.get("/health/live").json() == {"status": "ok"}


def test_production_logs_are_json_lines() -> None:
    result = _manage(
        PRODUCTION_ENV,
        "shell",
        "-c",
        "import logging; logging.getLogger('openvend.probe').warning('设备 %s 离线', 'CAB-1')",
    )
    line = [row for row in result.stderr.splitlines() if row.startswith("{")][-1]
    import json

    record = json.loads(line)
    assert record["event"] == "设备 CAB-1 离线"
    assert record["level"] == "warning"
    assert record["logger"] == "openvend.probe"
    assert record["timestamp"].endswith("Z")
