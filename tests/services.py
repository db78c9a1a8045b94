"""Finding the real services the suite talks to: PostgreSQL, Redis and an MQTT broker.

A service counts as present when its standard localhost port answers (or the TEST_*_URL
variable points at one). Redis and Mosquitto are spawned as throwaway servers when they
are installed but not running. Under CI=true a missing service is a failure, never a skip.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import tempfile
import time
from urllib.parse import urlparse


def ci_mode() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    return port_open(parsed.hostname or "127.0.0.1", parsed.port or default_port)


def _spawn(argv: list[str], port: int) -> bool:
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    atexit.register(process.terminate)
    for _ in range(50):
        if port_open("127.0.0.1", port):
            return True
        time.sleep(0.1)
    return False


def postgres_url() -> str | None:
    url = os.environ.get("TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/openvend")
    return url if _reachable(url, 5432) else None


_spawned: dict[str, str] = {}


def redis_url() -> str | None:
    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    if _reachable(url, 6379):
        return url
    if "redis" not in _spawned and shutil.which("redis-server"):
        port = _free_port()
        if _spawn(["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"], port):
            _spawned["redis"] = f"redis://127.0.0.1:{port}/15"
    return _spawned.get("redis")


def mqtt_url() -> str | None:
    url = os.environ.get("TEST_MQTT_URL", "mqtt://127.0.0.1:1883")
    if _reachable(url, 1883):
        return url
    if "mqtt" not in _spawned and shutil.which("mosquitto"):
        port = _free_port()
        conf = tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False)  # noqa: SIM115
        conf.write(f"listener {port} 127.0.0.1\nallow_anonymous true\n")
        conf.close()
        if _spawn(["mosquitto", "-c", conf.name], port):
            _spawned["mqtt"] = f"mqtt://127.0.0.1:{port}"
    return _spawned.get("mqtt")


def chromium_path() -> str | None:
    for candidate in (
        os.environ.get("CHROMIUM_PATH", ""),
        "/usr/bin/chromium",
        shutil.which("chromium") or "",
    ):
        if candidate and os.path.exists(candidate):
            return candidate
    return None
