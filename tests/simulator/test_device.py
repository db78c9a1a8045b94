"""The fleet simulator against a real Mosquitto: a throwaway broker per module, a test-side paho
client playing the cloud, and exact outcomes checked with bounded polling."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import paho.mqtt.client as mqtt
import pytest

from openvend.gateway import protocol
from openvend.simulator.device import SimulatedDevice
from openvend.simulator.fleet import Fleet
from openvend.simulator.outbox import SEQ_BLOCK, Outbox
from tests import services

pytestmark = pytest.mark.mqtt

SENSORS = ["s1-1", "s1-2", "s2-1"]
DEADLINE_S = 5.0
T = TypeVar("T")


def eventually(probe: Callable[[], T], what: str, timeout: float = DEADLINE_S) -> T:
    """Poll until `probe` returns something truthy; fail with `what` after the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


# --- broker and cloud -----------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin")
    if binary is None:
        if services.ci_mode():
            pytest.fail("mosquitto is required when CI=true but is not installed.", pytrace=False)
        pytest.skip("mosquitto is not installed here.")
    port = _free_port()
    conf = tmp_path_factory.mktemp("mosquitto") / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    process = subprocess.Popen(
        [binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        eventually(lambda: services.port_open("127.0.0.1", port, timeout=0.1), "mosquitto to listen")
        yield f"mqtt://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=5)


class Cloud:
    """The platform's side of the broker: sees every uplink message, sends commands and acks."""

    def __init__(self, url: str) -> None:
        host, port = url.removeprefix("mqtt://").split(":")
        self._lock = threading.Lock()
        self.received: list[tuple[str, bytes, bool]] = []
        subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"cloud-{uuid.uuid4().hex[:8]}")
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *args: subscribed.set()
        self.client.connect(host, int(port), keepalive=10)
        self.client.loop_start()
        self.client.subscribe(protocol.GATEWAY_SUBSCRIPTION, qos=1)
        assert subscribed.wait(DEADLINE_S), "cloud subscription not confirmed"

    def _on_message(self, client: Any, userdata: Any, message: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.received.append((message.topic, bytes(message.payload), bool(message.retain)))

    def raw(self, code: str, type: str | None = None) -> list[bytes]:
        with self._lock:
            return [
                payload
                for topic, payload, _retained in self.received
                if protocol.parse_up_topic(topic) == (code, type or protocol.parse_up_topic(topic)[1])
            ]

    def up(self, code: str, type: str | None = None) -> list[protocol.UpMessage]:
        """The device's messages in arrival order, each decoded (and so validated) by the protocol."""
        with self._lock:
            items = [(t, p) for t, p, _r in self.received if protocol.parse_up_topic(t)[0] == code]
        messages = [protocol.decode_up(topic, payload) for topic, payload in items]
        return [m for m in messages if type is None or m.type == type]

    def events(self, code: str, kind: str | None = None) -> list[protocol.UpMessage]:
        return [m for m in self.up(code, "event") if kind is None or m.body["kind"] == kind]

    def acks(self, code: str, command_id: str) -> list[protocol.UpMessage]:
        return [m for m in self.up(code, "ack") if m.body["cmd_id"] == command_id]

    def command(
        self,
        code: str,
        kind: str,
        params: dict[str, Any] | None = None,
        *,
        command_id: str | None = None,
        ts: int | None = None,
        ttl_ms: int = 30_000,
    ) -> tuple[str, bytes]:
        command_id = command_id or str(uuid.uuid4())
        ts = protocol.now_ms() if ts is None else ts
        topic, payload = protocol.encode_command(
            code, id=command_id, kind=kind, params=params or {}, ts=ts, expires=ts + ttl_ms
        )
        self.client.publish(topic, payload, qos=1)
        return command_id, payload

    def ack(self, code: str, seq: int) -> None:
        self.client.publish(*protocol.encode_cloud_ack(code, seq), qos=1)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def cloud(broker: str) -> Iterator[Cloud]:
    cloud = Cloud(broker)
    yield cloud
    cloud.close()


@pytest.fixture
def make_device(broker: str) -> Iterator[Callable[..., SimulatedDevice]]:
    made: list[SimulatedDevice] = []

    def make(**overrides: Any) -> SimulatedDevice:
        options: dict[str, Any] = {
            "sensors": SENSORS,
            "heartbeat_s": 0.2,
            "telemetry_s": 0.3,
            "keepalive": 5,
            "seed": len(made) + 1,
            "door_open_s": 0.3,
            "relock_s": 0.1,
            "change_min_s": 0.1,
            **overrides,
        }
        code = options.pop("code", f"T{uuid.uuid4().hex[:10]}")
        device = SimulatedDevice(code, "secret", broker, **options)
        made.append(device)
        return device

    yield make
    for device in made:
        device.stop(clean=False)


def kinds(cloud: Cloud, code: str) -> list[str]:
    return [m.body["kind"] for m in sorted(cloud.events(code), key=lambda m: m.seq)]


def answer(cloud: Cloud, code: str, command_id: str) -> dict[str, Any]:
    [ack] = eventually(lambda: cloud.acks(code, command_id), f"the answer to {command_id}")
    return ack.body


# --- uplink ---------------------------------------------------------------------------------


def test_birth_then_heartbeats_and_telemetry_with_strictly_increasing_seqs(cloud, make_device) -> None:
    device = make_device().start()
    eventually(
        lambda: len(cloud.up(device.code, "hb")) >= 3 and len(cloud.up(device.code, "telemetry")) >= 3,
        "three heartbeats and three telemetry messages",
    )
    messages = cloud.up(device.code)
    birth = messages[0]
    assert birth.type == "status"
    assert birth.body == {"online": True, "reason": "boot", "firmware": "sim-1.0", "boot_id": device.boot_id}
    seqs = [m.seq for m in messages]
    assert seqs == sorted(set(seqs)), "seqs must strictly increase"
    for hb in cloud.up(device.code, "hb"):
        assert isinstance(hb.body["uptime_s"], int) and hb.body["uptime_s"] >= 0
        assert -150 <= hb.body["rssi_dbm"] <= 0
    for telemetry in cloud.up(device.code, "telemetry"):
        assert set(telemetry.body["weights_g"]) == set(SENSORS)
        assert 3.7 <= telemetry.body["temperature_c"] <= 4.3
        assert (telemetry.body["door"], telemetry.body["lock"], telemetry.body["camera"]) == (
            "closed",
            "locked",
            "ok",
        )
    assert device.published()["status"] == 1


def test_weight_noise_is_small_and_the_same_for_the_same_seed(make_device) -> None:
    a, b = make_device(seed=7), make_device(seed=7)
    readings = [a.cabinet.weights_g() for _ in range(200)]
    assert readings[0] == b.cabinet.weights_g()
    for sensor in SENSORS:
        values = [r[sensor] for r in readings]
        assert max(values) - min(values) < 25  # grams of noise and drift, never a product's weight


def test_every_event_stays_in_the_outbox_until_a_cloud_ack_covers_its_seq(cloud, make_device) -> None:
    device = make_device(heartbeat_s=60, telemetry_s=60).start()
    for grams in (12, 25, 33):
        device.take("s1-1", grams)
    events = eventually(lambda: len(cloud.events(device.code)) == 3 and cloud.events(device.code), "3 events")
    seqs = [m.seq for m in events]
    assert [(m.body["detail"]["sensor"], m.body["detail"]["delta_g"]) for m in events] == [
        ("s1-1", -12),
        ("s1-1", -25),
        ("s1-1", -33),
    ]
    assert events[0].body["detail"]["weight_g"] - events[2].body["detail"]["weight_g"] == pytest.approx(58)
    assert device.outbox_seqs() == seqs

    cloud.ack(device.code, seqs[1])
    eventually(lambda: device.outbox_seqs() == seqs[2:], "the first two events to leave the outbox")
    cloud.ack(device.code, seqs[0])  # an older ack changes nothing
    cloud.ack(device.code, seqs[2])
    eventually(lambda: device.outbox_size == 0, "an empty outbox")
    assert device.stats()["acks_received"] == 3


def test_a_stalled_outbox_is_replayed_again(cloud, make_device) -> None:
    device = make_device(heartbeat_s=60, telemetry_s=60, retry_s=0.5).start()
    device.take("s1-1", 5)
    eventually(lambda: len(cloud.raw(device.code, "event")) >= 2, "the replay of the unacknowledged event")
    first, again = cloud.raw(device.code, "event")[:2]
    assert first == again
    cloud.ack(device.code, cloud.events(device.code)[0].seq)
    eventually(lambda: device.outbox_size == 0, "the ack")


def test_a_full_outbox_drops_the_oldest_events_and_reports_it(cloud, make_device) -> None:
    device = make_device(heartbeat_s=60, telemetry_s=60, outbox_limit=3)
    for _ in range(5):
        device.take("s2-1", 1)  # not started: everything stays in the outbox
    assert device.outbox_size == 3 and device.stats()["outbox_dropped"] == 2
    kept = device.outbox_seqs()
    device.start()
    eventually(lambda: len(cloud.events(device.code)) == 3, "the replay")
    cloud.ack(device.code, kept[-1])
    [fault] = eventually(lambda: cloud.events(device.code, "fault"), "the overflow fault")
    assert fault.body["detail"] == {"component": "outbox", "code": "overflow", "dropped": 2}


def test_drop_makes_the_broker_publish_the_retained_last_will(broker, cloud, make_device) -> None:
    device = make_device().start()
    eventually(lambda: cloud.up(device.code, "hb"), "a heartbeat")
    device.drop()
    will = eventually(
        lambda: [m for m in cloud.up(device.code, "status") if not m.body["online"]], "the will"
    )
    assert [m.body for m in will] == [{"online": False, "reason": "lwt"}]
    birth = cloud.up(device.code, "status")[0]
    assert will[0].seq == birth.seq - 1  # w and w + 1, reserved together at CONNECT

    late = Cloud(broker)  # a subscriber arriving now still learns the device is offline
    try:
        retained = eventually(lambda: late.up(device.code, "status"), "the retained status")
        assert retained[0].body == {"online": False, "reason": "lwt"}
        assert late.received[0][2] is True
    finally:
        late.close()


def test_clean_stop_announces_the_shutdown_and_no_will_follows(cloud, make_device) -> None:
    device = make_device().start()
    device.stop(clean=True)
    eventually(lambda: len(cloud.up(device.code, "status")) == 2, "the shutdown status")
    time.sleep(0.3)
    assert [m.body["reason"] for m in cloud.up(device.code, "status")] == ["boot", "shutdown"]


def test_outbox_is_replayed_on_reconnect_with_identical_id_seq_ts(cloud, make_device) -> None:
    device = make_device(heartbeat_s=60, telemetry_s=60).start()
    device.take("s1-2", 10)
    first = eventually(lambda: cloud.raw(device.code, "event"), "the first event")
    device.drop()
    device.take("s2-1", 20)  # offline: produced into the outbox only
    device.inject("camera_fault")
    assert device.outbox_size == 3
    queued = [e.payload for e in device.outbox.entries()]
    assert queued[0] == first[0]

    device.start()
    eventually(lambda: len(cloud.raw(device.code, "event")) == 4, "the replay")
    assert cloud.raw(device.code, "event") == [first[0], *queued]
    # The birth (w + 1, reserved at CONNECT) comes first, then the replay in seq order (§2.3).
    messages = cloud.up(device.code)
    [reconnect_at] = [
        i for i, m in enumerate(messages) if m.type == "status" and m.body["reason"] == "reconnect"
    ]
    replays_at = [i for i, m in enumerate(messages) if m.type == "event"][1:]
    assert reconnect_at < min(replays_at)
    assert messages[reconnect_at].body["boot_id"] == device.boot_id
    assert messages[reconnect_at].seq > max(m.seq for m in cloud.events(device.code))


def test_file_backed_outbox_survives_a_new_device_object(tmp_path: Path, cloud, make_device) -> None:
    state = tmp_path / "device.json"
    before = make_device(state_path=state, heartbeat_s=60, telemetry_s=60)
    before.take("s1-1", 50)  # never connected: only in the outbox file
    before.take("s1-1", 60)
    pending = [e.payload for e in before.outbox.entries()]
    last_seq = before.outbox.next_seq - 1

    after = make_device(code=before.code, state_path=state, heartbeat_s=60, telemetry_s=60).start()
    eventually(lambda: len(cloud.raw(after.code, "event")) == 2, "the replayed events")
    assert cloud.raw(after.code, "event") == pending
    birth = cloud.up(after.code, "status")[0]
    assert birth.body["reason"] == "boot" and birth.seq > last_seq  # no seq is ever reused


def test_door_and_lock_changes_go_out_as_telemetry_with_the_changed_keys(cloud, make_device) -> None:
    device = make_device(telemetry_s=60).start()
    cloud.command(device.code, "open_door", {"mode": "staff"})
    eventually(lambda: cloud.events(device.code, "lock_engaged"), "the door cycle")

    def changes() -> list[dict[str, Any]]:
        partial = [t.body for t in cloud.up(device.code, "telemetry") if "weights_g" not in t.body]
        return [{k: v for k, v in body.items() if k in ("door", "lock")} for body in partial]

    def merged() -> dict[str, Any]:
        return {k: v for change in changes() for k, v in change.items()}

    eventually(lambda: merged() == {"door": "closed", "lock": "locked"}, "the changes back")
    assert changes()[0] == {"door": "open", "lock": "unlocked"}
    partial = [t.body for t in cloud.up(device.code, "telemetry") if "weights_g" not in t.body]
    assert all(partial)  # only the keys that changed, never an empty report


# --- commands -------------------------------------------------------------------------------


def test_open_door_releases_opens_closes_and_relocks_in_one_session(cloud, make_device) -> None:
    device = make_device(heartbeat_s=60, telemetry_s=60).start()
    command_id, _payload = cloud.command(device.code, "open_door", {"mode": "restock"})
    eventually(lambda: len(cloud.events(device.code)) == 4, "a full door cycle")
    device.put("s1-1", 0)  # after the session: no session attached
    events = sorted(cloud.events(device.code), key=lambda m: m.seq)[:4]
    assert [(m.body["kind"], m.body["session"]) for m in events] == [
        ("lock_released", command_id),
        ("door_opened", command_id),
        ("door_closed", command_id),
        ("lock_engaged", command_id),
    ]
    assert events[2].body["detail"]["door"] == 1 and isinstance(events[2].body["detail"]["open_s"], int)
    assert answer(cloud, device.code, command_id) == {"cmd_id": command_id, "result": "ok"}
    ack = cloud.acks(device.code, command_id)[0]
    assert events[0].seq < ack.seq < events[1].seq  # ok once the bolt is released (§7.2)
    [after] = eventually(lambda: cloud.events(device.code, "weight_change"), "a weight change")
    assert "session" not in after.body
    assert (device.snapshot()["door"], device.snapshot()["lock"]) == ("closed", "locked")


def test_weight_changes_during_a_session_carry_it(cloud, make_device) -> None:
    device = make_device(door_open_s=1.0).start()
    command_id, _ = cloud.command(device.code, "open_door", {"mode": "restock"})
    eventually(lambda: cloud.events(device.code, "door_opened"), "the door to open")
    device.put("s1-1", 350)
    [change] = eventually(lambda: cloud.events(device.code, "weight_change"), "the weight change")
    assert change.body["session"] == command_id and change.body["detail"]["delta_g"] == 350


def test_a_command_delivered_twice_is_executed_once_and_answered_alike(cloud, make_device) -> None:
    device = make_device(heartbeat_s=60, telemetry_s=60).start()
    command_id, payload = cloud.command(device.code, "open_door", {"mode": "restock"})
    eventually(lambda: cloud.events(device.code, "lock_engaged"), "the door cycle to finish")
    cloud.client.publish(protocol.down_topic(device.code, "cmd"), payload, qos=1)  # redelivered
    eventually(lambda: len(cloud.acks(device.code, command_id)) == 2, "the second answer")
    time.sleep(0.5)  # longer than the door cycle: a second one would show by now
    first, second = cloud.acks(device.code, command_id)
    assert first.body == second.body == {"cmd_id": command_id, "result": "ok"}
    assert second.seq > first.seq and second.id != first.id  # the stored body in a new envelope (§7.3)
    assert kinds(cloud, device.code) == ["lock_released", "door_opened", "door_closed", "lock_engaged"]
    assert device.stats()["commands_executed"] == 1
    assert device.stats()["commands_duplicate"] == 1


def test_an_expired_command_is_answered_expired_and_not_executed(cloud, make_device) -> None:
    device = make_device().start()
    stale = protocol.now_ms() - 10_000
    command_id, _payload = cloud.command(device.code, "open_door", {"mode": "staff"}, ts=stale, ttl_ms=5_000)
    assert answer(cloud, device.code, command_id) == {
        "cmd_id": command_id,
        "result": "expired",
        "code": "E_EXPIRED",
        "message": "received after its expiry",
    }
    assert cloud.events(device.code) == []
    assert device.snapshot()["lock"] == "locked"


def _raw_command(device: SimulatedDevice, **changes: Any) -> tuple[str, bytes]:
    command_id = str(uuid.uuid4())
    now = protocol.now_ms()
    message = {"v": 1, "id": command_id, "ts": now, "expires": now + 30_000, "kind": "lock", "params": {}}
    message.update(changes)
    return command_id, json.dumps(message).encode()


def test_refusals_carry_the_protocol_error_codes(cloud, make_device) -> None:
    device = make_device(door_open_s=0.2, relock_s=3.0).start()
    cloud.command(device.code, "open_door", {"mode": "staff"})
    eventually(lambda: cloud.events(device.code, "door_opened"), "the door to open")
    door_open, _ = cloud.command(device.code, "open_door", {"mode": "staff"})
    out_of_service, _ = cloud.command(device.code, "lock")
    eventually(lambda: cloud.events(device.code, "door_closed"), "the door to close")
    busy, _ = cloud.command(device.code, "reboot")  # closed, but the session runs until the bolt falls
    other_door, _ = cloud.command(device.code, "open_door", {"mode": "staff", "door": 2})
    topic = protocol.down_topic(device.code, "cmd")
    crafted = {
        "E_BAD_PARAMS": _raw_command(device, params={"x": 1}),
        "E_UNKNOWN_COMMAND": _raw_command(device, kind="dance"),
        "E_NOT_SUPPORTED": _raw_command(device, v=2),
    }
    for _command_id, payload in crafted.values():
        cloud.client.publish(topic, payload, qos=1)
    cloud.client.publish(topic, b'{"kind": "lock"}', qos=1)  # no id: nobody to answer
    expected = {
        door_open: ("rejected", "E_DOOR_OPEN"),
        out_of_service: ("rejected", "E_DOOR_OPEN"),
        busy: ("rejected", "E_BUSY"),
        other_door: ("rejected", "E_BAD_PARAMS"),
        **{command_id: ("rejected", code) for code, (command_id, _payload) in crafted.items()},
    }
    for command_id, outcome in expected.items():
        body = answer(cloud, device.code, command_id)
        assert (body["result"], body["code"]) == outcome, body
    [fault] = eventually(lambda: cloud.events(device.code, "fault"), "the unreadable-command fault")
    assert fault.body["detail"] == {"component": "commands", "code": "unreadable"}


def test_lock_takes_the_machine_out_of_service_and_unlock_returns_it(cloud, make_device) -> None:
    device = make_device().start()
    locked, _ = cloud.command(device.code, "lock")
    assert answer(cloud, device.code, locked)["result"] == "ok"
    assert device.snapshot()["out_of_service"] == ["command"]
    staff, _ = cloud.command(device.code, "open_door", {"mode": "staff"})  # staff may still open it
    assert answer(cloud, device.code, staff)["result"] == "ok"
    eventually(lambda: cloud.events(device.code, "lock_engaged"), "the door cycle")
    unlocked, _ = cloud.command(device.code, "unlock")
    assert answer(cloud, device.code, unlocked)["result"] == "ok"
    assert device.snapshot()["in_service"] is True


def test_lock_on_expiry_takes_the_machine_out_of_service_at_the_deadline(cloud, make_device) -> None:
    device = make_device().start()
    command_id, _ = cloud.command(device.code, "lock_on_expiry", {"expires_at": protocol.now_ms() + 300})
    assert answer(cloud, device.code, command_id)["result"] == "ok"
    assert device.snapshot()["in_service"] is True
    eventually(lambda: device.snapshot()["out_of_service"] == ["expiry"], "the deadline to pass")


def test_lock_fault_fails_open_door_and_heals(cloud, make_device) -> None:
    device = make_device().start()
    device.inject("lock_fault")
    command_id, _ = cloud.command(device.code, "open_door", {"mode": "staff"})
    body = answer(cloud, device.code, command_id)
    assert (body["result"], body["code"]) == ("error", "E_HARDWARE")
    device.heal("lock_fault")
    eventually(lambda: cloud.events(device.code, "lock_engaged"), "the lock to recover")
    assert kinds(cloud, device.code) == ["lock_fault", "lock_fault", "lock_engaged"]


def test_self_test_reports_each_component(cloud, make_device) -> None:
    device = make_device().start()
    passed, _ = cloud.command(device.code, "self_test")
    assert answer(cloud, device.code, passed)["data"] == {
        "lock": "ok",
        "camera": "ok",
        "scales": "ok",
        "cooling": "ok",
    }
    device.inject("camera_fault")
    failed, _ = cloud.command(device.code, "self_test")
    body = answer(cloud, device.code, failed)
    assert (body["result"], body["code"], body["data"]["camera"]) == ("error", "E_HARDWARE", "fault")


def test_settings_are_stored(cloud, make_device) -> None:
    device = make_device().start()
    schedule = [{"from": "07:00", "to": "23:00", "on": True}]
    for kind, params in (
        ("set_temperature", {"target_c": 6}),
        ("set_lights", {"schedule": schedule}),
        ("set_foreign_object_lock", {"enabled": True}),
    ):
        command_id, _ = cloud.command(device.code, kind, params)
        assert answer(cloud, device.code, command_id)["result"] == "ok"
    snapshot = device.snapshot()
    assert (snapshot["target_c"], snapshot["lights"], snapshot["foreign_object_lock"]) == (6, schedule, True)


def test_reboot_answers_then_restarts_with_a_new_boot_id(cloud, make_device) -> None:
    device = make_device().start()
    first_boot = device.boot_id
    command_id, _ = cloud.command(device.code, "reboot")
    statuses = eventually(
        lambda: len(cloud.up(device.code, "status")) >= 3 and cloud.up(device.code, "status"), "the reboot"
    )
    assert [s.body["reason"] for s in statuses[:3]] == ["boot", "shutdown", "boot"]
    assert statuses[2].body["boot_id"] != first_boot
    assert cloud.acks(device.code, command_id)[0].body["result"] == "ok"


# --- faults ---------------------------------------------------------------------------------


def test_inject_foreign_object_reports_it(cloud, make_device) -> None:
    device = make_device().start()
    device.inject("foreign_object")
    [event] = eventually(lambda: cloud.events(device.code, "foreign_object"), "the foreign_object event")
    assert event.body["detail"]["door"] == 1 and event.body["detail"]["machine_locked"] is False
    assert event.body["detail"]["sensor"] in SENSORS and event.body["detail"]["delta_g"] > 0
    assert device.snapshot()["in_service"] is True


def test_foreign_object_lock_takes_the_machine_out_of_service_until_unlock(cloud, make_device) -> None:
    device = make_device().start()
    enabled, _ = cloud.command(device.code, "set_foreign_object_lock", {"enabled": True})
    answer(cloud, device.code, enabled)
    device.inject("foreign_object")
    [event] = eventually(lambda: cloud.events(device.code, "foreign_object"), "the foreign_object event")
    assert event.body["detail"]["machine_locked"] is True
    assert device.snapshot()["out_of_service"] == ["foreign_object"]
    device.heal("foreign_object")  # removed; still out of service until staff say otherwise
    assert device.snapshot()["in_service"] is False
    unlocked, _ = cloud.command(device.code, "unlock")
    answer(cloud, device.code, unlocked)
    assert device.snapshot()["in_service"] is True


def test_camera_fault_and_temperature_fault(cloud, make_device) -> None:
    device = make_device(telemetry_s=60).start()
    device.inject("camera_fault")
    device.inject("temperature_high")
    hot = eventually(
        lambda: [t for t in cloud.up(device.code, "telemetry") if t.body.get("temperature_c", 0) > 8],
        "a high temperature reading",
    )
    assert hot[0].body.keys() <= {"temperature_c", "camera"}  # on change, with the changed keys only
    device.heal("camera_fault")
    eventually(lambda: cloud.events(device.code, "camera_ok"), "the camera to recover")
    assert kinds(cloud, device.code) == ["camera_fault", "camera_ok"]


def test_offline_fault_queues_events_and_heal_reconnects(cloud, make_device) -> None:
    device = make_device().start()
    device.inject("offline")
    eventually(lambda: [m for m in cloud.up(device.code, "status") if m.body["reason"] == "lwt"], "the will")
    device.take("s1-1", 10)
    assert device.outbox_size == 1 and not device.connected.is_set()
    device.heal("offline")
    eventually(lambda: cloud.events(device.code, "weight_change"), "the queued event")
    assert device.wait_connected(DEADLINE_S)


def test_a_refused_connection_backs_off(tmp_path_factory, make_device) -> None:
    binary = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin")
    assert binary is not None
    port = _free_port()
    conf = tmp_path_factory.mktemp("strict") / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous false\npersistence false\n")
    process = subprocess.Popen(
        [binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        eventually(lambda: services.port_open("127.0.0.1", port, timeout=0.1), "mosquitto to listen")
        device = SimulatedDevice("REFUSED1", "wrong", f"mqtt://127.0.0.1:{port}", refused_retry_s=60)
        device.start(wait=None)
        eventually(lambda: device.stats().get("connect_refused") == 1, "the refusal")
        time.sleep(1.5)  # paho alone would have retried after 1 s
        assert device.stats()["connect_refused"] == 1
        device.stop(clean=False)
    finally:
        process.terminate()
        process.wait(timeout=5)


# --- fleet and outbox -----------------------------------------------------------------------


def test_fleet_starts_and_stops_many_devices(broker, cloud) -> None:
    credentials = [{"code": f"F{uuid.uuid4().hex[:8]}", "secret": "s"} for _ in range(5)]
    fleet = Fleet.from_credentials(credentials, broker, heartbeat_s=0.2, telemetry_s=0.5, keepalive=5)
    with fleet.start(wait=DEADLINE_S):
        eventually(lambda: all(cloud.up(c["code"], "hb") for c in credentials), "a heartbeat from each")
        assert fleet.connected_count() == 5
        assert all(len(device.cabinet.sensors) == 16 for device in fleet)
    assert fleet.counters()["published.status"] == 10  # a birth and a shutdown each
    assert fleet.connected_count() == 0


def test_outbox_prunes_cumulatively_and_never_reuses_a_seq(tmp_path: Path) -> None:
    path = tmp_path / "outbox.json"
    outbox = Outbox(path)
    for _ in range(3):
        outbox.add(outbox.reserve_seq(), "ov/v1/d/X123/up/event", b"{}")
    outbox.remember_answer("c1", {"cmd_id": "c1", "result": "ok"})
    assert outbox.prune(2) == 2 and outbox.seqs() == [3]
    reopened = Outbox(path)
    assert reopened.seqs() == [3]
    assert reopened.answer("c1") == {"cmd_id": "c1", "result": "ok"}
    assert reopened.reserve_seq() == 1 + SEQ_BLOCK  # the rest of the reserved block is skipped
