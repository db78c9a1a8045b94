from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from openvend.core.models import TenantModel
from openvend.core.scope import DataScope
from openvend.payments.choices import OnboardingState, OnboardingSubject, Provider


class Onboarding(TenantModel):
    """A sub-merchant application (进件) to a provider and where its review stands.

    Identity and bank numbers are personal data: stored encrypted, shown masked.
    """

    provider = models.CharField(_("provider"), max_length=10, choices=Provider.choices)
    subject_type = models.CharField(_("subject type"), max_length=12, choices=OnboardingSubject.choices)
    business_code = models.CharField(_("application number"), max_length=64, unique=True)
    applyment_id = models.CharField(_("provider application id"), max_length=64, blank=True)
    state = models.CharField(
        _("state"), max_length=20, choices=OnboardingState.choices, default=OnboardingState.DRAFT
    )
    subject_name = models.CharField(_("subject name"), max_length=100)
    license_number = models.CharField(_("business licence number"), max_length=40, blank=True)
    legal_person = models.CharField(_("legal person / owner"), max_length=50)
    id_number_enc = models.TextField(_("ID number (encrypted)"), blank=True)
    contact_name = models.CharField(_("contact name"), max_length=50)
    contact_phone = models.CharField(_("contact phone"), max_length=20)
    bank_name = models.CharField(_("bank"), max_length=60, blank=True)
    bank_account_enc = models.TextField(_("bank account (encrypted)"), blank=True)
    sub_mchid = models.CharField(_("sub-merchant id issued"), max_length=32, blank=True)
    reject_reason = models.CharField(_("reason for rejection"), max_length=300, blank=True)
    sign_url = models.URLField(_("signing link"), max_length=300, blank=True)
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("onboarding application")
        verbose_name_plural = _("onboarding applications")
        ordering = ["-id"]
        permissions = [("review_onboarding", _("Can record the provider's review of an application"))]

    def __str__(self) -> str:
        return f"{self.subject_name} ({self.get_provider_display()})"

    @classmethod
    def scope_q(cls, scope: DataScope) -> Q:
        return Q()
