"""What both WeChat providers share: notification parsing and reply, refunds, and the provider base.

A notification is verified (signature, timestamp, SIGNTEST, key), its AES-256-GCM resource decrypted
with the APIv3 key, and normalised to `Notification`. The cross-check against our own records
(amount, merchant, order) is the domain's job.
"""

from __future__ import annotations

import json
from typing import Any

from openvend.payments.protocols import wechat as proto
from openvend.payments.providers.base import (
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
from openvend.payments.providers.wechat_client import NOT_FOUND_CODES, WeChatPayClient

EVENT_TYPES: dict[str, EventType] = {
    "TRANSACTION.SUCCESS": EventType.PAYMENT_PAID,
    "REFUND.SUCCESS": EventType.REFUND_SUCCEEDED,
    "REFUND.ABNORMAL": EventType.REFUND_FAILED,
    "REFUND.CLOSED": EventType.REFUND_FAILED,
    "PAYSCORE.USER_PAID": EventType.PAYMENT_PAID,
    "PAYSCORE.USER_CONFIRM": EventType.PAY_AFTER_CONFIRMED,
    "PAYSCORE.USER_OPEN_SERVICE": EventType.AUTHORISATION_OPENED,
    "PAYSCORE.USER_CLOSE_SERVICE": EventType.AUTHORISATION_CLOSED,
}

REFUND_STATES = {
    "SUCCESS": RefundState.SUCCEEDED,
    "PROCESSING": RefundState.PENDING,
    "CLOSED": RefundState.CLOSED,
    "ABNORMAL": RefundState.FAILED,
}


def _str(data: dict[str, Any], *names: str) -> str:
    for name in names:
        value = data.get(name)
        if value:
            return str(value)
    return ""


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def payer_of(resource: dict[str, Any]) -> str:
    """The shopper's openid: sub_openid when the order was made under the sub-merchant's app id."""
    payer = resource.get("payer") if isinstance(resource.get("payer"), dict) else None
    source = payer if payer is not None else resource
    return _str(source, "sub_openid", "sp_openid", "openid")


def payscore_transaction_id(order: dict[str, Any]) -> str:
    collection = order.get("collection") or {}
    details = [d for d in collection.get("details") or [] if d.get("transaction_id")]
    return str(details[-1]["transaction_id"]) if details else ""


def normalise(
    event: str, notification_id: str, resource: dict[str, Any], raw: dict[str, Any]
) -> Notification:
    event_type = EVENT_TYPES.get(event)
    if event_type is None:
        raise Rejected(RejectReason.MALFORMED, f"unsupported event type {event}")
    common: dict[str, Any] = {
        "provider": "wechat",
        "notification_id": notification_id,
        "event_type": event_type,
        "mch_id": _str(resource, "sp_mchid", "mchid"),
        "sub_mchid": _str(resource, "sub_mchid"),
        "app_id": _str(resource, "sp_appid", "appid"),
        "raw": raw,
    }
    amount_box = resource.get("amount")
    amount: dict[str, Any] = amount_box if isinstance(amount_box, dict) else {}
    if event.startswith("TRANSACTION."):
        return Notification(
            **common,
            out_trade_no=_str(resource, "out_trade_no"),
            provider_trade_no=_str(resource, "transaction_id"),
            amount_fen=_int(amount.get("total")),
            payer_id=payer_of(resource),
        )
    if event.startswith("REFUND."):
        return Notification(
            **common,
            out_trade_no=_str(resource, "out_trade_no"),
            out_refund_no=_str(resource, "out_refund_no"),
            provider_trade_no=_str(resource, "transaction_id"),
            amount_fen=_int(amount.get("refund")),
            failure_code="" if event_type == EventType.REFUND_SUCCEEDED else _str(resource, "refund_status"),
        )
    if event in ("PAYSCORE.USER_OPEN_SERVICE", "PAYSCORE.USER_CLOSE_SERVICE"):
        code = _str(resource, "authorization_code")
        return Notification(
            **common, payer_id=payer_of(resource), authorisation_ref=code, out_request_no=code
        )
    collection = resource.get("collection") or {}
    paid = event == "PAYSCORE.USER_PAID"
    return Notification(
        **common,
        out_trade_no=_str(resource, "out_order_no"),
        provider_trade_no=payscore_transaction_id(resource) if paid else _str(resource, "order_id"),
        amount_fen=_int(collection.get("paid_amount", resource.get("total_amount"))) if paid else None,
        payer_id=payer_of(resource),
    )


class WeChatProviderBase:
    """Shared by the JSAPI and payscore providers."""

    name = "wechat"

    def __init__(self, credentials: Credentials, client: WeChatPayClient | None = None):
        self.credentials = credentials
        self.client = client or WeChatPayClient(credentials)

    def _notify_url(self, override: str) -> str:
        return override or self.credentials.notify_url

    # -- notifications -------------------------------------------------------------------------------

    def parse_notification(self, headers: dict[str, str], body: bytes) -> Notification:
        self.client.verify(headers, body)
        try:
            envelope = json.loads(body)
            resource_box = envelope["resource"]
            notification_id = str(envelope["id"])
            event = str(envelope["event_type"])
        except (ValueError, KeyError, TypeError):
            raise Rejected(RejectReason.MALFORMED, "notification body is not a WeChat envelope") from None
        if not isinstance(resource_box, dict):
            raise Rejected(RejectReason.MALFORMED, "notification resource is not an object")
        plaintext = proto.decrypt_resource(self.credentials.api_key, resource_box)
        try:
            resource = json.loads(plaintext)
        except ValueError:
            raise Rejected(RejectReason.MALFORMED, "decrypted resource is not JSON") from None
        if not isinstance(resource, dict):
            raise Rejected(RejectReason.MALFORMED, "decrypted resource is not an object")
        raw = {k: v for k, v in envelope.items() if k != "resource"} | {"resource": resource}
        return normalise(event, notification_id, resource, raw)

    def notification_reply(self, ok: bool) -> HttpReply:
        if ok:
            return HttpReply(200, json.dumps({"code": "SUCCESS"}).encode(), "application/json")
        body = {"code": "FAIL", "message": "失败 / failed"}
        return HttpReply(500, json.dumps(body, ensure_ascii=False).encode(), "application/json")

    # -- refunds ---------------------------------------------------------------------------------------

    def _refund(self, sub: SubMerchant, request: RefundRequest, *, transaction_id: str = "") -> RefundResult:
        payload: dict[str, Any] = {
            "sub_mchid": sub.sub_mchid,
            "out_refund_no": request.out_refund_no,
            "amount": {"refund": request.refund_fen, "total": request.total_fen, "currency": "CNY"},
        }
        if transaction_id:
            payload["transaction_id"] = transaction_id
        else:
            payload["out_trade_no"] = request.out_trade_no
        if request.reason:
            payload["reason"] = request.reason[:80]
        notify_url = self._notify_url(request.notify_url)
        if notify_url:
            payload["notify_url"] = notify_url
        return self._refund_result(self.client.refund(payload))

    @staticmethod
    def _refund_result(data: dict[str, Any]) -> RefundResult:
        status = str(data.get("status", ""))
        amount = data.get("amount") or {}
        return RefundResult(
            state=REFUND_STATES.get(status, RefundState.PENDING),
            provider_refund_id=str(data.get("refund_id", "")),
            refund_fen=_int(amount.get("refund")),
            failure_code=status if status in ("ABNORMAL", "CLOSED") else "",
            raw=data,
        )

    def query_refund(self, sub: SubMerchant, out_refund_no: str, out_trade_no: str) -> RefundResult:
        try:
            return self._refund_result(self.client.query_refund(sub.sub_mchid, out_refund_no))
        except ProviderError as exc:
            if exc.code in NOT_FOUND_CODES:
                return RefundResult(state=RefundState.NOT_FOUND, failure_code=exc.code)
            raise


def not_supported(what: str) -> ProviderError:
    return ProviderError("NOT_SUPPORTED", f"{what} is not supported by this route")
