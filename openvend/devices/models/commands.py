from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from openvend.core.models import TenantModel
from openvend.core.scope import DataScope
from openvend.devices.choices import CommandKind, CommandStatus
from openvend.devices.models.registry import Device


class Command(TenantModel):
    """A remote command: persisted first, sent after commit, finished by the device's ACK or by expiry."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    device = models.ForeignKey(
        Device, on_delete=models.CASCADE, related_name="commands", verbose_name=_("device")
    )
    kind = models.CharField(_("command"), max_length=30, choices=CommandKind.choices)
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    status = models.CharField(
        _("status"),
        max_length=12,
        choices=CommandStatus.choices,
        default=CommandStatus.PENDING,
        db_index=True,
    )
    expires_at = models.DateTimeField(_("expires at"))
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    result_code = models.CharField(_("result code"), max_length=30, blank=True)
    result_message = models.CharField(_("result message"), max_length=200, blank=True)
    result_data = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("sent by"),
    )

    class Meta:
        verbose_name = _("command")
        verbose_name_plural = _("commands")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "expires_at"], name="command_status_expiry")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} → {self.device_id}"

    @classmethod
    def scope_q(cls, scope: DataScope) -> Q:
        return Q(device__in=Device.objects.filter(Device.scope_q(scope)))
