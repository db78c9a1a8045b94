"""`openvend bench telemetry`: K devices publish through a real Mosquitto into the gateway,
persisted on PostgreSQL.

Reports messages/s persisted and the p50/p99 ingest lag (a probe device's event, from publish
until the cloud's ack arrives — the ack leaves only after the row is committed), and, in the same
run on the same broker, the broker's raw relay rate: the same messages from the same publishers to
one `mosquitto_sub` with no gateway behind it. Ratio = persisted / raw relay.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import platform
import secrets
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from openvend.bench.cpu import cpu_seconds, per_message_us, postgres_backends, total_cpu
from openvend.gateway.broker.process import MosquittoProcess

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/openvend_bench_telemetry"
DEVICES = int(os.environ.get("BENCH_DEVICES", "8"))
PER_DEVICE = int(os.environ.get("BENCH_MESSAGES", "25000"))
GATEWAYS = int(os.environ.get("BENCH_GATEWAYS", "2"))
# The load is telemetry, which the protocol sends at QoS 0 (§5.3); BENCH_QOS=1 measures the QoS that
# events and acks use.
QOS = int(os.environ.get("BENCH_QOS", "0"))
FLEET = 100_000
FLEET_INTERVAL_S = 30
STEADY_RATE = FLEET / FLEET_INTERVAL_S  # 3,333 msg/s
STEADY_SECONDS = float(os.environ.get("BENCH_STEADY_SECONDS", "10"))
CORES = os.cpu_count() or 1


def _recreate_database(url: str) -> None:
    from urllib.parse import urlparse

    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def _payload_files(directory: Path, devices: list[dict[str, str]], per_device: int) -> list[Path]:
    """Valid telemetry envelopes, one per line, so the publishers (mosquitto_pub -l) cost no Python."""
    from openvend.gateway import protocol

    files = []
    for device in devices:
        path = directory / f"{device['code']}.lines"
        with path.open("wb") as out:
            for seq in range(1, per_device + 1):
                body = {"temperature_c": round(4 + (seq % 7) * 0.1, 2), "rssi_dbm": -60 - seq % 9}
                _topic, payload = protocol.encode_up(device["code"], "telemetry", seq=seq, body=body)
                out.write(payload + b"\n")
        files.append(path)
    return files


def _publish_all(
    port: int, devices: list[dict[str, str]], files: list[Path]
) -> list[subprocess.Popen[bytes]]:
    return [
        subprocess.Popen(
            [
                "mosquitto_pub",
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-q",
                str(QOS),
                "-i",
                d["code"],
                "-u",
                d["code"],
                "-P",
                d["secret"],
                "-t",
                f"ov/v1/d/{d['code']}/up/telemetry",
                "-l",
            ],
            stdin=path.open("rb"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for d, path in zip(devices, files, strict=True)
    ]


def _raw_relay(
    port: int, password: str, devices: list[dict[str, str]], files: list[Path], total: int, broker_pid: int
) -> tuple[float, dict[str, float]]:
    """Messages/s through the broker to one C subscriber, and the CPU seconds each part spent."""
    from django.conf import settings

    sub = subprocess.Popen(
        [
            "mosquitto_sub",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-q",
            "1",
            "-u",
            settings.MQTT_GATEWAY_USERNAME,
            "-P",
            password,
            "-t",
            "ov/v1/d/+/up/#",
            "-C",
            str(total),
            "-i",
            "bench-raw-sub",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(0.5)
    broker_before = cpu_seconds(broker_pid)
    start = time.perf_counter()
    publishers = _publish_all(port, devices, files)
    _wait_exited(sub, timeout=600)
    elapsed = time.perf_counter() - start
    cpu = {"broker": cpu_seconds(broker_pid) - broker_before, "subscriber": cpu_seconds(sub.pid)}
    for p in publishers:
        _wait_exited(p, timeout=60)
    cpu["publishers"] = total_cpu(p.pid for p in publishers)
    sub.wait()
    for p in publishers:
        p.wait()
    return total / elapsed, cpu


def _wait_exited(process: subprocess.Popen[bytes], timeout: float) -> None:
    """Wait until the child has exited but leave it unreaped, so /proc still holds its CPU times."""
    os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOWAIT)


class _SteadyLoad:
    """Paho publishers holding a fixed total rate (the 100,000-device fleet's 3,300 msg/s), so the
    probe measures lag at a realistic load instead of behind a flood's backlog."""

    def __init__(self, port: int, devices: list[dict[str, str]], rate: float, start_seq: int) -> None:
        import paho.mqtt.client as mqtt

        from openvend.gateway import protocol

        self.protocol, self.devices, self.rate, self.seq = protocol, devices, rate, start_seq
        self.sent = 0
        self.clients = []
        for device in devices:
            client = mqtt.Client(
                mqtt.CallbackAPIVersion.VERSION2, client_id=device["code"] + "-s", clean_session=True
            )
            client.username_pw_set(device["code"], device["secret"])
            client.connect("127.0.0.1", port)
            client.loop_start()
            self.clients.append(client)

    def run(self, seconds: float) -> None:
        interval = 1.0 / self.rate
        start = time.perf_counter()
        n = 0
        while time.perf_counter() - start < seconds:
            device, client = self.devices[n % len(self.devices)], self.clients[n % len(self.clients)]
            if n % len(self.devices) == 0:
                self.seq += 1
            topic, payload = self.protocol.encode_up(
                device["code"], "telemetry", seq=self.seq, body={"temperature_c": 4.0, "rssi_dbm": -61}
            )
            client.publish(topic, payload, qos=1)
            n += 1
            delay = start + n * interval - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        self.sent = n

    def close(self) -> None:
        for client in self.clients:
            client.loop_stop()
            client.disconnect()


def _gateway_child(url: str, username: str, password: str, group: str, stop: Any) -> None:
    from django import db

    db.connections.close_all()
    from openvend.gateway.runner import Gateway, GatewayConfig

    gateway = Gateway(
        GatewayConfig(url=url, username=username, password=password, shared_group=group)
    ).start()
    stop.wait()
    gateway.stop()


class _Probe:
    """A device sending one event every 20 ms; the cloud ack marks it persisted."""

    def __init__(self, port: int, code: str, secret: str, first_seq: int = 1) -> None:
        import paho.mqtt.client as mqtt

        from openvend.gateway import protocol

        self.protocol = protocol
        self.code = code
        self.sent: dict[int, float] = {}
        self.lags: list[float] = []
        self.first_seq = first_seq
        self.acked = first_seq - 1
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=code, clean_session=True)
        self.client.username_pw_set(code, secret)
        self.client.on_message = self._on_ack
        self.client.connect("127.0.0.1", port)
        self.client.subscribe(protocol.down_topic(code, "ack"), qos=1)
        self.client.loop_start()
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _on_ack(self, client: Any, userdata: Any, message: Any) -> None:
        now = time.perf_counter()
        seq = self.protocol.decode_cloud_ack(message.payload)
        for s in range(self.acked + 1, seq + 1):
            if s in self.sent:
                self.lags.append(now - self.sent[s])
        self.acked = max(self.acked, seq)

    def _run(self) -> None:
        seq = self.first_seq - 1
        while not self._stop.wait(0.02):
            seq += 1
            topic, payload = self.protocol.encode_up(
                self.code, "event", seq=seq, body={"kind": "weight_change"}
            )
            self.sent[seq] = time.perf_counter()
            self.client.publish(topic, payload, qos=1)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.thread.join()
        time.sleep(1.0)
        self.client.loop_stop()
        self.client.disconnect()


