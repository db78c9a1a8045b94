"""Forms of the payment configuration pages. Secret inputs are write-only: they start empty on every
page, an empty one keeps what is stored, and the form runs the services' checks (the key parses,
the certificate matches it) so a refusal shows on the field."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _
from unfold.widgets import (
    UnfoldAdminCheckboxSelectMultipleWidget,
    UnfoldAdminFileFieldWidget,
    UnfoldAdminPasswordWidget,
    UnfoldAdminSelectMultipleWidget,
    UnfoldAdminSelectWidget,
    UnfoldAdminTextareaWidget,
    UnfoldAdminTextInputWidget,
    UnfoldAdminURLInputWidget,
)

from openvend.core.crypto import decrypt
from openvend.core.errors import OpenVendError
from openvend.merchants.models import Site
from openvend.payments import config_services as config
from openvend.payments import onboarding_services as onboarding
from openvend.payments.choices import OnboardingState, PaymentMethod, Provider
from openvend.payments.models import MerchantPaymentConfig, Onboarding, ProviderAccount

MAX_KEY_FILE_BYTES = 64 * 1024
ONBOARDING_PROVIDERS = [
    (Provider.WECHAT.value, Provider.WECHAT.label),
    (Provider.ALIPAY.value, Provider.ALIPAY.label),
]


def add_service_error(form: forms.BaseForm, exc: OpenVendError) -> None:
    placed = False
    for field, field_messages in exc.fields.items():
        if field in form.fields:
            for message in field_messages:
                form.add_error(field, message)
            placed = True
    if not placed:
        form.add_error(None, exc.message)


class WriteOnlyTextarea(UnfoldAdminTextareaWidget):
    """Never renders a value: a pasted key must not come back in the page when another field fails."""

    def format_value(self, value: Any) -> None:
        return None


class WriteOnlyTextInput(UnfoldAdminTextInputWidget):
    def format_value(self, value: Any) -> None:
        return None


def _secret_input(label: Any, help_text: Any = "") -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        strip=True,
        help_text=help_text or _("Write-only: leave empty to keep the stored value."),
        widget=UnfoldAdminPasswordWidget(attrs={"autocomplete": "new-password"}, render_value=False),
    )


def _pem_file(label: Any) -> forms.FileField:
    return forms.FileField(label=label, required=False, widget=UnfoldAdminFileFieldWidget)


def _pem_text(label: Any) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        strip=True,
        help_text=_("Paste instead of uploading. Never shown again after saving."),
        widget=WriteOnlyTextarea(attrs={"rows": 4, "autocomplete": "off", "spellcheck": "false"}),
    )


def _same_key(key: Any, certificate: Any) -> bool:
    return config.fingerprint(key.public_key()) == config.fingerprint(certificate.public_key())


class UploadedPemMixin(forms.BaseForm):
    """A PEM comes from a file field `<name>_file` or a paste field `<name>_text`; `pem(name)` is
    whichever was given ("" for neither)."""

    def pem(self, name: str) -> str:
        return str(self.cleaned_data.get(f"_{name}") or "")

    def _read_pem(self, name: str) -> str:
        upload = self.cleaned_data.get(f"{name}_file")
        pasted = (self.cleaned_data.get(f"{name}_text") or "").strip()
        if upload is not None and pasted:
            self.add_error(f"{name}_text", _("Upload a file or paste the text, not both."))
            return ""
        if upload is None:
            return pasted
        if upload.size and upload.size > MAX_KEY_FILE_BYTES:
            self.add_error(f"{name}_file", _("This file is too large for a key or certificate."))
            return ""
        try:
            return bytes(upload.read()).decode("utf-8").strip()
        except UnicodeDecodeError:
            self.add_error(f"{name}_file", _("Upload the PEM text file, not a binary (.p12) file."))
            return ""


class ProviderAccountForm(UploadedPemMixin, forms.ModelForm):
    private_key_file = _pem_file(_("API private key file (apiclient_key.pem / app private key)"))
    private_key_text = _pem_text(_("API private key"))
    certificate_file = _pem_file(_("API certificate file (apiclient_cert.pem)"))
    certificate_text = _pem_text(_("API certificate"))
    api_key = _secret_input(_("API v3 key"))
    oauth_secret = _secret_input(_("OAuth AppSecret"))

    class Meta:
        model = ProviderAccount
        # The admin builds the model fields from its fieldsets (with https as the URL default).
        fields: list[str] = []

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        key_pem = self._read_pem("private_key")
        cert_pem = self._read_pem("certificate")
        try:
            key = config.read_private_key(key_pem, field="private_key_text") if key_pem else None
            if cert_pem:
                cert = config.read_certificate(cert_pem, field="certificate_text")
                stored = self.instance.private_key_enc if self.instance.pk else ""
                key = key or (config.read_private_key(decrypt(stored)) if stored else None)
                if key is not None and not _same_key(key, cert):
                    self.add_error(
                        "certificate_text", _("The certificate does not belong to this private key.")
                    )
        except OpenVendError as exc:
            add_service_error(self, exc)
        api_key = cleaned.get("api_key") or ""
        if (
            api_key
            and cleaned.get("provider") == Provider.WECHAT
            and len(api_key.encode()) != config.WECHAT_API_V3_KEY_LENGTH
        ):
            self.add_error("api_key", _("The API v3 key is exactly 32 characters."))
        cleaned["_private_key"], cleaned["_certificate"] = key_pem, cert_pem
        return cleaned


class MerchantPaymentConfigForm(UploadedPemMixin, forms.ModelForm):
    own_private_key_file = _pem_file(_("Own API private key file"))
    own_private_key_text = _pem_text(_("Own API private key"))
    own_certificate_file = _pem_file(_("Own API certificate file"))
    own_certificate_text = _pem_text(_("Own API certificate"))
    alipay_app_auth_token = _secret_input(
        _("Alipay app_auth_token"),
        _("Issued when the merchant authorised the platform's app. Write-only: leave empty to keep it."),
    )

    class Meta:
        model = MerchantPaymentConfig
        fields = list(config.MERCHANT_CONFIG_FIELDS)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        key_pem = self._read_pem("own_private_key")
        cert_pem = self._read_pem("own_certificate")
        try:
            key = config.read_private_key(key_pem, field="own_private_key_text") if key_pem else None
            cert = config.read_certificate(cert_pem, field="own_certificate_text") if cert_pem else None
            stored_key = self.instance.own_private_key_enc if self.instance.pk else ""
            stored_cert = self.instance.own_certificate if self.instance.pk else ""
            key = key or (config.read_private_key(decrypt(stored_key)) if stored_key and cert else None)
            cert = cert or (config.read_certificate(stored_cert) if stored_cert and key_pem else None)
            mismatch = key is not None and cert is not None and not _same_key(key, cert)
            if mismatch:
                field = "own_certificate_text" if cert_pem else "own_private_key_text"
                self.add_error(field, _("The certificate does not belong to this private key."))
        except OpenVendError as exc:
            add_service_error(self, exc)
        cleaned["_own_private_key"], cleaned["_own_certificate"] = key_pem, cert_pem
        return cleaned


class OnboardingForm(forms.ModelForm):
    """The merchant's draft. ID and bank numbers are typed in, stored encrypted, shown masked."""

    provider = forms.ChoiceField(
        label=_("provider"), choices=ONBOARDING_PROVIDERS, widget=UnfoldAdminSelectWidget
    )
    id_number = forms.CharField(
        label=_("ID number of the legal person / owner"),
        required=False,
        max_length=30,
        widget=WriteOnlyTextInput(attrs={"autocomplete": "off"}),
    )
    bank_account = forms.CharField(
        label=_("settlement bank account"),
        required=False,
        max_length=40,
        widget=WriteOnlyTextInput(attrs={"autocomplete": "off"}),
    )

    class Meta:
        model = Onboarding
        fields = list(onboarding.DRAFT_FIELDS)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            keep = _("Stored: %(masked)s. Leave empty to keep it.")
            if self.instance.id_number_enc:
                masked = onboarding.masked_id_number(self.instance)
                self.fields["id_number"].help_text = keep % {"masked": masked}
            if self.instance.bank_account_enc:
                masked = onboarding.masked_bank_account(self.instance)
                self.fields["bank_account"].help_text = keep % {"masked": masked}

    def clean_id_number(self) -> str:
        value = "".join((self.cleaned_data.get("id_number") or "").split()).upper()
        if value and not (value[:-1].isdigit() and (value[-1].isdigit() or value[-1] == "X")):
            raise forms.ValidationError(_("An ID number has only digits (and X at the end)."))
        return value

    def clean_bank_account(self) -> str:
        value = "".join((self.cleaned_data.get("bank_account") or "").split())
        if value and not (value.isdigit() and 8 <= len(value) <= 30):
            raise forms.ValidationError(_("A bank account number has 8 to 30 digits."))
        return value


