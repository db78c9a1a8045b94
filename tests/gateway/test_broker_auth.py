"""Device authentication and topic ACL on real brokers: Mosquitto 2 (generated files) and the
embedded amqtt broker, driven by paho-mqtt clients over TCP.

"Not delivered" is checked with a fence: after the forbidden message the same sender sends an
allowed one on the same connection, and once the fence arrives the forbidden one cannot still be
on its way. No test sleeps for a guessed time.
"""

from __future__ import annotations

import socket
import stat
import subprocess
import threading
import uuid
from dataclasses import dataclass

import paho.mqtt.client as mqtt
import pytest
from django.conf import settings
from paho.mqtt.enums import CallbackAPIVersion

from openvend.devices import services as devices
from openvend.devices.choices import DeviceStatus, DeviceType
from openvend.devices.credentials import verify_secret
from openvend.devices.models import Device, DeviceKind
from openvend.gateway.broker import acl
from openvend.gateway.broker.embedded import EmbeddedBroker
from openvend.gateway.broker.mosquitto import render_acl_file, sync_mosquitto
from tests.gateway.conftest import DEADLINE, RunningBroker, connack_of, wait_until

pytestmark = [pytest.mark.mqtt, pytest.mark.django_db(transaction=True)]

ACCEPTED = 0
NOT_AUTHORISED = 135  # CONNACK 5 in MQTT 3.1.1, as paho numbers it
GRANTED_QOS1 = 1
SUBACK_FAILURE = 0x80
UP = "ov/v1/d/{code}/up/{kind}"
DOWN = "ov/v1/d/{code}/down/{kind}"


class Client:
    """A paho client that records everything it is told, with bounded waits."""

    def __init__(
        self,
        broker: RunningBroker,
        username: str | None,
        password: str | None,
        *,
        client_id: str | None = None,
        will_topic: str | None = None,
    ) -> None:
        self.broker = broker
        self.client_id = client_id if client_id is not None else f"t-{uuid.uuid4().hex[:12]}"
        # One connection per client: a refused or dropped client must not come back on its own.
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=mqtt.MQTTv311,
            reconnect_on_failure=False,
        )
        if username is not None:
            self.client.username_pw_set(username, password)
        if will_topic is not None:
            self.client.will_set(will_topic, b"offline", qos=1)
        self._lock = threading.Lock()
        self.messages: list[tuple[str, bytes]] = []
        self.subacks: dict[int, list[int]] = {}
        self.connack: int | None = None
        self.connected = threading.Event()
        self.answered = threading.Event()
        self.disconnected = threading.Event()
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe

    def _on_connect(self, _c, _u, _flags, reason, _props) -> None:
        if self.connack is None:
            self.connack = int(reason.value)
            if not reason.is_failure:
                self.connected.set()
            self.answered.set()

    def _on_disconnect(self, _c, _u, _flags, _reason, _props) -> None:
        self.disconnected.set()
        self.answered.set()

    def _on_message(self, _c, _u, message) -> None:
        with self._lock:
            self.messages.append((message.topic, bytes(message.payload)))

    def _on_subscribe(self, _c, _u, mid, reasons, _props) -> None:
        with self._lock:
            self.subacks[mid] = [int(reason.value) for reason in reasons]

    def connect(self) -> int | None:
        self.client.connect(self.broker.host, self.broker.port, keepalive=30)
        self.client.loop_start()
        assert self.answered.wait(DEADLINE), "no CONNACK"
        return self.connack

    def subscribe(self, *filters: str) -> list[int]:
        result, mid = self.client.subscribe([(topic_filter, 1) for topic_filter in filters])
        assert result == mqtt.MQTT_ERR_SUCCESS
        wait_until(lambda: mid in self.subacks, what="SUBACK")
        return self.subacks[mid]

    def publish(self, topic: str, payload: bytes = b"x", *, retain: bool = False) -> None:
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        info.wait_for_publish(DEADLINE)
        assert info.is_published()  # PUBACK: the broker has handled it, allowed or not

    def wait_for(self, topic: str) -> None:
        wait_until(lambda: topic in self.topics(), what=f"a message on {topic}")

    def topics(self) -> list[str]:
        with self._lock:
            return [topic for topic, _payload in self.messages]

    def kill(self) -> None:
        """Drop the TCP connection without DISCONNECT, as a device losing power would."""
        sock = self.client.socket()
        assert sock is not None
        sock.shutdown(socket.SHUT_RDWR)  # wakes paho's loop, which then ends (no reconnect)
        assert self.disconnected.wait(DEADLINE)
        self.client.loop_stop()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def clients(broker: RunningBroker):
    made: list[Client] = []

    def make(username: str | None, password: str | None, **options) -> Client:
        client = Client(broker, username, password, **options)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@dataclass
