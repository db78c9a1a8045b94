"""The MQTT side of a simulated device (docs/device-protocol.md §2, §6): the connection with its last
will and birth, numbering and publishing, the outbox with its replays, and the cloud's acks.

Subclasses supply the firmware: what to do with a command (`_command`), once online (`_online`) and
how to come back after a refused CONNECT (`_reconnect_later`). State is guarded by one lock, and
everything is published under it, so one device's messages reach the broker in creation order.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import paho.mqtt.client as mqtt

from openvend.gateway import protocol
from openvend.simulator.outbox import OUTBOX_LIMIT, Outbox

logger = logging.getLogger(__name__)

# No cloud ack for this long while the outbox is not empty: replay it all again (§6.2).
RETRY_S = 300.0
# After a refused CONNECT (bad or revoked secret) a device waits at least 5 minutes (§2.1).
REFUSED_RETRY_S = 300.0
MAX_INFLIGHT = 20  # §2.2


class DeviceLink:
    def __init__(
        self,
        code: str,
        secret: str,
        url: str,
        *,
        keepalive: int = protocol.KEEPALIVE_S,
        firmware: str = "sim-1.0",
        retry_s: float = RETRY_S,
        refused_retry_s: float = REFUSED_RETRY_S,
        state_path: str | Path | None = None,
        outbox_limit: int = OUTBOX_LIMIT,
        clock_skew_ms: int = 0,
    ) -> None:
        if not protocol.is_device_code(code):
            raise ValueError(f"invalid device code {code!r}")
        parsed = urlparse(url)
        if parsed.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
            raise ValueError(f"unsupported broker URL {url!r}: use mqtt://host:port or mqtts://host:port")
        self.code, self.secret, self.url = code, secret, url
        self._host = parsed.hostname or "127.0.0.1"
        self._tls = parsed.scheme in ("mqtts", "ssl")
        self._port = parsed.port or (8883 if self._tls else 1883)
        self.keepalive, self.firmware = keepalive, firmware
        self.retry_s, self.refused_retry_s = retry_s, refused_retry_s
        self.clock_skew_ms = clock_skew_ms
        # Without a persisted counter, numbering starts at the wall clock in ms rather than at 1: a
        # simulated device is often recreated for a code the cloud already knows, and a counter that
        # went back would have every new message discarded as a replay (§4.2). Gaps are allowed.
        self.outbox = Outbox(state_path, limit=outbox_limit, first_seq=protocol.now_ms())
        self.counters: Counter[str] = Counter()
        self.connected = threading.Event()  # from the SUBACK until the connection is lost

        self._lock = threading.RLock()
        self._client: mqtt.Client | None = None
        self._ready = False  # birth published: new messages may go out
        self._boot_id = ""
        self._connects_this_boot = 0
        self._birth_seq = 0  # reserved with the will, at CONNECT
        self._subscribe_mid: int | None = None
        self._last_progress = 0.0  # monotonic time of the last cloud ack or outbox replay
        self._overflow_dropped = 0

    # Firmware hooks (called under the lock) -------------------------------------------------
    def _command(self, payload: bytes) -> None:
        raise NotImplementedError

    def _online(self) -> None:
        """Just connected: birth published and outbox replayed."""

    def _reconnect_later(self, delay_s: float) -> None:
        raise NotImplementedError

    # Connection -----------------------------------------------------------------------------
    def drop(self) -> None:
        """Lose the network without a DISCONNECT: the broker publishes the last will. The device
        keeps running (events queue in the outbox) until it is told to connect again."""
        with self._lock:
            client = self._client
            self._detach()
        if client is not None:
            kill_client(client)

    def wait_connected(self, timeout: float = 10.0) -> bool:
        return self.connected.wait(timeout)

    def _detach(self) -> None:
        self._client = None
        self._ready = False
        self.connected.clear()

    def _connect(self) -> None:
        """A new client for a new connection: callbacks from an older one find it replaced and stop."""
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=self.code, clean_session=False, protocol=mqtt.MQTTv311
        )
        client.username_pw_set(self.code, self.secret)
        if self._tls:
            client.tls_set()
        client.max_inflight_messages_set(MAX_INFLIGHT)
        client.reconnect_delay_set(min_delay=1, max_delay=60)
        client.on_pre_connect = self._on_pre_connect
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        with self._lock:
            if self._client is not None:
                return  # connected or connecting already
            self._client = client
        client.connect_async(self._host, self._port, keepalive=self.keepalive)
        client.loop_start()

    # MQTT callbacks (paho's network thread) ------------------------------------------------
    def _on_pre_connect(self, client: mqtt.Client, userdata: Any) -> None:
        # §2.3: the will takes seq w and the birth w + 1, both reserved now, at every attempt.
        with self._lock:
            _seq, topic, payload = self._encode("status", {"online": False, "reason": "lwt"})
            self._birth_seq = self.outbox.reserve_seq()
        client.will_set(topic, payload, qos=1, retain=True)

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            self._refused(client, reason)
            return
        with self._lock:
            if client is not self._client:
                return
            # Subscribe before the birth: the cloud may answer the birth with commands.
            _rc, self._subscribe_mid = client.subscribe(protocol.device_subscription(self.code), qos=1)
            birth = {
                "online": True,
                "reason": "boot" if self._connects_this_boot == 0 else "reconnect",
                "firmware": self.firmware,
                "boot_id": self._boot_id,
            }
            self._connects_this_boot += 1
            topic, payload = protocol.encode_up(
                self.code, "status", seq=self._birth_seq, body=birth, ts=self._machine_ms()
            )
            client.publish(topic, payload, qos=1, retain=True)
            self.counters["published.status"] += 1
            self._ready = True
            self.counters["connects"] += 1
            self._replay()
            self._online()

    def _refused(self, client: mqtt.Client, reason: Any) -> None:
        with self._lock:
            if client is not self._client:
                return
            self.counters["connect_refused"] += 1
            self._detach()
            self._reconnect_later(self.refused_retry_s)
        logger.warning("%s: broker refused the connection (%s); retrying later", self.code, reason)
        # From paho's own thread loop_stop() only flags the loop to end, which keeps paho from
        # retrying at once; the firmware comes back after the back-off instead.
        client.loop_stop()

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, reasons: Any, props: Any) -> None:
        with self._lock:
            if client is self._client and mid == self._subscribe_mid and self._ready:
                self.connected.set()

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        with self._lock:
            if client is not self._client:
                return
            self._ready = False
            self.connected.clear()
            self.counters["disconnects"] += 1

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        payload = bytes(message.payload)
        with self._lock:
            if client is not self._client:
                return
            if message.topic.endswith("/down/ack"):
                self._cloud_ack(payload)
            elif message.topic.endswith("/down/cmd"):
                self._command(payload)
            # Other down/ subtopics are ignored, so later protocol additions break nothing (§3).

    def _cloud_ack(self, payload: bytes) -> None:
        try:
            upto = protocol.decode_cloud_ack(payload)
        except protocol.ProtocolError as exc:
            self.counters["bad_cloud_acks"] += 1
            logger.warning("%s: bad cloud ack: %s", self.code, exc)
            return
        self.counters["acks_received"] += 1
        self._last_progress = time.monotonic()
        self.counters["outbox_pruned"] += self.outbox.prune(upto)
        if self._overflow_dropped and len(self.outbox) < self.outbox.limit:
            dropped, self._overflow_dropped = self._overflow_dropped, 0
            detail = {"component": "outbox", "code": "overflow", "dropped": dropped}
            self._publish("event", {"kind": "fault", "detail": detail})

    # Publishing (callers hold the lock) ----------------------------------------------------
    def _machine_ms(self) -> int:
        return protocol.now_ms() + self.clock_skew_ms

    def _encode(self, type: str, body: dict[str, Any]) -> tuple[int, str, bytes]:
        seq = self.outbox.reserve_seq()
        topic, payload = protocol.encode_up(self.code, type, seq=seq, body=body, ts=self._machine_ms())
        return seq, topic, payload

    def _send(
        self, topic: str, payload: bytes, *, qos: int, retain: bool = False
    ) -> mqtt.MQTTMessageInfo | None:
        client = self._client
        if client is None or not self._ready:
            return None
        return client.publish(topic, payload, qos=qos, retain=retain)

    def _publish(self, type: str, body: dict[str, Any]) -> mqtt.MQTTMessageInfo | None:
        """A new message. Events and acks go to the outbox first and leave it only on the cloud's ack;
        status, heartbeats and telemetry are lost while offline, as the protocol intends."""
        seq, topic, payload = self._encode(type, body)
        self.counters[f"published.{type}"] += 1
        if type in protocol.STORED_TYPES:
            dropped = self.outbox.add(seq, topic, payload)
            self._overflow_dropped += dropped
            self.counters["outbox_dropped"] += dropped
        return self._send(topic, payload, qos=protocol.UP_QOS[type], retain=protocol.UP_RETAIN[type])

    def _replay(self) -> None:
        """The whole outbox, in seq order, byte for byte as first sent (§6.2)."""
        for entry in self.outbox.entries():
            self._send(entry.topic, entry.payload, qos=1)
            self.counters["replayed"] += 1
        self._last_progress = time.monotonic()

    def _replay_if_stalled(self, now: float) -> float:
        """Replay again when the cloud has acknowledged nothing for retry_s; when to look next."""
        if not self._ready or not len(self.outbox):
            return now + self.retry_s
        if now - self._last_progress >= self.retry_s:
            self.counters["replays_stalled"] += 1
            self._replay()
        return self._last_progress + self.retry_s

    # Introspection ------------------------------------------------------------------------
    @property
    def outbox_size(self) -> int:
        with self._lock:
            return len(self.outbox)

    def outbox_seqs(self) -> list[int]:
        with self._lock:
            return self.outbox.seqs()

    @property
    def boot_id(self) -> str:
        return self._boot_id

    def stats(self) -> dict[str, int]:
        with self._lock:
            return dict(self.counters)

    def published(self) -> dict[str, int]:
        """Messages created per type (each seq once; replays and the will not included)."""
        with self._lock:
            prefix = "published."
            return {k[len(prefix) :]: v for k, v in self.counters.items() if k.startswith(prefix)}


def kill_client(client: mqtt.Client) -> None:
    """Stop a client's network thread and close its socket without DISCONNECT.

    paho has no abrupt stop: loop_stop() waits for in-flight QoS 1 messages and a select() timeout,
    and disconnect() is polite. Flagging the thread first and shutting the socket makes the loop
    exit at once without reconnecting, and the broker sees a lost connection."""
    client._thread_terminate = True
    sock = client.socket()
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    client.loop_stop()
