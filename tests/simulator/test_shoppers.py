"""Simulated shoppers at a simulated cabinet, through a real Mosquitto and the gateway: each visit is
scanned, opened by the gateway's command, reported by the cabinet's weight and door events, settled
into an order at the exact catalog prices, paid from the wallet, and the stock ledger follows."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection

from openvend.gateway.runner import Gateway, GatewayConfig
from openvend.inventory.selectors import on_hand
from openvend.orders.choices import OrderState
from openvend.orders.models import Order
from openvend.payments.choices import PaymentMethod
from openvend.payments.selectors import wallet_balance
from openvend.shopping.choices import SessionState as S
from openvend.simulator.shoppers import Shelf, ShopperCabinet, door_visit, pick, shelves_of, wait_settled
from tests.gateway.conftest import RunningBroker, mosquitto_broker  # noqa: F401 (fixture)
from tests.orders.conftest import CHIPS_G, COLA_G, Store, store_in
from tests.simulator.cabinets import cabinet_and_gateway
from tests.world import World

pytestmark = [pytest.mark.mqtt, pytest.mark.django_db(transaction=True)]

BALANCE_FEN = 10_000
COLA_FEN, CHIPS_FEN = 350, 600  # cola has a device scene price (the product's default is 400)


@pytest.fixture
def store(world_a: World) -> Store:
    return store_in(world_a, "SHOPPER-CAB1")


@pytest.fixture
def running(mosquitto_broker: RunningBroker, store: Store) -> Iterator[tuple[ShopperCabinet, Gateway]]:  # noqa: F811
    with cabinet_and_gateway(mosquitto_broker, store) as (cabinet, gateway):
        yield cabinet, gateway


def test_the_planogram_gives_one_shelf_per_single_product_load_cell(store: Store) -> None:
    shelves = shelves_of(store.device)
    assert [(s.sensor, s.product.sku, s.unit_weight_g) for s in shelves] == [
        ("s1-1", "COLA330", COLA_G),
        ("s2-1", "CHIPS52", CHIPS_G),
    ]
    rng = random.Random(3)
    for _ in range(50):
        picked = pick(rng, shelves)
        assert 1 <= sum(units for _shelf, units in picked.values()) <= 3


@pytest.mark.postgres
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="The gateway writes from its own thread while the shopper scans; in-memory SQLite locks tables.",
)
def test_three_shoppers_visits_settle_at_exact_totals(
    running: tuple[ShopperCabinet, Gateway], store: Store
) -> None:
    cabinet, _gateway = running
    shopper = store.shopper(balance_fen=BALANCE_FEN)
    cola, chips = (Shelf("s1-1", store.cola, COLA_G), Shelf("s2-1", store.chips, CHIPS_G))
    baskets: list[dict[str, tuple[Shelf, int]]] = [
        {"s1-1": (cola, 2)},
        {"s1-1": (cola, 1), "s2-1": (chips, 1)},
        {"s2-1": (chips, 3)},
    ]
    outcomes: list[dict[str, Any]] = []
    for basket in baskets:
        visit = door_visit(
            cabinet=cabinet,
            device=store.device,
            consumer=shopper,
            method=PaymentMethod.WALLET,
            picked=basket,
            timeout=10,
        )
        assert visit.command_at is not None and visit.closed_at is not None
        assert visit.command_at >= visit.scanned_at and visit.closed_at > visit.command_at
        outcomes.append(wait_settled(visit, timeout=15))
        assert cabinet.wait_idle(10)

    totals = [2 * COLA_FEN, COLA_FEN + CHIPS_FEN, 3 * CHIPS_FEN]
    assert outcomes == [
        {
            "state": S.COMPLETED,
            "order_state": OrderState.PAID,
            "total_fen": total,
            "paid_fen": total,
            "expected_fen": total,
        }
        for total in totals
    ]
    assert Order.objects.filter(consumer=shopper).count() == 3
    assert wallet_balance(store.device.merchant_id, shopper.pk) == BALANCE_FEN - sum(totals)
    assert on_hand(device=store.device, product=store.cola) == 10 - 3
    assert on_hand(device=store.device, product=store.chips) == 10 - 4


@pytest.mark.postgres
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="The gateway writes from its own thread while the shopper scans; in-memory SQLite locks tables.",
)
def test_the_demo_shoppers_use_all_three_flows(
    mosquitto_broker: RunningBroker,  # noqa: F811
    live_server: Any,
    tmp_path: Any,
) -> None:
    """What `make demo` runs: payscore through the WeChat sandbox, and the wallet for the cart flows."""
    from openvend.demo.catalog import stock_demo_devices
    from openvend.demo.payments import configure_demo_payments
    from openvend.demo.seed import seed_demo
    from openvend.demo.shoppers import DemoShoppers
    from openvend.devices.models import Device
    from openvend.merchants.models import Merchant, Site
    from openvend.sandbox.alipay import AlipaySandbox
    from openvend.sandbox.wechat import WeChatSandbox
    from openvend.simulator.fleet import Fleet
    from openvend.simulator.provision import provision_devices

    seed_demo(tmp_path / "logins.json")
    merchant = Merchant.objects.get(code="xianguo")
    credentials = provision_devices(
        merchant, 1, prefix="DEMOSHOP", site=Site.objects.filter(merchant=merchant)[0]
    )
    stock_demo_devices(Device.objects.filter(code=credentials[0]["code"]).select_related("merchant"))
    mosquitto_broker.sync()
    wechat, alipay = WeChatSandbox(time_scale=0.001), AlipaySandbox(time_scale=0.001)
    wechat.start()
    alipay.start()
    configure_demo_payments(wechat, alipay, live_server.url)
    gateway = Gateway(
        GatewayConfig(
            url=mosquitto_broker.url,
            username=mosquitto_broker.gateway_username,
            password=mosquitto_broker.gateway_password,
            dispatch_every_s=0.05,
        )
    ).start()
    fleet = Fleet.from_credentials(credentials, mosquitto_broker.url, door_open_s=1.0, relock_s=0.1).start()
    try:
        shoppers = DemoShoppers(fleet=fleet, wechat=wechat)
        from openvend.devices.models import DeviceState

        deadline = time.monotonic() + 20
        while not DeviceState.objects.filter(device__code=credentials[0]["code"], online=True).exists():
            assert time.monotonic() < deadline, "the cabinet never came online"
            time.sleep(0.05)
        outcomes = []
        for flow in ("full_auto", "semi_auto", "open_shelf"):
            for device in fleet:
                assert eventually_idle(device)
            outcomes.append(shoppers.shop_once(flow))
    finally:
        fleet.stop()
        gateway.stop()
        wechat.courier.wait_idle(5)
        wechat.stop()
        alipay.stop()
    for outcome in outcomes:
        assert outcome is not None
        assert (outcome["state"], outcome["order_state"]) == (S.COMPLETED, OrderState.PAID), outcome
        assert outcome["total_fen"] == outcome["paid_fen"] == outcome["expected_fen"] > 0


def eventually_idle(device: Any, timeout: float = 10.0) -> bool:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if device.snapshot()["session"] is None:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.postgres
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="The gateway writes from its own thread while the shopper scans; in-memory SQLite locks tables.",
)
def test_two_gateways_sharing_the_traffic_charge_every_visit_exactly(
    mosquitto_broker: RunningBroker,  # noqa: F811
    store: Store,
) -> None:
    # The broker hands a visit's door and weight events to either gateway, so a close can commit
    # before a weight change that came first: the visit waits for it rather than charge for less.
    # The door shuts right after the takes, so the close and the changes are in flight together.
    shopper = store.shopper(balance_fen=BALANCE_FEN)
    cola, chips = (Shelf("s1-1", store.cola, COLA_G), Shelf("s2-1", store.chips, CHIPS_G))
    basket = {"s1-1": (cola, 1), "s2-1": (chips, 1)}
    visits = 8
    with cabinet_and_gateway(mosquitto_broker, store, gateways=2, dwell_s=0) as (cabinet, _gateway):
        outcomes = []
        for _n in range(visits):
            visit = door_visit(
                cabinet=cabinet,
                device=store.device,
                consumer=shopper,
                method=PaymentMethod.WALLET,
                picked=basket,
                timeout=10,
            )
            outcomes.append(wait_settled(visit, timeout=15))
            assert cabinet.wait_idle(10)

    total = COLA_FEN + CHIPS_FEN
    expected = {
        "state": S.COMPLETED,
        "order_state": OrderState.PAID,
        "total_fen": total,
        "paid_fen": total,
        "expected_fen": total,
    }
    assert outcomes == [expected] * visits
    assert wallet_balance(store.device.merchant_id, shopper.pk) == BALANCE_FEN - visits * total
    assert on_hand(device=store.device, product=store.cola) == 10 - visits
    assert on_hand(device=store.device, product=store.chips) == 10 - visits
