"""The provider interface every payment route implements: WeChat Pay v3, Alipay OpenAPI, the wallet.

Django-free on purpose: a provider receives plain values (credentials already decrypted, amounts in
integer fen) and returns plain values. The domain layer (`openvend.payments.services`) owns state,
idempotency and the event log; providers only speak the protocol.

Amounts are integer fen everywhere; providers convert to yuan strings only at the wire when the
protocol wants yuan (Alipay).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


class ChargeState(StrEnum):
    """What the provider says about one charge (a trade, a payscore service order, an agreement pay)."""

    PENDING = "pending"  # accepted, result not known yet (awaiting the shopper or the deduction)
    PAID = "paid"
    FAILED = "failed"  # refused: insufficient balance, authorisation revoked, risk control ...
    CLOSED = "closed"  # cancelled or closed without payment
    NOT_FOUND = "not_found"  # the provider has no such order


class RefundState(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CLOSED = "closed"
    NOT_FOUND = "not_found"


class AuthorisationState(StrEnum):
    """A shopper's pay-after authorisation (payscore permission, Alipay agreement, Zhima credit)."""

    PENDING = "pending"  # the shopper has not confirmed yet
    ACTIVE = "active"
    REVOKED = "revoked"
    NOT_FOUND = "not_found"


class EventType(StrEnum):
    """Provider notifications normalised to what the domain acts on."""

    PAYMENT_PAID = "payment.paid"
    PAYMENT_FAILED = "payment.failed"
    PAYMENT_CLOSED = "payment.closed"
    REFUND_SUCCEEDED = "refund.succeeded"
    REFUND_FAILED = "refund.failed"
    AUTHORISATION_OPENED = "authorisation.opened"
    AUTHORISATION_CLOSED = "authorisation.closed"
    PAY_AFTER_CONFIRMED = "pay_after.confirmed"  # payscore PAYSCORE.USER_CONFIRM


class RejectReason(StrEnum):
    """Why an incoming notification or response was refused. Each one is a distinct test."""

    BAD_SIGNATURE = "bad_signature"
    UNKNOWN_KEY = "unknown_key"  # serial / public key id we do not trust
    STALE_TIMESTAMP = "stale_timestamp"  # outside +-5 minutes
    SIGNTEST = "signtest"  # WeChat's WECHATPAY/SIGNTEST/ probe signature
    DECRYPT_FAILED = "decrypt_failed"
    MALFORMED = "malformed"
    MISMATCH = "mismatch"  # amount, merchant id or order id does not match our records


class ProviderError(Exception):
    """The provider refused a request or could not be reached. `retryable` says whether trying the
    same request again later can succeed (network, 5xx, SYSTEM_ERROR) or not (PARAM_ERROR, NOTENOUGH)."""

    def __init__(self, code: str, message: str = "", *, retryable: bool = False, status: int = 0):
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message
        self.retryable = retryable
        self.status = status


class Rejected(Exception):
    """An incoming notification (or a response) failed verification. Nothing may change because of it."""

    def __init__(self, reason: RejectReason, detail: str = ""):
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Credentials:
    """The platform's (service provider's) account with one provider, decrypted only for the call.

    Secrets carry repr=False so a logged or printed Credentials never shows them.
    """

    base_url: str  # e.g. https://api.mch.weixin.qq.com, or a sandbox's address
    mch_id: str  # WeChat sp_mchid; Alipay partner id (PID)
    app_id: str  # WeChat sp_appid; Alipay app_id
    private_key_pem: str = field(repr=False)  # our request-signing key (RSA 2048)
    key_serial_no: str = ""  # WeChat: serial of our merchant API certificate
    api_key: str = field(default="", repr=False)  # WeChat APIv3 key (AES-256-GCM); unused by Alipay
    # How we verify the gateway: WeChat public-key mode (key + "PUB_KEY_ID_..."), WeChat platform
    # certificate mode (serial -> certificate PEM), Alipay public key.
    gateway_public_key_pem: str = ""
    gateway_public_key_id: str = ""
    gateway_certificates: dict[str, str] = field(default_factory=dict)
    notify_url: str = ""  # where the provider posts notifications to us
    payscore_service_id: str = ""  # WeChat payscore service id
    oauth_secret: str = field(default="", repr=False)  # WeChat official-account AppSecret for OAuth


@dataclass(frozen=True)
class SubMerchant:
    """The merchant (sub-merchant) a request is made for, in service-provider mode."""

    sub_mchid: str = ""  # WeChat
    sub_appid: str = ""  # WeChat
    app_auth_token: str = field(default="", repr=False)  # Alipay third-party app authorisation token
    smid: str = ""  # Alipay secondary merchant id (royalty / settlement)


@dataclass(frozen=True)
class ChargeRequest:
    """Take `amount_fen` from the shopper for one order.

    `out_trade_no` is derived from our ids and unique; repeating a request with the same number is
    safe (the provider answers with the existing order). `authorisation_ref` is the payscore
    out_order_no opened at door-open or the Alipay agreement_no / Zhima credit order.
    """

    out_trade_no: str
    amount_fen: int
    description: str
    payer_id: str = ""  # WeChat openid (sub_openid when sub_appid is set); Alipay buyer user id / open id
    authorisation_ref: str = ""
    lines: tuple[ChargeLine, ...] = ()  # what was bought (payscore post_payments, receipts)
    attach: str = ""  # echoed back by the provider; we put our payment id here
    notify_url: str = ""  # overrides Credentials.notify_url
    return_url: str = ""  # in-person cashier pages send the shopper back here


@dataclass(frozen=True)
class ChargeLine:
    name: str
    amount_fen: int  # line total
    quantity: int = 1


@dataclass(frozen=True)
class ChargeResult:
    state: ChargeState
    provider_trade_no: str = ""
    amount_fen: int | None = None  # what the provider says was (or will be) charged
    failure_code: str = ""
    failure_message: str = ""
    # For JSAPI and consumer-facing flows: what the H5 needs to continue (prepay params, a page URL).
    next_action: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RefundRequest:
    out_trade_no: str
    out_refund_no: str
    refund_fen: int
    total_fen: int  # the original charge, WeChat wants both
    reason: str = ""
    notify_url: str = ""


@dataclass(frozen=True)
class RefundResult:
    state: RefundState
    provider_refund_id: str = ""
    refund_fen: int | None = None
    failure_code: str = ""
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AuthorisationRequest:
    """Ask a shopper for pay-after authorisation. The result's next_action tells the H5 where to send
    them (the provider's confirm / sign page); the outcome arrives as a notification or a query."""

    out_request_no: str  # ours, unique
    payer_id: str
    return_url: str  # where the provider's page sends the shopper back
    notify_url: str = ""


@dataclass(frozen=True)
class AuthorisationResult:
    state: AuthorisationState
    authorisation_ref: str = ""  # payscore authorization_code / Alipay agreement_no
    payer_id: str = ""
    next_action: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Notification:
    """A verified, decrypted provider notification, normalised. The cross-check of amount, merchant
    and order against our records happens in the domain, which knows what it expects."""

    provider: str
    notification_id: str  # WeChat notification id; Alipay notify_id. Unique per provider.
    event_type: EventType
    out_trade_no: str = ""
    out_refund_no: str = ""
    provider_trade_no: str = ""
    amount_fen: int | None = None
    mch_id: str = ""
    sub_mchid: str = ""
    app_id: str = ""
    payer_id: str = ""
    authorisation_ref: str = ""
    out_request_no: str = ""
    failure_code: str = ""
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class HttpReply:
    """What to answer the provider's notification POST with (WeChat wants JSON, Alipay `success`)."""

    status: int
    body: bytes
    content_type: str


class PaymentProvider(Protocol):
    """One payment route. Every call is safe to repeat with the same out_* numbers."""

    name: str  # "wechat" | "alipay" | "wallet"

    def charge(self, sub: SubMerchant, request: ChargeRequest) -> ChargeResult:
        """Charge now (payscore complete, agreement pay, wallet debit) or prepare a consumer-paid
        charge (JSAPI: result PENDING with next_action holding the prepay parameters)."""
        ...

    def query(self, sub: SubMerchant, out_trade_no: str) -> ChargeResult: ...

    def cancel(self, sub: SubMerchant, out_trade_no: str, reason: str) -> ChargeResult: ...

    def refund(self, sub: SubMerchant, request: RefundRequest) -> RefundResult: ...

    def query_refund(self, sub: SubMerchant, out_refund_no: str, out_trade_no: str) -> RefundResult: ...

    def authorise(self, sub: SubMerchant, request: AuthorisationRequest) -> AuthorisationResult: ...

    def query_authorisation(
        self, sub: SubMerchant, payer_id: str, authorisation_ref: str, out_request_no: str = ""
    ) -> AuthorisationResult:
        """Where the shopper's authorisation stands. `out_request_no` (ours, from authorise()) finds it
        when the provider's reference never reached us (a lost notification)."""
        ...

    def revoke_authorisation(
        self, sub: SubMerchant, payer_id: str, authorisation_ref: str, reason: str
    ) -> AuthorisationResult: ...

    def open_pay_after(self, sub: SubMerchant, request: ChargeRequest) -> ChargeResult:
        """Before the door opens: payscore creates the service order (state PENDING, nothing charged
        yet); Alipay Zhima creates the credit order. Agreement pay and the wallet need nothing and
        answer PENDING at once."""
        ...

    def parse_notification(self, headers: dict[str, str], body: bytes) -> Notification:
        """Verify (signature, timestamp, SIGNTEST, key), decrypt and normalise; raise Rejected."""
        ...

    def notification_reply(self, ok: bool) -> HttpReply: ...
