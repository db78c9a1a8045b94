"""Build the plain values a provider call needs from our stored, encrypted configuration.

Decryption happens here, per call, so decrypted secrets live only as long as one request.
"""

from __future__ import annotations

from openvend.core.crypto import decrypt
from openvend.payments.choices import GatewayMode
from openvend.payments.errors import PaymentNotConfigured
from openvend.payments.models import MerchantPaymentConfig, ProviderAccount
from openvend.payments.providers.base import Credentials, SubMerchant


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
    config = MerchantPaymentConfig.objects.filter(merchant_id=merchant_id).first()
    if config is None:
        return SubMerchant()
    return SubMerchant(
        sub_mchid=config.wechat_sub_mchid,
        sub_appid=config.wechat_sub_appid,
        app_auth_token=decrypt(config.alipay_app_auth_token_enc),
        smid=config.alipay_smid,
    )
