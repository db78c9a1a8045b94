"""Build the plain values a provider call needs from our stored, encrypted configuration.

Decryption happens here, per call, so decrypted secrets live only as long as one request — or one
`one_configuration()` block, which reads them once for the steps of one payment.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from openvend.core.crypto import decrypt
from openvend.payments.choices import GatewayMode
from openvend.payments.errors import PaymentNotConfigured
from openvend.payments.models import MerchantPaymentConfig, ProviderAccount
from openvend.payments.providers.base import Credentials, SubMerchant

T = TypeVar("T")

_block: ContextVar[dict[tuple[str, object], Any] | None] = ContextVar("openvend_payment_block", default=None)


@contextmanager
def one_configuration() -> Iterator[None]:
    """Inside the block each provider and each merchant's sub-merchant is built once, on first use,
    and dropped when the block ends: the steps of one visit's payment (open the provider's order,
    charge it) read and decrypt the configuration once instead of at every call."""
    token = _block.set({})
    try:
        yield
    finally:
        _block.reset(token)


def once_per_block(key: tuple[str, object], build: Callable[[], T]) -> T:
    """`build()`, kept for the rest of the current `one_configuration()` block (if any)."""
    kept = _block.get()
    if kept is None:
        return build()
    if key not in kept:
        kept[key] = build()
    value: T = kept[key]
    return value


def credentials_for(provider: str) -> Credentials:
    account = ProviderAccount.objects.filter(provider=provider, is_active=True).first()
    if account is None:
        raise PaymentNotConfigured(provider)
    certificates = account.gateway_certificates if account.gateway_mode == GatewayMode.CERTIFICATE else {}
    return Credentials(
        base_url=account.base_url,
        mch_id=account.mch_id,
        app_id=account.app_id,
        private_key_pem=decrypt(account.private_key_enc),
        key_serial_no=account.key_serial_no,
        api_key=decrypt(account.api_key_enc),
        gateway_public_key_pem=account.gateway_public_key
        if account.gateway_mode == GatewayMode.PUBLIC_KEY
        else "",
        gateway_public_key_id=account.gateway_public_key_id
        if account.gateway_mode == GatewayMode.PUBLIC_KEY
        else "",
        gateway_certificates=dict(certificates),
        notify_url=account.notify_url,
        payscore_service_id=account.payscore_service_id,
        oauth_secret=decrypt(account.oauth_secret_enc),
    )


def sub_merchant_for(merchant_id: int) -> SubMerchant:
    return once_per_block(("sub_merchant", merchant_id), lambda: _sub_merchant(merchant_id))


def _sub_merchant(merchant_id: int) -> SubMerchant:
    config = MerchantPaymentConfig.objects.filter(merchant_id=merchant_id).first()
    if config is None:
        return SubMerchant()
    return SubMerchant(
        sub_mchid=config.wechat_sub_mchid,
        sub_appid=config.wechat_sub_appid,
        app_auth_token=decrypt(config.alipay_app_auth_token_enc),
        smid=config.alipay_smid,
    )
