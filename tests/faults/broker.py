"""A Mosquitto broker (OpenVend's generated config, a free port) that can be stopped and started
again on the same port, the way an operator restarts the service, with the devices' credentials
written from the database as in production."""

from __future__ import annotations

import secrets
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests import services
from tests.gateway.conftest import GATEWAY_USERNAME, _Mosquitto


def _port_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


class RestartableMosquitto(_Mosquitto):
    """`start()` picks a free port; `restart()` stops the broker and starts it again on that port
    with the same files, so every client has to reconnect to the address it already knows."""

    username = GATEWAY_USERNAME

    def down(self) -> None:
        self.stop()
        deadline = time.monotonic() + self.timeout
        while _port_open(self.port):
            if time.monotonic() > deadline:
                raise RuntimeError("mosquitto still listens after stopping")
            time.sleep(0.02)

    def up(self) -> None:
        assert self.process is None and self.port, "start() it first, then down()"
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [self.binary, "-c", str(self.config_path)], stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + self.timeout
        while not _port_open(self.port):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"mosquitto did not come back on port {self.port}:\n{self.log()}")
            time.sleep(0.02)


def mosquitto_binary() -> str:
    binary = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin")
    if binary is None:
        if services.ci_mode():
            pytest.fail("Mosquitto is required when CI=true but is not installed.", pytrace=False)
        pytest.skip("Mosquitto is not installed here.")
    return binary


def start_mosquitto(directory: Path, settings: object) -> RestartableMosquitto:
    """Point the credential hooks at the broker's files (activations then write them) and start it."""
    password = secrets.token_urlsafe(16)
    server = RestartableMosquitto(mosquitto_binary(), directory, password)
    settings.MQTT_GATEWAY_USERNAME = GATEWAY_USERNAME  # type: ignore[attr-defined]
    settings.MQTT_GATEWAY_PASSWORD = password  # type: ignore[attr-defined]
    settings.MOSQUITTO_PASSWORD_FILE = str(server.password_path)  # type: ignore[attr-defined]
    settings.MOSQUITTO_ACL_FILE = str(server.acl_path)  # type: ignore[attr-defined]
    settings.MOSQUITTO_PID_FILE = str(server.pid_file)  # type: ignore[attr-defined]
    server.start()
    return server
