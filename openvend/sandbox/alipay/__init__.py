"""A local Alipay OpenAPI gateway: verifies RSA2 request signatures and timestamps, signs its answers
with its own key, serves the shopper pages (OAuth, agreement sign, Zhima credit sign, WAP cashier) and
delivers signed notifications on Alipay's retry schedule. No Django."""

from openvend.sandbox.alipay.server import DEMO_APP_ID, RETRY_SCHEDULE_S, AlipaySandbox, main
from openvend.sandbox.alipay.state import AuthorisationFault, ChargeFault, Faults

__all__ = [
    "DEMO_APP_ID",
    "RETRY_SCHEDULE_S",
    "AlipaySandbox",
    "AuthorisationFault",
    "ChargeFault",
    "Faults",
    "main",
]
