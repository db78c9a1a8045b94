"""`openvend gateway`: the process between the broker and the database.

Threads: paho's network loop feeds a queue; the ingest worker drains it in batches and only then
acknowledges the messages to the broker (manual PUBACK), so a crash mid-batch means redelivery,
not loss; the dispatcher publishes pending commands; the sweeper runs the periodic checks.
Several gateways can run against one broker. Partitioned (the default): each receives every device
message and handles only its own devices' (`partition`), so one device's messages are stored by one
gateway in the order the device sent them, and its cumulative cloud ack never passes a message
another gateway still holds. Shared: a shared subscription splits the traffic message by message
(`shared_group`); the database's unique (device, seq) makes any overlap harmless, but one device's
messages may then commit out of order. See docs/adr/0002-gateways-own-devices.md.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
from django.db import close_old_connections, connection, transaction

from openvend.devices.commands import commands_due, commands_mark_sent
from openvend.gateway import protocol
from openvend.gateway.client import GatewayClient, Publish
from openvend.gateway.ingest import DeviceDirectory, Received, ingest_batch
from openvend.gateway.settlers import Settlers
from openvend.gateway.sweeps import run_sweeps
from openvend.gateway.wakeup import open_wakeup

logger = logging.getLogger(__name__)


@dataclass
class GatewayConfig:
    url: str
    username: str
    password: str
    shared_group: str = ""
    # (index, count): this gateway handles the devices whose code hashes to `index` of `count`
    # (protocol.partition_of_topic) and acknowledges the others' messages to the broker unread.
    # None: every device, or what the shared subscription gives it.
    partition: tuple[int, int] | None = None
    # A stable id gives the gateway a persistent session: messages delivered but not yet
    # acknowledged when it dies are redelivered when it comes back. Empty: a throwaway session.
    client_id: str = ""
    batch_size: int = 1000
    # How long a batch waits for more messages. Short: under load the queue fills while the last
    # batch commits, so batches grow by themselves; at rest a door event is not held back.
    batch_wait_s: float = 0.005
    # The dispatcher publishes a new command as soon as it is committed (see gateway/wakeup.py); the
    # poll interval only bounds how long a missed wake-up can delay one. False: the poll alone.
    dispatch_wakeup: bool = True
    dispatch_every_s: float = 0.5
    sweep_every_s: float = 5.0
    prune_every_s: float = 3600.0
    # Threads that settle door-closed visits off the ingest thread (gateway/settlers.py); 0: the
    # task queue settles them.
    settle_workers: int = 4


class Gateway:
    def __init__(self, config: GatewayConfig) -> None:
        if config.partition is not None:
            index, count = config.partition
            if not 0 <= index < count:
                raise ValueError(f"partition {index} of {count} does not exist")
            if config.shared_group:
                raise ValueError("a partitioned gateway receives every message: no shared group")
        self.config = config
        self.stats: Counter[str] = Counter()
        self.directory = DeviceDirectory()
        # Each entry is the messages of one socket read; a full queue stalls reading (back-pressure).
        self._queue: queue.Queue[list[tuple[Received, int, int]]] = queue.Queue(maxsize=200)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.settlers = Settlers(config.settle_workers, self.stats)
        self.connected = threading.Event()
        parsed = urlparse(config.url)
        self._host, self._port = parsed.hostname or "127.0.0.1", parsed.port or 1883
        self.client = GatewayClient(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=config.client_id or f"openvend-gw-{uuid.uuid4().hex[:10]}",
            clean_session=not config.client_id,
            manual_ack=True,
        )
        self.client.username_pw_set(config.username, config.password)
        self.client.max_inflight_messages_set(1000)
        self.client.on_connect = self._on_connect
        self.client.on_publishes = self._on_publishes

    # MQTT callbacks ------------------------------------------------------------------------
    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:
            logger.error("gateway connection refused: %s", reason)
            return
        topic = protocol.GATEWAY_SUBSCRIPTION
        if self.config.shared_group:
            topic = protocol.shared(self.config.shared_group, topic)
        client.subscribe(topic, qos=1)
        self.connected.set()

    def _on_publishes(self, publishes: list[Publish]) -> None:
        if self.config.partition is not None and self.config.partition[1] > 1:
            publishes = self._own(publishes, *self.config.partition)
            if not publishes:
                return
        self.stats["received"] += len(publishes)
        now = datetime.now(UTC)  # one socket read: these messages arrived together
        self._queue.put([(Received(topic, payload, now), mid, qos) for topic, payload, mid, qos in publishes])

    def _own(self, publishes: list[Publish], index: int, count: int) -> list[Publish]:
        """This gateway's devices' messages; the others' are another gateway's to store, so the
        broker may forget this copy at once."""
        own: list[Publish] = []
        others: list[int] = []
        for publish in publishes:
            if protocol.partition_of_topic(publish[0], count) == index:
                own.append(publish)
            elif publish[3] == 1:
                others.append(publish[2])
        self.client.ack_many(others)
        self.stats["other_partitions"] += len(publishes) - len(own)
        return own

    # Threads -------------------------------------------------------------------------------
    def start(self, *, wait: float = 10.0) -> Gateway:
        self.client.connect(self._host, self._port, keepalive=30)
        self.client.loop_start()
        self.settlers.start()  # before the ingest thread: the first batch's door closings go to them
        for name, target in (
            ("ingest", self._ingest_loop),
            ("dispatch", self._dispatch_loop),
            ("sweep", self._sweep_loop),
        ):
            thread = threading.Thread(target=self._guarded(target), name=f"gateway-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        if not self.connected.wait(wait):
            self.stop()
            raise ConnectionError(f"gateway could not connect to {self.config.url}")
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        self.settlers.stop()
        self.client.disconnect()
        self.client.loop_stop()

    def _guarded(self, loop: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            while not self._stop.is_set():
                try:
                    loop()
                except Exception:
                    self.stats["errors"] += 1
                    logger.exception("gateway loop failed; continuing")
                    close_old_connections()
                    time.sleep(0.5)
            connection.close()  # this thread's own connection; the database must not keep it

        return run

    def _next_batch(self) -> list[tuple[Received, int, int]]:
        try:
            batch = self._queue.get(timeout=0.2)
        except queue.Empty:
            return []
        deadline = time.monotonic() + self.config.batch_wait_s
        while len(batch) < self.config.batch_size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                batch.extend(self._queue.get(timeout=remaining))
            except queue.Empty:
                break
        return batch

    def _ingest_loop(self) -> None:
        while not self._stop.is_set():
            batch = self._next_batch()
            if not batch:
                continue
            result = self._ingest_until_stored([item for item, _mid, _qos in batch])
            # Committed: now the broker may forget these messages, and the devices their outboxes.
            self.client.ack_many(mid for _item, mid, qos in batch if qos == 1)
            for code, seq in result.acks.items():
                topic, payload = protocol.encode_cloud_ack(code, seq)
                self.client.publish(topic, payload, qos=1)
            self.stats.update(
                stored=result.stored,
                duplicates=result.duplicates,
                dead=result.dead,
                acks_sent=len(result.acks),
            )

    def _ingest_until_stored(self, items: list[Received]) -> Any:
        """Never drop a batch: it is not yet acknowledged to the broker, which would not send it
        again while this session lives. A database hiccup is retried with backoff."""
        delay = 0.1
        while True:
            try:
                return ingest_batch(items, self.directory)
            except Exception:
                self.stats["retries"] += 1
                logger.exception("ingest failed; retrying the batch")
                close_old_connections()
                if self._stop.wait(delay):
                    raise
                delay = min(delay * 2, 5.0)

    def _dispatch_loop(self) -> None:
        # Listening before the first pass: a command committed in between rings, it is not lost.
        wakeup = open_wakeup(enabled=self.config.dispatch_wakeup, stop=self._stop, stats=self.stats)
        try:
            while not self._stop.is_set():
                self._dispatch_due()
                if wakeup.wait(self.config.dispatch_every_s):
                    self.stats["dispatch_wakeups"] += 1
        finally:
            wakeup.close()

    def _dispatch_due(self) -> None:
        """One pass, two statements however many commands: the due rows with their devices, locked so
        other gateways' dispatchers skip them, and one update marking them sent before the commit."""
        with transaction.atomic():
            due = commands_due()
            for command in due:
                topic, payload = protocol.encode_command(
                    command.device.code,
                    id=str(command.pk),
                    kind=command.kind,
                    params=command.params,
                    ts=int(time.time() * 1000),
                    expires=int(command.expires_at.timestamp() * 1000),
                )
                self.client.publish(topic, payload, qos=1)
            commands_mark_sent(command.pk for command in due)
        self.stats["dispatch_passes"] += 1
        self.stats["commands_sent"] += len(due)

    def _sweep_loop(self) -> None:
        last_prune = time.monotonic()
        while not self._stop.wait(self.config.sweep_every_s):
            prune = time.monotonic() - last_prune >= self.config.prune_every_s
            run_sweeps(prune=prune)
            if prune:
                last_prune = time.monotonic()


