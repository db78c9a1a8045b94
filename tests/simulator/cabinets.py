"""A simulated shopper cabinet and a gateway on a real broker, for tests that shop end to end."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from openvend.gateway.runner import Gateway, GatewayConfig
from openvend.simulator.shoppers import ShopperCabinet
from tests.gateway.conftest import RunningBroker
from tests.orders.conftest import Store


@contextmanager
def cabinet_and_gateway(
    broker: RunningBroker, store: Store, *, gateways: int = 1, dwell_s: float = 0.1
) -> Iterator[tuple[ShopperCabinet, Gateway]]:
    """The cabinet and the first gateway; with `gateways` > 1, that many split the device traffic on
    a shared subscription (the broker must support them). `dwell_s`: how long the door stays open
    after the last take."""
    from openvend.devices import services as devices

    broker.sync()  # the store's device was activated after the broker started
    secret = devices.device_credentials_rotate(actor=None, device=store.device)
    broker.sync()
    group = "test-gw" if gateways > 1 else ""
    running = [
        Gateway(
            GatewayConfig(
                url=broker.url,
                username=broker.gateway_username,
                password=broker.gateway_password,
                dispatch_every_s=0.05,
                shared_group=group,
            )
        ).start()
        for _n in range(gateways)
    ]
    cabinet = ShopperCabinet(
        store.device.code, secret, broker.url, sensors=store.device.kind.sensor_ids, dwell_s=dwell_s
    )
    cabinet.start()
    try:
        yield cabinet, running[0]
    finally:
        cabinet.stop()
        for gateway in running:
            gateway.stop()
