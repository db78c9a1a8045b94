"""The Mosquitto child process's reload waits for the broker's own reload line, and asks again when
a SIGHUP was lost: Mosquitto clears its reload flag after reloading, so a signal that lands while
another writer's reload is under way does nothing."""

from __future__ import annotations

import time
from typing import Any

import pytest

from openvend.gateway.broker import mosquitto, process
from openvend.gateway.broker.process import RELOAD_MARKER, RESEND_AFTER_S, MosquittoProcess
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
