from __future__ import annotations

from datetime import time
from typing import Any, ClassVar

from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from openvend.core.choices import Language
from openvend.core.models import RestrictedQuerySet, TenantModel
from openvend.core.scope import DataScope
from openvend.merchants.choices import MerchantKind, MerchantStatus

code_validator = RegexValidator(r"^[a-z0-9][a-z0-9-]*$", _("Use lowercase letters, digits and hyphens."))


class Merchant(models.Model):
    """A tenant: the operator that owns devices. Its own row is the root of its data."""

    name = models.CharField(_("name"), max_length=100)
    code = models.SlugField(_("code"), max_length=40, unique=True, validators=[code_validator])
    kind = models.CharField(
        pgettext_lazy("merchant", "kind"),
        max_length=20,
        choices=MerchantKind.choices,
        default=MerchantKind.ENTERPRISE,
    )
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=MerchantStatus.choices,
        default=MerchantStatus.PENDING,
        db_index=True,
    )
    contact_name = models.CharField(_("contact name"), max_length=50, blank=True)
    contact_phone = models.CharField(_("contact phone"), max_length=20, blank=True)
    default_language = models.CharField(
        _("default language"),
        max_length=10,
        choices=Language.choices,
        default="zh-hans",
    )
    review_note = models.CharField(_("review note"), max_length=200, blank=True)
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects: ClassVar[Any] = RestrictedQuerySet.as_manager()

    class Meta:
        verbose_name = _("merchant")
        verbose_name_plural = _("merchants")
        ordering = ["id"]
        permissions = [
            ("review_merchant", _("Can review merchant registrations")),
            ("freeze_merchant", _("Can freeze and unfreeze merchants")),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_operating(self) -> bool:
        return self.status == MerchantStatus.ACTIVE

    @classmethod
    def tenant_q(cls, merchant_id: int) -> Q:
        return Q(pk=merchant_id)

    @classmethod
    def scope_q(cls, scope: DataScope) -> Q:
        # Every member of a merchant may see the merchant itself.
        return Q()


class OrgUnit(TenantModel):
    """A node of the merchant's organisation tree (组织机构). `path` makes subtree queries one LIKE."""

    parent = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
        verbose_name=_("parent"),
    )
    name = models.CharField(_("name"), max_length=100)
    path = models.CharField(_("path"), max_length=255, editable=False, db_index=True)

    class Meta:
        verbose_name = _("org unit")
        verbose_name_plural = _("org units")
        ordering = ["path"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "parent", "name"], name="orgunit_unique_name_per_parent"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def depth(self) -> int:
        return self.path.count("/") - 1

    @classmethod
    def scope_q(cls, scope: DataScope) -> Q:
        return scope.path_q("path")


class Site(TenantModel):
    """A place where devices stand (点位)."""

    org_unit = models.ForeignKey(
        OrgUnit,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="sites",
        verbose_name=_("org unit"),
    )
    name = models.CharField(_("name"), max_length=100)
    code = models.CharField(_("code"), max_length=40, validators=[code_validator])
    province = models.CharField(_("province"), max_length=30, blank=True)
    city = models.CharField(_("city"), max_length=30, blank=True)
    district = models.CharField(_("district"), max_length=30, blank=True)
    address = models.CharField(_("address"), max_length=200)
    latitude = models.DecimalField(
        _("latitude"),
        max_digits=9,
        decimal_places=6,
        validators=[MinValueValidator(-90), MaxValueValidator(90)],
    )
    longitude = models.DecimalField(
        _("longitude"),
        max_digits=9,
        decimal_places=6,
        validators=[MinValueValidator(-180), MaxValueValidator(180)],
    )
    contact_phone = models.CharField(_("contact phone"), max_length=20, blank=True)
    is_active = models.BooleanField(_("in service"), default=True)
    # Business hours in local time; both empty means always open. A window may cross midnight
    # (22:00–06:00).
    opens_at = models.TimeField(_("opens at"), null=True, blank=True)
    closes_at = models.TimeField(_("closes at"), null=True, blank=True)

    class Meta:
        verbose_name = _("site")
        verbose_name_plural = _("sites")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "code"], name="site_unique_code_per_merchant"),
            models.CheckConstraint(
                condition=(Q(opens_at__isnull=True) & Q(closes_at__isnull=True))
                | (
                    Q(opens_at__isnull=False)
                    & Q(closes_at__isnull=False)
                    & ~Q(opens_at=models.F("closes_at"))
                ),
                name="site_business_hours_both_or_neither",
                violation_error_message=_(
                    "Give both the opening and the closing time (different), or neither."
                ),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def is_open_at(self, local_time: time) -> bool:
        """Whether `local_time` (the site's wall clock) falls in the business hours: opening time
        included, closing time excluded."""
        if self.opens_at is None or self.closes_at is None:
            return True
        if self.opens_at < self.closes_at:
            return self.opens_at <= local_time < self.closes_at
        return local_time >= self.opens_at or local_time < self.closes_at  # across midnight

    @classmethod
    def scope_q(cls, scope: DataScope) -> Q:
        return scope.path_q("org_unit__path") | Q(pk__in=sorted(scope.site_ids))


class DeviceGroup(TenantModel):
    """A machine group (机器组) that can be handed to a staff member as their data scope."""

    org_unit = models.ForeignKey(
        OrgUnit,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="device_groups",
        verbose_name=_("org unit"),
    )
    name = models.CharField(_("name"), max_length=100)
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("device group")
        verbose_name_plural = _("device groups")
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["merchant", "name"], name="devicegroup_unique_name")]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def scope_q(cls, scope: DataScope) -> Q:
        return scope.path_q("org_unit__path") | Q(pk__in=sorted(scope.device_group_ids))
