"""The gateway's ingest path without a broker: validation, dead letters, replay recognition,
derived state, alarms and command ACKs — each with exact outcomes."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from openvend.devices import commands
from openvend.devices.models import Alarm, AlarmSettings, Command, DeadLetter, DeviceMessage, DeviceState
from openvend.gateway import protocol
from openvend.gateway.ingest import DeviceDirectory, Received, ingest_batch
from openvend.gateway.sweeps import run_sweeps
from tests.devices.factories import activated_device


class Feed:
    """Messages as one device would send them, with its own sequence counter."""

    def __init__(self, code: str) -> None:
        self.code, self.seq = code, 0

    def msg(self, type_: str, body: dict, *, seq: int | None = None, at=None) -> Received:
        if seq is None:
            self.seq += 1
            seq = self.seq
        topic, payload = protocol.encode_up(self.code, type_, seq=seq, body=body)
        return Received(topic, payload, at or timezone.now())


def test_messages_are_stored_once_and_replays_recognised(world_a) -> None:
    device, _ = activated_device(world_a, "ING-0001")
    feed, directory = Feed("ING-0001"), DeviceDirectory()
    first = [
        feed.msg("status", {"online": True, "reason": "boot", "firmware": "2.1.0", "boot_id": "b1"}),
        feed.msg("telemetry", {"temperature_c": 4.2, "rssi_dbm": -61, "door": "closed", "lock": "locked"}),
        feed.msg("event", {"kind": "door_opened", "session": "S-1"}),
        feed.msg("event", {"kind": "door_closed", "session": "S-1"}),
    ]
    result = ingest_batch(first, directory)
    assert (result.stored, result.duplicates, result.dead) == (4, 0, 0)
    assert result.acks == {"ING-0001": 4}
    # The device replays its outbox after a reconnect: the same events, recognised by seq.
    replay = ingest_batch([first[2], first[3]], directory)
    assert (replay.stored, replay.duplicates, replay.acks) == (0, 2, {"ING-0001": 4})
    assert DeviceMessage.objects.filter(device=device).count() == 4
    state = DeviceState.objects.get(device=device)
    assert (state.online, state.firmware, state.door, state.lock, state.last_seq) == (
        True,
        "2.1.0",
        "closed",
        "locked",
        4,
    )
    assert state.temperature_c == Decimal("4.20") and state.rssi_dbm == -61
    assert state.clock_skew_ms is not None and abs(state.clock_skew_ms) < 5000


def test_old_replay_does_not_roll_state_back(world_a) -> None:
    device, _ = activated_device(world_a, "ING-0002")
    feed, directory = Feed("ING-0002"), DeviceDirectory()
    ingest_batch([feed.msg("telemetry", {"temperature_c": 5.0}, seq=10)], directory)
    ingest_batch([feed.msg("telemetry", {"temperature_c": 9.5}, seq=7)], directory)  # late, older
    state = DeviceState.objects.get(device=device)
    assert (state.temperature_c, state.last_seq) == (Decimal("5.00"), 10)
    assert DeviceMessage.objects.filter(device=device).count() == 2


def test_bad_messages_are_dead_lettered_and_change_nothing(world_a, world_b) -> None:
    activated_device(world_a, "ING-0003")
    activated_device(world_b, "ING-0004")
    now = timezone.now()
    good_topic, good = protocol.encode_up("ING-0003", "hb", seq=1, body={"uptime_s": 5})
    items = [
        Received("ov/v1/d/ING-0003/up/hb", b"{not json", now),
        Received("ov/v1/d/ING-0003/up/nope", good, now),
        Received("ov/v1/d/ING-0003/up/telemetry", good, now),  # envelope says hb
        Received(
            "ov/v1/d/UNKNOWN-1/up/hb",
            protocol.encode_up("UNKNOWN-1", "hb", seq=1, body={"uptime_s": 1})[1],
            now,
        ),
        Received(good_topic, good, now),
    ]
    result = ingest_batch(items, DeviceDirectory())
    assert (result.stored, result.dead) == (1, 4)
    assert result.dead_reasons == {"bad_json": 1, "bad_topic": 1, "type_mismatch": 1, "unknown_device": 1}
    assert sorted(DeadLetter.objects.values_list("reason", flat=True)) == [
        "bad_json",
        "bad_topic",
        "type_mismatch",
        "unknown_device",
    ]
    assert DeviceMessage.objects.count() == 1


def test_disabled_device_is_refused(world_a) -> None:
    from openvend.devices.services import device_update

    device, _ = activated_device(world_a, "ING-0005")
    device_update(actor=None, device=device, data={"status": "disabled"})
    result = ingest_batch([Feed("ING-0005").msg("hb", {"uptime_s": 1})], DeviceDirectory())
    assert (result.stored, result.dead_reasons) == (0, {"revoked_device": 1})


def test_temperature_alarm_is_debounced_and_heals(world_a) -> None:
    device, _ = activated_device(world_a, "ING-0006")
    AlarmSettings.objects.create(
        merchant=world_a.merchant, temperature_min_c=0, temperature_max_c=8, debounce_samples=3
    )
    feed, directory = Feed("ING-0006"), DeviceDirectory()
    ingest_batch([feed.msg("telemetry", {"temperature_c": 12.0})], directory)  # one spike
    ingest_batch([feed.msg("telemetry", {"temperature_c": 4.0})], directory)
    ingest_batch(
        [feed.msg("telemetry", {"temperature_c": 11.0}), feed.msg("telemetry", {"temperature_c": 11.5})],
        directory,
    )
    assert not Alarm.objects.filter(device=device).exists()
    ingest_batch([feed.msg("telemetry", {"temperature_c": 12.5})], directory)
    alarm = Alarm.objects.get(device=device, kind="temperature")
    assert (alarm.status, alarm.severity, alarm.detail["temperature_c"]) == ("open", "major", "12.5")
    ingest_batch([feed.msg("telemetry", {"temperature_c": 13.0})], directory)
    alarm.refresh_from_db()
    assert alarm.occurrences == 2
    ingest_batch([feed.msg("telemetry", {"temperature_c": 5.0})], directory)
    alarm.refresh_from_db()
    assert alarm.status == "cleared"


def test_lock_camera_and_foreign_object_alarms(world_a) -> None:
    device, _ = activated_device(world_a, "ING-0007")
    device.foreign_object_lock = True
    device.save()
    feed, directory = Feed("ING-0007"), DeviceDirectory()
    ingest_batch(
        [
            feed.msg("event", {"kind": "lock_fault"}),
            feed.msg("telemetry", {"camera": "fault"}),
            feed.msg("event", {"kind": "foreign_object", "detail": {"sensor": "s1-2", "delta_g": 85.0}}),
        ],
        directory,
    )
    kinds = dict(Alarm.objects.filter(device=device).values_list("kind", "severity"))
    assert kinds == {"lock_not_engaged": "critical", "camera_fault": "minor", "foreign_object": "critical"}
    device.refresh_from_db()
    assert device.locked_by_foreign_object is True
    ingest_batch(
        [feed.msg("event", {"kind": "lock_engaged"}), feed.msg("event", {"kind": "camera_ok"})], directory
    )
    live = set(Alarm.objects.filter(device=device).exclude(status="cleared").values_list("kind", flat=True))
    assert live == {"foreign_object"}  # staff must clear that one


def test_command_ack_is_idempotent_and_timeouts_fail(world_a) -> None:
    device, _ = activated_device(world_a, "ING-0008")
    admin = world_a.user("merchant_admin")
    ok = commands.command_send(actor=admin, device=device, kind="self_test")
    late = commands.command_send(actor=admin, device=device, kind="reboot", ttl_s=5)
    feed, directory = Feed("ING-0008"), DeviceDirectory()
    ack = feed.msg("ack", {"cmd_id": str(ok.pk), "result": "ok", "data": {"sensors": 4}})
    ingest_batch([ack], directory)
    ingest_batch(
        [feed.msg("ack", {"cmd_id": str(ok.pk), "result": "error", "code": "E_HARDWARE"})], directory
    )
    ok.refresh_from_db()
    assert (ok.status, ok.result_code, ok.result_data) == ("succeeded", "ok", {"sensors": 4})
    run_sweeps(timezone.now() + timedelta(seconds=6))
    late.refresh_from_db()
    assert (late.status, late.result_code) == ("expired", "E_EXPIRED")
    assert Command.objects.filter(status="pending").count() == 0


def test_silence_means_offline_then_an_alarm_then_healing(world_a) -> None:
    device, _ = activated_device(world_a, "ING-0009")
    AlarmSettings.objects.create(merchant=world_a.merchant, offline_after_s=300)
    feed, directory = Feed("ING-0009"), DeviceDirectory()
    past = timezone.now() - timedelta(minutes=10)
    ingest_batch([feed.msg("hb", {"uptime_s": 1}, at=past)], directory)
    result = run_sweeps(timezone.now())
    assert (result["offline"], result["offline_alarms"]) == (1, 1)
    assert run_sweeps(timezone.now())["offline_alarms"] == 0  # raised once, not every sweep
    ingest_batch(
        [feed.msg("status", {"online": True, "reason": "reconnect", "firmware": "2.1.0", "boot_id": "b2"})],
        directory,
    )
    assert Alarm.objects.get(device=device, kind="offline").status == "cleared"


def test_door_left_open_without_a_session_raises_an_alarm(world_a) -> None:
    device, _ = activated_device(world_a, "ING-0010")
    feed = Feed("ING-0010")
    opened_at = timezone.now() - timedelta(seconds=45)
    ingest_batch([feed.msg("event", {"kind": "door_opened"}, at=opened_at)], DeviceDirectory())
    assert run_sweeps(timezone.now())["door_alarms"] == 1
    assert Alarm.objects.get(device=device, kind="door_open_no_session").severity == "critical"


def test_last_will_applies_to_its_own_connection_only(world_a) -> None:
    device, _ = activated_device(world_a, "ING-0011")
    feed, directory = Feed("ING-0011"), DeviceDirectory()
    birth = {"online": True, "reason": "boot", "firmware": "2.1.0", "boot_id": "b1"}
    # Connection 1 reserves seq 10 for its will and births with 11, then reports a while.
    ingest_batch([feed.msg("status", birth, seq=11), feed.msg("hb", {"uptime_s": 5}, seq=12)], directory)
    ingest_batch([feed.msg("status", {"online": False, "reason": "lwt"}, seq=10)], directory)
    state = DeviceState.objects.get(device=device)
    assert (state.online, state.last_seq) == (False, 12)
    # Connection 2 births with 21 (will 20); connection 1's will, delivered late, changes nothing.
    ingest_batch([feed.msg("status", {**birth, "reason": "reconnect"}, seq=21)], directory)
    ingest_batch([feed.msg("status", {"online": False, "reason": "lwt"}, seq=10 + 100)], directory)
    assert DeviceState.objects.get(device=device).online is False  # seq 110 > 21 + 1: a newer will applies
    ingest_batch([feed.msg("status", {**birth, "reason": "reconnect"}, seq=131)], directory)
    ingest_batch([feed.msg("status", {"online": False, "reason": "lwt"}, seq=20)], directory)
    assert DeviceState.objects.get(device=device).online is True


def test_a_confirmed_foreign_object_switch_is_recorded_on_the_device(world_a) -> None:
    device, _ = activated_device(world_a, "ING-0012")
    command = commands.command_send(
        actor=world_a.user("operations"),
        device=device,
        kind="set_foreign_object_lock",
        params={"enabled": True},
    )
    device.refresh_from_db()
    assert device.foreign_object_lock is False  # not until the device confirms
    ingest_batch(
        [Feed("ING-0012").msg("ack", {"cmd_id": str(command.pk), "result": "ok"})], DeviceDirectory()
    )
    device.refresh_from_db()
    assert device.foreign_object_lock is True


def test_revoked_credential_means_refused_and_late_ack_is_authoritative(world_a) -> None:
    from openvend.devices.services import device_credentials_revoke

    device, _ = activated_device(world_a, "ING-0013")
    command = commands.command_send(
        actor=world_a.user("operations"), device=device, kind="self_test", ttl_s=5
    )
    run_sweeps(timezone.now() + timedelta(seconds=6))
    command.refresh_from_db()
    assert (command.status, command.result_code) == ("expired", "E_EXPIRED")
    feed = Feed("ING-0013")
    ingest_batch([feed.msg("ack", {"cmd_id": str(command.pk), "result": "ok"})], DeviceDirectory())
    command.refresh_from_db()
    assert (command.status, command.result_code) == ("succeeded", "ok")  # the device's word wins
    device_credentials_revoke(actor=None, device=device)
    result = ingest_batch([feed.msg("hb", {"uptime_s": 9})], DeviceDirectory())
    assert result.dead_reasons == {"revoked_device": 1}


def test_an_empty_retained_status_is_ignored(world_a) -> None:
    activated_device(world_a, "ING-0014")
    result = ingest_batch([Received("ov/v1/d/ING-0014/up/status", b"", timezone.now())], DeviceDirectory())
    assert (result.stored, result.dead) == (0, 0)
    assert DeadLetter.objects.count() == 0


def test_retention_prunes_old_raw_messages_and_dead_letters(world_a, settings) -> None:
    settings.DEVICE_MESSAGE_RETENTION_DAYS = 7
    activated_device(world_a, "ING-0015")
    feed, directory = Feed("ING-0015"), DeviceDirectory()
    old = timezone.now() - timedelta(days=8)
    ingest_batch(
        [feed.msg("hb", {"uptime_s": 1}, at=old), Received("ov/v1/d/ING-0015/up/hb", b"x", old)], directory
    )
    ingest_batch([feed.msg("hb", {"uptime_s": 2})], directory)
    result = run_sweeps(timezone.now(), prune=True)
    assert (result["pruned"], result["dead_letters_pruned"]) == (1, 1)
    assert list(DeviceMessage.objects.values_list("body__uptime_s", flat=True)) == [2]
