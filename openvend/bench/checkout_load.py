"""The checkout benchmark's load: simulated cabinets connected to the broker and one shopper at each,
visiting back to back (the saturation phase), then at a fixed total rate (the latency phase).

Runs in its own process; sends its visits and its profile back through a queue.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import asdict
from typing import Any

from openvend.bench.checkout_world import Tally
from openvend.simulator.shoppers import ShopperCabinet, Visit, door_visit, pick, shelves_of

DWELL_S = 0.2  # door open while the shopper takes the goods
VISIT_TIMEOUT_S = 10.0
IDLE_TIMEOUT_S = 120.0
RETRY_S = 0.5  # after a refused scan


class Cabinets:
    def __init__(self, credentials: list[dict[str, Any]], url: str) -> None:
        self.cabinets = [
            ShopperCabinet(
                c["code"],
                c["secret"],
                url,
                sensors=c["sensors"],
                dwell_s=DWELL_S,
                heartbeat_s=30,
                telemetry_s=600,
                seed=index,
            )
            for index, c in enumerate(credentials)
        ]

    def start(self) -> None:
        for cabinet in self.cabinets:
            cabinet.start(wait=None)
        for cabinet in self.cabinets:
            if not cabinet.wait_connected(30):
                raise ConnectionError(f"{cabinet.code} did not connect")

    def stop(self) -> None:
        for cabinet in self.cabinets:
            cabinet.stop(clean=True, timeout=2)


def _wait_online(codes: list[str], timeout: float) -> None:
    from openvend.devices.models import DeviceState

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if DeviceState.objects.filter(device__code__in=codes, online=True).count() == len(codes):
            return
        time.sleep(0.2)
    raise TimeoutError("the gateway did not see every cabinet online")


def _run_phase(
    lanes: list[tuple[ShopperCabinet, Any, Any, list[Any]]], seconds: float, period_s: float, seed: int
) -> tuple[list[Visit], list[str]]:
    """One thread per cabinet until `seconds` pass. period_s 0: back to back; otherwise cabinet i
    starts a visit every period_s (phase-shifted by i/N), or as soon as it is free if late."""
    visits: list[Visit] = []
    errors: list[str] = []
    lock = threading.Lock()
    start = time.monotonic()
    deadline = start + seconds

    def lane(index: int, cabinet: ShopperCabinet, device: Any, consumer: Any, shelves: list[Any]) -> None:
        from django.db import connection

        from openvend.payments.choices import PaymentMethod

        rng = random.Random(seed * 1000 + index)  # noqa: S311 (reproducible shoppers)
        due = start + (index / len(lanes)) * period_s
        try:
            while True:
                if period_s:
                    time.sleep(max(0.0, due - time.monotonic()))
                    due += period_s
                if time.monotonic() >= deadline:
                    return
                try:
                    visit = door_visit(
                        cabinet=cabinet,
                        device=device,
                        consumer=consumer,
                        method=PaymentMethod.WECHAT_PAYSCORE,
                        picked=pick(rng, shelves),
                        timeout=VISIT_TIMEOUT_S,
                    )
                except Exception as exc:  # a refused scan is a figure of the run, not its end
                    with lock:
                        errors.append(f"{type(exc).__name__}: {exc}"[:200])
                    time.sleep(RETRY_S)
                    continue
                with lock:
                    visits.append(visit)
                # The next shopper steps up once the platform has stored this visit's door closing.
                cabinet.wait_idle(IDLE_TIMEOUT_S)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=lane, args=(i, *entry), name=f"shopper-{i}", daemon=True)
        for i, entry in enumerate(lanes)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + IDLE_TIMEOUT_S + 2 * VISIT_TIMEOUT_S)
    return visits, errors


def _paid_between(t0: float, t1: float) -> int:
    from datetime import UTC, datetime

    from openvend.payments.choices import PaymentState
    from openvend.payments.models import Payment

    return Payment.objects.filter(
        state=PaymentState.PAID,
        paid_at__gte=datetime.fromtimestamp(t0, UTC),
        paid_at__lt=datetime.fromtimestamp(t1, UTC),
    ).count()


def load_child(
    url: str, credentials: list[dict[str, Any]], plan: dict[str, Any], inbox: Any, out: Any
) -> None:
    """Connect the cabinets, wait for the shoppers' ids, run both phases, report."""
    from django import db

    db.connections.close_all()
    tally = Tally().install()
    from openvend.consumers.models import Consumer
    from openvend.devices.models import Device

    cabinets = Cabinets(credentials, url)
    cabinets.start()
    try:
        consumer_ids = inbox.get(timeout=600)
        codes = [c["code"] for c in credentials]
        _wait_online(codes, 60)
        devices = {d.code: d for d in Device.objects.filter(code__in=codes).select_related("merchant")}
        consumers = list(Consumer.objects.filter(pk__in=consumer_ids).order_by("pk"))
        lanes = []
        for cabinet, consumer in zip(cabinets.cabinets, consumers, strict=True):
            device = devices[cabinet.code]
            lanes.append((cabinet, device, consumer, shelves_of(device)))
        db.connections.close_all()
        result: dict[str, Any] = {"role": "load"}
        t0 = time.time()
        saturated, errors = _run_phase(lanes, plan["seconds"], 0.0, seed=1)
        t1 = time.time()
        time.sleep(2.0)  # the last door closes settle
        warm = min(plan["warmup_s"], plan["seconds"] / 4)
        rate = _paid_between(t0 + warm, t1) / (t1 - t0 - warm)
        result["saturation"] = {
            "t0": t0 + warm,
            "t1": t1,
            "completed_per_s": rate,
            "visits": [asdict(v) for v in saturated],
            "errors": errors,
        }
        target = plan["rate"] or rate / 2
        period = len(lanes) / target if target > 0 else 1.0
        t2 = time.time()
        paced, paced_errors = _run_phase(lanes, plan["seconds"], period, seed=2)
        t3 = time.time()
        time.sleep(3.0)
        result["latency"] = {
            "t0": t2,
            "t1": t3,
            "target_per_s": target,
            "visits": [asdict(v) for v in paced],
            "errors": paced_errors,
        }
        db.connections.close_all()
    finally:
        cabinets.stop()
    result["tally"] = tally.report()
    out.put(result)
