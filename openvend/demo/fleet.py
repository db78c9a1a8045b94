"""The demo's device side: an MQTT broker (embedded amqtt on a port of its own, or the one named
by MQTT_URL), the gateway, and a small simulated fleet per demo merchant that now and then breaks
and mends itself, so the console's device list and alarms move while you watch."""

from __future__ import annotations

import logging
import random
import socket
import threading
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from openvend.config.settings.secret import load_or_create_secret_key

logger = logging.getLogger(__name__)

DEVICES_PER_MERCHANT = 3
FAULTS = ("temperature_high", "camera_fault", "lock_fault")


def free_port(preferred: int = 18830) -> int:
    """`preferred` if it is free, else any free port. The demo's own services (the embedded broker,
    the payment sandboxes) use ports of their own so they never collide with real ones (1883, ...)."""
    for port in (preferred, 0):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(probe.getsockname()[1])
    raise OSError("no free port for a demo service")


@dataclass
class DemoFleet:
    url: str
    broker: Any = None
    gateway: Any = None
    fleet: Any = None
    _stop: threading.Event = field(default_factory=threading.Event)

    def stop(self) -> None:
        self._stop.set()
        for part in (self.fleet, self.gateway, self.broker):
            if part is not None:
                try:
                    part.stop()
                except Exception:
                    logger.exception("demo fleet part failed to stop")

    def _chaos(self) -> None:
        """Every half minute or so one cabinet develops a fault; a while later it is mended."""
        rng = random.Random(7)  # noqa: S311 - demo theatre, not security
        broken: list[tuple[Any, str]] = []
        while not self._stop.wait(rng.uniform(20, 40)):
            if broken and rng.random() < 0.6:
                device, fault = broken.pop(0)
                device.heal(fault)
            else:
                device = rng.choice(self.fleet.devices)
                fault = rng.choice(FAULTS)
                device.inject(fault)
                broken.append((device, fault))


def start_demo_fleet(var_dir: Any) -> DemoFleet:
    from openvend.gateway.broker.embedded import EmbeddedBroker
    from openvend.gateway.runner import Gateway, GatewayConfig
    from openvend.merchants.models import Merchant, Site
    from openvend.simulator.fleet import Fleet
    from openvend.simulator.provision import provision_devices

    password = settings.MQTT_GATEWAY_PASSWORD or load_or_create_secret_key(var_dir / "mqtt-gateway.secret")
    settings.MQTT_GATEWAY_PASSWORD = password
    broker = None
    if settings.MQTT_URL:
        url = settings.MQTT_URL
        # One gateway here: with partitioned routing it owns every device.
        shared = settings.MQTT_SHARED_GROUP if settings.MQTT_GATEWAY_ROUTING == "shared" else ""
    else:
        broker = EmbeddedBroker(
            port=free_port(), gateway_username=settings.MQTT_GATEWAY_USERNAME, gateway_password=password
        )
        broker.start()
        url, shared = broker.url, ""  # amqtt has no shared subscriptions; one gateway runs here
    demo = DemoFleet(url=url, broker=broker)
    demo.gateway = Gateway(
        GatewayConfig(
            url=url, username=settings.MQTT_GATEWAY_USERNAME, password=password, shared_group=shared
        )
    ).start()
    credentials = []
    for merchant in Merchant.objects.filter(code__in=["xianguo", "northwind"]).order_by("pk"):
        sites = list(Site.objects.filter(merchant=merchant).order_by("pk"))
        for index in range(DEVICES_PER_MERCHANT):
            site = sites[index % len(sites)] if sites else None
            credentials += provision_devices(
                merchant, 1, prefix=f"{merchant.code.upper()}{index + 1}", site=site
            )
    from openvend.demo.catalog import stock_demo_devices
    from openvend.devices.models import Device

    stock_demo_devices(
        Device.objects.filter(code__in=[c["code"] for c in credentials]).select_related("merchant")
    )
    demo.fleet = Fleet.from_credentials(
        credentials, url, heartbeat_s=10, telemetry_s=15, state_dir=var_dir / "simulator"
    ).start()
    threading.Thread(target=demo._chaos, name="demo-chaos", daemon=True).start()
    return demo
