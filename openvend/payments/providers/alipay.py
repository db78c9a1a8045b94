"""Alipay OpenAPI payment routes.

- AlipayAgreementProvider: withholding agreement signed once, charged per visit (alipay_agreement).
- AlipayZhimaProvider: Zhima credit pay-after orders (alipay_zhima).
- AlipayWapProvider: the shopper pays a pending order on Alipay's mobile web cashier (below).

All share trade query/close/refund and notification handling (alipay_base) and one client
(alipay_client). Every provider's `name` is "alipay".
"""

from __future__ import annotations

from openvend.payments.providers.alipay_agreement import AlipayAgreementProvider
from openvend.payments.providers.alipay_base import AlipayProviderBase, parse_notification
from openvend.payments.providers.alipay_client import AlipayClient, Method, OAuthIdentity, RoyaltyPart
from openvend.payments.providers.alipay_zhima import AlipayZhimaProvider
from openvend.payments.providers.base import (
    ChargeRequest,
    ChargeResult,
    ChargeState,
    Credentials,
    SubMerchant,
)


class AlipayWapProvider(AlipayProviderBase):
    """charge() prepares the mobile cashier page (alipay.trade.wap.pay) for a pending order; the trade
    exists once the shopper opens it and is PAID when they confirm. No pay-after authorisation."""

    def __init__(
        self,
        credentials: Credentials,
        *,
        client: AlipayClient | None = None,
        return_url: str = "",
        quit_url: str = "",
    ):
        super().__init__(credentials, client=client)
        self.return_url = return_url
        self.quit_url = quit_url

    def charge(self, sub: SubMerchant, request: ChargeRequest) -> ChargeResult:
        url = self.client.wap_pay_url(
            sub,
            out_trade_no=request.out_trade_no,
            amount_fen=request.amount_fen,
            subject=request.description,
            return_url=request.return_url or self.return_url,
            quit_url=self.quit_url or request.return_url,
            notify_url=self._notify_url(request.notify_url),
            passback_params=request.attach,
        )
        return ChargeResult(ChargeState.PENDING, amount_fen=request.amount_fen, next_action={"pay_url": url})

    def open_pay_after(self, sub: SubMerchant, request: ChargeRequest) -> ChargeResult:
        raise self._unsupported()


__all__ = [
    "AlipayAgreementProvider",
    "AlipayClient",
    "AlipayProviderBase",
    "AlipayWapProvider",
    "AlipayZhimaProvider",
    "Method",
    "OAuthIdentity",
    "RoyaltyPart",
    "parse_notification",
]
