"""`openvend device provision` and `openvend simulate`: the bodies behind the two commands.

Machine-readable output (the provisioned credentials) goes to stdout; progress goes to stderr, so
a test bench can pipe the JSON straight into its own tooling."""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from typing import Any

from django.conf import settings
from django.db import DatabaseError

from openvend.merchants.choices import MerchantStatus
from openvend.merchants.models import Merchant, Site
from openvend.simulator.fleet import Fleet
from openvend.simulator.provision import cameras_of, provision_devices, sensors_of

# Where `openvend demo` runs its embedded broker when MQTT_URL is empty (its preferred port; it
# takes another one only if that is busy, and then --url is needed).
DEFAULT_URL = "mqtt://127.0.0.1:18830"
STATUS_EVERY_S = 10.0


class UsageError(Exception):
    pass


def broker_url(url: str = "") -> str:
    return url or settings.MQTT_URL or DEFAULT_URL


def _merchant(code: str | None) -> Merchant:
    if code:
        merchant = Merchant.objects.filter(code=code).first()
        if merchant is None:
            raise UsageError(f"no merchant with code {code!r}")
        return merchant
    merchant = Merchant.objects.filter(status=MerchantStatus.ACTIVE).order_by("pk").first()
    if merchant is None:
        raise UsageError("no active merchant: pass --merchant, or seed one with `openvend demo --no-serve`")
    return merchant


def _site(merchant: Merchant, code: str | None) -> Site | None:
    if not code:
        return None
    site = Site.objects.filter(merchant=merchant, code=code).first()
    if site is None:
        raise UsageError(f"merchant {merchant.code} has no site {code!r}")
    return site


def _provision(
    merchant_code: str | None, count: int, prefix: str, site_code: str | None
) -> list[dict[str, str]]:
    try:
        merchant = _merchant(merchant_code)
        return provision_devices(merchant, count, prefix=prefix, site=_site(merchant, site_code))
    except DatabaseError as exc:
        raise UsageError(f"database not ready ({exc}); run `openvend migrate` first") from exc
    except ValueError as exc:
        raise UsageError(str(exc)) from exc


def run_provision(*, merchant: str | None, count: int, prefix: str, site: str | None, url: str = "") -> int:
    try:
        credentials = _provision(merchant, count, prefix, site)
    except UsageError as exc:
        print(f"openvend device provision: {exc}", file=sys.stderr)
        return 2
    broker = broker_url(url)
    rows = [{**entry, "url": broker, "username": entry["code"]} for entry in credentials]
    print(json.dumps(rows, indent=2))
    return 0


def run_simulate(
    *,
    devices: int,
    merchant: str | None,
    url: str,
    heartbeat: float,
    telemetry: float,
    duration: float | None,
    prefix: str = "SIM",
    seed: int = 0,
    media: bool = False,
) -> int:
    """`media`: devices whose kind has a camera report a still of every door session."""
    try:
        credentials = _provision(merchant, devices, prefix, None)
        codes = [entry["code"] for entry in credentials]
        sensors, cameras = sensors_of(codes), cameras_of(codes)
    except UsageError as exc:
        print(f"openvend simulate: {exc}", file=sys.stderr)
        return 2
    broker = broker_url(url)
    fleet = Fleet.from_credentials(
        [
            {
                **entry,
                "sensors": sensors.get(entry["code"], []),
                "has_camera": cameras.get(entry["code"], False),
            }
            for entry in credentials
        ],
        broker,
        seed=seed,
        # Sequence numbers must never go back, also across runs: the cloud ignores reused ones.
        state_dir=settings.VAR_DIR / "simulator",
        heartbeat_s=heartbeat,
        telemetry_s=telemetry,
        capture_media=media,
    )
    print(f"simulating {len(fleet)} device(s) against {broker}; Ctrl-C stops", file=sys.stderr, flush=True)
    try:
        fleet.start(wait=30.0)
    except ConnectionError as exc:
        print(f"openvend simulate: {exc}; is a broker running there? (see --url)", file=sys.stderr)
        fleet.stop(clean=False)
        return 1
    deadline = None if duration is None else time.monotonic() + duration
    if threading.current_thread() is threading.main_thread():
        # A bench harness stops us with SIGTERM: shut down cleanly, as on Ctrl-C.
        signal.signal(signal.SIGTERM, _interrupt)
    try:
        while deadline is None or time.monotonic() < deadline:
            remaining = (
                STATUS_EVERY_S if deadline is None else min(STATUS_EVERY_S, deadline - time.monotonic())
            )
            time.sleep(max(0.0, remaining))
            _report(fleet)
    except KeyboardInterrupt:
        pass
    finally:
        fleet.stop(clean=True)
    _report(fleet)
    return 0


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _report(fleet: Fleet) -> None:
    counters = fleet.counters()
    published = {
        k.removeprefix("published."): v for k, v in sorted(counters.items()) if k.startswith("published.")
    }
    print(
        f"connected {fleet.connected_count()}/{len(fleet)}  outbox {fleet.outbox_size()}  "
        f"published {published}  acks {counters['acks_received']}  commands {counters['commands_executed']}",
        file=sys.stderr,
        flush=True,
    )
