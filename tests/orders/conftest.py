"""A cabinet (2 shelves × 2 load cells) stocked with cola on s1-1 and chips on s2-1, both on sale
there, and a way to play a shopper's visit through the gateway's real ingest."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from openvend.catalog.choices import PriceScope, PriceStatus
from openvend.catalog.models import PriceRule, Product, SellableItem
from openvend.consumers.models import Consumer
from openvend.core.crypto import encrypt
from openvend.inventory.choices import MovementKind, PlanogramStatus
from openvend.inventory.ledger import post_movement
from openvend.inventory.models import Planogram, PlanogramSlot
from openvend.payments.choices import GatewayMode, Provider
from openvend.payments.models import MerchantPaymentConfig, ProviderAccount
from openvend.payments.services.wallet import wallet_recharge
from openvend.sandbox.wechat import WeChatSandbox
from openvend.shopping.models import ShoppingSession
from openvend.shopping.services import session_start
from tests.payments.wechat.conftest import SERVICE_ID, SP_MCHID, SUB_APPID, SUB_MCHID
from tests.shopping.conftest import WALLET, Feed, Shop, shop_in
from tests.world import World

COLA_G = 355.0
CHIPS_G = 52.0


@dataclass
class Store:
    shop: Shop
    cola: Product
    chips: Product
    feed: Feed

    @property
    def device(self) -> Any:
        return self.shop.device

    def shopper(self, *, balance_fen: int = 0, nickname: str = "小红") -> Consumer:
        consumer = self.shop.shopper(nickname)
        if balance_fen:
            wallet_recharge(
                merchant_id=self.device.merchant_id,
                consumer_id=consumer.pk,
                amount_fen=balance_fen,
                idempotency_key=f"top-up-{consumer.pk}",
            )
        return consumer

    def start(self, consumer: Consumer, method: str = WALLET) -> ShoppingSession:
        return session_start(consumer=consumer, method=method, device=self.device)

    def visit(self, session: ShoppingSession, deltas: list[tuple[str, float]]) -> None:
        """The door opens, each (sensor, grams) change is reported, the door closes."""
        key = str(session.command_id)
        self.feed.send({"kind": "door_opened", "session": key, "detail": {"door": 1}})
        self.feed.send(
            *[
                {"kind": "weight_change", "session": key, "detail": {"sensor": sensor, "delta_g": grams}}
                for sensor, grams in deltas
            ]
        )
        self.feed.send({"kind": "door_closed", "session": key, "detail": {"door": 1}})


def _product(world: World, sku: str, name: str, weight_g: float, sd_g: str, price_fen: int) -> Product:
    return Product.objects.create(
        merchant=world.merchant,
        sku=sku,
        name=name,
        unit_weight_g=Decimal(str(weight_g)),
        unit_weight_sd_g=Decimal(sd_g),
        default_price_fen=price_fen,
    )


def store_in(world: World, code: str) -> Store:
    shop = shop_in(world, code)
    device = shop.device
    cola = _product(world, "COLA330", "可乐 330ml", COLA_G, "3.0", 400)
    chips = _product(world, "CHIPS52", "薯片", CHIPS_G, "0.8", 600)
    # A device scene price: the order must use price_for, not the product's default price.
    PriceRule.objects.create(
        merchant=world.merchant,
        product=cola,
        scope=PriceScope.DEVICE,
        device=device,
        price_fen=350,
        status=PriceStatus.ACTIVE,
        effective_from=timezone.now() - timedelta(days=1),
    )
    plan = Planogram.objects.create(
        merchant=world.merchant, device=device, version=1, status=PlanogramStatus.ACTIVE
    )
    for shelf, (product, sensor) in enumerate(((cola, "s1-1"), (chips, "s2-1")), start=1):
        PlanogramSlot.objects.create(
            planogram=plan, shelf=shelf, sensors=[sensor], product=product, capacity=10, par_level=10
        )
        SellableItem.objects.create(merchant=world.merchant, device=device, product=product)
        post_movement(device=device, product=product, quantity=10, kind=MovementKind.REPLENISHMENT)
    return Store(shop=shop, cola=cola, chips=chips, feed=Feed(code))


@pytest.fixture
def store(world_a: World) -> Store:
    return store_in(world_a, "ORD-CAB1")


def wait_until(check: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.02)
    raise AssertionError("the expected change did not happen in time")


@pytest.fixture
def wechat(live_server: Any, world_a: World) -> Iterator[WeChatSandbox]:
    sandbox = WeChatSandbox(time_scale=0.001)
    sandbox.start()
    sandbox.add_sub_merchant(SUB_MCHID, SUB_APPID, SERVICE_ID)
    creds = sandbox.provision_merchant(SP_MCHID)
    ProviderAccount.objects.create(
        provider=Provider.WECHAT,
        base_url=creds["base_url"],
        mch_id=creds["mch_id"],
        app_id=creds["app_id"],
        key_serial_no=creds["key_serial_no"],
        private_key_enc=encrypt(creds["private_key_pem"]),
        api_key_enc=encrypt(creds["api_key"]),
        oauth_secret_enc=encrypt(creds["oauth_secret"]),
        gateway_mode=GatewayMode.PUBLIC_KEY,
        gateway_public_key=creds["gateway_public_key_pem"],
        gateway_public_key_id=creds["gateway_public_key_id"],
        payscore_service_id=SERVICE_ID,
        notify_url=f"{live_server.url}/pay/notify/wechat/",
    )
    MerchantPaymentConfig.objects.create(
        merchant=world_a.merchant, wechat_sub_mchid=SUB_MCHID, wechat_sub_appid=SUB_APPID
    )
    yield sandbox
    sandbox.courier.wait_idle(5)
    sandbox.stop()
