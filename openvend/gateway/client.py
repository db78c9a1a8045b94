"""The gateway's MQTT client: paho with a receive path built for one subscriber taking a flood.

paho reads every packet with three or more `recv` calls (the command byte, each remaining-length
byte, the body), runs one `select` per packet, builds an `MQTTMessage` per packet and queues each
PUBACK as its own write. Under the telemetry flood that network thread cost the gateway about as
much CPU as validating and storing the messages. Here the socket is read in large chunks, every
complete packet in a chunk is parsed in one pass, the chunk's PUBLISH packets reach one callback
together as plain values, and a committed batch is acknowledged with one write. Other packets
(CONNACK, SUBACK, PINGRESP, PUBACK of our own publishes) go through paho's own handlers, and
everything else (connect, subscribe, keepalive, reconnect, publish) is paho's. Pinned to paho-mqtt
2.2 and MQTT 3.1.1, which the gateway speaks.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable

import paho.mqtt.client as mqtt
from paho.mqtt.client import time_func
from paho.mqtt.exception import MalformedPacket

PUBLISH = 0x30
PUBACK = 0x40
_CHUNK = 256 * 1024
_MAX_REMAINING_LENGTH = 268_435_455  # four length bytes, MQTT 3.1.1 §2.2.3

Publish = tuple[str, bytes, int, int]  # topic, payload, mid, qos
OnPublishes = Callable[[list[Publish]], None]


class MalformedStream(Exception):
    pass


def _fixed_header(buffer: bytearray, pos: int, end: int) -> tuple[int, int] | None:
    """(header length, remaining length) of the packet at `pos`, or None while incomplete."""
    length, multiplier, index = 0, 1, pos + 1
    while index < end:
        byte = buffer[index]
        length += (byte & 0x7F) * multiplier
        index += 1
        if not byte & 0x80:
            return index - pos, length
        multiplier *= 128
        if index - pos > 4:
            raise MalformedStream("remaining length longer than four bytes")
    return None


def _in_packet(command: int, body: bytes) -> dict[str, object]:
    """paho's read state: one complete packet for its own handler, or (command 0) nothing read."""
    return {
        "command": command,
        "have_remaining": 1 if command else 0,
        "remaining_count": [],
        "remaining_mult": 1,
        "remaining_length": len(body),
        "packet": bytearray(body),
        "to_process": 0,
        "pos": 0,
    }


class GatewayClient(mqtt.Client):
    """paho's client with the fast receive path. Set `on_publishes(list of (topic, payload, mid,
    qos))`; with manual acknowledgement, pass the mids of QoS 1 messages to `ack_many` once the
    messages are committed."""

    on_publishes: OnPublishes | None = None

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._stream = bytearray()

    def reconnect(self) -> mqtt.MQTTErrorCode:
        self._stream = bytearray()  # a new connection starts a new byte stream
        return super().reconnect()

    def loop_read(self, max_packets: int = 1) -> mqtt.MQTTErrorCode:
        if self._sock is None:
            return mqtt.MQTTErrorCode.MQTT_ERR_NO_CONN
        try:
            chunk = self._sock_recv(_CHUNK)
        except BlockingIOError:
            return mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS
        except OSError:
            return self._loop_rc_handle(mqtt.MQTTErrorCode.MQTT_ERR_CONN_LOST)
        if not chunk:
            return self._loop_rc_handle(mqtt.MQTTErrorCode.MQTT_ERR_CONN_LOST)
        self._stream += chunk
        with self._msgtime_mutex:
            self._last_bytes_received = time_func()
        try:
            rc = self._handle_stream()
        except (MalformedStream, struct.error, UnicodeDecodeError):
            rc = mqtt.MQTTErrorCode.MQTT_ERR_PROTOCOL
        if rc:
            return self._loop_rc_handle(rc)
        return mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS

    def _handle_stream(self) -> mqtt.MQTTErrorCode:
        """Handle every complete packet in the buffer; keep a trailing partial one for the next read."""
        buffer, pos, end = self._stream, 0, len(self._stream)
        publishes: list[Publish] = []
        rc = mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS
        fast = self.on_publishes is not None and self._protocol == mqtt.MQTTv311
        while pos < end:
            header = _fixed_header(buffer, pos, end)
            if header is None:
                break
            header_length, remaining = header
            start = pos + header_length
            stop = start + remaining
            if stop > end:
                break
            command = buffer[pos]
            qos = (command >> 1) & 0x03
            if fast and command & 0xF0 == PUBLISH and qos < 2:
                (topic_length,) = struct.unpack_from("!H", buffer, start)
                cursor = start + 2 + topic_length
                topic = buffer[start + 2 : cursor].decode("utf-8")
                mid = 0
                if qos:
                    (mid,) = struct.unpack_from("!H", buffer, cursor)
                    cursor += 2
                publishes.append((topic, bytes(buffer[cursor:stop]), mid, qos))
            else:
                # Keep arrival order: what came before this packet reaches the gateway first.
                self._deliver(publishes)
                publishes = []
                rc = self._paho_handle(command, bytes(buffer[start:stop]))
                if rc:
                    break
            pos = stop
        del buffer[:pos]
        self._deliver(publishes)
        return rc

    def _paho_handle(self, command: int, body: bytes) -> mqtt.MQTTErrorCode:
        self._in_packet = _in_packet(command, body)  # type: ignore[assignment]
        try:
            return self._packet_handle()
        except MalformedPacket:
            return mqtt.MQTTErrorCode.MQTT_ERR_PROTOCOL
        finally:
            self._in_packet = _in_packet(0, b"")  # type: ignore[assignment]

    def _deliver(self, publishes: list[Publish]) -> None:
        if not publishes or self.on_publishes is None:
            return
        with self._in_callback_mutex:
            self.on_publishes(publishes)
        if not self._manual_ack:
            self.ack_many(mid for _topic, _payload, mid, qos in publishes if qos == 1)

    def ack_many(self, mids: Iterable[int]) -> None:
        """PUBACK every mid in one write (each is the 4-byte packet paho would send one by one)."""
        packet = b"".join(struct.pack("!BBH", PUBACK, 2, mid) for mid in mids)
        if packet:
            self._packet_queue(PUBACK, packet, 0, 0)
