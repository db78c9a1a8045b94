"""Forms of the planogram and track console pages. They run the services' validation so a refusal
shows on the field; the services run it again when they write."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.forms.models import BaseInlineFormSet
from django.utils.translation import gettext_lazy as _

from openvend.core.errors import OpenVendError
from openvend.devices.models import Device
from openvend.inventory import planogram_services, track_services
from openvend.inventory.models import Planogram, PlanogramSlot, Track


def _add_service_error(form: forms.BaseForm, exc: OpenVendError) -> None:
    placed = False
    for field, field_messages in exc.fields.items():
        if field in form.fields:
            for message in field_messages:
                form.add_error(field, message)
            placed = True
    if not placed:
        form.add_error(None, exc.message)


class PlanogramAddForm(forms.ModelForm):
    copy_in_force = forms.BooleanField(
        label=_("Start from the slots of the version in force"), required=False, initial=True
    )

    class Meta:
        model = Planogram
        fields = ["device", "note"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        device = cleaned.get("device")
        if device is not None:
            try:
                planogram_services.require_weight_sensors(device)
            except OpenVendError as exc:
                self.add_error("device", exc.message)
        return cleaned


class SlotForm(forms.ModelForm):
    sensors = forms.CharField(
        label=_("weight sensors"),
        help_text=_("Sensor ids separated by commas, e.g. s1-1 or s1-1, s1-2 for an item bridging two."),
        max_length=200,
    )

    class Meta:
        model = PlanogramSlot
        fields = ["shelf", "sensors", "product", "capacity", "par_level"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk and isinstance(self.instance.sensors, list):
            self.initial["sensors"] = ", ".join(self.instance.sensors)

    def clean_sensors(self) -> list[str]:
        raw = self.cleaned_data.get("sensors") or ""
        return [part for part in re.split(r"[\s,;]+", raw.strip()) if part]


class SlotFormSet(BaseInlineFormSet):
    """Checks every slot against the others as they will be after the save (double booking)."""

    def clean(self) -> None:
        super().clean()
        planogram = self.instance
        if planogram is None or planogram.pk is None:
            return
        kept = [
            form
            for form in self.forms
            if form.is_valid() and form.cleaned_data and not form.cleaned_data.get("DELETE")
        ]
        specs = {
            id(form): planogram_services.SlotSpec(
                shelf=form.cleaned_data["shelf"],
                sensors=tuple(form.cleaned_data["sensors"]),
                product=form.cleaned_data["product"],
                capacity=form.cleaned_data["capacity"],
                par_level=form.cleaned_data["par_level"],
                pk=-(index + 1),  # unique per form, so a slot is never compared with itself
            )
            for index, form in enumerate(kept)
        }
        for form in kept:
            others = [spec for key, spec in specs.items() if key != id(form)]
            try:
                planogram_services.validate_slot(planogram, specs[id(form)], others)
            except OpenVendError as exc:
                _add_service_error(form, exc)


class TrackForm(forms.ModelForm):
    class Meta:
        model = Track
        fields = ["device", "number", "product", "price_fen", "capacity", "par_level", "enabled"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        data = {name: cleaned[name] for name in track_services.TRACK_FIELDS if name in cleaned}
        try:
            if self.instance.pk:
                track_services.validate_track_update(self.instance, data)
            else:
                track_services.validate_track_create(cleaned.get("device"), cleaned.get("number"), data)
        except OpenVendError as exc:
            _add_service_error(self, exc)
        return cleaned


class TrackCloneForm(forms.Form):
    target_devices = forms.ModelMultipleChoiceField(
        label=_("Clone to these machines"),
        queryset=Device.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Machines of the same kind that you manage. Stock is never copied."),
    )

    def __init__(self, *args: Any, user: Any, source: Device, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["target_devices"]
        assert isinstance(field, forms.ModelMultipleChoiceField)
        field.queryset = (
            Device.objects.restrict(user, "view")
            .filter(kind=source.kind)
            .exclude(pk=source.pk)
            .order_by("code")
        )


class TrackGenerateForm(forms.Form):
    device = forms.ModelChoiceField(label=_("Vending machine"), queryset=Device.objects.none())

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["device"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = (
            Device.objects.restrict(user, "view")
            .filter(kind__type="vending_machine", kind__tracks__gt=0)
            .order_by("code")
        )