class Issued:
    device: Device
    code: str
    secret: str


def make_kind() -> DeviceKind:
    return DeviceKind.objects.create(code="test-cabinet", name="Cabinet", type=DeviceType.GRAVITY_CABINET)


@pytest.fixture
def issued(broker: RunningBroker, world_a, world_b) -> dict[str, Issued]:
    """Two activated devices of two merchants; "CAB1" is a prefix of "CAB10" on purpose."""
    kind = make_kind()
    result: dict[str, Issued] = {}
    for code, world in (("CAB1", world_a), ("CAB10", world_b)):
        devices.device_register(actor=None, code=code, kind=kind)
        device, secret = devices.device_activate(actor=None, merchant=world.merchant, code=code)
        result[code] = Issued(device=device, code=code, secret=secret)
    broker.sync()
    return result


def connect_device(clients, item: Issued, **options) -> Client:
    client = clients(item.code, item.secret, client_id=item.code, **options)
    assert client.connect() == ACCEPTED
    return client


def connect_gateway(clients, broker: RunningBroker) -> Client:
    client = clients(broker.gateway_username, broker.gateway_password)
    assert client.connect() == ACCEPTED
    return client


def test_device_connects_with_its_issued_secret(broker, issued, clients) -> None:
    for item in issued.values():
        assert clients(item.code, item.secret, client_id=item.code).connect() == ACCEPTED
    assert clients(broker.gateway_username, broker.gateway_password).connect() == ACCEPTED


@pytest.mark.parametrize(
    "case",
    [
        "wrong secret",
        "another device's secret",
        "unknown username",
        "username in another case",
        "anonymous",
        "empty password",
        "gateway with a device's secret",
    ],
)
def test_refused_connections(broker, issued, clients, case: str) -> None:
    a, b = issued["CAB1"], issued["CAB10"]
    username, password, client_id = {
        "wrong secret": (a.code, a.secret + "x", a.code),
        "another device's secret": (a.code, b.secret, a.code),
        "unknown username": ("CAB9", a.secret, "CAB9"),
        "username in another case": ("cab1", a.secret, "cab1"),
        "anonymous": (None, None, None),
        "empty password": (a.code, "", a.code),
        "gateway with a device's secret": (broker.gateway_username, a.secret, None),
    }[case]
    client = clients(username, password, client_id=client_id)
    assert client.connect() == NOT_AUTHORISED
    assert not client.connected.is_set()


def test_device_publishes_only_on_its_own_up_topics(broker, issued, clients) -> None:
    gateway = connect_gateway(clients, broker)
    assert gateway.subscribe("ov/v1/d/+/up/#") == [GRANTED_QOS1]
    a = connect_device(clients, issued["CAB1"])
    forbidden = [
        UP.format(code="CAB10", kind="status"),  # another device, whose code extends ours
        "ov/v1/d/CAB1/up/unknown",
        "ov/v1/d/CAB1/up/status/extra",
        "ov/v1/d/CAB1/down/cmd",
    ]
    for topic in forbidden:
        a.publish(topic)
    gateway.publish(UP.format(code="CAB1", kind="status"))  # the gateway may not speak for a device
    gateway.publish(UP.format(code=broker.gateway_username, kind="status"))  # nor be one
    fence = UP.format(code="CAB1", kind="hb")
    a.publish(fence)
    gateway.wait_for(fence)
    assert gateway.topics() == [fence]
    for kind in ("status", "telemetry", "event", "ack"):
        a.publish(UP.format(code="CAB1", kind=kind))
        gateway.wait_for(UP.format(code="CAB1", kind=kind))
    assert len(gateway.topics()) == 5


