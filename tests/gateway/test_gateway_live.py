"""The gateway against real brokers: device messages reach the database once, replays are
recognised, the last will marks a device offline, commands travel out and their ACKs back, and two
gateways on one shared subscription split the work without processing anything twice."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import paho.mqtt.client as mqtt
import pytest
from django.db import OperationalError
from paho.mqtt.enums import CallbackAPIVersion

from openvend.devices import commands
from openvend.devices.models import Command, DeviceMessage, DeviceState
from openvend.gateway import protocol
from openvend.gateway.runner import Gateway, GatewayConfig
from tests.devices.factories import activated_device
from tests.gateway.conftest import RunningBroker
from tests.gateway.conftest import wait_until as _wait_until
from tests.world import build_world

pytestmark = pytest.mark.django_db(transaction=True)


def wait_until(condition, timeout: float = 5.0, what: str = "condition") -> None:
    """Poll while the gateway writes. In-memory SQLite locks whole tables across threads and says
    so at once instead of waiting, so a locked read here just means "not yet"."""

    def attempt() -> bool:
        try:
            return bool(condition())
        except OperationalError:
            return False

    _wait_until(attempt, timeout=timeout, what=what)


class Device:
    """A hand-driven device: exact seqs, its last will, and what the cloud sends it."""

    def __init__(self, broker: RunningBroker, code: str, secret: str, *, will_seq: int = 1) -> None:
        self.code = code
        self.received: list[tuple[str, bytes]] = []
        self.connected = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=code, clean_session=True)
        self.client.username_pw_set(code, secret)
        will_topic, will = protocol.encode_up(
            code, "status", seq=will_seq, body={"online": False, "reason": "lwt"}
        )
        self.client.will_set(will_topic, will, qos=1, retain=True)
        self.client.on_connect = lambda c, u, f, reason, p: (
            c.subscribe(protocol.device_subscription(code), 1),
            self.connected.set(),
        )
        self.client.on_message = lambda c, u, m: self.received.append((m.topic, bytes(m.payload)))
        self.client.connect(broker.host, broker.port, keepalive=5)
        self.client.loop_start()
        assert self.connected.wait(5), "device did not connect"

    def send(self, type_: str, body: dict, seq: int) -> None:
        topic, payload = protocol.encode_up(self.code, type_, seq=seq, body=body)
        self.client.publish(topic, payload, qos=1).wait_for_publish(5)

    def acks(self) -> list[int]:
        return [protocol.decode_cloud_ack(p) for t, p in self.received if t.endswith("/down/ack")]

    def commands(self) -> list[dict]:
        return [protocol.decode_command(p) for t, p in self.received if t.endswith("/down/cmd")]

    def kill(self) -> None:
        """Lose the network without DISCONNECT: the broker must publish the last will."""
        self.client.socket().close()
        self.client.loop_stop()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _gateway(broker: RunningBroker, *, shared: bool = False) -> Gateway:
    group = "test-gw" if shared and broker.shared_subscriptions else ""
    config = GatewayConfig(
        url=broker.url,
        username=broker.gateway_username,
        password=broker.gateway_password,
        shared_group=group,
        dispatch_every_s=0.05,
        sweep_every_s=60,
    )
    return Gateway(config).start()


@pytest.fixture
def world(transactional_db):
    return build_world("live", "实时商户")


@pytest.fixture
def gateway(broker: RunningBroker, world) -> Iterator[Gateway]:
    gw = _gateway(broker)
    yield gw
    gw.stop()


def _device(broker: RunningBroker, world, code: str, **kwargs) -> Device:
    _record, secret = activated_device(world, code)
    broker.sync()
    return Device(broker, code, secret, **kwargs)


def test_messages_are_stored_once_and_acked(broker: RunningBroker, world, gateway: Gateway) -> None:
    device = _device(broker, world, "LIVE-0001", will_seq=10)
    device.send("status", {"online": True, "reason": "boot", "firmware": "3.0.1", "boot_id": "b-1"}, 11)
    device.send("telemetry", {"temperature_c": 4.4, "door": "closed", "lock": "locked"}, 12)
    device.send("event", {"kind": "door_opened", "session": "s-1"}, 13)
    device.send("event", {"kind": "door_opened", "session": "s-1"}, 13)  # a replay
    wait_until(lambda: 13 in device.acks(), what="the cloud ack for seq 13")
    wait_until(lambda: gateway.stats["duplicates"] == 1, what="the replay to be recognised")
    assert sorted(DeviceMessage.objects.values_list("seq", flat=True)) == [11, 12, 13]
    state = DeviceState.objects.get(device__code="LIVE-0001")
    assert (state.online, state.firmware, state.door, state.last_seq) == (True, "3.0.1", "open", 13)
    # Acked (once per batch) for the event and its replay, never for the status or telemetry seqs.
    assert set(device.acks()) == {13}
    device.close()


def test_last_will_marks_the_device_offline(broker: RunningBroker, world, gateway: Gateway) -> None:
    device = _device(broker, world, "LIVE-0002", will_seq=20)
    device.send("status", {"online": True, "reason": "boot", "firmware": "3.0.1", "boot_id": "b-2"}, 21)
    wait_until(
        lambda: DeviceState.objects.filter(device__code="LIVE-0002", online=True).exists(), what="online"
    )
    device.kill()
    wait_until(
        lambda: DeviceState.objects.filter(device__code="LIVE-0002", online=False).exists(),
        timeout=15,
        what="the last will to mark the device offline",
    )
    assert DeviceMessage.objects.filter(device__code="LIVE-0002", seq=20, type="status").exists()


def test_a_command_goes_out_and_its_ack_comes_back(broker: RunningBroker, world, gateway: Gateway) -> None:
    device = _device(broker, world, "LIVE-0003")
    from openvend.devices.models import Device as DeviceRow

    row = DeviceRow.objects.get(code="LIVE-0003")
    command = commands.command_send(
        actor=world.user("operations"), device=row, kind="set_temperature", params={"target_c": 5}
    )
    wait_until(lambda: device.commands(), what="the command to reach the device")
    received = device.commands()[0]
    assert (received["id"], received["kind"], received["params"]) == (
        str(command.pk),
        "set_temperature",
        {"target_c": 5},
    )
    device.send("ack", {"cmd_id": str(command.pk), "result": "ok", "data": {"target_c": 5}}, 2)
    wait_until(
        lambda: Command.objects.get(pk=command.pk).status == "succeeded", what="the ACK to finish the command"
    )
    wait_until(lambda: 2 in device.acks(), what="the cloud ack of the device's ack")
    device.close()


def test_a_device_cannot_publish_as_another(broker: RunningBroker, world, gateway: Gateway) -> None:
    # Both are registered before either connects: on the in-memory SQLite of the first pass, a row
    # written by the test while the gateway thread records a connection can meet a table lock.
    _record, intruder_secret = activated_device(world, "LIVE-0004")
    activated_device(world, "LIVE-0005")
    broker.sync()
    intruder = Device(broker, "LIVE-0004", intruder_secret)
    topic, payload = protocol.encode_up("LIVE-0005", "event", seq=1, body={"kind": "door_opened"})
    intruder.client.publish(topic, payload, qos=1).wait_for_publish(5)
    intruder.send("hb", {"uptime_s": 1}, 1)  # its own message, sent after the forged one
    wait_until(
        lambda: DeviceMessage.objects.filter(device__code="LIVE-0004").exists(), what="the intruder's own hb"
    )
    assert not DeviceMessage.objects.filter(device__code="LIVE-0005").exists()
    intruder.close()


def test_two_gateways_split_a_shared_subscription(mosquitto_broker: RunningBroker, world) -> None:
    # Registered before the gateways start: on the in-memory SQLite of the first pass, a row written
    # by the test while a gateway thread reads can meet a table lock.
    _record, secret = activated_device(world, "LIVE-0006")
    mosquitto_broker.sync()
    first, second = _gateway(mosquitto_broker, shared=True), _gateway(mosquitto_broker, shared=True)
    try:
        device = Device(mosquitto_broker, "LIVE-0006", secret)
        for seq in range(1, 201):
            topic, payload = protocol.encode_up("LIVE-0006", "hb", seq=seq, body={"uptime_s": seq})
            device.client.publish(topic, payload, qos=1)
        wait_until(
            lambda: DeviceMessage.objects.filter(device__code="LIVE-0006").count() == 200,
            timeout=15,
            what="all 200 messages stored",
        )
        wait_until(
            lambda: first.stats["stored"] + second.stats["stored"] == 200, what="both gateways' counters"
        )
        assert first.stats["duplicates"] + second.stats["duplicates"] == 0
        assert first.stats["stored"] > 0 and second.stats["stored"] > 0  # the broker really split the work
        assert DeviceState.objects.get(device__code="LIVE-0006").last_seq == 200
        device.close()
    finally:
        first.stop()
        second.stop()


def test_unknown_client_messages_are_never_stored(broker: RunningBroker, world, gateway: Gateway) -> None:
    """A refused login publishes nothing: nothing can reach the gateway without credentials."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"nobody-{uuid.uuid4().hex[:6]}")
    client.username_pw_set("NOBODY-01", "guess")
    refused = threading.Event()
    client.on_connect = lambda c, u, f, reason, p: refused.set() if reason.is_failure else None
    client.connect(broker.host, broker.port)
    client.loop_start()
    assert refused.wait(5)
    client.loop_stop()
    assert DeviceMessage.objects.count() == 0
