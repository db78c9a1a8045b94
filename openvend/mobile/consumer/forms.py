from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from openvend.payments.choices import PaymentMethod

REVOKE_REASONS = [
    ("no_longer_needed", _("I no longer shop here")),
    ("prefer_paying_myself", _("I prefer to pay each time")),
    ("other", _("Other")),
]


class RevokeForm(forms.Form):
    reason = forms.ChoiceField(
        label=_("Why are you ending it?"), choices=REVOKE_REASONS, widget=forms.RadioSelect
    )

    def reason_text(self) -> str:
        return str(dict(REVOKE_REASONS)[self.cleaned_data["reason"]])


class PayForm(forms.Form):
    method = forms.ChoiceField(label=_("Pay with"), widget=forms.RadioSelect)

    def __init__(self, *args: Any, methods: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field: Any = self.fields["method"]
        field.choices = [(method, PaymentMethod(method).label) for method in methods]
        if methods:
            field.initial = methods[0]
