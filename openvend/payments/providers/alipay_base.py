"""What every Alipay payment route shares: trades (query, close, refund) and notifications."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

from openvend.payments.protocols import alipay as wire
from openvend.payments.providers.alipay_client import AlipayClient
from openvend.payments.providers.base import (
    AuthorisationRequest,
    AuthorisationResult,
    ChargeResult,
    ChargeState,
    Credentials,
    EventType,
    HttpReply,
    Notification,
    ProviderError,
    RefundRequest,
    RefundResult,
    RefundState,
    Rejected,
    RejectReason,
    SubMerchant,
)

TRADE_NOT_EXIST = "ACQ.TRADE_NOT_EXIST"
TRADE_HAS_SUCCESS = "ACQ.TRADE_HAS_SUCCESS"
TRADE_STATES = {
    "WAIT_BUYER_PAY": ChargeState.PENDING,
    "TRADE_SUCCESS": ChargeState.PAID,
    "TRADE_FINISHED": ChargeState.PAID,
    "TRADE_CLOSED": ChargeState.CLOSED,
}
# alipay.trade.pay answers 10003 (ORDER_SUCCESS_PAY_INPROCESS) when the deduction is still running.
PAY_IN_PROCESS_CODE = "10003"

ZHIMA_AGREEMENT_CHANGED = "zhima.credit.payafteruse.creditagreement.changed"


def amount_or_none(node: Mapping[str, Any], key: str) -> int | None:
    value = node.get(key)
    return wire.yuan_to_fen(str(value)) if value not in (None, "") else None


class AlipayProviderBase:
    """Trade calls and notification handling common to the agreement, Zhima and WAP routes."""

    name = "alipay"

    def __init__(self, credentials: Credentials, *, client: AlipayClient | None = None):
        self.credentials = credentials
        self.client = client or AlipayClient(credentials)

    def _notify_url(self, override: str) -> str:
        return override or self.credentials.notify_url

    # --- trades --------------------------------------------------------------------------------------

    def _pay(self, sub: SubMerchant, out_trade_no: str, call: Any) -> ChargeResult:
        """Run an alipay.trade.pay call and turn its answer into a ChargeResult. A definite refusal
        (balance, agreement) is FAILED; a repeat of a paid trade answers with the trade as it stands."""
        try:
            node = call()
        except ProviderError as exc:
            if exc.code == TRADE_HAS_SUCCESS:
                return self.query(sub, out_trade_no)
            if exc.retryable:
                raise
            return ChargeResult(ChargeState.FAILED, failure_code=exc.code, failure_message=exc.message)
        return self._trade_result(node, paid=bool(node.get("gmt_payment")))

    def _trade_result(self, node: Mapping[str, Any], *, paid: bool | None = None) -> ChargeResult:
        if paid is None:
            state = TRADE_STATES.get(str(node.get("trade_status", "")))
            if state is None:
                raise Rejected(RejectReason.MALFORMED, "unknown trade_status")
        else:
            state = ChargeState.PAID if paid else ChargeState.PENDING
        return ChargeResult(
            state=state,
            provider_trade_no=str(node.get("trade_no", "")),
            amount_fen=amount_or_none(node, "total_amount"),
            raw=dict(node),
        )

    def query(self, sub: SubMerchant, out_trade_no: str) -> ChargeResult:
        try:
            node = self.client.trade_query(sub, out_trade_no=out_trade_no)
        except ProviderError as exc:
            if exc.code == TRADE_NOT_EXIST:
                return ChargeResult(ChargeState.NOT_FOUND)
            raise
        return self._trade_result(node)

    def cancel(self, sub: SubMerchant, out_trade_no: str, reason: str) -> ChargeResult:
        try:
            node = self.client.trade_close(sub, out_trade_no=out_trade_no)
        except ProviderError as exc:
            if exc.code == TRADE_NOT_EXIST:
                return ChargeResult(ChargeState.NOT_FOUND)
            raise
        return ChargeResult(ChargeState.CLOSED, provider_trade_no=str(node.get("trade_no", "")), raw=node)

    def refund(self, sub: SubMerchant, request: RefundRequest) -> RefundResult:
        try:
            node = self.client.trade_refund(
                sub,
                out_trade_no=request.out_trade_no,
                out_request_no=request.out_refund_no,
                refund_fen=request.refund_fen,
                reason=request.reason,
            )
        except ProviderError as exc:
            if exc.retryable:
                raise
            return RefundResult(RefundState.FAILED, failure_code=exc.code)
        # refund_fee is the trade's refunded total so far; the refund itself is what was asked for.
        return RefundResult(
            RefundState.SUCCEEDED,
            provider_refund_id=str(node.get("trade_no", "")),
            refund_fen=request.refund_fen,
            raw=node,
        )

    def query_refund(self, sub: SubMerchant, out_refund_no: str, out_trade_no: str) -> RefundResult:
        try:
            node = self.client.refund_query(sub, out_trade_no=out_trade_no, out_request_no=out_refund_no)
        except ProviderError as exc:
            if exc.code == TRADE_NOT_EXIST:
                return RefundResult(RefundState.NOT_FOUND)
            raise
        # Alipay answers 10000 without refund_amount when no such refund exists.
        refund_fen = amount_or_none(node, "refund_amount")
        if refund_fen is None:
            return RefundResult(RefundState.NOT_FOUND, raw=node)
        status = str(node.get("refund_status", "REFUND_SUCCESS"))
        state = RefundState.SUCCEEDED if status == "REFUND_SUCCESS" else RefundState.PENDING
        return RefundResult(
            state, provider_refund_id=str(node.get("trade_no", "")), refund_fen=refund_fen, raw=node
        )

    # --- authorisations the route does not have -------------------------------------------------------

    def _unsupported(self) -> ProviderError:
        return ProviderError("NOT_SUPPORTED", f"{type(self).__name__} has no pay-after authorisation")

    def authorise(self, sub: SubMerchant, request: AuthorisationRequest) -> AuthorisationResult:
        raise self._unsupported()

    def query_authorisation(
        self, sub: SubMerchant, payer_id: str, authorisation_ref: str, out_request_no: str = ""
    ) -> AuthorisationResult:
        raise self._unsupported()

    def revoke_authorisation(
        self, sub: SubMerchant, payer_id: str, authorisation_ref: str, reason: str
    ) -> AuthorisationResult:
        raise self._unsupported()

    # --- notifications -------------------------------------------------------------------------------

    def parse_notification(
        self, headers: dict[str, str], body: bytes, *, now: datetime | None = None
    ) -> Notification:
        return parse_notification(body, self.credentials.gateway_public_key_pem, now=now)

    def notification_reply(self, ok: bool) -> HttpReply:
        return HttpReply(200, b"success" if ok else b"fail", "text/plain")


def parse_notification(body: bytes, public_key_pem: str, *, now: datetime | None = None) -> Notification:
    """Verify a form-encoded Alipay notification and normalise it. Raises Rejected."""
    try:
        params = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True))
    except (UnicodeDecodeError, ValueError) as exc:
        raise Rejected(RejectReason.MALFORMED, "not a form-encoded body") from exc
    wire.verify_notification(params, public_key_pem, now=now)
    notify_id = params.get("notify_id", "")
    if not notify_id:
        raise Rejected(RejectReason.MALFORMED, "no notify_id")
    if params.get("msg_method") == ZHIMA_AGREEMENT_CHANGED:
        return _zhima_agreement_notification(params, notify_id)
    event = _event_type(params)
    amount_key = "refund_fee" if event == EventType.REFUND_SUCCEEDED else "total_amount"
    return Notification(
        provider="alipay",
        notification_id=notify_id,
        event_type=event,
        out_trade_no=params.get("out_trade_no", ""),
        out_refund_no=params.get("out_biz_no", "") if event == EventType.REFUND_SUCCEEDED else "",
        provider_trade_no=params.get("trade_no", ""),
        amount_fen=amount_or_none(params, amount_key),
        mch_id=params.get("seller_id") or params.get("partner_id", ""),
        app_id=params.get("app_id", ""),
        payer_id=params.get("buyer_id") or params.get("alipay_user_id", ""),
        authorisation_ref=params.get("agreement_no", ""),
        out_request_no=params.get("external_agreement_no", ""),
        raw=params,
    )


def _event_type(params: Mapping[str, str]) -> EventType:
    notify_type = params.get("notify_type", "")
    if notify_type == "trade_status_sync":
        if params.get("refund_fee") and params.get("out_biz_no"):
            return EventType.REFUND_SUCCEEDED
        status = params.get("trade_status", "")
        if status in ("TRADE_SUCCESS", "TRADE_FINISHED"):
            return EventType.PAYMENT_PAID
        if status == "TRADE_CLOSED":
            return EventType.PAYMENT_CLOSED
        raise Rejected(RejectReason.MALFORMED, "unexpected trade_status")
    if notify_type == "dut_user_sign":
        return EventType.AUTHORISATION_OPENED
    if notify_type == "dut_user_unsign":
        return EventType.AUTHORISATION_CLOSED
    raise Rejected(RejectReason.MALFORMED, "unsupported notify_type")


def _zhima_agreement_notification(params: Mapping[str, str], notify_id: str) -> Notification:
    try:
        biz = json.loads(params.get("biz_content", ""))
    except ValueError as exc:
        raise Rejected(RejectReason.MALFORMED, "biz_content is not JSON") from exc
    if not isinstance(biz, dict):
        raise Rejected(RejectReason.MALFORMED, "biz_content is not an object")
    status = biz.get("agreement_status")
    if status == "VALID":
        event = EventType.AUTHORISATION_OPENED
    elif status == "INVALID":
        event = EventType.AUTHORISATION_CLOSED
    else:
        raise Rejected(RejectReason.MALFORMED, "unexpected agreement_status")
    return Notification(
        provider="alipay",
        notification_id=notify_id,
        event_type=event,
        app_id=params.get("app_id", ""),
        payer_id=str(biz.get("alipay_user_id", "")),
        authorisation_ref=str(biz.get("credit_agreement_id", "")),
        out_request_no=str(biz.get("out_agreement_no", "")),
        raw={**params, "biz_content": biz},
    )
