"""A SIGHUP that lands while another writer's reload is under way does nothing (Mosquitto clears its
reload flag after reloading). The Mosquitto child process's reload waits for the broker's own reload
line and asks again; a credentials change elsewhere sends a confirming SIGHUP a second later; and
writers take turns, so that none writes files from a read older than another's."""

from __future__ import annotations

import time
from typing import Any

import pytest

from openvend.gateway.broker import mosquitto, process
from openvend.gateway.broker.process import RELOAD_MARKER, RESEND_AFTER_S, MosquittoProcess
from openvend.gateway.broker.reload_confirm import CONFIRM_AFTER_S, ReloadConfirmer
from tests.gateway.conftest import _missing, _mosquitto_binary

pytestmark = [pytest.mark.mqtt, pytest.mark.django_db]


@pytest.fixture
def server(tmp_path: Any, settings: Any) -> Any:
    binary = _mosquitto_binary()
    if binary is None:
        _missing("Mosquitto")
    settings.MQTT_GATEWAY_PASSWORD = "gateway-secret-for-this-test"
    broker = MosquittoProcess(binary or "", tmp_path, timeout=10.0).start()
    yield broker
    broker.stop()


def test_a_reload_whose_signal_is_lost_asks_again(server: MosquittoProcess, monkeypatch: Any) -> None:
    signals: list[str] = []

    def lost(pid_file: Any) -> bool:  # the file writer's SIGHUP, landing mid-reload
        signals.append("lost")
        return True

    monkeypatch.setattr(mosquitto, "reload_mosquitto", lost)
    real = process.reload_mosquitto
    monkeypatch.setattr(
        process, "reload_mosquitto", lambda pid_file: signals.append("again") or real(pid_file)
    )
    before = server.log().count(RELOAD_MARKER)
    started = time.monotonic()
    server.reload()
    # On a busy machine a slow reload may be asked for once more: extra reloads are harmless.
    assert server.log().count(RELOAD_MARKER) > before
    assert signals[:2] == ["lost", "again"] and set(signals[2:]) <= {"again"}
    assert time.monotonic() - started >= RESEND_AFTER_S


def test_a_credentials_change_whose_signal_is_lost_is_loaded_by_the_confirmation(
    server: MosquittoProcess, world_a: Any, monkeypatch: Any
) -> None:
    from openvend.devices import services as devices
    from openvend.devices.choices import DeviceType
    from openvend.devices.models import DeviceKind
    from tests.gateway.conftest import connack_of

    real = mosquitto.reload_mosquitto
    sent: list[float] = []

    def first_one_lost(pid_file: Any) -> bool:  # the immediate SIGHUP lands mid-reload
        sent.append(time.monotonic())
        return True if len(sent) == 1 else real(pid_file)

    monkeypatch.setattr(mosquitto, "reload_mosquitto", first_one_lost)
    kind = DeviceKind.objects.create(code="k", name="Cabinet", type=DeviceType.GRAVITY_CABINET)
    devices.device_register(actor=None, code="CAB7", kind=kind)
    _device, secret = devices.device_activate(actor=None, merchant=world_a.merchant, code="CAB7")
    reloads = server.log().count(RELOAD_MARKER)
    written = time.monotonic()
    mosquitto.sync_mosquitto(
        password_path=server.password_path, acl_path=server.acl_path, pid_file=server.pid_file
    )
    assert connack_of("127.0.0.1", server.port, "CAB7", secret) == 135  # the old files still hold
    deadline = time.monotonic() + 10
    while server.log().count(RELOAD_MARKER) == reloads and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(sent) == 2 and sent[1] - written >= CONFIRM_AFTER_S
    assert server.log().count(RELOAD_MARKER) == reloads + 1
    assert connack_of("127.0.0.1", server.port, "CAB7", secret) == 0
    mosquitto._confirmer.drain()
    assert mosquitto._confirmer.pending() == 0 and len(sent) == 2


def test_changes_in_quick_succession_share_one_confirmation() -> None:
    signalled: list[tuple[str, float]] = []
    confirmer = ReloadConfirmer(lambda path: signalled.append((path, time.monotonic())), delay=0.3)
    confirmer.schedule("a.pid")
    time.sleep(0.1)
    confirmer.schedule("b.pid")
    last = time.monotonic()
    confirmer.schedule("a.pid")
    deadline = time.monotonic() + 5
    while len(signalled) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.4)  # nothing more comes
    assert sorted(path for path, _at in signalled) == ["a.pid", "b.pid"]
    assert all(at - last >= 0.3 for _path, at in signalled)
    assert confirmer.pending() == 0


def test_writers_take_turns_from_reading_the_credentials_to_writing_the_files(
    tmp_path: Any, settings: Any
) -> None:
    import threading

    from django.db import connection

    settings.MQTT_GATEWAY_PASSWORD = "gateway-secret-for-this-test"
    passwords = tmp_path / "passwords"
    done = threading.Event()

    def write() -> None:
        try:
            mosquitto.sync_mosquitto(password_path=passwords, acl_path=tmp_path / "acl")
            done.set()
        finally:
            connection.close()  # this thread's own: the test database must not keep it

    with mosquitto._one_writer(passwords):  # another process is between its read and its write
        writer = threading.Thread(target=write)
        writer.start()
        assert not done.wait(0.5)
        assert not passwords.exists()
    assert done.wait(10)
    writer.join()
    assert passwords.read_text().startswith(f"{settings.MQTT_GATEWAY_USERNAME}:$7$")
