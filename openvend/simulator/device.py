"""A simulated cabinet that speaks device protocol v1 to a real MQTT broker.

Two threads per device: paho's network loop (connection callbacks, cloud acks and commands, see
`link.py`) and a ticker that publishes heartbeats and telemetry, runs timers (the door cycle, a
reboot, on-change telemetry) and replays a stalled outbox. Both take the device lock first.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from openvend.gateway import protocol
from openvend.simulator import commands
from openvend.simulator.behaviour import STATE_KEYS, Cabinet, Event
from openvend.simulator.link import REFUSED_RETRY_S, RETRY_S, DeviceLink, kill_client
from openvend.simulator.outbox import OUTBOX_LIMIT

logger = logging.getLogger(__name__)

CHANGE_MIN_S = 5.0  # on-change telemetry at most this often (§5.3)
TEMPERATURE_CHANGE_C = 0.5  # the suggested on-change threshold


class SimulatedDevice(DeviceLink):
    """One cabinet. `start()` powers it on and connects, `stop()` powers it off, `drop()` loses the
    network; `take()`/`put()` move goods; `inject()`/`heal()` break and repair it."""

    def __init__(
        self,
        code: str,
        secret: str,
        url: str,
        *,
        sensors: list[str] | None = None,
        heartbeat_s: float = protocol.HEARTBEAT_INTERVAL_S,
        telemetry_s: float = protocol.TELEMETRY_INTERVAL_S,
        keepalive: int = protocol.KEEPALIVE_S,
        seed: int = 0,
        firmware: str = "sim-1.0",
        door_open_s: float = 5.0,
        relock_s: float = 1.0,
        change_min_s: float = CHANGE_MIN_S,
        retry_s: float = RETRY_S,
        refused_retry_s: float = REFUSED_RETRY_S,
        state_path: str | Path | None = None,
        outbox_limit: int = OUTBOX_LIMIT,
        has_camera: bool = True,
        capture_media: bool = False,
        target_c: float = 4.0,
        clock_skew_ms: int = 0,
    ) -> None:
        super().__init__(
            code,
            secret,
            url,
            keepalive=keepalive,
            firmware=firmware,
            retry_s=retry_s,
            refused_retry_s=refused_retry_s,
            state_path=state_path,
            outbox_limit=outbox_limit,
            clock_skew_ms=clock_skew_ms,
        )
        self.heartbeat_s, self.telemetry_s = heartbeat_s, telemetry_s
        self.door_open_s, self.relock_s, self.change_min_s = door_open_s, relock_s, change_min_s
        # Off unless asked: a still per door session is one more QoS 1 event, which benchmarks do not want.
        self.capture_media = capture_media
        self._rng = random.Random(seed)  # noqa: S311 (reproducible sensor noise, not secrets)
        self.cabinet = Cabinet(list(sensors or []), self._rng, has_camera=has_camera, target_c=target_c)
        # A machine without clock skew counts as NTP-synchronised: it can spot a stale command by
        # its own clock before it has learnt the server's offset from earlier commands (§7.5).
        self.clock = protocol.ServerClock(synchronised=clock_skew_ms == 0)
        self._running = False
        self._booted_at = 0.0
        self._reported: dict[str, Any] = {}  # door/lock/camera/temperature as last reported
        self._change_due = False
        self._last_change_at = -CHANGE_MIN_S
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._timer_ids = itertools.count()
        self._wake = threading.Event()
        self._halt = threading.Event()  # replaced at every boot: it stops that boot's ticker
        self._ticker: threading.Thread | None = None

    # Lifecycle ----------------------------------------------------------------------------
    def start(self, *, wait: float | None = 10.0) -> SimulatedDevice:
        """Power on (a new boot) and connect; after drop(), just connect again (a reconnect)."""
        with self._lock:
            if not self._running:
                self._boot()
        self._connect()
        if wait is not None and not self.connected.wait(wait):
            raise ConnectionError(f"{self.code} could not connect to {self.url}")
        return self

    def stop(self, clean: bool = True, *, timeout: float = 5.0) -> None:
        """Power off. Clean: announce the shutdown and DISCONNECT; otherwise the broker's will fires."""
        with self._lock:
            self._running = False
            client, info = self._client, None
            if clean and self._ready:
                info = self._publish("status", {"online": False, "reason": "shutdown"})
            self._detach()
            self._timers.clear()
            self._change_due = False  # its timer is gone with the others
            self._halt.set()
            ticker, self._ticker = self._ticker, None
        self._wake.set()
        if client is not None:
            if clean:
                if info is not None:
                    # If the connection went first, the broker's will says the same.
                    with contextlib.suppress(RuntimeError, ValueError):
                        info.wait_for_publish(timeout)
                client.disconnect()
                client.loop_stop()
            else:
                kill_client(client)
        if ticker is not None and ticker is not threading.current_thread():
            ticker.join(timeout)

    def _boot(self) -> None:
        self._running = True
        self._boot_id = str(uuid.uuid4())
        self._booted_at = time.monotonic()
        self._connects_this_boot = 0
        self._halt = threading.Event()
        self._ticker = threading.Thread(
            target=self._tick_loop, args=(self._halt,), name=f"sim-{self.code}", daemon=True
        )
        self._ticker.start()
        # Powered off mid-session: the visit still ends, now that there is a ticker to end it.
        if self.cabinet.door == "open":
            self._schedule(self.door_open_s, self._close_door)
        elif self.cabinet.session is not None:
            self._schedule(self.relock_s, self._relock)

    def _reconnect_later(self, delay_s: float) -> None:
        self._schedule(delay_s, self._reconnect)

    def _reconnect(self) -> None:
        with self._lock:
            wanted = self._running and "offline" not in self.cabinet.faults
        if wanted:
            self._connect()

    # Firmware (called under the lock) -------------------------------------------------------
    def _online(self) -> None:
        # A full report right after connecting, so the cloud need not wait a telemetry interval.
        self._telemetry_full()
        self._wake.set()

    def _command(self, payload: bytes) -> None:
        machine_now = self._machine_ms()
        read = commands.read(payload)
        if read is None:
            self.counters["commands_unreadable"] += 1
            self._events([Event("fault", None, {"component": "commands", "code": "unreadable"})])
            return
        command_id, raw = read
        stored = self.outbox.answer(command_id)
        if stored is not None:
            # Executed already (a redelivery): the same answer in a new envelope, never a second run.
            self.counters["commands_duplicate"] += 1
            self._publish("ack", stored)
            return
        if commands.has_timestamps(raw) and self.clock.expired(raw, machine_now):
            self.counters["commands_expired"] += 1
            self._answer(command_id, commands.expired())
            return
        command = commands.validate(raw, payload)
        if isinstance(command, commands.Outcome):
            self.counters["commands_refused"] += 1
            self._answer(command_id, command)
            return
        outcome = commands.execute(self.cabinet, command, server_now_ms=self.clock.server_now(machine_now))
        self.counters["commands_executed"] += 1
        self._events(outcome.events)
        self._answer(command_id, outcome)
        if outcome.follow_up == "door_cycle":
            # The staff member opens the door at once and shuts it after door_open_s.
            self._events(self.cabinet.open_door())
            self._schedule(self.door_open_s, self._close_door)
        elif outcome.follow_up == "reboot":
            self._schedule(0.1, self._reboot)

    def _answer(self, command_id: str, outcome: commands.Outcome) -> None:
        body = outcome.ack_body(command_id)
        self.outbox.remember_answer(command_id, body)
        self._publish("ack", body)

    def _events(self, events: list[Event]) -> None:
        for event in events:
            self._publish("event", event.body())
        if events:
            self._note_change()

    # On-change telemetry --------------------------------------------------------------------
    def _telemetry_full(self) -> None:
        if not self._ready:
            return
        body = self.cabinet.telemetry(self.firmware)
        self._reported = {key: body[key] for key in (*STATE_KEYS, "temperature_c")}
        self._publish("telemetry", body)

    def _note_change(self) -> None:
        """Door, lock or camera may have changed: report it, no more often than change_min_s."""
        if self._change_due:
            return
        self._change_due = True
        self._schedule(
            max(0.0, self._last_change_at + self.change_min_s - time.monotonic()), self._flush_change
        )

    def _flush_change(self) -> None:
        with self._lock:
            self._change_due = False
            if not self._ready:
                return
            body: dict[str, Any] = {
                k: v for k, v in self.cabinet.state().items() if self._reported.get(k) != v
            }
            if "temperature_high" in self.cabinet.faults or "temperature_c" in self._reported:
                temperature = self.cabinet.temperature_c()
                if (
                    abs(temperature - self._reported.get("temperature_c", temperature))
                    >= TEMPERATURE_CHANGE_C
                ):
                    body["temperature_c"] = temperature
            if body:
                self._reported.update(body)
                self._last_change_at = time.monotonic()
                self._publish("telemetry", body)

    # Timers (the ticker thread) ------------------------------------------------------------
    def _schedule(self, delay_s: float, action: Callable[[], None]) -> None:
        heapq.heappush(self._timers, (time.monotonic() + delay_s, next(self._timer_ids), action))
        self._wake.set()

    def _tick_loop(self, halt: threading.Event) -> None:
        now = time.monotonic()
        # A random phase, so a fleet started together does not beat in step.
        next_hb = now + self._rng.uniform(0.5, 1.0) * self.heartbeat_s
        next_telemetry = now + self._rng.uniform(0.5, 1.0) * self.telemetry_s
        while not halt.is_set():
            due: list[Callable[[], None]] = []
            with self._lock:
                now = time.monotonic()
                while self._timers and self._timers[0][0] <= now:
                    due.append(heapq.heappop(self._timers)[2])
            for action in due:
                try:
                    action()
                except Exception:
                    logger.exception("%s: timer failed", self.code)
            with self._lock:
                if halt.is_set():
                    break
                now = time.monotonic()
                if now >= next_hb:
                    next_hb = max(next_hb + self.heartbeat_s, now + self.heartbeat_s / 2)
                    if self._ready:
                        self._publish("hb", self._heartbeat())
                if now >= next_telemetry:
                    next_telemetry = max(next_telemetry + self.telemetry_s, now + self.telemetry_s / 2)
                    self._telemetry_full()
                self.cabinet.check_expiry(self.clock.server_now(self._machine_ms()))
                next_replay = self._replay_if_stalled(now)
                next_timer = self._timers[0][0] if self._timers else now + 1.0
                wake_at = min(next_hb, next_telemetry, next_replay, next_timer)
            self._wake.wait(max(0.005, min(1.0, wake_at - time.monotonic())))
            self._wake.clear()

    def _heartbeat(self) -> dict[str, Any]:
        return {"uptime_s": int(time.monotonic() - self._booted_at), "rssi_dbm": self.cabinet.rssi_dbm()}

    def _close_door(self) -> None:
        with self._lock:
            session = self.cabinet.session
            closed = self.cabinet.close_door()
            self._events(closed)
            if closed and session is not None and self.capture_media:
                self._events(self.cabinet.photos(self.code, session, self._machine_ms()))
            self._schedule(self.relock_s, self._relock)

    def _relock(self) -> None:
        with self._lock:
            self._events(self.cabinet.relock(self.clock.server_now(self._machine_ms())))

    def _reboot(self) -> None:
        # The ok ack is already in the outbox; after the restart it is replayed if still unacked.
        self.stop(clean=True)
        self.start(wait=None)

    # Public behaviour -----------------------------------------------------------------------
    def take(self, sensor: str, grams: float) -> None:
        """A hand takes goods from one load cell: a weight_change event with a negative delta."""
        self.change_weights({sensor: -abs(grams)})

    def put(self, sensor: str, grams: float) -> None:
        self.change_weights({sensor: abs(grams)})

    def change_weights(self, deltas: dict[str, float]) -> None:
        with self._lock:
            self._events(self.cabinet.change_weights(deltas))

    def emit_event(
        self, kind: str, *, session: str | None = None, detail: dict[str, Any] | None = None
    ) -> None:
        with self._lock:
            self._events([Event(kind, session, detail)])

    def inject(self, fault: str) -> None:
        """camera_fault, lock_fault, temperature_high, foreign_object or offline (drops the link)."""
        with self._lock:
            self._events(self.cabinet.inject(fault))
            if fault == "temperature_high":
                self._note_change()
        if fault == "offline":
            self.drop()

    def heal(self, fault: str) -> None:
        with self._lock:
            self._events(self.cabinet.heal(fault))
            if fault == "temperature_high":
                self._note_change()
            reconnect = fault == "offline" and self._running
        if reconnect:
            self._connect()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "code": self.code,
                "connected": self._ready,
                "boot_id": self._boot_id,
                "next_seq": self.outbox.next_seq,
                "outbox": len(self.outbox),
                **self.cabinet.snapshot(),
            }
