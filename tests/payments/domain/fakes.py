"""A scripted provider for the domain's own rules (state machine, dedup, cross-checks, refunds).

It stands in for a provider only where the rule under test is ours; every protocol path (signatures,
encryption, the gateways' answers) is exercised against the real sandboxes elsewhere. Its
notifications are plain JSON naming the Notification fields, so a test states exactly what a
verified notification says.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from openvend.payments.providers.base import (
    AuthorisationRequest,
    AuthorisationResult,
    AuthorisationState,
    ChargeRequest,
    ChargeResult,
    ChargeState,
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

Answer = Any  # a result, or a ProviderError to raise


@dataclass
class ScriptedProvider:
    name: str = "wechat"
    charge_answers: list[Answer] = field(default_factory=list)
    query_answers: list[Answer] = field(default_factory=list)
    refund_answers: list[Answer] = field(default_factory=list)
    query_refund_answers: list[Answer] = field(default_factory=list)
    cancel_answers: list[Answer] = field(default_factory=list)
    open_answers: list[Answer] = field(default_factory=list)
    authorise_answers: list[Answer] = field(default_factory=list)
    calls: list[tuple[str, Any]] = field(default_factory=list)

    @staticmethod
    def _next(answers: list[Answer], default: Answer) -> Any:
        answer = answers.pop(0) if answers else default
        if isinstance(answer, ProviderError):
            raise answer
        return answer

    def called(self, what: str) -> list[Any]:
        return [args for name, args in self.calls if name == what]

    def charge(self, sub: SubMerchant, request: ChargeRequest) -> ChargeResult:
        self.calls.append(("charge", request))
        default = ChargeResult(
            ChargeState.PAID, provider_trade_no=f"T{request.out_trade_no}", amount_fen=request.amount_fen
        )
        return self._next(self.charge_answers, default)  # type: ignore[no-any-return]

    def query(self, sub: SubMerchant, out_trade_no: str) -> ChargeResult:
        self.calls.append(("query", out_trade_no))
        return self._next(self.query_answers, ChargeResult(ChargeState.NOT_FOUND))  # type: ignore[no-any-return]

    def cancel(self, sub: SubMerchant, out_trade_no: str, reason: str) -> ChargeResult:
        self.calls.append(("cancel", out_trade_no))
        return self._next(self.cancel_answers, ChargeResult(ChargeState.CLOSED))  # type: ignore[no-any-return]

    def refund(self, sub: SubMerchant, request: RefundRequest) -> RefundResult:
        self.calls.append(("refund", request))
        default = RefundResult(RefundState.PENDING, provider_refund_id=f"R{request.out_refund_no}")
        return self._next(self.refund_answers, default)  # type: ignore[no-any-return]

    def query_refund(self, sub: SubMerchant, out_refund_no: str, out_trade_no: str) -> RefundResult:
        self.calls.append(("query_refund", out_refund_no))
        return self._next(self.query_refund_answers, RefundResult(RefundState.NOT_FOUND))  # type: ignore[no-any-return]

    def authorise(self, sub: SubMerchant, request: AuthorisationRequest) -> AuthorisationResult:
        self.calls.append(("authorise", request))
        default = AuthorisationResult(
            AuthorisationState.PENDING,
            next_action={"url": f"https://pay.example/confirm/{request.out_request_no}"},
        )
        return self._next(self.authorise_answers, default)  # type: ignore[no-any-return]

    def query_authorisation(
        self, sub: SubMerchant, payer_id: str, authorisation_ref: str, out_request_no: str = ""
    ) -> AuthorisationResult:
        self.calls.append(("query_authorisation", payer_id))
        return AuthorisationResult(AuthorisationState.ACTIVE, authorisation_ref="AG-1", payer_id=payer_id)

    def revoke_authorisation(
        self, sub: SubMerchant, payer_id: str, authorisation_ref: str, reason: str
    ) -> AuthorisationResult:
        self.calls.append(("revoke_authorisation", payer_id))
        return AuthorisationResult(AuthorisationState.REVOKED, payer_id=payer_id)

    def open_pay_after(self, sub: SubMerchant, request: ChargeRequest) -> ChargeResult:
        self.calls.append(("open_pay_after", request))
        default = ChargeResult(ChargeState.PENDING, provider_trade_no=f"S{request.out_trade_no}")
        return self._next(self.open_answers, default)  # type: ignore[no-any-return]

    def parse_notification(self, headers: dict[str, str], body: bytes) -> Notification:
        self.calls.append(("parse_notification", body))
        reject = {k.lower(): v for k, v in headers.items()}.get("x-reject")
        if reject:
            raise Rejected(RejectReason(reject), "scripted")
        data = json.loads(body)
        data["event_type"] = EventType(data["event_type"])
        return Notification(provider=self.name, **data)

    def notification_reply(self, ok: bool) -> HttpReply:
        body = b"" if ok else b'{"code":"FAIL","message":"rejected"}'
        return HttpReply(status=200 if ok else 400, body=body, content_type="application/json")


def notification_body(notification_id: str, event_type: EventType, **fields: Any) -> bytes:
    return json.dumps({"notification_id": notification_id, "event_type": event_type.value, **fields}).encode()
