"""Shopping sessions as persisted state machines, each with its own append-only timeline, and the
merchant's blacklist of shoppers."""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.core.validators import RegexValidator, URLValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from openvend.core.models import TenantModel
from openvend.core.scope import DataScope
from openvend.devices.choices import ShoppingFlow
from openvend.payments.choices import PaymentMethod
from openvend.payments.models.immutable import AppendOnly, AppendOnlyQuerySet
from openvend.shopping.choices import (
    DEVICE_BUSY_STATES,
    BlacklistRuleKind,
    BlacklistSource,
    MediaKind,
    SessionState,
)


def _device_scope(scope: DataScope) -> Q:
    from openvend.devices.models import Device

    return Q(device__in=Device.objects.filter(Device.scope_q(scope)))


class ShoppingSession(TenantModel):
    """One shopper's visit to one device, from the scan to the settled order. One live per device."""

    device = models.ForeignKey(
        "devices.Device", on_delete=models.PROTECT, related_name="shopping_sessions", verbose_name=_("device")
    )
    site = models.ForeignKey(
        "merchants.Site",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("site"),
    )
    consumer = models.ForeignKey(
        "consumers.Consumer",
        on_delete=models.PROTECT,
        related_name="shopping_sessions",
        verbose_name=_("consumer"),
    )
    flow = models.CharField(_("shopping flow"), max_length=20, choices=ShoppingFlow.choices)
    state = models.CharField(
        _("state"), max_length=20, choices=SessionState.choices, default=SessionState.CREATED, db_index=True
    )
    payment_method = models.CharField(_("payment method"), max_length=20, choices=PaymentMethod.choices)
    # The open-door command; the device's door events carry its id as their `session`.
    command = models.ForeignKey(
        "devices.Command", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    opened_at = models.DateTimeField(_("door opened"), null=True, blank=True)
    closed_at = models.DateTimeField(_("door closed"), null=True, blank=True)
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    door_alarm_at = models.DateTimeField(_("door-left-open alarm"), null=True, blank=True)
    # Net weight change per load cell while the door was open (sensor id → grams, negative = taken):
    # the evidence recognition reads once the door closes.
    sensor_deltas_g = models.JSONField(_("weight changes (g)"), default=dict, blank=True)
    # The device's sequence numbers around the visit: the last one the cloud had applied when the
    # visit started, and the door_closed event's. The evidence is complete once every message in
    # between is stored (several gateways may commit one device's messages out of order).
    start_seq = models.BigIntegerField(_("device seq at start"), null=True, blank=True)
    closed_seq = models.BigIntegerField(_("door-closed seq"), null=True, blank=True)

    class Meta:
        verbose_name = _("shopping session")
        verbose_name_plural = _("shopping sessions")
        ordering = ["-created_at"]
        constraints = [
            # A door opens for one shopper at a time; an open shelf has no door and serves everyone.
            models.UniqueConstraint(
                fields=["device"],
                condition=Q(state__in=DEVICE_BUSY_STATES) & ~Q(flow=ShoppingFlow.OPEN_SHELF),
                name="shoppingsession_one_live_door_visit_per_device",
            )
        ]

    def __str__(self) -> str:
        return f"shopping {self.pk} @{self.device_id}"

    @classmethod
    def scope_q(cls, scope: DataScope) -> Q:
        return _device_scope(scope)


class ShoppingEvent(AppendOnly, TenantModel):
    """A session's timeline: every transition (with from/to) and every notable happening. Append-only."""

    session = models.ForeignKey(
        ShoppingSession, on_delete=models.PROTECT, related_name="events", verbose_name=_("shopping session")
    )
    kind = models.CharField(_("kind"), max_length=40)
    from_state = models.CharField(_("from"), max_length=20, blank=True)
    to_state = models.CharField(_("to"), max_length=20, blank=True)
    detail = models.JSONField(_("detail"), default=dict, blank=True)

    objects: ClassVar[Any] = AppendOnlyQuerySet.as_manager()

    class Meta:
        verbose_name = _("shopping event")
        verbose_name_plural = _("shopping events")
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.from_state}→{self.to_state}"

    @classmethod
    def scope_q(cls, scope: DataScope) -> Q:
        return Q(session__in=ShoppingSession.objects.filter(ShoppingSession.scope_q(scope)))


