"""A cabinet (2 shelves × 2 load cells) stocked with cola on s1-1 and chips on s2-1, both on sale
there, and a way to play a shopper's visit through the gateway's real ingest."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from openvend.catalog.choices import PriceScope, PriceStatus
from openvend.catalog.models import PriceRule, Product, SellableItem
from openvend.consumers.models import Consumer
from openvend.inventory.choices import MovementKind, PlanogramStatus
from openvend.inventory.ledger import post_movement
from openvend.inventory.models import Planogram, PlanogramSlot
from openvend.payments.services.wallet import wallet_recharge
from openvend.shopping.models import ShoppingSession
from openvend.shopping.services import session_start
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


@pytest.fixture
def settled(django_capture_on_commit_callbacks: Any) -> Callable[..., Any]:
    """Run a block and then everything it scheduled after commit (settling, the charge task)."""

    def run(action: Callable[[], Any]) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return action()

    return run