def test_device_cannot_listen_to_another_device(broker, issued, clients) -> None:
    a = connect_device(clients, issued["CAB1"])
    b = connect_device(clients, issued["CAB10"])
    hostile = [
        "ov/v1/d/CAB10/down/#",
        "ov/v1/d/CAB10/down/cmd",
        "ov/v1/d/+/down/#",
        "ov/v1/d/+/down/cmd",
        "#",
        "$share/x/ov/v1/d/CAB10/down/#",
    ]
    refused = GRANTED_QOS1 if broker.grants_every_subscription else SUBACK_FAILURE
    assert a.subscribe(*hostile) == [refused] * len(hostile)
    assert a.subscribe("ov/v1/d/CAB1/down/#") == [GRANTED_QOS1]
    assert b.subscribe("ov/v1/d/CAB10/down/cmd") == [GRANTED_QOS1]

    gateway = connect_gateway(clients, broker)
    gateway.publish(DOWN.format(code="CAB10", kind="cmd"), b"open door")
    gateway.publish("ov/v1/d/CAB1/down/other")  # under A's down/#, but not a v1 down topic
    fence = DOWN.format(code="CAB1", kind="cmd")
    gateway.publish(fence)
    a.wait_for(fence)
    b.wait_for(DOWN.format(code="CAB10", kind="cmd"))
    assert set(a.topics()) == {fence}
    assert b.messages == [(DOWN.format(code="CAB10", kind="cmd"), b"open door")]


def test_gateway_shared_subscription(broker, issued, clients) -> None:
    gateway = connect_gateway(clients, broker)
    shared = f"$share/{settings.MQTT_SHARED_GROUP}/ov/v1/d/+/up/#"
    if not broker.shared_subscriptions:
        # amqtt 0.12 would take the filter literally and never deliver: refused instead.
        assert gateway.subscribe(shared) == [SUBACK_FAILURE]
        return
    assert gateway.subscribe(shared) == [GRANTED_QOS1]
    a = connect_device(clients, issued["CAB1"])
    topic = UP.format(code="CAB1", kind="telemetry")
    a.publish(topic, b"t=4")
    gateway.wait_for(topic)
    assert gateway.messages == [(topic, b"t=4")]


def test_rotation_refuses_the_old_secret_and_accepts_the_new(broker, issued, clients) -> None:
    item = issued["CAB1"]
    live = connect_device(clients, item)
    new_secret = devices.device_credentials_rotate(actor=None, device=item.device)
    broker.sync()  # a no-op for the embedded broker: it reads the database on every CONNECT
    assert clients(item.code, item.secret, client_id=item.code).connect() == NOT_AUTHORISED
    if broker.reload_disconnects_revoked:
        assert live.disconnected.wait(DEADLINE)
    assert clients(item.code, new_secret, client_id=item.code).connect() == ACCEPTED
    # The other device is untouched.
    other = issued["CAB10"]
    assert clients(other.code, other.secret, client_id=other.code).connect() == ACCEPTED


def test_revoked_or_disabled_device_is_refused(broker, issued, clients) -> None:
    a, b = issued["CAB1"], issued["CAB10"]
    devices.device_credentials_revoke(actor=None, device=a.device)
    # Disabled without touching its credential: the device's status alone must shut it out.
    Device.objects.filter(pk=b.device.pk).update(status=DeviceStatus.DISABLED)
    broker.sync()
    assert clients(a.code, a.secret, client_id=a.code).connect() == NOT_AUTHORISED
    assert clients(b.code, b.secret, client_id=b.code).connect() == NOT_AUTHORISED


def test_device_client_id_must_be_its_code(broker, issued, clients) -> None:
    a = issued["CAB1"]
    expected = NOT_AUTHORISED if broker.enforces_client_id else ACCEPTED
    assert clients(a.code, a.secret, client_id="CAB10").connect() == expected
    assert clients(a.code, a.secret, client_id=f"sim-{a.code}").connect() == expected


