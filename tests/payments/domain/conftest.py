from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

import openvend.consoles.admin.payments  # noqa: F401  (registers the payment pages on both consoles)
from openvend.consumers.models import Consumer
from openvend.core.crypto import encrypt
from openvend.merchants.models import Merchant, Site
from openvend.payments.choices import PaymentMethod, Provider
from openvend.payments.models import MerchantPaymentConfig, ProviderAccount
from openvend.payments.registry import use_provider
from openvend.payments.services.charging import create_payment
from tests.payments.domain.fakes import ScriptedProvider
from tests.world import World

SP_MCHID = "1900000100"
SP_APPID = "wxsp00000000000001"
SUB_MCHID = "1900000109"
ALIPAY_PID = "2088000000000001"
ALIPAY_APPID = "2021000000000001"


@dataclass
class Shop:
    world: World
    merchant: Merchant
    site: Site
    far_site: Site
    consumer: Consumer

    def pay(
        self,
        order_ref: str = "ORD1001",
        amount_fen: int = 1250,
        method: str = PaymentMethod.WECHAT_PAYSCORE,
        **kw: Any,
    ) -> Any:
        kw.setdefault("site", self.site)
        kw.setdefault("consumer", self.consumer)
        return create_payment(
            merchant=self.merchant,
            order_ref=order_ref,
            amount_fen=amount_fen,
            method=method,
            description="Cola x2",
            payer_id=kw.pop("payer_id", "openid-1"),
            **kw,
        )


def configure_accounts(merchant: Merchant, *, sub_mchid: str = SUB_MCHID) -> None:
    ProviderAccount.objects.update_or_create(
        provider=Provider.WECHAT,
        defaults={
            "base_url": "http://127.0.0.1:9",
            "mch_id": SP_MCHID,
            "app_id": SP_APPID,
            "private_key_enc": encrypt("not-a-real-key"),
        },
    )
    ProviderAccount.objects.update_or_create(
        provider=Provider.ALIPAY,
        defaults={"base_url": "http://127.0.0.1:9", "mch_id": ALIPAY_PID, "app_id": ALIPAY_APPID},
    )
    MerchantPaymentConfig.objects.update_or_create(
        merchant=merchant, defaults={"wechat_sub_mchid": sub_mchid, "alipay_smid": "2088000000000099"}
    )


@pytest.fixture
def shop(world_a: World) -> Shop:
    configure_accounts(world_a.merchant)
    consumer = Consumer.objects.create(nickname="小明")
    return Shop(world_a, world_a.merchant, world_a.sites["sh-1"], world_a.sites["sz-1"], consumer)


@pytest.fixture
def wechat() -> Iterator[ScriptedProvider]:
    """A scripted WeChat provider serving both WeChat methods (and its notifications)."""
    fake = ScriptedProvider(name=Provider.WECHAT)
    with use_provider(PaymentMethod.WECHAT_PAYSCORE, fake), use_provider(PaymentMethod.WECHAT_JSAPI, fake):
        yield fake


@pytest.fixture
def alipay() -> Iterator[ScriptedProvider]:
    fake = ScriptedProvider(name=Provider.ALIPAY)
    with (
        use_provider(PaymentMethod.ALIPAY_AGREEMENT, fake),
        use_provider(PaymentMethod.ALIPAY_WAP, fake),
        use_provider(PaymentMethod.ALIPAY_ZHIMA, fake),
    ):
        yield fake