class BlacklistEntry(TenantModel):
    """A shopper the merchant refuses, by hand or by a rule, for good or until a date."""

    consumer = models.ForeignKey(
        "consumers.Consumer", on_delete=models.PROTECT, related_name="+", verbose_name=_("consumer")
    )
    reason = models.CharField(_("reason"), max_length=200)
    source = models.CharField(
        _("source"), max_length=10, choices=BlacklistSource.choices, default=BlacklistSource.MANUAL
    )
    active = models.BooleanField(_("active"), default=True)
    until = models.DateTimeField(_("until"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    rule = models.ForeignKey(
        "shopping.BlacklistRule", on_delete=models.SET_NULL, null=True, blank=True, related_name="entries"
    )

    class Meta:
        verbose_name = _("blacklist entry")
        verbose_name_plural = _("blacklist entries")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["merchant", "consumer", "active"], name="blacklist_lookup")]

    def __str__(self) -> str:
        return f"{self.consumer_id}: {self.reason}"

    @classmethod
    def scope_q(cls, scope: DataScope) -> Q:
        return Q()


class BlacklistRule(TenantModel):
    """Blacklist a shopper automatically: `threshold` counted happenings of `kind` within
    `window_days` add an entry lasting `ban_days` (none: until staff lift it)."""

    kind = models.CharField(_("counts"), max_length=20, choices=BlacklistRuleKind.choices)
    threshold = models.PositiveSmallIntegerField(_("threshold"), default=3)
    window_days = models.PositiveSmallIntegerField(_("within (days)"), default=7)
    ban_days = models.PositiveSmallIntegerField(_("ban for (days)"), null=True, blank=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("blacklist rule")
        verbose_name_plural = _("blacklist rules")
        ordering = ["kind", "id"]

    def __str__(self) -> str:
        return f"{self.kind} ≥{self.threshold}/{self.window_days}d"

    @classmethod
    def scope_q(cls, scope: DataScope) -> Q:
        return Q()


class SessionMedia(AppendOnly, TenantModel):
    """A photo or video clip a cabinet camera took of a visit, uploaded by the device to the merchant's
    storage; the cloud keeps the link. Evidence for staff, so append-only: one row per session and URL."""

    session = models.ForeignKey(
        ShoppingSession, on_delete=models.PROTECT, related_name="media", verbose_name=_("shopping session")
    )
    camera = models.PositiveSmallIntegerField(_("camera"))
    kind = models.CharField(_("kind"), max_length=10, choices=MediaKind.choices)
    # The protocol accepts https only: the link is shown to staff and opened in their browsers.
    url = models.URLField(_("URL"), max_length=2048, validators=[URLValidator(schemes=["https"])])
    # Machine time (the device's clock); empty when that clock reads a time no date can hold.
    captured_at = models.DateTimeField(_("captured at"), null=True, blank=True)
    received_at = models.DateTimeField(_("received at"))
    sha256 = models.CharField(
        _("SHA-256"), max_length=64, blank=True, validators=[RegexValidator(r"^[0-9a-f]{64}\Z")]
    )
    size_bytes = models.PositiveBigIntegerField(_("size (bytes)"), null=True, blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), null=True, blank=True)

    objects: ClassVar[Any] = AppendOnlyQuerySet.as_manager()

    class Meta:
        verbose_name = _("session photo or video")
        verbose_name_plural = _("session photos and videos")
        ordering = ["captured_at", "camera", "id"]
        constraints = [
            # A replayed or repeated report of the same upload must not show it twice.
            models.UniqueConstraint(fields=["session", "url"], name="sessionmedia_one_per_session_url")
        ]

    def __str__(self) -> str:
        return f"{self.kind} camera {self.camera} of session {self.session_id}"

    @classmethod
    def scope_q(cls, scope: DataScope) -> Q:
        return Q(session__in=ShoppingSession.objects.filter(ShoppingSession.scope_q(scope)))
