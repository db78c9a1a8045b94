from openvend.payments.models.config import MerchantPaymentConfig, ProviderAccount, SitePaymentMethod
from openvend.payments.models.onboarding import Onboarding
from openvend.payments.models.payments import (
    PayAfterAuthorisation,
    Payment,
    PaymentEvent,
    ProviderNotification,
    Refund,
)
from openvend.payments.models.wallet import WalletAccount, WalletEntry

__all__ = [
    "MerchantPaymentConfig",
    "Onboarding",
    "PayAfterAuthorisation",
    "Payment",
    "PaymentEvent",
    "ProviderAccount",
    "ProviderNotification",
    "Refund",
    "SitePaymentMethod",
    "WalletAccount",
    "WalletEntry",
]
