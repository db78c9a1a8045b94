"""Shoppers. A consumer is platform-wide (one person shops at many merchants' cabinets) and is known
by the identities payment providers vouch for through OAuth: an openid under one app id, an Alipay
user id under one app."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _


class ConsumerStatus(models.TextChoices):
    ACTIVE = "active", _("active")
    FROZEN = "frozen", _("frozen")


class IdentityProvider(models.TextChoices):
    WECHAT = "wechat", _("WeChat")
    ALIPAY = "alipay", _("Alipay")


class Consumer(models.Model):
    public_id = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    nickname = models.CharField(_("nickname"), max_length=60, blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=ConsumerStatus.choices, default=ConsumerStatus.ACTIVE
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("consumer")
        verbose_name_plural = _("consumers")
        ordering = ["id"]

    def __str__(self) -> str:
        return self.nickname or str(self.public_id)[:8]


class ConsumerIdentity(models.Model):
    """An identity a provider vouched for. The same person under two app ids is two identities."""

    consumer = models.ForeignKey(
        Consumer, on_delete=models.CASCADE, related_name="identities", verbose_name=_("consumer")
    )
    provider = models.CharField(_("provider"), max_length=10, choices=IdentityProvider.choices)
    app_id = models.CharField(_("app id"), max_length=40)
    subject = models.CharField(_("openid / user id"), max_length=128)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("consumer identity")
        verbose_name_plural = _("consumer identities")
        constraints = [
            models.UniqueConstraint(fields=["provider", "app_id", "subject"], name="consumer_identity_unique")
        ]

    def __str__(self) -> str:
        return f"{self.provider}:{self.subject}"
