from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from openvend.audit.choices import AuditAction, AuditChannel
from openvend.core.models import RestrictedQuerySet
from openvend.core.scope import DataScope


class AuditLogEntry(models.Model):
    """One login or one change (系统日志): who, when, what, before → after. Append-only."""

    merchant = models.ForeignKey(
        "merchants.Merchant",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("merchant"),
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("actor"),
    )
    actor_username = models.CharField(_("actor username"), max_length=150, blank=True)
    action = models.CharField(_("action"), max_length=20, choices=AuditAction.choices, db_index=True)
    object_type = models.CharField(_("object type"), max_length=60, blank=True, db_index=True)
    object_id = models.CharField(_("object id"), max_length=64, blank=True)
    object_repr = models.CharField(_("object"), max_length=200, blank=True)
    before = models.JSONField(_("before"), null=True, blank=True)
    after = models.JSONField(_("after"), null=True, blank=True)
    changed_fields = models.JSONField(_("changed fields"), default=list, blank=True)
    channel = models.CharField(_("channel"), max_length=10, choices=AuditChannel.choices)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    message = models.CharField(_("message"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)

    objects: ClassVar[Any] = RestrictedQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit log entry")
        verbose_name_plural = _("audit log")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["merchant", "-created_at"], name="audit_merchant_time")]

    def __str__(self) -> str:
        return f"{self.actor_username} {self.action} {self.object_type} {self.object_repr}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ValueError("Audit log entries are immutable.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise ValueError("Audit log entries are immutable.")

    @classmethod
    def tenant_q(cls, merchant_id: int) -> Q:
        return Q(merchant_id=merchant_id)

    @classmethod
    def scope_q(cls, scope: DataScope) -> Q:
        # Staff with a narrowed scope see their own actions only.
        return Q(actor_id=scope.user_id)
