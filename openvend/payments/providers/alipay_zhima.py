"""Zhima credit pay-after (芝麻先享): the shopper opens Zhima credit service once; each visit opens a
credit order before the door opens, and afterwards the order is charged (alipay.trade.pay with the
credit order as auth code, scene ZHIMA_CREDIT_CODE) or, when nothing was taken, finished with no charge.

Gateway methods: zhima.credit.payafteruse.creditagreement.sign (page) / .query,
zhima.credit.payafteruse.creditbizorder.order / .query / .finish (is_fulfilled true: kept, false:
cancelled). Our out_trade_no is both the credit order's out_order_no and the charging trade's
out_trade_no, so everything can be found again from our own number.
"""

from __future__ import annotations

from typing import Any

from openvend.payments.providers.alipay_base import AlipayProviderBase
from openvend.payments.providers.alipay_client import AlipayClient
from openvend.payments.providers.base import (
    AuthorisationRequest,
    AuthorisationResult,
    AuthorisationState,
    ChargeRequest,
    ChargeResult,
    ChargeState,
    Credentials,
    ProviderError,
    SubMerchant,
)

CREDIT_ORDER_NOT_EXIST = "ORDER_NOT_EXIST"
CREDIT_AGREEMENT_NOT_EXIST = "AGREEMENT_NOT_EXIST"
CREDIT_AGREEMENT_STATES = {
    "VALID": AuthorisationState.ACTIVE,
    "INVALID": AuthorisationState.REVOKED,
    "UNSIGNED": AuthorisationState.PENDING,
}
CREDIT_ORDER_STATES = {
    "INIT": ChargeState.PENDING,
    "TRADE_FINISHED": ChargeState.PAID,
    "TRADE_CLOSED": ChargeState.CLOSED,
}


class AlipayZhimaProvider(AlipayProviderBase):
    def __init__(
        self, credentials: Credentials, *, client: AlipayClient | None = None, zm_service_id: str = ""
    ):
        super().__init__(credentials, client=client)
        self.zm_service_id = zm_service_id

    # --- authorisation -------------------------------------------------------------------------------

    def authorise(self, sub: SubMerchant, request: AuthorisationRequest) -> AuthorisationResult:
        url = self.client.zhima_agreement_sign_url(
            sub,
            out_agreement_no=request.out_request_no,
            zm_service_id=self.zm_service_id,
            return_url=request.return_url,
            notify_url=self._notify_url(request.notify_url),
        )
        return AuthorisationResult(
            AuthorisationState.PENDING, payer_id=request.payer_id, next_action={"sign_url": url}
        )

    def query_authorisation(
        self, sub: SubMerchant, payer_id: str, authorisation_ref: str, out_request_no: str = ""
    ) -> AuthorisationResult:
        try:
            node = self.client.zhima_agreement_query(
                sub, credit_agreement_id=authorisation_ref, out_agreement_no=out_request_no
            )
        except ProviderError as exc:
            if exc.code == CREDIT_AGREEMENT_NOT_EXIST:
                return AuthorisationResult(AuthorisationState.NOT_FOUND, authorisation_ref=authorisation_ref)
            raise
        state = CREDIT_AGREEMENT_STATES.get(str(node.get("agreement_status", "")), AuthorisationState.REVOKED)
        return AuthorisationResult(
            state,
            authorisation_ref=str(node.get("credit_agreement_id", authorisation_ref)),
            payer_id=str(node.get("alipay_user_id", payer_id)),
            raw=node,
        )

    # revoke_authorisation: Zhima credit service is ended by the shopper in the Alipay app; there is no
    # merchant-side call, so the base class answers NOT_SUPPORTED.

    # --- the credit order ----------------------------------------------------------------------------

    def open_pay_after(self, sub: SubMerchant, request: ChargeRequest) -> ChargeResult:
        try:
            node = self.client.zhima_order(
                sub,
                credit_agreement_id=request.authorisation_ref,
                out_order_no=request.out_trade_no,
                subject=request.description,
            )
        except ProviderError as exc:
            if exc.retryable:
                raise
            return ChargeResult(ChargeState.FAILED, failure_code=exc.code, failure_message=exc.message)
        return ChargeResult(
            ChargeState.PENDING, provider_trade_no=str(node.get("credit_biz_order_id", "")), raw=node
        )

    def _credit_order(self, sub: SubMerchant, out_trade_no: str) -> dict[str, Any] | None:
        try:
            return self.client.zhima_order_query(sub, out_order_no=out_trade_no)
        except ProviderError as exc:
            if exc.code == CREDIT_ORDER_NOT_EXIST:
                return None
            raise

    def charge(self, sub: SubMerchant, request: ChargeRequest) -> ChargeResult:
        order = self._credit_order(sub, request.out_trade_no)
        if order is None:
            return ChargeResult(ChargeState.FAILED, failure_code=CREDIT_ORDER_NOT_EXIST)
        credit_order_id = str(order["credit_biz_order_id"])
        if request.amount_fen == 0:
            # Nothing taken: finish the credit order as kept (守约) without a deduction.
            if order.get("order_status") == "INIT":
                self.client.zhima_order_finish(
                    sub,
                    credit_biz_order_id=credit_order_id,
                    out_request_no=request.out_trade_no,
                    fulfilled=True,
                )
            return ChargeResult(ChargeState.PAID, provider_trade_no=credit_order_id, amount_fen=0)
        return self._pay(
            sub,
            request.out_trade_no,
            lambda: self.client.zhima_pay(
                sub,
                out_trade_no=request.out_trade_no,
                credit_biz_order_id=credit_order_id,
                amount_fen=request.amount_fen,
                subject=request.description,
                notify_url=self._notify_url(request.notify_url),
            ),
        )

    def query(self, sub: SubMerchant, out_trade_no: str) -> ChargeResult:
        trade = super().query(sub, out_trade_no)
        if trade.state != ChargeState.NOT_FOUND:
            return trade
        order = self._credit_order(sub, out_trade_no)
        if order is None:
            return trade
        state = CREDIT_ORDER_STATES.get(str(order.get("order_status", "")), ChargeState.PENDING)
        return ChargeResult(
            state,
            provider_trade_no=str(order.get("credit_biz_order_id", "")),
            amount_fen=0 if state == ChargeState.PAID else None,
            raw=order,
        )

    def cancel(self, sub: SubMerchant, out_trade_no: str, reason: str) -> ChargeResult:
        order = self._credit_order(sub, out_trade_no)
        if order is None:
            return ChargeResult(ChargeState.NOT_FOUND)
        credit_order_id = str(order["credit_biz_order_id"])
        if order.get("order_status") == "INIT":
            self.client.zhima_order_finish(
                sub,
                credit_biz_order_id=credit_order_id,
                out_request_no=f"{out_trade_no}C",
                fulfilled=False,
                reason=reason,
            )
            return ChargeResult(ChargeState.CLOSED, provider_trade_no=credit_order_id)
        if order.get("order_status") == "TRADE_CLOSED":
            return ChargeResult(ChargeState.CLOSED, provider_trade_no=credit_order_id, raw=order)
        raise ProviderError("ORDER_STATUS_ERROR", "the credit order is already finished")
