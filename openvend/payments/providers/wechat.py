"""WeChat Pay API v3 (service-provider mode): the two payment routes and their client.

- `WeChatJsapiProvider`: the shopper pays a pending order in WeChat's browser (JSAPI).
- `WeChatPayscoreProvider`: pay-after with WeChat Pay score, no-confirm and user-confirm modes.
Both share notification parsing, the notification reply and refunds (`wechat_notify`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from openvend.payments.providers.wechat_client import WeChatPayClient
from openvend.payments.providers.wechat_jsapi import WeChatJsapiProvider
from openvend.payments.providers.wechat_notify import EVENT_TYPES, WeChatProviderBase
from openvend.payments.providers.wechat_payscore import WeChatPayscoreProvider

if TYPE_CHECKING:
    from openvend.payments.providers.base import PaymentProvider

    def _implements_the_interface(
        jsapi: WeChatJsapiProvider, payscore: WeChatPayscoreProvider
    ) -> tuple[PaymentProvider, PaymentProvider]:
        return jsapi, payscore  # mypy checks both against the Protocol here


__all__ = [
    "EVENT_TYPES",
    "WeChatJsapiProvider",
    "WeChatPayClient",
    "WeChatPayscoreProvider",
    "WeChatProviderBase",
]
