from __future__ import annotations

from functools import cached_property
from typing import Any, ClassVar

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from openvend.accounts.choices import DataScope
from openvend.core.choices import Language
from openvend.core.models import RestrictedQuerySet
from openvend.core.scope import DataScope as Scope


class Role(models.Model):
    """A named set of permissions plus a data scope. Roles are data: merchants make their own."""

    merchant = models.ForeignKey(
        "merchants.Merchant",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="roles",
        verbose_name=_("merchant"),
        help_text=_("Empty for platform roles."),
    )
    code = models.SlugField(_("code"), max_length=40)
    name = models.CharField(_("name"), max_length=60)
    is_preset = models.BooleanField(_("preset"), default=False, editable=False)
    permissions = models.JSONField(_("permissions"), default=list, blank=True)
    data_scope = models.CharField(
        _("data scope"), max_length=20, choices=DataScope.choices, default=DataScope.ALL
    )
    org_units = models.ManyToManyField("merchants.OrgUnit", blank=True, verbose_name=_("org units"))
    sites = models.ManyToManyField("merchants.Site", blank=True, verbose_name=_("sites"))
    device_groups = models.ManyToManyField(
        "merchants.DeviceGroup", blank=True, verbose_name=_("device groups")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects: ClassVar[Any] = RestrictedQuerySet.as_manager()

    class Meta:
        verbose_name = _("role")
        verbose_name_plural = _("roles")
        ordering = ["merchant_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "code"], name="role_unique_code_per_merchant"),
            models.UniqueConstraint(
                fields=["code"], condition=Q(merchant__isnull=True), name="role_unique_platform_code"
            ),
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        """Preset roles show in the reader's language; custom roles as their owner named them."""
        from openvend.accounts.presets import PRESETS_BY_CODE

        preset = PRESETS_BY_CODE.get(self.code) if self.is_preset else None
        return gettext(str(preset.label)) if preset else self.name

    @classmethod
    def tenant_q(cls, merchant_id: int) -> Q:
        return Q(merchant_id=merchant_id)

    @classmethod
    def scope_q(cls, scope: Scope) -> Q:
        return Q(pk__in=[])


class UserQuerySet(RestrictedQuerySet):
    pass


class OpenVendUserManager(UserManager.from_queryset(UserQuerySet)):  # type: ignore[misc]
    pass


class User(AbstractUser):
    """A console or API user: platform staff (no merchant) or one merchant's staff."""

    merchant = models.ForeignKey(
        "merchants.Merchant",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="users",
        verbose_name=_("merchant"),
    )
    org_unit = models.ForeignKey(
        "merchants.OrgUnit",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="users",
        verbose_name=_("org unit"),
    )
    roles = models.ManyToManyField(Role, blank=True, related_name="users", verbose_name=_("roles"))
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    language = models.CharField(
        _("language"),
        max_length=10,
        blank=True,
        choices=Language.choices,
        help_text=_("Empty: the merchant's default."),
    )
    frozen_at = models.DateTimeField(_("frozen at"), null=True, blank=True, editable=False)
    frozen_reason = models.CharField(_("freeze reason"), max_length=200, blank=True, editable=False)

    objects: ClassVar[OpenVendUserManager] = OpenVendUserManager()

    class Meta:
        verbose_name = pgettext_lazy("account", "user")
        verbose_name_plural = pgettext_lazy("account", "users")
        ordering = ["id"]
        permissions = [
            ("freeze_user", _("Can freeze and unfreeze users")),
            ("reset_password_user", _("Can reset users' passwords")),
        ]

    @property
    def is_platform_user(self) -> bool:
        return self.merchant_id is None

    @property
    def is_frozen(self) -> bool:
        return self.frozen_at is not None

    @property
    def preferred_language(self) -> str:
        if self.language:
            return self.language
        if self.merchant is not None:
            return self.merchant.default_language
        return "zh-hans"

    @cached_property
    def data_scope(self) -> Scope:
        from openvend.accounts.selectors import data_scope_for

        return data_scope_for(self)

    @classmethod
    def tenant_q(cls, merchant_id: int) -> Q:
        return Q(merchant_id=merchant_id)

    @classmethod
    def scope_q(cls, scope: Scope) -> Q:
        return scope.path_q("org_unit__path") | Q(pk=scope.user_id)


class ApiToken(models.Model):
    """A bearer token for the REST API. Only its SHA-256 is stored; the token is shown once."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=12)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.prefix}…"

    @property
    def is_usable(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()
