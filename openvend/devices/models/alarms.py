from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from openvend.core.models import TenantModel
from openvend.core.scope import DataScope
from openvend.devices.choices import AlarmKind, AlarmSeverity, AlarmStatus
from openvend.devices.models.registry import Device


class AlarmSettings(TenantModel):
    """A merchant's alarm thresholds and outbound webhook."""

    temperature_min_c = models.DecimalField(
        _("lowest temperature (°C)"), max_digits=5, decimal_places=2, default=0
    )
    temperature_max_c = models.DecimalField(
        _("highest temperature (°C)"), max_digits=5, decimal_places=2, default=10
    )
    debounce_samples = models.PositiveSmallIntegerField(
        _("readings before a temperature alarm"),
        default=3,
        help_text=_("Consecutive out-of-range readings needed, so one spike raises nothing."),
    )
    offline_after_s = models.PositiveIntegerField(_("offline alarm after (seconds)"), default=300)
    door_open_max_s = models.PositiveIntegerField(_("door open without a session for (seconds)"), default=30)
    webhook_url = models.URLField(_("webhook URL"), blank=True)
    webhook_secret = models.CharField(
        _("webhook secret (encrypted)"), max_length=300, blank=True, editable=False
    )

    class Meta:
        verbose_name = _("alarm settings")
        verbose_name_plural = _("alarm settings")
        constraints = [models.UniqueConstraint(fields=["merchant"], name="alarmsettings_one_per_merchant")]

    def __str__(self) -> str:
        return str(self.merchant)

    @classmethod
    def scope_q(cls, scope: DataScope) -> Q:
        return Q(pk__in=[])


class Alarm(TenantModel):
    """One alarm episode. At most one is open (or acknowledged) per device and kind; repeats count up."""

    device = models.ForeignKey(
        Device, on_delete=models.CASCADE, related_name="alarms", verbose_name=_("device")
    )
    kind = models.CharField(_("kind"), max_length=30, choices=AlarmKind.choices)
    severity = models.CharField(_("severity"), max_length=10, choices=AlarmSeverity.choices)
    status = models.CharField(
        _("status"), max_length=15, choices=AlarmStatus.choices, default=AlarmStatus.OPEN
    )
    opened_at = models.DateTimeField(_("raised at"))
    last_seen_at = models.DateTimeField(_("last seen"))
    occurrences = models.PositiveIntegerField(_("occurrences"), default=1)
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("acknowledged by"),
    )
    cleared_at = models.DateTimeField(_("cleared at"), null=True, blank=True)
    cleared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("cleared by"),
    )
    detail = models.JSONField(_("detail"), default=dict, blank=True)

    class Meta:
        verbose_name = _("alarm")
        verbose_name_plural = _("alarms")
        ordering = ["-opened_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["device", "kind"], condition=~Q(status="cleared"), name="alarm_one_active_per_kind"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.device_id}"

    @classmethod
    def scope_q(cls, scope: DataScope) -> Q:
        return Q(device__in=Device.objects.filter(Device.scope_q(scope)))