def test_refused_client_cannot_disturb_a_connected_device(broker, issued, clients) -> None:
    b = issued["CAB10"]
    device = connect_device(clients, b)
    assert device.subscribe("ov/v1/d/CAB10/down/cmd") == [GRANTED_QOS1]
    intruder = clients(b.code, "not-the-secret", client_id=b.code)
    assert intruder.connect() == NOT_AUTHORISED
    gateway = connect_gateway(clients, broker)
    gateway.publish(DOWN.format(code="CAB10", kind="cmd"))
    device.wait_for(DOWN.format(code="CAB10", kind="cmd"))
    assert not device.disconnected.is_set()


def test_retained_messages_follow_the_acl(broker, issued, clients) -> None:
    gateway = connect_gateway(clients, broker)
    assert gateway.subscribe("ov/v1/d/+/up/#") == [GRANTED_QOS1]
    b = connect_device(clients, issued["CAB10"])
    status = UP.format(code="CAB10", kind="status")
    b.publish(status, b"online", retain=True)
    gateway.wait_for(status)
    gateway.publish(DOWN.format(code="CAB10", kind="cmd"), b"retained", retain=True)

    a = connect_device(clients, issued["CAB1"])
    assert a.subscribe("ov/v1/d/CAB1/down/#") == [GRANTED_QOS1]
    fence = DOWN.format(code="CAB1", kind="cmd")
    gateway.publish(fence)
    a.wait_for(fence)
    assert a.topics() == [fence]


def test_will_only_on_the_device_own_status(broker, issued, clients) -> None:
    gateway = connect_gateway(clients, broker)
    assert gateway.subscribe("ov/v1/d/+/up/#") == [GRANTED_QOS1]
    a = issued["CAB1"]
    forger = connect_device(clients, a, will_topic=UP.format(code="CAB10", kind="status"))
    forger.kill()
    # Same client id: the broker has finished with the first connection (and its will) before
    # it accepts this one.
    honest = connect_device(clients, a, will_topic=UP.format(code="CAB1", kind="status"))
    honest.kill()
    gateway.wait_for(UP.format(code="CAB1", kind="status"))
    assert gateway.topics() == [UP.format(code="CAB1", kind="status")]


UPWARD_CANDIDATES = [
    *(UP.format(code="CAB1", kind=kind) for kind in ("status", "hb", "telemetry", "event", "ack")),
    UP.format(code="CAB10", kind="status"),
    UP.format(code="cab1", kind="status"),
    "ov/v1/d/CAB1/up",
    "ov/v1/d/CAB1/up/",
    "ov/v1/d/CAB1/up/status/x",
    "ov/v1/d/CAB1/up/stätus",
    "ov/v1/d//up/status",
    "ov/v1/d/CAB1/down/cmd",
    "ov/v2/d/CAB1/up/status",
    "/ov/v1/d/CAB1/up/status",
]
DOWNWARD_CANDIDATES = [
    DOWN.format(code="CAB1", kind="cmd"),
    DOWN.format(code="CAB1", kind="ack"),
    DOWN.format(code="CAB10", kind="cmd"),
    DOWN.format(code="cab1", kind="cmd"),
    "ov/v1/d/CAB1/down",
    "ov/v1/d/CAB1/down/other",
    "ov/v1/d/CAB1/down/cmd/x",
    "ov/v1/d/CAB1/down/ｃmd",
    "ov/v1/d/CAB1/up/status",
    "ov/v1/d/openvend-gateway/down/cmd",
]


