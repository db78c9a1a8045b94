"""The physical cabinet behind a simulated device: sensors with realistic noise, and the door, bolt,
camera and service state with the rules real hardware enforces (docs/device-protocol.md §5.4, §7).

Pure Python and single-threaded: the device calls it under its own lock. State changes return the
events the firmware reports, in the order they happen; nothing here talks MQTT.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Any

FAULTS = ("camera_fault", "lock_fault", "temperature_high", "foreign_object", "offline")
DOOR = 1  # the simulated cabinets have one door and one camera
CAMERA = 1
# Where a vision cabinet "uploads" its stills: a reserved domain, so nothing is ever fetched from it.
MEDIA_URL = "https://media.example.invalid/{code}/{session}/{camera}.jpg"

# A failed compressor: the cabinet settles well above any merchant's upper limit.
FAULT_TEMPERATURE_C = 12.0
# Warm air comes in while the door stands open.
DOOR_OPEN_WARMING_C = 1.0
TEMPERATURE_SPREAD_C = 0.3
# Load cells creep slowly (temperature, mechanical settling); the creep stays within a few grams.
DRIFT_STEP_G = 0.05
DRIFT_LIMIT_G = 3.0
# What telemetry reports on change (§5.3), besides temperature.
STATE_KEYS = ("door", "lock", "camera")


class Refusal(Exception):
    """The cabinet will not or cannot do what was asked: the protocol's result and error code."""

    def __init__(self, result: str, code: str, message: str) -> None:
        super().__init__(message)
        self.result, self.code, self.message = result, code, message


@dataclass(frozen=True)
class Event:
    kind: str
    session: str | None = None
    detail: dict[str, Any] | None = None

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"kind": self.kind}
        if self.session:
            body["session"] = self.session
        if self.detail is not None:
            body["detail"] = self.detail
        return body


