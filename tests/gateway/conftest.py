"""Real device brokers for the gateway tests: Mosquitto (a subprocess) and the embedded amqtt broker.

Both read device credentials from the test database from another thread or process, so tests
that use them need ``pytest.mark.django_db(transaction=True)``.
"""

from __future__ import annotations

import secrets
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from openvend.gateway.broker.embedded import EmbeddedBroker
from openvend.gateway.broker.process import MosquittoProcess
from tests import services

GATEWAY_USERNAME = "openvend-gateway"
DEADLINE = 5.0
# Starting or reloading a broker process: on a CI machine busy with other suites a reload has been
# seen to take longer than DEADLINE; a generous bound costs nothing when it is quick.
BROKER_DEADLINE = 20.0


def _missing(name: str) -> None:
    if services.ci_mode():
        pytest.fail(f"{name} is required when CI=true but is not installed.", pytrace=False)
    pytest.skip(f"{name} is not installed here.")


def wait_until(condition: Callable[[], bool], timeout: float = DEADLINE, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)


def connack_of(host: str, port: int, username: str, password: str) -> int:
    """CONNECT once and return the CONNACK reason code (paho's MQTT 5 numbering: 0 ok, 135 refused)."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"probe-{uuid.uuid4().hex[:12]}")
    client.username_pw_set(username, password)
    result: list[int] = []
    done = threading.Event()

    def on_connect(_c: mqtt.Client, _u: object, _f: object, reason: object, _p: object) -> None:
        result.append(int(getattr(reason, "value", reason)))  # type: ignore[call-overload]
        done.set()

    client.on_connect = on_connect
    client.connect(host, port)
    client.loop_start()
    try:
        if not done.wait(DEADLINE):
            raise AssertionError("no CONNACK")
        return result[0]
    finally:
        client.disconnect()
        client.loop_stop()


@dataclass
class RunningBroker:
    """What the tests need to know about a broker, including where the two brokers differ."""

    name: str
    host: str
    port: int
    gateway_username: str
    gateway_password: str
    # Mosquitto 2.0 grants every SUBSCRIBE and filters on delivery; amqtt refuses with 0x80.
    grants_every_subscription: bool
    shared_subscriptions: bool
    # The embedded broker reads the database on every CONNECT; Mosquitto needs sync().
    needs_sync: bool
    # Mosquitto drops connected clients whose credentials a reload invalidates; amqtt cannot.
    reload_disconnects_revoked: bool
    # Only the embedded broker can insist that a device's client id is its code.
    enforces_client_id: bool
    _sync: Callable[[], None] = field(repr=False, default=lambda: None)

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def sync(self) -> None:
        self._sync()


class _Mosquitto(MosquittoProcess):
    def __init__(self, binary: str, directory: Path, gateway_password: str) -> None:
        super().__init__(binary, directory, timeout=BROKER_DEADLINE)
        self.gateway_password = gateway_password

    def sync(self) -> None:
        self.reload()
        # Mosquitto logs the reload line and reloads in the same turn of its single-threaded loop:
        # any packet it answers afterwards was handled with the new files.
        assert connack_of("127.0.0.1", self.port, GATEWAY_USERNAME, self.gateway_password) == 0


def _mosquitto_binary() -> str | None:
    return shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin")


@pytest.fixture
def mosquitto_broker(transactional_db, settings, tmp_path) -> Iterator[RunningBroker]:
    binary = _mosquitto_binary()
    if binary is None:
        _missing("Mosquitto")
        raise AssertionError("unreachable")
    gateway_password = secrets.token_urlsafe(16)
    server = _Mosquitto(binary, tmp_path, gateway_password)
    settings.MQTT_GATEWAY_USERNAME = GATEWAY_USERNAME
    settings.MQTT_GATEWAY_PASSWORD = gateway_password
    # The services' own hook (notify_credentials_changed) then rewrites these files on every
    # activation, rotation and revocation, as in production.
    settings.MOSQUITTO_PASSWORD_FILE = str(server.password_path)
    settings.MOSQUITTO_ACL_FILE = str(server.acl_path)
    settings.MOSQUITTO_PID_FILE = str(server.pid_file)
    server.start()
    try:
        yield RunningBroker(
            name="mosquitto",
            host="127.0.0.1",
            port=server.port,
            gateway_username=GATEWAY_USERNAME,
            gateway_password=gateway_password,
            grants_every_subscription=True,
            shared_subscriptions=True,
            needs_sync=True,
            reload_disconnects_revoked=True,
            enforces_client_id=False,
            _sync=server.sync,
        )
    finally:
        server.stop()


@pytest.fixture
def embedded_broker(transactional_db, settings) -> Iterator[RunningBroker]:
    gateway_password = secrets.token_urlsafe(16)
    settings.MQTT_GATEWAY_USERNAME = GATEWAY_USERNAME
    settings.MQTT_GATEWAY_PASSWORD = gateway_password
    broker = EmbeddedBroker(
        "127.0.0.1", 0, gateway_username=GATEWAY_USERNAME, gateway_password=gateway_password
    )
    broker.start()
    try:
        yield RunningBroker(
            name="embedded",
            host=broker.host,
            port=broker.port,
            gateway_username=GATEWAY_USERNAME,
            gateway_password=gateway_password,
            grants_every_subscription=False,
            shared_subscriptions=False,
            needs_sync=False,
            reload_disconnects_revoked=False,
            enforces_client_id=True,
        )
    finally:
        broker.stop()


@pytest.fixture(params=["mosquitto", "embedded"])
def broker(request) -> RunningBroker:
    """Each test that asks for ``broker`` runs against both."""
    return request.getfixturevalue(f"{request.param}_broker")
