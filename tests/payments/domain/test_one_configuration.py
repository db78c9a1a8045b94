"""The steps of one payment read the stored configuration once (`one_configuration`); outside such a
block every call reads it afresh, so a changed key or sub-merchant takes effect at once."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from openvend.payments.choices import PaymentMethod
from openvend.payments.credentials import one_configuration, sub_merchant_for
from openvend.payments.models import MerchantPaymentConfig, ProviderAccount
from openvend.payments.registry import provider_for
from tests.payments.domain.conftest import SUB_MCHID, Shop

pytestmark = pytest.mark.django_db


def _change_sub_merchant(shop: Shop, sub_mchid: str) -> None:
    MerchantPaymentConfig.objects.filter(merchant=shop.merchant).update(wechat_sub_mchid=sub_mchid)


def test_inside_a_block_the_configuration_is_read_once(shop: Shop) -> None:
    with one_configuration(), CaptureQueriesContext(connection) as reads:
        first = provider_for(PaymentMethod.WECHAT_PAYSCORE)
        assert provider_for(PaymentMethod.WECHAT_PAYSCORE) is first
        assert sub_merchant_for(shop.merchant.pk).sub_mchid == SUB_MCHID
        _change_sub_merchant(shop, "1900000222")
        assert sub_merchant_for(shop.merchant.pk).sub_mchid == SUB_MCHID  # the block's own reading
    assert [q["sql"].split('"')[1] for q in reads.captured_queries if q["sql"].startswith("SELECT")] == [
        "payments_provideraccount",
        "payments_merchantpaymentconfig",
    ]
    # The block is over: the change is seen at once, and each call reads again.
    assert sub_merchant_for(shop.merchant.pk).sub_mchid == "1900000222"
    assert provider_for(PaymentMethod.WECHAT_PAYSCORE) is not first


def test_without_a_block_every_call_sees_the_stored_configuration(shop: Shop) -> None:
    assert sub_merchant_for(shop.merchant.pk).sub_mchid == SUB_MCHID
    _change_sub_merchant(shop, "1900000333")
    assert sub_merchant_for(shop.merchant.pk).sub_mchid == "1900000333"


def test_a_missing_account_is_not_remembered_as_missing(shop: Shop) -> None:
    from openvend.payments.errors import PaymentNotConfigured

    wechat = ProviderAccount.objects.get(provider="wechat")
    ProviderAccount.objects.filter(pk=wechat.pk).update(is_active=False)
    with one_configuration():
        with pytest.raises(PaymentNotConfigured):
            provider_for(PaymentMethod.WECHAT_PAYSCORE)
        ProviderAccount.objects.filter(pk=wechat.pk).update(is_active=True)
        assert provider_for(PaymentMethod.WECHAT_PAYSCORE) is not None
