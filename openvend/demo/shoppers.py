"""The demo's shoppers: every few seconds a simulated shopper walks up to an idle demo cabinet and
shops with one of the three flows — fully automatic paid with WeChat payscore (agreed in the
sandbox), semi-automatic and open shelf paid from a topped-up wallet — so orders, payments and stock
move in the console while you watch. A position running low is restocked through the ledger first.

Everything goes through the ordinary services and the simulated cabinets' MQTT link; a visit that
fails (a person is using the cabinet, the database is busy) is logged and the next one tries again.
"""

from __future__ import annotations

import logging
import random
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from openvend.simulator.shoppers import (
    Shelf,
    door_visit,
    shelf_visit,
    shelves_of,
    shopper_sign_up,
    wallet_shopper,
)

logger = logging.getLogger(__name__)

PAUSE_S = (3.0, 8.0)
LOW_STOCK = 3
WALLET_TOP_UP_FEN = 20_000
SANDBOX_BALANCE_FEN = 10**8
FLOWS = ("full_auto", "full_auto", "semi_auto", "open_shelf")


@dataclass
class DemoShoppers:
    fleet: Any
    wechat: Any
    rng: random.Random = field(default_factory=lambda: random.Random(11))  # noqa: S311 - demo theatre
    _stop: threading.Event = field(default_factory=threading.Event)
    _shoppers: dict[tuple[int, str], Any] = field(default_factory=dict)

    def start(self) -> DemoShoppers:
        threading.Thread(target=self._run, name="demo-shoppers", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        from django.db import connection

        while not self._stop.wait(self.rng.uniform(*PAUSE_S)):
            try:
                self.shop_once()
            except Exception:  # the next shopper tries again
                logger.exception("demo shopper failed")
            finally:
                connection.close()

    def shop_once(self, flow: str = "") -> dict[str, Any] | None:
        """One visit (`flow`, or a random one) at a random idle cabinet; what it came to, or None when
        no cabinet was free."""
        from openvend.devices.models import Device, DeviceState
        from openvend.simulator.shoppers import wait_settled

        # Online as the cloud sees it (the gateway has applied the cabinet's birth), or a shopper's
        # scan would be refused with "device offline".
        online = set(DeviceState.objects.filter(online=True).values_list("device__code", flat=True))
        idle = [
            d
            for d in self.fleet.devices
            if d.connected.is_set() and d.code in online and d.snapshot()["session"] is None
        ]
        if not idle:
            return None
        cabinet = self.rng.choice(idle)
        device = Device.objects.select_related("merchant").get(code=cabinet.code)
        shelves = [s for s in shelves_of(device) if cabinet.cabinet.baseline_g.get(s.sensor, 0) > 0]
        if not shelves:
            return None
        picked = self._pick(cabinet, device, shelves)
        flow = flow or self.rng.choice(FLOWS)
        if flow == "open_shelf":
            visit = shelf_visit(device=device, consumer=self._wallet_shopper(device.merchant), picked=picked)
        elif flow == "semi_auto":
            consumer = self._wallet_shopper(device.merchant)
            visit = door_visit(
                cabinet=cabinet, device=device, consumer=consumer, method="wallet", picked=picked, flow=flow
            )
        else:
            consumer = self._payscore_shopper(device.merchant)
            visit = door_visit(
                cabinet=cabinet, device=device, consumer=consumer, method="wechat_payscore", picked=picked
            )
        outcome = wait_settled(visit, timeout=30)
        logger.info("demo shopper at %s (%s): %s", device.code, flow, outcome)
        return outcome

    def _pick(self, cabinet: Any, device: Any, shelves: list[Shelf]) -> dict[str, tuple[Shelf, int]]:
        """1–3 units the cabinet really holds, restocking a position that runs low first."""
        from openvend.inventory.selectors import on_hand

        chosen: dict[str, tuple[Shelf, int]] = {}
        for _ in range(self.rng.randint(1, 3)):
            shelf = self.rng.choice(shelves)
            units = chosen.get(shelf.sensor, (shelf, 0))[1] + 1
            if on_hand(device=device, product=shelf.product) - units < LOW_STOCK:
                self._restock(cabinet, device, shelf)
            if cabinet.cabinet.baseline_g[shelf.sensor] >= shelf.unit_weight_g * units:
                chosen[shelf.sensor] = (shelf, units)
        return chosen or {shelves[0].sensor: (shelves[0], 1)}

    def _restock(self, cabinet: Any, device: Any, shelf: Shelf, units: int = 6) -> None:
        from openvend.inventory import ledger
        from openvend.inventory.choices import MovementKind

        ledger.post_movement(
            device=device,
            product=shelf.product,
            quantity=units,
            kind=MovementKind.REPLENISHMENT,
            reason="demo restock",
            idempotency_key=f"demo:restock:{uuid.uuid4()}",
        )
        cabinet.put(shelf.sensor, shelf.unit_weight_g * units)

    def _payscore_shopper(self, merchant: Any) -> Any:
        key = (merchant.pk, "payscore")
        if key not in self._shoppers:
            openid = f"o-demo-shopper-{merchant.pk}-{uuid.uuid4().hex[:8]}"
            self.wechat.set_balance(openid, SANDBOX_BALANCE_FEN)
            self._shoppers[key] = shopper_sign_up(
                merchant=merchant, openid=openid, nickname="模拟顾客·支付分"
            )
        return self._shoppers[key]

    def _wallet_shopper(self, merchant: Any) -> Any:
        from openvend.payments.selectors import wallet_balance
        from openvend.payments.services.wallet import wallet_recharge

        key = (merchant.pk, "wallet")
        if key not in self._shoppers:
            self._shoppers[key] = wallet_shopper(
                merchant=merchant, balance_fen=WALLET_TOP_UP_FEN, nickname="模拟顾客·钱包"
            )
        consumer = self._shoppers[key]
        if wallet_balance(merchant.pk, consumer.pk) < WALLET_TOP_UP_FEN // 4:
            wallet_recharge(
                merchant_id=merchant.pk,
                consumer_id=consumer.pk,
                amount_fen=WALLET_TOP_UP_FEN,
                idempotency_key=f"demo:top-up:{uuid.uuid4()}",
            )
        return consumer


def start_demo_shoppers(fleet: Any, wechat: Any) -> DemoShoppers:
    return DemoShoppers(fleet=fleet, wechat=wechat).start()
