"""Devices on the real broker: a scripted one that sends exactly the messages (and sequence numbers)
a test gives it, and the simulator's cabinet, which answers the cloud's door commands by itself."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from openvend.gateway import protocol
from openvend.simulator.device import SimulatedDevice

DEADLINE_S = 10.0
SENSORS = ["s1-1", "s2-1"]


def wait_until(
    check: Callable[[], bool], timeout_s: float = DEADLINE_S, what: str | Callable[[], str] = "the change"
) -> None:
    """Poll `check`; on timeout, fail naming `what` (a callable is asked only then, for a fresh report)."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout_s} s waiting for {what() if callable(what) else what}"
            )
        time.sleep(0.02)


class ScriptedDevice:
    """Publishes what it is told with the seq it is told (QoS 1, waiting for the broker's PUBACK) and
    records the cloud's acks and commands. `reconnect()` is a new connection of the same device."""

    def __init__(self, host: str, port: int, code: str, secret: str) -> None:
        self.host, self.port, self.code, self.secret = host, port, code, secret
        self.received: list[tuple[str, bytes]] = []
        self.client: mqtt.Client | None = None
        self.connect()

    def connect(self) -> None:
        connected = threading.Event()
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.code, clean_session=True)
        client.username_pw_set(self.code, self.secret)

        def on_connect(c: mqtt.Client, _u: object, _f: object, _reason: object, _p: object) -> None:
            c.subscribe(protocol.device_subscription(self.code), 1)
            connected.set()

        client.on_connect = on_connect
        client.on_message = lambda c, u, m: self.received.append((m.topic, bytes(m.payload)))
        client.connect(self.host, self.port, keepalive=10)
        client.loop_start()
        assert connected.wait(DEADLINE_S), f"{self.code} did not connect"
        self.client = client

    def close(self) -> None:
        if self.client is not None:
            self.client.disconnect()
            self.client.loop_stop()
            self.client = None

    def reconnect(self) -> None:
        """A new connection that remembers nothing the cloud sent to the previous one."""
        self.close()
        self.received.clear()
        self.connect()

    def event(self, seq: int, kind: str, session: str, **detail: object) -> None:
        assert self.client is not None
        topic, payload = protocol.encode_up(
            self.code, "event", seq=seq, body={"kind": kind, "session": session, "detail": detail}
        )
        self.client.publish(topic, payload, qos=1).wait_for_publish(DEADLINE_S)

    def acks(self) -> list[int]:
        return [protocol.decode_cloud_ack(p) for t, p in self.received if t.endswith("/down/ack")]

    def acked(self, seq: int) -> bool:
        return any(upto >= seq for upto in self.acks())


def simulated_cabinet(url: str, code: str, secret: str, *, door_open_s: float = 1.5) -> SimulatedDevice:
    """The simulator's cabinet with the two load cells the test planogram uses. It opens its door as
    soon as the open-door command arrives and shuts it `door_open_s` later."""
    return SimulatedDevice(
        code, secret, url, sensors=SENSORS, door_open_s=door_open_s, relock_s=0.2, retry_s=1.0, seed=7
    ).start()