REVIEW_TARGETS = [
    (state.value, state.label)
    for state in (
        OnboardingState.AUDITING,
        OnboardingState.REJECTED,
        OnboardingState.TO_BE_CONFIRMED,
        OnboardingState.TO_BE_SIGNED,
        OnboardingState.FINISHED,
    )
]


class OnboardingReviewForm(forms.Form):
    """Platform staff record what the provider answered."""

    target = forms.ChoiceField(
        label=_("provider's answer"), choices=REVIEW_TARGETS, widget=UnfoldAdminSelectWidget
    )
    applyment_id = forms.CharField(
        label=_("provider application id (applyment_id)"),
        required=False,
        max_length=64,
        widget=UnfoldAdminTextInputWidget,
    )
    reject_reason = forms.CharField(
        label=_("reason for rejection"),
        required=False,
        max_length=300,
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 3}),
    )
    sign_url = forms.URLField(
        label=_("signing link"),
        required=False,
        max_length=300,
        assume_scheme="https",
        widget=UnfoldAdminURLInputWidget,
    )
    sub_mchid = forms.CharField(
        label=_("sub-merchant id issued (sub_mchid / smid)"),
        required=False,
        max_length=32,
        widget=UnfoldAdminTextInputWidget,
    )

    def __init__(self, *args: Any, application: Onboarding, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.application = application
        allowed = onboarding.REVIEW_TRANSITIONS.get(application.state, frozenset())
        self.fields["target"].choices = [(v, label) for v, label in REVIEW_TARGETS if v in allowed]  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        target = cleaned.get("target")
        if target:
            answer = {
                name: cleaned.get(name) or ""
                for name in ("applyment_id", "reject_reason", "sign_url", "sub_mchid")
            }
            try:
                onboarding.check_review(self.application, target, answer)
            except OpenVendError as exc:
                add_service_error(self, exc)
        return cleaned


class SiteMethodsForm(forms.Form):
    """Offer a set of payment methods on several sites at once."""

    sites: forms.ModelMultipleChoiceField = forms.ModelMultipleChoiceField(
        label=_("sites"),
        queryset=Site.objects.none(),
        widget=UnfoldAdminSelectMultipleWidget(attrs={"size": 8}),
    )
    methods = forms.MultipleChoiceField(
        label=_("payment methods"),
        choices=PaymentMethod.choices,
        widget=UnfoldAdminCheckboxSelectMultipleWidget,
    )
    enabled = forms.TypedChoiceField(
        label=_("make them"),
        choices=[("1", _("offered")), ("0", _("not offered"))],
        coerce=lambda value: value == "1",
        initial="1",
        widget=UnfoldAdminSelectWidget,
    )

    def __init__(self, *args: Any, sites: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["sites"].queryset = sites  # type: ignore[attr-defined]