def _percentiles(lags: list[float]) -> tuple[float, float]:
    if not lags:
        return float("nan"), float("nan")
    return statistics.median(lags) * 1000, lags[min(len(lags) - 1, int(len(lags) * 0.99))] * 1000


def main() -> int:
    os.environ.setdefault("DATABASE_URL", DEFAULT_DB)
    for tool in ("mosquitto", "mosquitto_pub", "mosquitto_sub"):
        if not shutil.which(tool) and not shutil.which(tool, path="/usr/sbin"):
            print(f"{tool} is required for this benchmark")
            return 2
    _recreate_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from openvend.devices.models import DeviceMessage
    from openvend.merchants import services as merchants
    from openvend.simulator.provision import provision_devices

    call_command("migrate", verbosity=0, interactive=False)
    password = secrets.token_urlsafe(16)
    settings.MQTT_GATEWAY_PASSWORD = password
    merchant = merchants.merchant_register(name="Bench", code="bench")
    merchants.merchant_approve(actor=None, merchant=merchant)
    devices = provision_devices(merchant, DEVICES + 1, prefix="BENCH")
    probe, devices = devices[-1], devices[:DEVICES]
    total = DEVICES * PER_DEVICE
    workdir = Path(tempfile.mkdtemp(prefix="openvend-bench-"))
    binary = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin") or "mosquitto"
    broker = MosquittoProcess(binary, workdir, timeout=10).start()
    try:
        files = _payload_files(workdir, devices, PER_DEVICE)
        broker_pid = broker.process.pid if broker.process else 0
        raw_rate, raw_cpu = _raw_relay(broker.port, password, devices, files, total, broker_pid)

        ctx = multiprocessing.get_context("fork")
        stop = ctx.Event()
        connection.close()
        url = f"mqtt://127.0.0.1:{broker.port}"
        gateways = [
            ctx.Process(
                target=_gateway_child, args=(url, settings.MQTT_GATEWAY_USERNAME, password, "bench", stop)
            )
            for _ in range(GATEWAYS)
        ]
        for g in gateways:
            g.start()
        time.sleep(2.0)
        prober = _Probe(broker.port, probe["code"], probe["secret"])
        prober.start()
        gateway_pids = [g.pid for g in gateways if g.pid]
        cpu_before = {"broker": cpu_seconds(broker_pid), "gateways": total_cpu(gateway_pids)}
        start = time.perf_counter()
        publishers = _publish_all(broker.port, devices, files)
        deadline = start + 600
        stored = 0
        while time.perf_counter() < deadline:
            stored = DeviceMessage.objects.filter(type="telemetry").count()
            if stored >= total:
                break
            time.sleep(0.2)
        elapsed = time.perf_counter() - start
        flood_cpu = {
            "broker": cpu_seconds(broker_pid) - cpu_before["broker"],
            "gateways": total_cpu(gateway_pids) - cpu_before["gateways"],
            # The gateways' own server processes, opened when the flood began: their whole life.
            "postgres": total_cpu(postgres_backends(connection, connection.settings_dict["NAME"])),
        }
        prober.stop()
        flood_lags = sorted(prober.lags)
        for p in publishers:
            _wait_exited(p, timeout=60)
        flood_cpu["publishers"] = total_cpu(p.pid for p in publishers)
        for p in publishers:
            p.wait()
        # Steady phase: the fleet's real rate, with a fresh probe.
        steady_prober = _Probe(broker.port, probe["code"], probe["secret"], first_seq=prober.acked + 1000)
        steady = _SteadyLoad(broker.port, devices, STEADY_RATE, PER_DEVICE)
        steady_prober.start()
        steady.run(STEADY_SECONDS)
        steady_prober.stop()
        steady.close()
        stop.set()
        for g in gateways:
            g.join(timeout=20)
        persisted_rate = stored / elapsed
        p50, p99 = _percentiles(sorted(steady_prober.lags))
        flood_p50, flood_p99 = _percentiles(flood_lags)
        lags = steady_prober.lags
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_total_relation_size('devices_devicemessage'), count(*) FROM devices_devicemessage"
            )
            table_bytes, rows = cursor.fetchone()
    finally:
        broker.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    bytes_per_row = table_bytes / rows
    per_day = FLEET * 86400 / FLEET_INTERVAL_S
    retention = settings.DEVICE_MESSAGE_RETENTION_DAYS
    ratio = persisted_rate / raw_rate
    raw_us = per_message_us(sum(raw_cpu.values()), total)
    flood_us = per_message_us(sum(flood_cpu.values()), stored)
    lines = [
        f"telemetry benchmark: {DEVICES} publishers x {PER_DEVICE} messages (QoS {QOS}), "
        f"{GATEWAYS} gateway processes, PostgreSQL",
        f"raw relay (mosquitto_pub -> mosquitto -> mosquitto_sub): {raw_rate:10.0f} msg/s",
        f"persisted (... -> gateway -> PostgreSQL, committed): {persisted_rate:10.0f} msg/s "
        f"({stored}/{total} in {elapsed:.1f} s)",
        f"ratio persisted / raw relay: {ratio:.2f}",
        f"ingest lag at the fleet's {STEADY_RATE:.0f} msg/s for {STEADY_SECONDS:.0f} s "
        f"(probe, {len(lags)} events, publish -> committed -> cloud ack): p50 {p50:.1f} ms, p99 {p99:.1f} ms",
        f"ingest lag during the flood above (its backlog included): "
        f"p50 {flood_p50:.0f} ms, p99 {flood_p99:.0f} ms",
        "CPU per message, raw relay: "
        + ", ".join(f"{k} {per_message_us(v, total):.1f} µs" for k, v in raw_cpu.items())
        + f"; total {raw_us:.1f} µs",
        "CPU per message, persisted: "
        + ", ".join(f"{k} {per_message_us(v, stored):.1f} µs" for k, v in flood_cpu.items())
        + f"; total {flood_us:.1f} µs (the machine's {CORES} cores allow {CORES * 1e6 / flood_us:,.0f} msg/s"
        f" at this cost; the raw relay's {CORES * 1e6 / raw_us:,.0f})",
        f"storage: {bytes_per_row:.0f} bytes per stored message (table + indexes); "
        f"a {FLEET:,}-device fleet at one message per {FLEET_INTERVAL_S} s writes "
        f"{per_day / 1e6:.0f} M messages/day = "
        f"{per_day * bytes_per_row / 1e9:.1f} GB/day; {retention}-day retention bounds it at "
        f"{per_day * bytes_per_row * retention / 1e9:.0f} GB",
    ]
    print("\n".join(lines))
    summary = {
        "benchmark": "telemetry",
        "devices": DEVICES,
        "messages": total,
        "gateways": GATEWAYS,
        "qos": QOS,
        "persisted_per_s": round(persisted_rate),
        "raw_relay_per_s": round(raw_rate),
        "ratio": round(ratio, 3),
        "steady_rate_per_s": round(STEADY_RATE),
        "lag_p50_ms": round(p50, 1),
        "lag_p99_ms": round(p99, 1),
        "flood_lag_p99_ms": round(flood_p99),
        "cpu_us_per_message_raw": {k: round(per_message_us(v, total), 1) for k, v in raw_cpu.items()},
        "cpu_us_per_message_persisted": {
            k: round(per_message_us(v, stored), 1) for k, v in flood_cpu.items()
        },
        "cores": CORES,
        "bytes_per_message": round(bytes_per_row),
        "fleet_gb_per_day": round(per_day * bytes_per_row / 1e9, 1),
        "retention_days": retention,
        "python": platform.python_version(),
    }
    print(json.dumps(summary))
    return 0
