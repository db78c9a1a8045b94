"""A simulated shopper cabinet and a gateway on a real broker, for tests that shop end to end."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from openvend.gateway.runner import Gateway, GatewayConfig
from openvend.simulator.shoppers import ShopperCabinet
from tests.gateway.conftest import RunningBroker
from tests.orders.conftest import Store


@contextmanager
def cabinet_and_gateway(broker: RunningBroker, store: Store) -> Iterator[tuple[ShopperCabinet, Gateway]]:
    from openvend.devices import services as devices

    broker.sync()  # the store's device was activated after the broker started
    secret = devices.device_credentials_rotate(actor=None, device=store.device)
    broker.sync()
    gateway = Gateway(
        GatewayConfig(
            url=broker.url,
            username=broker.gateway_username,
            password=broker.gateway_password,
            dispatch_every_s=0.05,
        )
    ).start()
    cabinet = ShopperCabinet(
        store.device.code, secret, broker.url, sensors=store.device.kind.sensor_ids, dwell_s=0.1
    )
    cabinet.start()
    try:
        yield cabinet, gateway
    finally:
        cabinet.stop()
        gateway.stop()
