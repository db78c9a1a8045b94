"""What a refused charge means to the shopper, in the language of the page that shows it.

Providers word their refusals in their own terms (and the charge usually runs after the door closes,
in no shopper's language), so pages show a message chosen by the stored failure code instead of the
stored text."""

from __future__ import annotations

from django.utils.translation import gettext as _

# Codes by provider: the wallet, WeChat Pay (payscore collection), Alipay (trade pay).
INSUFFICIENT_BALANCE = frozenset({"NOTENOUGH", "NOT_ENOUGH", "ACQ.BUYER_BALANCE_NOT_ENOUGH"})
AUTHORISATION_GONE = frozenset(
    {
        "NO_AUTH",
        "ACQ.AGREEMENT_NOT_EXIST",
        "ACQ.AGREEMENT_STATUS_NOT_NORMAL",
        "USER_AGREEMENT_NOT_EXIST",
        "AGREEMENT_STATUS_NOT_VALID",
    }
)


def failure_text(code: str) -> str:
    if code in INSUFFICIENT_BALANCE:
        return _("The balance was not enough.")
    if code in AUTHORISATION_GONE:
        return _("The pay-after authorisation was no longer valid.")
    if code:
        return _("The payment provider refused the charge (%(code)s).") % {"code": code}
    return ""
