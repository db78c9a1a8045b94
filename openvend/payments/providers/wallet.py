"""The member wallet as a payment provider: charges and refunds are entries in our own wallet ledger.

Unlike the external providers it works on our database, so it answers at once: a charge is PAID (the
debit and the new balance are written together) or FAILED with NOTENOUGH, never overdrawn. The
ledger entry's idempotency key is derived from out_trade_no / out_refund_no, so a repeated charge or
refund is the same entry and a query reads the truth from the ledger. The balance itself is the
authorisation: authorise answers ACTIVE.
"""

from __future__ import annotations

from openvend.payments.models import Payment, WalletEntry
from openvend.payments.providers.base import (
    AuthorisationRequest,
    AuthorisationResult,
    AuthorisationState,
    ChargeRequest,
    ChargeResult,
    ChargeState,
    HttpReply,
    Notification,
    RefundRequest,
    RefundResult,
    RefundState,
    Rejected,
    RejectReason,
    SubMerchant,
)
from openvend.payments.services.errors import InsufficientBalance
from openvend.payments.services.wallet import wallet_credit, wallet_debit

NOT_ENOUGH = "NOTENOUGH"


def charge_key(out_trade_no: str) -> str:
    return f"pay:{out_trade_no}"


def refund_key(out_refund_no: str) -> str:
    return f"refund:{out_refund_no}"


def _trade_no(entry: WalletEntry) -> str:
    return f"W{entry.pk:010d}"


class WalletProvider:
    name = "wallet"

    def _payment(self, out_trade_no: str) -> Payment | None:
        payment: Payment | None = Payment.objects.filter(out_trade_no=out_trade_no).first()
        return payment

    def charge(self, sub: SubMerchant, request: ChargeRequest) -> ChargeResult:
        payment = self._payment(request.out_trade_no)
        if payment is None:
            return ChargeResult(ChargeState.NOT_FOUND)
        if payment.consumer_id is None:
            return ChargeResult(ChargeState.FAILED, failure_code="NO_WALLET", failure_message="no consumer")
        try:
            entry = wallet_debit(
                merchant_id=payment.merchant_id,
                consumer_id=payment.consumer_id,
                amount_fen=request.amount_fen,
                idempotency_key=charge_key(request.out_trade_no),
                note=request.out_trade_no,
            )
        except InsufficientBalance as exc:
            return ChargeResult(ChargeState.FAILED, failure_code=NOT_ENOUGH, failure_message=exc.message)
        return ChargeResult(
            ChargeState.PAID, provider_trade_no=_trade_no(entry), amount_fen=-entry.amount_fen
        )

    def query(self, sub: SubMerchant, out_trade_no: str) -> ChargeResult:
        entry = WalletEntry.objects.filter(idempotency_key=charge_key(out_trade_no)).first()
        if entry is None:
            return ChargeResult(ChargeState.NOT_FOUND)
        return ChargeResult(
            ChargeState.PAID, provider_trade_no=_trade_no(entry), amount_fen=-entry.amount_fen
        )

    def cancel(self, sub: SubMerchant, out_trade_no: str, reason: str) -> ChargeResult:
        paid = self.query(sub, out_trade_no)
        return paid if paid.state == ChargeState.PAID else ChargeResult(ChargeState.CLOSED)

    def refund(self, sub: SubMerchant, request: RefundRequest) -> RefundResult:
        payment = self._payment(request.out_trade_no)
        charged = WalletEntry.objects.filter(idempotency_key=charge_key(request.out_trade_no)).first()
        if payment is None or payment.consumer_id is None or charged is None:
            return RefundResult(RefundState.FAILED, failure_code="NOT_PAID")
        entry = wallet_credit(
            merchant_id=payment.merchant_id,
            consumer_id=payment.consumer_id,
            amount_fen=request.refund_fen,
            idempotency_key=refund_key(request.out_refund_no),
            note=request.out_refund_no,
        )
        return RefundResult(
            RefundState.SUCCEEDED, provider_refund_id=_trade_no(entry), refund_fen=entry.amount_fen
        )

    def query_refund(self, sub: SubMerchant, out_refund_no: str, out_trade_no: str) -> RefundResult:
        entry = WalletEntry.objects.filter(idempotency_key=refund_key(out_refund_no)).first()
        if entry is None:
            return RefundResult(RefundState.NOT_FOUND)
        return RefundResult(
            RefundState.SUCCEEDED, provider_refund_id=_trade_no(entry), refund_fen=entry.amount_fen
        )

    def authorise(self, sub: SubMerchant, request: AuthorisationRequest) -> AuthorisationResult:
        return AuthorisationResult(AuthorisationState.ACTIVE, payer_id=request.payer_id)

    def query_authorisation(
        self, sub: SubMerchant, payer_id: str, authorisation_ref: str, out_request_no: str = ""
    ) -> AuthorisationResult:
        return AuthorisationResult(AuthorisationState.ACTIVE, payer_id=payer_id)

    def revoke_authorisation(
        self, sub: SubMerchant, payer_id: str, authorisation_ref: str, reason: str
    ) -> AuthorisationResult:
        return AuthorisationResult(AuthorisationState.REVOKED, payer_id=payer_id)

    def open_pay_after(self, sub: SubMerchant, request: ChargeRequest) -> ChargeResult:
        return ChargeResult(ChargeState.PENDING)

    def parse_notification(self, headers: dict[str, str], body: bytes) -> Notification:
        raise Rejected(RejectReason.MALFORMED, "the wallet sends no notifications")

    def notification_reply(self, ok: bool) -> HttpReply:
        return HttpReply(status=200 if ok else 400, body=b"", content_type="text/plain")
