"""What a device is: its kind and geometry, the platform's registration, the merchant's device,
its broker credentials and its usage time."""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from openvend.core.models import RestrictedQuerySet, TenantModel
from openvend.core.scope import DataScope
from openvend.devices.choices import DeviceStatus, DeviceType, ServiceGrantKind, ShoppingFlow

device_code_validator = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9_-]{3,31}$",
    _("4–32 letters, digits, '-' or '_', starting with a letter or digit."),
)


class PlatformModel(models.Model):
    """Rows the platform owns and every signed-in user may read (catalogues, registrations)."""

    objects: ClassVar[Any] = RestrictedQuerySet.as_manager()

    class Meta:
        abstract = True

    @classmethod
    def tenant_q(cls, merchant_id: int) -> Q:
        return Q()

    @classmethod
    def scope_q(cls, scope: DataScope) -> Q:
        return Q()


class DeviceKind(PlatformModel):
    """A model of device and its geometry (shelves × weight sensors, doors, tracks)."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=100)
    type = models.CharField(_("type"), max_length=30, choices=DeviceType.choices)
    doors = models.PositiveSmallIntegerField(_("doors"), default=1)
    shelves = models.PositiveSmallIntegerField(_("shelves"), default=0)
    sensors_per_shelf = models.PositiveSmallIntegerField(_("weight sensors per shelf"), default=0)
    tracks = models.PositiveSmallIntegerField(_("tracks"), default=0)
    warehouses = models.PositiveSmallIntegerField(_("warehouses"), default=1, help_text=_("商品分仓"))
    has_camera = models.BooleanField(_("camera"), default=False)

    class Meta:
        verbose_name = _("device kind")
        verbose_name_plural = _("device kinds")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name

    @property
    def sensor_ids(self) -> list[str]:
        return [
            f"s{shelf + 1}-{n + 1}" for shelf in range(self.shelves) for n in range(self.sensors_per_shelf)
        ]


class DeviceRegistration(PlatformModel):
    """A device code the platform has maintained (设备维护). Only these can be activated."""

    code = models.CharField(_("device code"), max_length=32, unique=True, validators=[device_code_validator])
    kind = models.ForeignKey(DeviceKind, on_delete=models.PROTECT, verbose_name=_("kind"))
    batch = models.CharField(_("production batch"), max_length=40, blank=True)
    created_at = models.DateTimeField(_("registered at"), auto_now_add=True)

    class Meta:
        verbose_name = _("device registration")
        verbose_name_plural = _("device registrations")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class Device(TenantModel):
    """A merchant's activated device."""

    registration = models.OneToOneField(DeviceRegistration, on_delete=models.PROTECT, related_name="device")
    code = models.CharField(_("device code"), max_length=32, unique=True, editable=False)
    kind = models.ForeignKey(DeviceKind, on_delete=models.PROTECT, verbose_name=_("kind"))
    name = models.CharField(_("name"), max_length=100)
    site = models.ForeignKey(
        "merchants.Site",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="devices",
        verbose_name=_("site"),
    )
    group = models.ForeignKey(
        "merchants.DeviceGroup",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="devices",
        verbose_name=_("device group"),
    )
    status = models.CharField(
        _("status"), max_length=20, choices=DeviceStatus.choices, default=DeviceStatus.ACTIVE
    )
    default_flow = models.CharField(
        _("shopping flow"), max_length=20, choices=ShoppingFlow.choices, default=ShoppingFlow.FULL_AUTO
    )
    activated_at = models.DateTimeField(_("activated at"), default=timezone.now)
    service_expires_at = models.DateTimeField(_("usage time expires"), null=True, blank=True)
    foreign_object_lock = models.BooleanField(_("foreign-object lock"), default=False)
    locked_by_foreign_object = models.BooleanField(_("locked for a foreign object"), default=False)

    class Meta:
        verbose_name = _("device")
        verbose_name_plural = _("devices")
        ordering = ["code"]
        permissions = [
            ("command_device", _("Can send commands to devices")),
            ("open_door_device", _("Can open device doors remotely")),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    @property
    def is_expired(self) -> bool:
        return self.service_expires_at is not None and self.service_expires_at <= timezone.now()

    @classmethod
    def scope_q(cls, scope: DataScope) -> Q:
        return (
            scope.path_q("site__org_unit__path")
            | Q(site_id__in=sorted(scope.site_ids))
            | Q(group_id__in=sorted(scope.device_group_ids))
        )


class DeviceCredential(models.Model):
    """Broker credentials of one device. Only a hash is kept; rotation revokes the previous one."""

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="credentials")
    username = models.CharField(max_length=32, db_index=True)
    secret_hash = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("device credential")
        verbose_name_plural = _("device credentials")
        constraints = [
            models.UniqueConstraint(
                fields=["device"], condition=Q(revoked_at__isnull=True), name="devicecredential_one_active"
            )
        ]

    def __str__(self) -> str:
        return f"{self.username} ({'revoked' if self.revoked_at else 'active'})"


class DeviceServiceGrant(TenantModel):
    """One addition of usage time (设备使用时长): bought by the merchant or gifted by the platform."""

    device = models.ForeignKey(Device, on_delete=models.PROTECT, related_name="service_grants")
    kind = models.CharField(_("kind"), max_length=20, choices=ServiceGrantKind.choices)
    days = models.PositiveIntegerField(_("days"))
    expires_before = models.DateTimeField(_("expiry before"), null=True, blank=True)
    expires_after = models.DateTimeField(_("expiry after"))
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("usage-time grant")
        verbose_name_plural = _("usage-time grants")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.device_id} +{self.days}d"

    @classmethod
    def scope_q(cls, scope: DataScope) -> Q:
        return Q(device__in=Device.objects.filter(Device.scope_q(scope)))
