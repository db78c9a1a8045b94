"""Business-rule errors of the payment services, each with a stable code for API clients."""

from __future__ import annotations

from enum import StrEnum

from openvend.payments.errors import PaymentError


class PaymentErrorCode(StrEnum):
    INVALID_AMOUNT = "payments.invalid_amount"
    INVALID_METHOD = "payments.invalid_method"
    INVALID_ORDER = "payments.invalid_order"
    METHOD_NOT_OFFERED = "payments.method_not_offered"
    AUTHORISATION_REQUIRED = "payments.authorisation_required"
    NOT_PAID = "payments.not_paid"
    NOT_OWED = "payments.not_owed"
    REFUND_TOO_LARGE = "payments.refund_too_large"
    INSUFFICIENT_BALANCE = "payments.insufficient_balance"
    PAY_AFTER_REFUSED = "payments.pay_after_refused"
    PROVIDER_UNAVAILABLE = "payments.provider_unavailable"
    ALREADY_PAID = "payments.already_paid"


class PaymentRuleError(PaymentError):
    """A request the payment rules refuse. The message is for people, the code for programs."""

    def __init__(self, code: PaymentErrorCode, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class InsufficientBalance(PaymentRuleError):
    def __init__(self, message: str):
        super().__init__(PaymentErrorCode.INSUFFICIENT_BALANCE, message)
