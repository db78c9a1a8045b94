"""Who we are at each provider (platform, service-provider mode) and who each merchant is under us.

Secrets (private keys, API v3 key, OAuth AppSecret, Alipay app_auth_token) are stored encrypted
(`openvend.core.crypto`) in `*_enc` fields and decrypted only to build a request.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from openvend.core.models import RestrictedQuerySet, TenantModel
from openvend.core.scope import DataScope
from openvend.payments.choices import GatewayMode, PaymentMethod, Provider


class ProviderAccount(models.Model):
    """The platform's service-provider account with WeChat Pay or Alipay (one per provider)."""

    provider = models.CharField(_("provider"), max_length=10, choices=Provider.choices, unique=True)
    base_url = models.URLField(_("gateway address"), max_length=200)
    mch_id = models.CharField(_("service provider merchant id"), max_length=32)
    app_id = models.CharField(_("app id"), max_length=40)
    key_serial_no = models.CharField(_("API certificate serial"), max_length=64, blank=True)
    private_key_enc = models.TextField(_("private key (encrypted)"), blank=True)
    api_key_enc = models.TextField(_("API v3 key (encrypted)"), blank=True)
    oauth_secret_enc = models.TextField(_("OAuth AppSecret (encrypted)"), blank=True)
    gateway_mode = models.CharField(
        _("gateway verification"), max_length=12, choices=GatewayMode.choices, default=GatewayMode.PUBLIC_KEY
    )
    gateway_public_key = models.TextField(_("gateway public key"), blank=True)
    gateway_public_key_id = models.CharField(_("gateway public key id"), max_length=64, blank=True)
    gateway_certificates = models.JSONField(_("gateway certificates"), default=dict, blank=True)
    # One service id field serves WeChat payscore and Alipay Zhima credit (芝麻先享) alike.
    payscore_service_id = models.CharField(
        _("service id (payscore / Zhima credit)"), max_length=40, blank=True
    )
    notify_url = models.URLField(_("notification address"), max_length=200, blank=True)
    oauth_url = models.URLField(_("OAuth address"), max_length=200, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("provider account")
        verbose_name_plural = _("provider accounts")
        ordering = ["provider"]

    def __str__(self) -> str:
        return f"{self.get_provider_display()} {self.mch_id}"


class MerchantPaymentConfig(TenantModel):
    """A merchant's identity under the platform at each provider (收款配置)."""

    wechat_sub_mchid = models.CharField(_("WeChat sub-merchant id"), max_length=32, blank=True)
    wechat_sub_appid = models.CharField(_("WeChat sub app id"), max_length=40, blank=True)
    alipay_smid = models.CharField(_("Alipay secondary merchant id"), max_length=32, blank=True)
    alipay_app_auth_token_enc = models.TextField(_("Alipay app authorisation token (encrypted)"), blank=True)
    # A merchant that holds its own API certificate (direct mode) uploads key and certificate here.
    own_private_key_enc = models.TextField(_("own API private key (encrypted)"), blank=True)
    own_certificate = models.TextField(_("own API certificate"), blank=True)
    own_key_serial_no = models.CharField(_("own API certificate serial"), max_length=64, blank=True)
    pay_after_threshold_fen = models.PositiveIntegerField(
        _("largest pay-after order (fen)"),
        default=50_000,
        help_text=_("Orders above this need the shopper to pay in person."),
    )

    class Meta:
        verbose_name = _("payment configuration")
        verbose_name_plural = _("payment configurations")
        constraints = [models.UniqueConstraint(fields=["merchant"], name="paymentconfig_one_per_merchant")]

    def __str__(self) -> str:
        return str(self.merchant)

    @classmethod
    def scope_q(cls, scope: DataScope) -> Q:
        return Q()


class SitePaymentMethod(TenantModel):
    """Which payment methods a site offers its shoppers."""

    site = models.ForeignKey(
        "merchants.Site", on_delete=models.CASCADE, related_name="payment_methods", verbose_name=_("site")
    )
    method = models.CharField(_("payment method"), max_length=20, choices=PaymentMethod.choices)
    enabled = models.BooleanField(_("enabled"), default=True)

    objects: ClassVar[Any] = RestrictedQuerySet.as_manager()

    class Meta:
        verbose_name = _("site payment method")
        verbose_name_plural = _("site payment methods")
        ordering = ["site_id", "method"]
        constraints = [models.UniqueConstraint(fields=["site", "method"], name="sitepaymentmethod_unique")]

    def __str__(self) -> str:
        return f"{self.site} {self.get_method_display()}"

    @classmethod
    def scope_q(cls, scope: DataScope) -> Q:
        from openvend.merchants.models import Site

        return Q(site__in=Site.objects.filter(Site.scope_q(scope)))
