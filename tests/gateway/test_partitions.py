"""Partitioned gateways: each owns the devices whose code hashes to its partition, stores all of their
messages in the order they were sent and only theirs, and a partition whose gateway is down keeps its
messages in the broker (the gateway's persistent session) until that gateway returns."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from openvend.devices.models import DeviceMessage
from openvend.gateway import protocol
from openvend.gateway.cli import run_gateway
from openvend.gateway.runner import Gateway, GatewayConfig, config_from_settings
from tests.devices.factories import activated_device
from tests.gateway.conftest import RunningBroker
from tests.gateway.test_gateway_live import Device, wait_until
from tests.world import build_world


def _codes(partition: int, count: int, how_many: int) -> list[str]:
    codes = (f"PART-{n:04d}" for n in range(1000))
    topic = protocol.TOPIC_ROOT + "/{}/up/event"
    return [c for c in codes if protocol.partition_of_topic(topic.format(c), count) == partition][:how_many]


def _gateway(broker: RunningBroker, partition: tuple[int, int], client_id: str = "") -> Gateway:
    config = GatewayConfig(
        url=broker.url,
        username=broker.gateway_username,
        password=broker.gateway_password,
        partition=partition,
        client_id=client_id,
        dispatch_every_s=0.05,
        sweep_every_s=60,
    )
    return Gateway(config).start()


def _stored_seqs(code: str) -> list[int]:
    return list(DeviceMessage.objects.filter(device__code=code).order_by("pk").values_list("seq", flat=True))


def test_a_device_belongs_to_one_partition_for_good() -> None:
    # CRC-32 of the code: the same in every process and release (a change would move devices).
    assert [protocol.partition_of_topic(f"ov/v1/d/CAB-{n}/up/event", 4) for n in range(6)] == [
        protocol.partition_of_topic(f"ov/v1/d/CAB-{n}/up/hb", 4) for n in range(6)
    ]
    # zlib.crc32(b"cab-0042") == 0xCD57C5C2
    assert protocol.partition_of_topic("ov/v1/d/cab-0042/up/event", 4) == 0xCD57C5C2 % 4 == 2
    assert protocol.partition_of_topic("ov/v1/d/cab-0042/up/event", 1) == 0
    assert protocol.partition_of_topic("somewhere/else", 3) == 0  # no device code: the first one


def test_a_partition_must_exist_and_stands_alone() -> None:
    base = {"url": "mqtt://127.0.0.1:1", "username": "gw", "password": "x"}
    with pytest.raises(ValueError, match="partition 2 of 2"):
        Gateway(GatewayConfig(**base, partition=(2, 2)))
    with pytest.raises(ValueError, match="no shared group"):
        Gateway(GatewayConfig(**base, partition=(0, 2), shared_group="g"))


def test_routing_comes_from_the_settings(settings: Any) -> None:
    settings.MQTT_URL = "mqtt://broker:1883"
    config = config_from_settings(index=1, partitions=4, first_partition=2)
    assert (config.partition, config.shared_group, config.client_id) == ((3, 4), "", "openvend-gw-3-of-4")
    settings.MQTT_GATEWAY_ROUTING = "shared"
    config = config_from_settings(index=1, partitions=4, first_partition=2)
    assert (config.partition, config.shared_group) == (None, settings.MQTT_SHARED_GROUP)
    assert config.client_id.startswith("openvend-gw-") and config.client_id.endswith("-1")
    settings.MQTT_GATEWAY_ROUTING = "hashed"
    with pytest.raises(ImproperlyConfigured, match="MQTT_GATEWAY_ROUTING"):
        config_from_settings()


def test_processes_must_fit_in_the_partitions(settings: Any, capsys: Any) -> None:
    settings.MQTT_URL = "mqtt://broker:1883"
    assert run_gateway(processes=3, partitions=4, first_partition=2) == 2
    assert "do not fit" in capsys.readouterr().out


@pytest.mark.django_db(transaction=True)
def test_two_partitions_each_store_their_own_devices_in_order(mosquitto_broker: RunningBroker) -> None:
    world = build_world("part", "分区商户")
    mine = {0: _codes(0, 2, 2), 1: _codes(1, 2, 2)}
    secrets = {code: activated_device(world, code)[1] for codes in mine.values() for code in codes}
    mosquitto_broker.sync()
    gateways = [_gateway(mosquitto_broker, (index, 2)) for index in (0, 1)]
    devices = [Device(mosquitto_broker, code, secret) for code, secret in secrets.items()]
    try:
        for seq in range(1, 41):
            for device in devices:
                kind = "door_opened" if seq % 2 else "door_closed"
                topic, payload = protocol.encode_up(device.code, "event", seq=seq, body={"kind": kind})
                device.client.publish(topic, payload, qos=1)
        for device in devices:
            wait_until(lambda d=device: 40 in d.acks(), timeout=20, what=f"{device.code}'s last cloud ack")
        for device in devices:
            assert _stored_seqs(device.code) == list(range(1, 41))  # stored in the order sent
            assert sorted(set(device.acks())) == sorted(device.acks())  # never acked backwards
        for gateway in gateways:
            assert gateway.stats["stored"] == 80  # its two devices' messages, each once
            assert gateway.stats["other_partitions"] == 80  # the other two's, left alone
            assert gateway.stats["duplicates"] == 0
    finally:
        for device in devices:
            device.close()
        for gateway in gateways:
            gateway.stop()


@pytest.mark.django_db(transaction=True)
def test_a_partition_without_its_gateway_waits_for_it(mosquitto_broker: RunningBroker) -> None:
    world = build_world("wait", "等待商户")
    (waiting,), (served,) = _codes(0, 2, 1), _codes(1, 2, 1)
    secrets = {code: activated_device(world, code)[1] for code in (waiting, served)}
    mosquitto_broker.sync()
    first = _gateway(mosquitto_broker, (0, 2), client_id="test-gw-0-of-2")
    first.stop()  # a clean disconnect: its persistent session stays in the broker
    second = _gateway(mosquitto_broker, (1, 2))
    devices = {code: Device(mosquitto_broker, code, secret) for code, secret in secrets.items()}
    try:
        for device in devices.values():
            for seq in (1, 2, 3):
                device.send("event", {"kind": "door_opened"}, seq)
        wait_until(lambda: _stored_seqs(served) == [1, 2, 3], what="the served partition's messages")
        assert second.stats["other_partitions"] == 3
        assert _stored_seqs(waiting) == [] and devices[waiting].acks() == []
        first = _gateway(mosquitto_broker, (0, 2), client_id="test-gw-0-of-2")
        wait_until(lambda: _stored_seqs(waiting) == [1, 2, 3], timeout=15, what="the kept messages")
        wait_until(lambda: 3 in devices[waiting].acks(), what="their cloud ack")
    finally:
        for device in devices.values():
            device.close()
        first.stop()
        second.stop()


def _flaky_gateway(url: str, index: int, partitions: int, first: int) -> None:
    """A stand-in for a gateway process, started with its arguments (the broker URL here names a file
    where each start is written down): index 0 dies at its first start, then stays up."""
    import os
    import time
    from pathlib import Path

    log = Path(url)
    starts = log.read_text().count(f"{index} ") if log.exists() else 0
    with log.open("a") as out:
        out.write(f"{index} of {partitions} from {first}\n")
    if index == 0 and starts == 0:
        os._exit(3)
    time.sleep(60)


def test_a_gateway_process_that_exits_is_started_again(tmp_path: Any, monkeypatch: Any) -> None:
    import os
    import signal
    import threading
    import time

    from openvend.gateway import cli

    log = tmp_path / "starts"
    monkeypatch.setattr(cli, "_serve", _flaky_gateway)
    monkeypatch.setattr(cli, "RESTART_AFTER_S", 0.1)
    previous = signal.getsignal(signal.SIGTERM)

    def service_manager() -> None:  # stops the gateways once the restart has happened
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(_lines(log)) < 3:
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGTERM)  # the supervisor's handler is in place by then

    stopper = threading.Thread(target=service_manager)
    stopper.start()
    try:
        assert cli.run_gateway(url=str(log), processes=2, partitions=4, first_partition=2) == 0
    finally:
        stopper.join()
        signal.signal(signal.SIGTERM, previous)
    # Index 0 (partition 2 of 4) started, died, started again; index 1 started once.
    assert sorted(_lines(log)) == ["0 of 4 from 2", "0 of 4 from 2", "1 of 4 from 2"]


def _lines(log: Any) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []
