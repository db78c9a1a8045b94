"""The checkout benchmark's load: simulated cabinets connected to the broker and one shopper at each,
visiting back to back (the saturation phase), then at a fixed total rate (the latency phase).

A shopper steps up when the cabinet is idle (relocked, every event acknowledged) and the platform
has finished weighing the previous visit there: the cabinet stays busy for new scans until its last
visit has an order (`SessionState` past recognising), and scanning a busy cabinet is refused.

Runs in its own process; sends its visits, its profile and the phases' CPU split back through a queue.
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
# How often a shopper looks whether the previous visit has been weighed: soon, then less and less
# often, so that waiting shoppers do not load the database they are measuring.
WEIGHED_POLL_S = (0.02, 0.25)


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


def _wait_weighed(session_id: int | None, timeout: float) -> None:
    """Until the visit's session has left the states that keep its cabinet busy (an order exists)."""
    from openvend.shopping.choices import DEVICE_BUSY_STATES
    from openvend.shopping.models import ShoppingSession

    if session_id is None:
        return
    busy = ShoppingSession.objects.filter(pk=session_id, state__in=DEVICE_BUSY_STATES)
    deadline = time.monotonic() + timeout
    pause, longest = WEIGHED_POLL_S
    while busy.exists() and time.monotonic() < deadline:
        time.sleep(pause)
        pause = min(longest, pause * 2)


def _run_phase(
    lanes: list[tuple[ShopperCabinet, Any, Any, list[Any]]], seconds: float, period_s: float, seed: int
) -> tuple[list[Visit], list[str], float]:
    """One thread per cabinet until `seconds` pass. period_s 0: back to back; otherwise cabinet i
    starts a visit every period_s (phase-shifted by i/N), or as soon as it is free if late. Returns
    the visits, the refused scans, and the shoppers' own CPU seconds (their scans, which the
    platform's web process would spend, and their waiting; not the cabinets' MQTT clients)."""
    visits: list[Visit] = []
    errors: list[str] = []
    shoppers_cpu = [0.0]
    lock = threading.Lock()
    start = time.monotonic()
    deadline = start + seconds

    def lane(index: int, cabinet: ShopperCabinet, device: Any, consumer: Any, shelves: list[Any]) -> None:
        from django.db import connection

        from openvend.payments.choices import PaymentMethod

        rng = random.Random(seed * 1000 + index)  # noqa: S311 (reproducible shoppers)
        due = start + (index / len(lanes)) * period_s
        previous: int | None = None
        cpu_at_start = time.thread_time()
        try:
            while True:
                if period_s:
                    time.sleep(max(0.0, due - time.monotonic()))
                    due += period_s
                _wait_weighed(previous, IDLE_TIMEOUT_S)
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
                previous = visit.session_id
                # The next shopper steps up once the platform has stored this visit's door closing.
                cabinet.wait_idle(IDLE_TIMEOUT_S)
        finally:
            connection.close()
            with lock:
                shoppers_cpu[0] += time.thread_time() - cpu_at_start

    threads = [
        threading.Thread(target=lane, args=(i, *entry), name=f"shopper-{i}", daemon=True)
        for i, entry in enumerate(lanes)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + IDLE_TIMEOUT_S + 2 * VISIT_TIMEOUT_S)
    return visits, errors, shoppers_cpu[0]


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
    """Connect the cabinets, wait for the shoppers' ids (and which process is which, for the CPU
    split), run both phases, report."""
    import os

    from django import db

    db.connections.close_all()
    tally = Tally().install()
    from openvend.bench.checkout_cpu import LOAD_ROLE, snapshot, split
    from openvend.consumers.models import Consumer
    from openvend.devices.models import Device

    database = db.connection.settings_dict["NAME"]
    cabinets = Cabinets(credentials, url)
    # The cabinets connect once the gateways are running (they start before the shoppers sign up):
    # a QoS 0 report sent before a gateway subscribed is lost, and a visit that started after it
    # would wait for that message (`shopping.evidence`).
    told = inbox.get(timeout=600)
    cabinets.start()
    try:
        consumer_ids, roles = told["consumers"], {**told["roles"], os.getpid(): LOAD_ROLE}
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
        cpu0 = snapshot(roles, database)
        t0 = time.time()
        saturated, errors, shoppers_cpu = _run_phase(lanes, plan["seconds"], 0.0, seed=1)
        t1 = time.time()
        cpu1 = snapshot(roles, database)
        time.sleep(2.0)  # the last door closes settle
        warm = min(plan["warmup_s"], plan["seconds"] / 4)
        rate = _paid_between(t0 + warm, t1) / (t1 - t0 - warm)
        result["saturation"] = {
            "t0": t0 + warm,
            "t1": t1,
            "completed_per_s": rate,
            "visits": [asdict(v) for v in saturated],
            "errors": errors,
            "cpu": split(cpu0, cpu1, _paid_between(t0, t1), shoppers_cpu),
        }
        target = plan["rate"] or rate / 2
        period = len(lanes) / target if target > 0 else 1.0
        cpu2 = snapshot(roles, database)
        t2 = time.time()
        paced, paced_errors, paced_cpu = _run_phase(lanes, plan["seconds"], period, seed=2)
        t3 = time.time()
        cpu3 = snapshot(roles, database)
        time.sleep(3.0)
        result["latency"] = {
            "t0": t2,
            "t1": t3,
            "target_per_s": target,
            "visits": [asdict(v) for v in paced],
            "errors": paced_errors,
            "cpu": split(cpu2, cpu3, _paid_between(t2, t3), paced_cpu),
        }
        db.connections.close_all()
    finally:
        cabinets.stop()
    result["tally"] = tally.report()
    out.put(result)
