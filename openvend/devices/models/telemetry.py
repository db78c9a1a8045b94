"""What devices say: the raw message log (append-only, pruned by retention), the derived live
state, and the messages the gateway refused."""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from openvend.core.models import RestrictedQuerySet
from openvend.core.scope import DataScope
from openvend.devices.choices import CameraState, DoorState, LockState
from openvend.devices.models.registry import Device


class DeviceMessage(models.Model):
    """One device message as received. (device, seq) is unique: a replay is recognised, not stored twice."""

    # No index of its own: the unique (device, seq) leads with the device and serves its lookups;
    # one index fewer is one write fewer per stored message.
    device = models.ForeignKey(
        Device, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    merchant_id = models.BigIntegerField(db_index=False)
    seq = models.BigIntegerField()
    message_id = models.CharField(max_length=36)
    type = models.CharField(max_length=12)
    machine_ts = models.BigIntegerField(help_text="device clock, ms since epoch")
    received_at = models.DateTimeField(db_index=True)
    body = models.JSONField()

    objects: ClassVar[RestrictedQuerySet] = RestrictedQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        verbose_name = _("device message")
        verbose_name_plural = _("device messages")
        constraints = [models.UniqueConstraint(fields=["device", "seq"], name="devicemessage_unique_seq")]

    def __str__(self) -> str:
        return f"{self.device_id}#{self.seq} {self.type}"

    @classmethod
    def tenant_q(cls, merchant_id: int) -> Q:
        return Q(merchant_id=merchant_id)

    @classmethod
    def scope_q(cls, scope: DataScope) -> Q:
        return Q(device__in=Device.objects.filter(Device.scope_q(scope)))


class DeviceState(models.Model):
    """The latest known state of a device, derived by the gateway from its messages."""

    device = models.OneToOneField(Device, on_delete=models.CASCADE, primary_key=True, related_name="state")
    online = models.BooleanField(_("online"), default=False)
    last_seen_at = models.DateTimeField(_("last report (server time)"), null=True, blank=True)
    last_machine_ts = models.BigIntegerField(_("last report (machine time, ms)"), null=True, blank=True)
    clock_skew_ms = models.BigIntegerField(_("clock skew (ms)"), null=True, blank=True)
    last_seq = models.BigIntegerField(default=0)
    # The birth's seq of the connection we believe is current: a last will (seq reserved just
    # before its own birth) applies only to that connection or an older one.
    last_birth_seq = models.BigIntegerField(default=0)
    door = models.CharField(_("door"), max_length=10, choices=DoorState.choices, blank=True, default="")
    door_changed_at = models.DateTimeField(null=True, blank=True)
    door_session = models.CharField(max_length=64, blank=True)
    lock = models.CharField(_("lock"), max_length=10, choices=LockState.choices, blank=True, default="")
    camera = models.CharField(_("camera"), max_length=10, choices=CameraState.choices, blank=True, default="")
    temperature_c = models.DecimalField(
        _("temperature (°C)"), max_digits=5, decimal_places=2, null=True, blank=True
    )
    humidity_pct = models.DecimalField(
        _("humidity (%)"), max_digits=5, decimal_places=2, null=True, blank=True
    )
    rssi_dbm = models.SmallIntegerField(_("signal (dBm)"), null=True, blank=True)
    firmware = models.CharField(_("firmware"), max_length=40, blank=True)
    boot_id = models.CharField(max_length=64, blank=True)
    weights_g = models.JSONField(default=dict, blank=True)
    temperature_breaches = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("device state")
        verbose_name_plural = _("device states")

    def __str__(self) -> str:
        return f"{self.device_id} {'online' if self.online else 'offline'}"


class DeadLetter(models.Model):
    """A message the gateway refused, kept for diagnosis (payload truncated)."""

    topic = models.CharField(max_length=255)
    device_code = models.CharField(max_length=64, blank=True, db_index=True)
    reason = models.CharField(max_length=30, db_index=True)
    detail = models.CharField(max_length=300, blank=True)
    payload = models.TextField(blank=True)
    received_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = _("dead letter")
        verbose_name_plural = _("dead letters")
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.reason}: {self.topic}"