@dataclass
class Cabinet:
    sensors: list[str]
    rng: random.Random
    has_camera: bool = True
    target_c: float = 4.0
    door: str = "closed"
    lock: str = "locked"
    camera: str = "ok"
    # The door session runs from releasing the bolt to engaging it again (§5.4).
    session: str | None = None
    last_session: str | None = None
    faults: set[str] = field(default_factory=set)
    # Why the machine is out of service (锁机, §7.4): "command", "foreign_object", "expiry".
    out_of_service: set[str] = field(default_factory=set)
    foreign_object_lock: bool = False
    expires_at: int | None = None  # lock_on_expiry deadline, server ms
    expiry_applied: bool = False
    lights: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        rng = self.rng
        self.camera = "ok" if self.has_camera else "absent"
        # What stands on each load cell (tray plus goods), and how noisy that cell is.
        self.baseline_g = {s: round(rng.uniform(800.0, 3000.0), 1) for s in self.sensors}
        self.noise_g = {s: rng.uniform(0.5, 2.0) for s in self.sensors}
        self.drift_g = dict.fromkeys(self.sensors, 0.0)
        self.foreign_g: dict[str, float] = {}
        self.rssi_base = rng.randint(-85, -55)
        self.humidity_base = rng.uniform(45.0, 65.0)
        self._temperature_wander = 0.0
        self._opened_at = 0.0

    # Sensors ------------------------------------------------------------------------------
    def temperature_c(self) -> float:
        if "temperature_high" in self.faults:
            return round(FAULT_TEMPERATURE_C + self.rng.gauss(0.0, 0.2), 2)
        # Autocorrelated wander: consecutive readings move a little, never jump across the band.
        wander = 0.8 * self._temperature_wander + self.rng.gauss(0.0, 0.08)
        self._temperature_wander = max(-TEMPERATURE_SPREAD_C, min(TEMPERATURE_SPREAD_C, wander))
        warming = DOOR_OPEN_WARMING_C if self.door == "open" else 0.0
        return round(self.target_c + warming + self._temperature_wander, 2)

    def humidity_pct(self) -> float:
        return round(max(0.0, min(100.0, self.humidity_base + self.rng.gauss(0.0, 1.5))), 1)

    def rssi_dbm(self) -> int:
        return max(-150, min(0, round(self.rssi_base + self.rng.gauss(0.0, 2.0))))

    def weights_g(self) -> dict[str, float]:
        readings = {}
        for sensor in self.sensors:
            drift = self.drift_g[sensor] + self.rng.gauss(0.0, DRIFT_STEP_G)
            self.drift_g[sensor] = max(-DRIFT_LIMIT_G, min(DRIFT_LIMIT_G, drift))
            true_g = self.baseline_g[sensor] + self.foreign_g.get(sensor, 0.0)
            noise = self.rng.gauss(0.0, self.noise_g[sensor])
            readings[sensor] = round(true_g + self.drift_g[sensor] + noise, 1)
        return readings

    def state(self) -> dict[str, str]:
        return {"door": self.door, "lock": self.lock, "camera": self.camera}

    def telemetry(self, firmware: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "temperature_c": self.temperature_c(),
            "humidity_pct": self.humidity_pct(),
            "rssi_dbm": self.rssi_dbm(),
            **self.state(),
            "firmware": firmware,
        }
        if self.sensors:
            body["weights_g"] = self.weights_g()
        return body

    # Goods --------------------------------------------------------------------------------
    def change_weights(self, deltas: dict[str, float]) -> list[Event]:
        """A hand takes (negative) or puts (positive) goods: one weight_change per load cell."""
        for sensor, delta in deltas.items():
            if sensor not in self.baseline_g:
                raise ValueError(f"unknown weight sensor {sensor!r}")
            if self.baseline_g[sensor] + delta < 0:
                raise ValueError(f"sensor {sensor} holds {self.baseline_g[sensor]} g, cannot take {-delta} g")
        events = []
        for sensor, delta in deltas.items():
            self.baseline_g[sensor] = round(self.baseline_g[sensor] + delta, 1)
            detail = {"sensor": sensor, "delta_g": round(delta, 1), "weight_g": self.baseline_g[sensor]}
            events.append(Event("weight_change", self.session, detail))
        return events

    # Door sessions ------------------------------------------------------------------------
    def check_idle(self) -> None:
        """Commands that need the machine at rest: every door closed and no session running."""
        if self.door == "open":
            raise Refusal("rejected", "E_DOOR_OPEN", f"door {DOOR} is open")
        if self.session is not None:
            raise Refusal("rejected", "E_BUSY", "a door session is running")

    def release(self, session: str) -> list[Event]:
        """open_door: release the bolt for a staff or restock session (also when out of service)."""
        self.check_idle()
        if self.lock == "fault":
            raise Refusal("error", "E_HARDWARE", "the lock did not move")
        self.lock, self.session = "unlocked", session
        return [Event("lock_released", session, {"door": DOOR})]

    def open_door(self) -> list[Event]:
        if self.door == "open" or self.lock != "unlocked":
            return []  # a door only opens while its bolt is released
        self.door, self._opened_at = "open", time.monotonic()
        return [Event("door_opened", self.session, {"door": DOOR})]

    def close_door(self) -> list[Event]:
        if self.door == "closed":
            return []
        self.door = "closed"
        open_s = round(time.monotonic() - self._opened_at)
        return [Event("door_closed", self.session, {"door": DOOR, "open_s": open_s})]

    def relock(self, server_now_ms: int) -> list[Event]:
        """The bolt falls once the door is shut (门锁落锁); that ends the session."""
        if self.door == "open" or self.session is None:
            return []
        session, self.session, self.last_session = self.session, None, self.session
        events = []
        if self.lock == "unlocked":
            self.lock = "locked"
            events.append(Event("lock_engaged", session, {"door": DOOR}))
        self.check_expiry(server_now_ms)
        return events

    # Service state ------------------------------------------------------------------------
    def take_out_of_service(self) -> None:
        if self.door == "open":
            raise Refusal("rejected", "E_DOOR_OPEN", f"door {DOOR} is open")
        self.out_of_service.add("command")

    def return_to_service(self) -> None:
        self.out_of_service.clear()

    def check_expiry(self, server_now_ms: int) -> None:
        """lock_on_expiry: out of service once the deadline has passed, and only once (§7.4)."""
        if self.expires_at is None or self.expiry_applied or server_now_ms < self.expires_at:
            return
        if self.door == "open":
            return  # it takes effect when the door closes
        self.expiry_applied = True
        self.out_of_service.add("expiry")

    def set_expiry(self, expires_at: int, server_now_ms: int) -> None:
        self.expires_at, self.expiry_applied = expires_at, False
        self.check_expiry(server_now_ms)

    # Faults -------------------------------------------------------------------------------
    def inject(self, fault: str) -> list[Event]:
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; one of {', '.join(FAULTS)}")
        if fault == "camera_fault" and not self.has_camera:
            raise ValueError("this cabinet has no camera")
        self.faults.add(fault)
        if fault == "camera_fault":
            self.camera = "fault"
            return [Event("camera_fault", self.session, {"camera": CAMERA, "message": "no frames"})]
        if fault == "lock_fault":
            self.lock = "fault"
            return [Event("lock_fault", self.session, {"door": DOOR, "message": "bolt position unknown"})]
        if fault == "foreign_object":
            return self._foreign_object()
        return []

    def heal(self, fault: str) -> list[Event]:
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; one of {', '.join(FAULTS)}")
        if fault not in self.faults:
            return []
        self.faults.discard(fault)
        if fault == "camera_fault":
            self.camera = "ok"
            return [Event("camera_ok", self.session, {"camera": CAMERA})]
        if fault == "lock_fault":
            released = self.session is not None
            self.lock = "unlocked" if released else "locked"
            kind = "lock_released" if released else "lock_engaged"
            return [Event(kind, self.session, {"door": DOOR})]
        if fault == "foreign_object":
            # Removed; the machine stays out of service until staff send `unlock` (§7.4).
            self.foreign_g.clear()
        return []

    def _foreign_object(self) -> list[Event]:
        sensor = self.rng.choice(self.sensors) if self.sensors else None
        locked = self.foreign_object_lock
        detail: dict[str, Any] = {"door": DOOR, "machine_locked": locked}
        if sensor is not None:
            grams = round(self.rng.uniform(20.0, 400.0), 1)
            self.foreign_g[sensor] = self.foreign_g.get(sensor, 0.0) + grams
            detail.update(sensor=sensor, delta_g=grams)
        if locked:
            self.out_of_service.add("foreign_object")
        # Found during a session, or right after one: the event names that session.
        return [Event("foreign_object", self.session or self.last_session, detail)]

    def photos(self, code: str, session: str, captured_at_ms: int) -> list[Event]:
        """A vision cabinet's stills of a door session, one per working camera, taken as the door shuts
        and reported once uploaded (`media_captured`, §5.4.1)."""
        if not self.has_camera or self.camera != "ok":
            return []
        url = MEDIA_URL.format(code=code, session=session, camera=CAMERA)
        detail = {"camera": CAMERA, "kind": "photo", "url": url, "captured_at": captured_at_ms}
        return [Event("media_captured", session, detail)]

    def self_test(self) -> dict[str, str]:
        return {
            "lock": "fault" if self.lock == "fault" else "ok",
            "camera": self.camera,
            "scales": "ok" if self.sensors else "absent",
            "cooling": "fault" if "temperature_high" in self.faults else "ok",
        }

    def snapshot(self) -> dict[str, Any]:
        return {
            **self.state(),
            "session": self.session,
            "in_service": not self.out_of_service,
            "out_of_service": sorted(self.out_of_service),
            "target_c": self.target_c,
            "faults": sorted(self.faults),
            "foreign_object_lock": self.foreign_object_lock,
            "expires_at": self.expires_at,
            "lights": list(self.lights),
            "weights_g": dict(self.baseline_g),
        }
