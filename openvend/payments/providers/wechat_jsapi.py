"""WeChat JSAPI payment in service-provider mode: the shopper pays a pending order in the WeChat
browser (WeixinJSBridge getBrandWCPayRequest) with the prepay parameters charge() returns."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from openvend.payments.protocols import wechat as proto
from openvend.payments.providers.base import (
    AuthorisationRequest,
    AuthorisationResult,
    ChargeRequest,
    ChargeResult,
    ChargeState,
    ProviderError,
    RefundRequest,
    RefundResult,
    SubMerchant,
)
from openvend.payments.providers.wechat_client import NOT_FOUND_CODES
from openvend.payments.providers.wechat_notify import WeChatProviderBase, not_supported

TRADE_STATES = {
    "SUCCESS": ChargeState.PAID,
    "REFUND": ChargeState.PAID,  # paid, then (partly) refunded: the charge itself succeeded
    "NOTPAY": ChargeState.PENDING,
    "USERPAYING": ChargeState.PENDING,
    "ACCEPT": ChargeState.PENDING,
    "CLOSED": ChargeState.CLOSED,
    "REVOKED": ChargeState.CLOSED,
    "PAYERROR": ChargeState.FAILED,
}


def transaction_result(data: dict[str, Any]) -> ChargeResult:
    trade_state = str(data.get("trade_state", ""))
    state = TRADE_STATES.get(trade_state, ChargeState.PENDING)
    amount = data.get("amount") or {}
    failed = state == ChargeState.FAILED
    return ChargeResult(
        state=state,
        provider_trade_no=str(data.get("transaction_id", "")),
        amount_fen=amount.get("total") if isinstance(amount.get("total"), int) else None,
        failure_code=trade_state if failed else "",
        failure_message=str(data.get("trade_state_desc", "")) if failed else "",
        raw=data,
    )


class WeChatJsapiProvider(WeChatProviderBase):
    def charge(self, sub: SubMerchant, request: ChargeRequest) -> ChargeResult:
        payer = {"sub_openid": request.payer_id} if sub.sub_appid else {"sp_openid": request.payer_id}
        payload: dict[str, Any] = {
            "sub_mchid": sub.sub_mchid,
            "description": request.description[:127],
            "out_trade_no": request.out_trade_no,
            "notify_url": self._notify_url(request.notify_url),
            "amount": {"total": request.amount_fen, "currency": "CNY"},
            "payer": payer,
        }
        if sub.sub_appid:
            payload["sub_appid"] = sub.sub_appid
        if request.attach:
            payload["attach"] = request.attach
        data = self.client.jsapi_order(payload)
        prepay_id = str(data["prepay_id"])
        # The page pays under the app id the openid belongs to.
        app_id = sub.sub_appid or self.credentials.app_id
        jsapi = proto.jsapi_params(self.credentials.private_key_pem, app_id=app_id, prepay_id=prepay_id)
        return ChargeResult(
            state=ChargeState.PENDING,
            amount_fen=request.amount_fen,
            next_action={"jsapi": jsapi, "cashier_url": self.cashier_url(prepay_id, jsapi["package"])},
            raw=data,
        )

    def cashier_url(self, prepay_id: str, package: str) -> str:
        """Outside WeChat's own browser there is no WeixinJSBridge; the sandbox offers a cashier page
        in its place (shaped like WeChat's H5 checkout link: the H5 appends &redirect_url=...)."""
        if self.client.is_real_gateway:
            return ""
        base = self.credentials.base_url.rstrip("/")
        return (
            f"{base}/cgi-bin/mmpayweb-bin/checkmweb?{urlencode({'prepay_id': prepay_id, 'package': package})}"
        )

    def query(self, sub: SubMerchant, out_trade_no: str) -> ChargeResult:
        try:
            data = self.client.query_transaction(sub.sub_mchid, out_trade_no)
        except ProviderError as exc:
            if exc.code in NOT_FOUND_CODES:
                return ChargeResult(state=ChargeState.NOT_FOUND, failure_code=exc.code)
            raise
        return transaction_result(data)

    def cancel(self, sub: SubMerchant, out_trade_no: str, reason: str) -> ChargeResult:
        self.client.close_transaction(sub.sub_mchid, out_trade_no)
        return ChargeResult(state=ChargeState.CLOSED)

    def refund(self, sub: SubMerchant, request: RefundRequest) -> RefundResult:
        return self._refund(sub, request)

    def open_pay_after(self, sub: SubMerchant, request: ChargeRequest) -> ChargeResult:
        # JSAPI has no pre-authorisation: the shopper pays after the door closes.
        return ChargeResult(state=ChargeState.PENDING, amount_fen=request.amount_fen)

    def authorise(self, sub: SubMerchant, request: AuthorisationRequest) -> AuthorisationResult:
        raise not_supported("authorise")

    def query_authorisation(
        self, sub: SubMerchant, payer_id: str, authorisation_ref: str, out_request_no: str = ""
    ) -> AuthorisationResult:
        raise not_supported("query_authorisation")

    def revoke_authorisation(
        self, sub: SubMerchant, payer_id: str, authorisation_ref: str, reason: str
    ) -> AuthorisationResult:
        raise not_supported("revoke_authorisation")
