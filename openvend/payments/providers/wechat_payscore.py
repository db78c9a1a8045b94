"""WeChat Pay score (微信支付分) in service-provider mode: pay-after for cabinets.

Two modes. No-confirm (免确认): the shopper authorises once (payscore permissions); afterwards each
door-open creates a service order straight into DOING. User-confirm (需确认): each door-open creates a
CREATED order the shopper confirms on WeChat's page. Either way the door closing completes the order
with the bought lines (post_payments) and WeChat deducts; PAYSCORE.USER_PAID tells us it did.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from openvend.payments.providers.base import (
    AuthorisationRequest,
    AuthorisationResult,
    AuthorisationState,
    ChargeRequest,
    ChargeResult,
    ChargeState,
    ProviderError,
    RefundRequest,
    RefundResult,
    RefundState,
    SubMerchant,
)
from openvend.payments.providers.wechat_client import NOT_FOUND_CODES
from openvend.payments.providers.wechat_notify import WeChatProviderBase, payscore_transaction_id

PERMISSION_STATES = {
    "AVAILABLE": AuthorisationState.ACTIVE,
    "UNBINDUSER": AuthorisationState.REVOKED,
}
# Payscore risk-fund names: "estimated cost" is the no-confirm (先享) mode, "deposit" the confirm (先免) mode.
RISK_FUND_NO_CONFIRM = "ESTIMATE_ORDER_COST"
RISK_FUND_CONFIRM = "DEPOSIT"


def service_order_result(order: dict[str, Any]) -> ChargeResult:
    """Map a payscore service order (state + collection) to what the domain acts on."""
    state = str(order.get("state", ""))
    collection = order.get("collection") or {}
    total = order.get("total_amount")
    amount = total if isinstance(total, int) else None
    order_id = str(order.get("order_id", ""))
    if state == "DONE":
        paid = collection.get("paid_amount")
        return ChargeResult(
            state=ChargeState.PAID,
            provider_trade_no=payscore_transaction_id(order) or order_id,
            amount_fen=paid if isinstance(paid, int) else amount,
            raw=order,
        )
    if state in ("REVOKED", "EXPIRED"):
        return ChargeResult(
            state=ChargeState.CLOSED, provider_trade_no=order_id, amount_fen=amount, raw=order
        )
    # The real gateway keeps a failed deduction in DOING/USER_PAYING and keeps collecting; the sandbox
    # also says why the last attempt failed (fail_reason), which is when we can call it FAILED.
    fail_reason = str(collection.get("fail_reason", ""))
    if state == "DOING" and order.get("state_description") == "MCH_COMPLETE" and fail_reason:
        return ChargeResult(
            state=ChargeState.FAILED,
            provider_trade_no=order_id,
            amount_fen=amount,
            failure_code=fail_reason,
            failure_message=str(collection.get("fail_message", "")),
            raw=order,
        )
    return ChargeResult(state=ChargeState.PENDING, provider_trade_no=order_id, amount_fen=amount, raw=order)


def post_payments(request: ChargeRequest) -> list[dict[str, Any]]:
    lines = request.lines or ()
    if not lines:
        return [{"name": request.description[:20], "amount": request.amount_fen, "count": 1}]
    return [{"name": line.name[:20], "amount": line.amount_fen, "count": line.quantity} for line in lines]


class WeChatPayscoreProvider(WeChatProviderBase):
    def _sandbox_page(self, path: str, **params: str) -> str:
        if self.client.is_real_gateway:
            return ""
        query = urlencode({k: v for k, v in params.items() if v})
        return f"{self.credentials.base_url.rstrip('/')}{path}?{query}"

    # -- authorisation (payscore permissions, no-confirm mode) --------------------------------------

    def authorise(self, sub: SubMerchant, request: AuthorisationRequest) -> AuthorisationResult:
        data = self.client.payscore_permission_apply(
            sub.sub_mchid, sub.sub_appid, request.out_request_no, self._notify_url(request.notify_url)
        )
        token = str(data.get("apply_permissions_token", ""))
        confirm_url = self._sandbox_page(
            "/payscore/permissions/confirm",
            apply_permissions_token=token,
            openid=request.payer_id,
            return_url=request.return_url,
        )
        return AuthorisationResult(
            state=AuthorisationState.PENDING,
            authorisation_ref=request.out_request_no,
            payer_id=request.payer_id,
            next_action={"confirm_url": confirm_url, "apply_permissions_token": token},
            raw=data,
        )

    def query_authorisation(
        self, sub: SubMerchant, payer_id: str, authorisation_ref: str, out_request_no: str = ""
    ) -> AuthorisationResult:
        try:
            if payer_id:
                data = self.client.payscore_permission_by_openid(sub.sub_mchid, sub.sub_appid, payer_id)
            else:
                data = self.client.payscore_permission_by_code(sub.sub_mchid, authorisation_ref)
        except ProviderError as exc:
            if exc.code in NOT_FOUND_CODES:
                return AuthorisationResult(state=AuthorisationState.NOT_FOUND, payer_id=payer_id)
            raise
        state = PERMISSION_STATES.get(str(data.get("authorization_state", "")))
        if state is None:  # UNAVAILABLE: asked for, not (yet) granted
            state = AuthorisationState.PENDING if authorisation_ref else AuthorisationState.NOT_FOUND
        return AuthorisationResult(
            state=state,
            authorisation_ref=str(data.get("authorization_code", "")) or authorisation_ref,
            payer_id=str(data.get("sub_openid") or data.get("openid") or payer_id),
            raw=data,
        )

    def revoke_authorisation(
        self, sub: SubMerchant, payer_id: str, authorisation_ref: str, reason: str
    ) -> AuthorisationResult:
        self.client.payscore_permission_terminate(
            sub.sub_mchid, sub.sub_appid, payer_id, reason[:50] or "revoke"
        )
        return AuthorisationResult(
            state=AuthorisationState.REVOKED, authorisation_ref=authorisation_ref, payer_id=payer_id
        )

    # -- service orders ------------------------------------------------------------------------------

    def open_pay_after(self, sub: SubMerchant, request: ChargeRequest) -> ChargeResult:
        no_confirm = bool(request.authorisation_ref)
        payload: dict[str, Any] = {
            "sub_mchid": sub.sub_mchid,
            "out_order_no": request.out_trade_no,
            "service_introduction": request.description[:20],
            "risk_fund": {
                "name": RISK_FUND_NO_CONFIRM if no_confirm else RISK_FUND_CONFIRM,
                "amount": max(request.amount_fen, 1),
            },
            "time_range": {"start_time": "OnAccept"},
            "need_user_confirm": not no_confirm,
            "notify_url": self._notify_url(request.notify_url),
        }
        if sub.sub_appid:
            payload["sub_appid"] = sub.sub_appid
        if no_confirm:
            payload["sub_openid" if sub.sub_appid else "openid"] = request.payer_id
        if request.attach:
            payload["attach"] = request.attach
        order = self.client.payscore_create(payload)
        result = service_order_result(order)
        next_action: dict[str, Any] = {}
        if not no_confirm:
            package = str(order.get("package", ""))
            confirm_url = self._sandbox_page("/payscore/serviceorder/confirm", package=package)
            next_action = {"package": package, "confirm_url": confirm_url}
        return ChargeResult(
            state=result.state,
            provider_trade_no=result.provider_trade_no,
            amount_fen=request.amount_fen,
            next_action=next_action,
            raw=order,
        )

    def charge(self, sub: SubMerchant, request: ChargeRequest) -> ChargeResult:
        """Complete the service order with what was bought; WeChat deducts `amount_fen`."""
        payments = post_payments(request)
        if sum(p["amount"] for p in payments) != request.amount_fen:
            raise ProviderError("PARAM_ERROR", "post_payments do not add up to total_amount")
        order = self.client.payscore_complete(
            sub.sub_mchid, request.out_trade_no, payments, request.amount_fen
        )
        if "state" not in order:  # some gateway versions answer 204: ask for the state
            return self.query(sub, request.out_trade_no)
        return service_order_result(order)

    def query(self, sub: SubMerchant, out_trade_no: str) -> ChargeResult:
        try:
            return service_order_result(self.client.payscore_query(sub.sub_mchid, out_trade_no))
        except ProviderError as exc:
            if exc.code in NOT_FOUND_CODES:
                return ChargeResult(state=ChargeState.NOT_FOUND, failure_code=exc.code)
            raise

    def cancel(self, sub: SubMerchant, out_trade_no: str, reason: str) -> ChargeResult:
        self.client.payscore_cancel(sub.sub_mchid, out_trade_no, reason[:30] or "cancel")
        return ChargeResult(state=ChargeState.CLOSED)

    def refund(self, sub: SubMerchant, request: RefundRequest) -> RefundResult:
        """Payscore refunds go through the ordinary refunds API with the deduction's transaction id
        (the service order number is not a trade number)."""
        paid = self.query(sub, request.out_trade_no)
        transaction_id = payscore_transaction_id(paid.raw)
        if paid.state != ChargeState.PAID or not transaction_id:
            return RefundResult(state=RefundState.FAILED, failure_code="ORDER_NOT_PAID", raw=paid.raw)
        return self._refund(sub, request, transaction_id=transaction_id)
