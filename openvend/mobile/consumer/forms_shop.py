from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from openvend.orders.cart_services import MAX_UNITS_PER_LINE
from openvend.orders.choices import AppealReason

CLAIMED_PREFIX = "took_"


class CartQuantityForm(forms.Form):
    product = forms.IntegerField(min_value=1)
    quantity = forms.IntegerField(min_value=0, max_value=MAX_UNITS_PER_LINE)


class BarcodeForm(forms.Form):
    barcode = forms.CharField(label=_("Barcode"), max_length=40)


class AppealForm(forms.Form):
    """Why the shopper disputes the order and, if they want to say, how many of each line they took."""

    reason = forms.ChoiceField(
        label=_("What is wrong?"), choices=AppealReason.choices, widget=forms.RadioSelect
    )
    message = forms.CharField(
        label=_("Tell us more"), max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args: Any, lines: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lines = lines
        for line in lines:
            self.fields[f"{CLAIMED_PREFIX}{line.product_id}"] = forms.IntegerField(
                label=line.product.name,
                min_value=0,
                max_value=MAX_UNITS_PER_LINE,
                required=False,
                widget=forms.NumberInput(attrs={"placeholder": str(line.quantity), "inputmode": "numeric"}),
            )

    def claimed_fields(self) -> list[Any]:
        return [self[f"{CLAIMED_PREFIX}{line.product_id}"] for line in self.lines]

    def claimed_lines(self) -> dict[str, int]:
        """Product id (as text) → the units the shopper says they took, for every line once they filled
        in any (a line left empty keeps the receipt's units); empty when they filled in none."""
        said: dict[int, int | None] = {
            line.product_id: self.cleaned_data.get(f"{CLAIMED_PREFIX}{line.product_id}")
            for line in self.lines
        }
        if all(value is None for value in said.values()):
            return {}
        claimed = {}
        for line in self.lines:
            value = said[line.product_id]
            claimed[str(line.product_id)] = line.quantity if value is None else value
        return claimed
        if all(value is None for value in said.values()):
            return {}
        return {
            str(line.product_id): line.quantity if said[line.product_id] is None else said[line.product_id]
            for line in self.lines
        }