ROUTINGS = ("partitioned", "shared")


def config_from_settings(
    url: str | None = None, *, index: int = 0, partitions: int = 1, first_partition: int = 0
) -> GatewayConfig:
    """Process `index` of this host's gateways. Partitioned (MQTT_GATEWAY_ROUTING): it takes partition
    `first_partition + index` of `partitions` (all the gateways of every host)."""
    import socket

    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    routing = settings.MQTT_GATEWAY_ROUTING
    if routing not in ROUTINGS:
        raise ImproperlyConfigured(f"MQTT_GATEWAY_ROUTING must be one of {ROUTINGS}, not {routing!r}")
    config = GatewayConfig(
        url=url or settings.MQTT_URL,
        username=settings.MQTT_GATEWAY_USERNAME,
        password=settings.MQTT_GATEWAY_PASSWORD,
    )
    if routing == "shared":
        config.shared_group = settings.MQTT_SHARED_GROUP
        config.client_id = f"openvend-gw-{socket.gethostname()[:40]}-{index}"
        return config
    partition = first_partition + index
    config.partition = (partition, partitions)
    # The session belongs to the partition, not the host: the messages the broker kept for it while
    # it was down go to whichever process takes it next, and two processes started for the same
    # partition take each other's connection instead of both storing its devices' messages.
    config.client_id = f"openvend-gw-{partition}-of-{partitions}"
    return config
