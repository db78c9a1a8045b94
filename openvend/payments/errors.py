from __future__ import annotations

from django.utils.translation import gettext as _


class PaymentError(Exception):
    """A payment request that cannot be carried out; the message is shown to the user as is."""


class PaymentNotConfigured(PaymentError):
    def __init__(self, provider: str):
        super().__init__(_("Payments through %(provider)s are not configured.") % {"provider": provider})
        self.provider = provider


class InvalidTransition(PaymentError):
    def __init__(self, current: str, target: str):
        super().__init__(
            _("A payment that is %(current)s cannot become %(target)s.")
            % {"current": current, "target": target}
        )
        self.current = current
        self.target = target
