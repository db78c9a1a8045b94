"""A cabinet at site sh-1 of world A that is online and offers wallet and WeChat payscore, and a
shopper with no history; helpers to give them an authorisation, a debt or a blacklist entry."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import count

import pytest
from django.utils import timezone

from openvend.consumers.models import Consumer
from openvend.devices.models import Device, DeviceState
from openvend.gateway import protocol
from openvend.gateway.ingest import DeviceDirectory, Received, ingest_batch
from openvend.payments.choices import AuthorisationState, PaymentMethod, PaymentState, Provider
from openvend.payments.models import PayAfterAuthorisation, Payment, SitePaymentMethod
from tests.devices.factories import activated_device
from tests.world import World

PAYSCORE = PaymentMethod.WECHAT_PAYSCORE
WALLET = PaymentMethod.WALLET
_numbers = count(1)


@dataclass
class Shop:
    world: World
    device: Device

    def shopper(self, nickname: str = "小明") -> Consumer:
        return Consumer.objects.create(nickname=nickname)

    def authorise(self, consumer: Consumer, method: str = PAYSCORE) -> PayAfterAuthorisation:
        number = next(_numbers)
        return PayAfterAuthorisation.objects.create(
            merchant=self.world.merchant,
            consumer=consumer,
            method=method,
            state=AuthorisationState.ACTIVE,
            payer_id=f"openid-{number}",
            out_request_no=f"auth-{number}",
            activated_at=timezone.now(),
        )

    def owe(self, consumer: Consumer, amount_fen: int = 350) -> Payment:
        number = next(_numbers)
        return Payment.objects.create(
            merchant=self.world.merchant,
            order_ref=f"order-{number}",
            out_trade_no=f"trade-{number}",
            method=WALLET,
            provider=Provider.WALLET,
            state=PaymentState.FAILED,
            amount_fen=amount_fen,
            description="cola",
            consumer=consumer,
            site=self.device.site,
        )


def online(device: Device, **fields: object) -> None:
    DeviceState.objects.update_or_create(device=device, defaults={"online": True, **fields})


def shop_in(world: World, code: str) -> Shop:
    device, _secret = activated_device(world, code)
    online(device)
    for method in (WALLET, PAYSCORE):
        SitePaymentMethod.objects.create(merchant=world.merchant, site=device.site, method=method)
    return Shop(world=world, device=device)


@pytest.fixture
def shop(world_a: World) -> Shop:
    return shop_in(world_a, "SHOP-CAB1")


class Feed:
    """Device events through the gateway's real ingest, as the cabinet would send them."""

    def __init__(self, code: str) -> None:
        self.code, self.seq, self.directory = code, 0, DeviceDirectory()

    def send(self, *events: dict) -> None:
        items = []
        for body in events:
            self.seq += 1
            topic, payload = protocol.encode_up(self.code, "event", seq=self.seq, body=body)
            items.append(Received(topic, payload, timezone.now()))
        result = ingest_batch(items, self.directory)
        assert result.dead == 0, result