def test_delivery_is_exactly_what_acl_py_allows(broker, issued, clients) -> None:
    """Every candidate topic, both directions: the broker delivers exactly the acl.py set."""
    gateway = connect_gateway(clients, broker)
    assert gateway.subscribe("ov/v1/d/+/up/#") == [GRANTED_QOS1]
    device = connect_device(clients, issued["CAB1"])
    widest = ["#", "ov/v1/d/CAB1/down/#"] if broker.grants_every_subscription else ["ov/v1/d/CAB1/down/#"]
    device.subscribe(*widest)

    for topic in UPWARD_CANDIDATES:
        device.publish(topic, b"candidate")
    device.publish(UP.format(code="CAB1", kind="hb"), b"fence")
    wait_until(lambda: (UP.format(code="CAB1", kind="hb"), b"fence") in gateway.messages, what="fence")
    upward = {topic for topic, payload in gateway.messages if payload == b"candidate"}
    assert upward == {
        topic
        for topic in UPWARD_CANDIDATES
        if acl.device_may_publish("CAB1", topic)
        and acl.gateway_may_receive(topic, gateway_username=broker.gateway_username)
    }
    assert len(upward) == 5

    for topic in DOWNWARD_CANDIDATES:
        gateway.publish(topic, b"candidate")
    gateway.publish(DOWN.format(code="CAB1", kind="cmd"), b"fence")
    wait_until(lambda: (DOWN.format(code="CAB1", kind="cmd"), b"fence") in device.messages, what="fence")
    downward = {topic for topic, payload in device.messages if payload == b"candidate"}
    assert downward == {
        topic
        for topic in DOWNWARD_CANDIDATES
        if acl.gateway_may_publish(topic, gateway_username=broker.gateway_username)
        and acl.device_may_receive("CAB1", topic)
    }
    assert downward == {DOWN.format(code="CAB1", kind="cmd"), DOWN.format(code="CAB1", kind="ack")}


def _activate(merchant, code: str, kind: DeviceKind) -> tuple[Device, str]:
    devices.device_register(actor=None, code=code, kind=kind)
    return devices.device_activate(actor=None, merchant=merchant, code=code)


def test_sync_mosquitto_writes_both_files(world_a, settings, tmp_path) -> None:
    kind = make_kind()
    active, _secret = _activate(world_a.merchant, "CAB1", kind)
    revoked, _secret = _activate(world_a.merchant, "CAB10", kind)
    devices.device_credentials_revoke(actor=None, device=revoked)
    disabled, _secret = _activate(world_a.merchant, "CAB2", kind)
    Device.objects.filter(pk=disabled.pk).update(status=DeviceStatus.DISABLED)
    impostor, _secret = _activate(world_a.merchant, "openvend-gateway", kind)
    settings.MQTT_GATEWAY_USERNAME = "openvend-gateway"
    settings.MQTT_GATEWAY_PASSWORD = "gateway-secret"
    passwords, acl_file = tmp_path / "passwords", tmp_path / "acl"
    # A pid file naming a live process that is not Mosquitto: it must not get SIGHUP (it would die).
    bystander = subprocess.Popen(["sleep", "30"])
    pid_file = tmp_path / "mosquitto.pid"
    pid_file.write_text(f"{bystander.pid}\n")
    try:
        count = sync_mosquitto(password_path=passwords, acl_path=acl_file, pid_file=pid_file)
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()
    assert count == 1
    entries = dict(line.split(":", 1) for line in passwords.read_text().splitlines())
    assert sorted(entries) == ["CAB1", "openvend-gateway"]
    assert entries["CAB1"] == active.credentials.get(revoked_at__isnull=True).secret_hash
    assert verify_secret("gateway-secret", entries["openvend-gateway"])  # the gateway, not the device
    assert acl_file.read_text() == render_acl_file("openvend-gateway")
    for path in (passwords, acl_file):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # and the writers' lock beside them
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == [".passwords.lock", "acl", "mosquitto.pid", "passwords"]

    settings.MQTT_GATEWAY_PASSWORD = ""  # never an entry that an empty password would open
    pid_file.write_text("not a pid")
    assert sync_mosquitto(password_path=passwords, acl_path=acl_file, pid_file=pid_file) == 1
    assert [line.split(":", 1)[0] for line in passwords.read_text().splitlines()] == ["CAB1"]
    assert impostor.code == "openvend-gateway"


def test_embedded_broker_start_failures(embedded_broker) -> None:
    with pytest.raises(ValueError):
        EmbeddedBroker(gateway_username="openvend-gateway", gateway_password="")
    taken = EmbeddedBroker(
        "127.0.0.1", embedded_broker.port, gateway_username="openvend-gateway", gateway_password="x"
    )
    with pytest.raises(RuntimeError):
        taken.start()
    assert embedded_broker.url == f"mqtt://127.0.0.1:{embedded_broker.port}"
    port, password = embedded_broker.port, embedded_broker.gateway_password
    assert connack_of("127.0.0.1", port, "openvend-gateway", password) == 0  # the first one still serves
