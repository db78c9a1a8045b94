"""The checkout benchmark's world and its processes: a merchant with stocked simulated cabinets, the
payment sandboxes, shoppers signed up for WeChat payscore, the web process that receives the
providers' notifications, gateway processes, and the process where the cabinets and shoppers live.

Every child process counts its own database queries, provider calls and garbage collections (the
profile the report prints), and reports them through a queue when told to stop.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

BALANCE_FEN = 10**9  # no shopper runs out of money in a run
STOCK_UNITS = 60  # per position: enough for a run; recognition time grows with the count on hand
SANDBOX_TIME_SCALE = 0.01


def recreate_database(url: str) -> None:
    from urllib.parse import urlparse

    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def build_world(workdir: Any, cabinets: int) -> tuple[Any, list[dict[str, Any]]]:
    """Migrate, seed the demo merchants and goods, and provision `cabinets` stocked cabinets at one
    of xianguo's sites. Returns the merchant and the cabinets' credentials (code, secret, sensors)."""
    from django.core.management import call_command

    from openvend.demo.catalog import stock_demo_devices
    from openvend.demo.seed import seed_demo
    from openvend.devices.models import Device
    from openvend.inventory import ledger
    from openvend.inventory.choices import MovementKind
    from openvend.inventory.planogram_selectors import planogram_in_force
    from openvend.merchants.models import Merchant, Site
    from openvend.simulator.provision import provision_devices, sensors_of

    call_command("migrate", verbosity=0, interactive=False)
    seed_demo(workdir / "logins.json")
    merchant = Merchant.objects.get(code="xianguo")
    site = Site.objects.filter(merchant=merchant).order_by("pk").first()
    credentials = provision_devices(merchant, cabinets, prefix="CHK", site=site)
    devices = list(
        Device.objects.filter(code__in=[c["code"] for c in credentials]).select_related("merchant")
    )
    stock_demo_devices(devices)
    for device in devices:
        plan = planogram_in_force(device)
        assert plan is not None
        for slot in plan.slots.select_related("product"):
            ledger.post_movement(
                device=device,
                product=slot.product,
                quantity=STOCK_UNITS,
                kind=MovementKind.REPLENISHMENT,
                reason="bench stock",
                idempotency_key=f"bench:stock:{device.pk}:{slot.product_id}",
            )
    sensors = sensors_of([c["code"] for c in credentials])
    return merchant, [{**c, "sensors": sensors[c["code"]]} for c in credentials]


def sign_up_shoppers(merchant: Any, wechat: Any, count: int) -> list[int]:
    """`count` consumers, each with an active payscore authorisation and a deep sandbox balance."""
    from openvend.simulator.shoppers import shopper_sign_up

    ids = []
    for n in range(count):
        openid = f"o-bench-shopper-{n:05d}"
        wechat.set_balance(openid, BALANCE_FEN)
        ids.append(shopper_sign_up(merchant=merchant, openid=openid).pk)
    return ids


# Instrumentation (each child process) ------------------------------------------------------------


class Tally:
    """Database statements, provider calls and garbage collections of one process, by kind, with the
    time they took (a collection stops every thread of the process)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.seconds: dict[str, float] = {}
        self._lock = threading.Lock()

    def add(self, kind: str, seconds: float) -> None:
        with self._lock:
            self.counts[kind] += 1
            self.seconds[kind] = self.seconds.get(kind, 0.0) + seconds

    def install(self, provider_rtt_s: float = 0.0) -> Tally:
        """Count from now on. `provider_rtt_s`: a network round trip added to every provider call
        (the local sandboxes answer in a few milliseconds; the real providers are further away)."""
        import httpx
        from django.db.backends.signals import connection_created

        def timed_sql(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
            start = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                verb = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else "?"
                self.add(f"sql {verb}", time.perf_counter() - start)

        def on_connection(sender: Any, connection: Any, **kwargs: Any) -> None:
            connection.execute_wrappers.append(timed_sql)

        connection_created.connect(on_connection, weak=False)
        send = httpx.Client.send

        def timed_send(client: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            time.sleep(provider_rtt_s)
            try:
                return send(client, request, *args, **kwargs)
            finally:
                self.add(f"http {request.method} {_api_path(request.url.path)}", time.perf_counter() - start)

        httpx.Client.send = timed_send  # type: ignore[method-assign,assignment]
        self._count_collections()
        return self

    def _count_collections(self) -> None:
        import gc

        started: list[float] = []

        def collection(phase: str, info: dict[str, Any]) -> None:
            if phase == "start":
                started[:] = [time.perf_counter()]
            elif started:
                self.add(f"gc generation {info['generation']}", time.perf_counter() - started[0])

        gc.callbacks.append(collection)

    def report(self) -> dict[str, dict[str, float]]:
        with self._lock:
            return {k: {"count": self.counts[k], "seconds": round(self.seconds[k], 4)} for k in self.counts}


def _api_path(path: str) -> str:
    """A provider path without its order numbers, so calls group by API."""
    parts = [p for p in path.split("/") if p]
    return "/" + "/".join("{no}" if any(ch.isdigit() for ch in p) and len(p) > 8 else p for p in parts)


# Child processes -------------------------------------------------------------------------------------


def gateway_child(config: dict[str, Any], stop: Any, out: Any, provider_rtt_s: float = 0.0) -> None:
    from django import db

    db.connections.close_all()
    tally = Tally().install(provider_rtt_s)
    import gc

    from openvend.gateway.runner import Gateway, GatewayConfig

    gateway = Gateway(GatewayConfig(**config))
    gc.freeze()  # as `openvend gateway` does before it starts
    gateway.start()
    stop.wait()
    gateway.stop()
    out.put({"role": "gateway", "tally": tally.report(), "stats": dict(gateway.stats)})


def web_child(port: int, stop: Any, out: Any) -> None:
    """The platform's web process: here it receives the providers' notifications."""
    from django import db

    db.connections.close_all()
    tally = Tally().install()
    from django.core.handlers.wsgi import WSGIHandler

    from openvend.sandbox.runtime import SandboxServer

    server = SandboxServer(WSGIHandler(), port=port).start()
    stop.wait()
    server.stop()
    out.put({"role": "web", "tally": tally.report()})
