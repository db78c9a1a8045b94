"""Payments as persisted state machines with an append-only event log.

`out_trade_no` and `out_refund_no` are derived from our own ids (the order reference and the attempt
number) and unique in the database, so a retried charge can never become a second charge: the
provider sees the same number and answers with the order it already has.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from openvend.core.models import TenantModel
from openvend.core.scope import DataScope
from openvend.payments.choices import (
    AuthorisationState,
    NotificationOutcome,
    PaymentMethod,
    PaymentState,
    Provider,
    RefundState,
)
from openvend.payments.models.immutable import AppendOnly, AppendOnlyQuerySet


def _site_scope(scope: DataScope) -> Q:
    from openvend.merchants.models import Site

    return Q(site__in=Site.objects.filter(Site.scope_q(scope)))


class PayAfterAuthorisation(TenantModel):
    """A shopper's standing permission for a merchant to charge after the door closes."""

    consumer = models.ForeignKey(
        "consumers.Consumer",
        on_delete=models.PROTECT,
        related_name="authorisations",
        verbose_name=_("consumer"),
    )
    method = models.CharField(_("payment method"), max_length=20, choices=PaymentMethod.choices)
    state = models.CharField(
        _("state"), max_length=10, choices=AuthorisationState.choices, default=AuthorisationState.PENDING
    )
    payer_id = models.CharField(_("payer openid / user id"), max_length=128)
    out_request_no = models.CharField(_("our request number"), max_length=64, unique=True)
    authorisation_ref = models.CharField(_("provider reference"), max_length=128, blank=True)
    activated_at = models.DateTimeField(_("activated at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        verbose_name = _("pay-after authorisation")
        verbose_name_plural = _("pay-after authorisations")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "consumer", "method"],
                condition=Q(state=AuthorisationState.ACTIVE),
                name="authorisation_one_active",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_method_display()} {self.get_state_display()}"

    @classmethod
    def scope_q(cls, scope: DataScope) -> Q:
        return Q()


class Payment(TenantModel):
    """One attempt to collect `amount_fen` for one order (`order_ref`) through one method."""

    order_ref = models.CharField(_("order"), max_length=24, db_index=True)
    attempt = models.PositiveSmallIntegerField(_("attempt"), default=1)
    out_trade_no = models.CharField(_("merchant order number"), max_length=32, unique=True)
    method = models.CharField(_("payment method"), max_length=20, choices=PaymentMethod.choices)
    provider = models.CharField(_("provider"), max_length=10, choices=Provider.choices)
    state = models.CharField(
        _("state"), max_length=10, choices=PaymentState.choices, default=PaymentState.CREATED, db_index=True
    )
    amount_fen = models.BigIntegerField(_("amount (fen)"))
    refunded_fen = models.BigIntegerField(_("refunded (fen)"), default=0)
    description = models.CharField(_("description"), max_length=127)
    consumer = models.ForeignKey(
        "consumers.Consumer",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="payments",
        verbose_name=_("consumer"),
    )
    site = models.ForeignKey(
        "merchants.Site",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="payments",
        verbose_name=_("site"),
    )
    authorisation = models.ForeignKey(
        PayAfterAuthorisation,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="payments",
        verbose_name=_("authorisation"),
    )
    payer_id = models.CharField(_("payer openid / user id"), max_length=128, blank=True)
    provider_trade_no = models.CharField(_("provider transaction id"), max_length=64, blank=True)
    failure_code = models.CharField(_("failure code"), max_length=64, blank=True)
    failure_message = models.CharField(_("failure message"), max_length=200, blank=True)
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    # The reconciler looks at payments whose result is overdue; a query result moves this forward.
    next_check_at = models.DateTimeField(_("next check"), null=True, blank=True, db_index=True)

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["-id"]
        permissions = [
            ("refund_payment", _("Can refund payments")),
            ("sync_payment", _("Can query the provider for a payment's result")),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "order_ref", "attempt"], name="payment_attempt_unique"
            ),
            models.CheckConstraint(condition=Q(amount_fen__gte=0), name="payment_amount_not_negative"),
            models.CheckConstraint(
                condition=Q(refunded_fen__gte=0) & Q(refunded_fen__lte=models.F("amount_fen")),
                name="payment_refund_within_amount",
            ),
        ]

    def __str__(self) -> str:
        return self.out_trade_no

    @classmethod
    def scope_q(cls, scope: DataScope) -> Q:
        return _site_scope(scope)


class PaymentEvent(AppendOnly, TenantModel):
    """Every transition, request and notification of a payment or refund, in order. Append-only."""

    payment = models.ForeignKey(
        Payment, on_delete=models.PROTECT, related_name="events", verbose_name=_("payment")
    )
    refund = models.ForeignKey(
        "payments.Refund",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="events",
        verbose_name=_("refund"),
    )
    kind = models.CharField(_("kind"), max_length=40)
    from_state = models.CharField(_("from"), max_length=10, blank=True)
    to_state = models.CharField(_("to"), max_length=10, blank=True)
    detail = models.JSONField(_("detail"), default=dict, blank=True)
    actor = models.ForeignKey(
        "accounts.User",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )

    objects: ClassVar[Any] = AppendOnlyQuerySet.as_manager()

    class Meta:
        verbose_name = _("payment event")
        verbose_name_plural = _("payment events")
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.from_state}→{self.to_state}"

    @classmethod
    def scope_q(cls, scope: DataScope) -> Q:
        from openvend.merchants.models import Site

        return Q(payment__site__in=Site.objects.filter(Site.scope_q(scope)))


class Refund(TenantModel):
    payment = models.ForeignKey(
        Payment, on_delete=models.PROTECT, related_name="refunds", verbose_name=_("payment")
    )
    sequence = models.PositiveSmallIntegerField(_("sequence"))
    out_refund_no = models.CharField(_("refund number"), max_length=64, unique=True)
    amount_fen = models.BigIntegerField(_("amount (fen)"))
    reason = models.CharField(_("reason"), max_length=80, blank=True)
    state = models.CharField(
        _("state"), max_length=10, choices=RefundState.choices, default=RefundState.CREATED, db_index=True
    )
    provider_refund_id = models.CharField(_("provider refund id"), max_length=64, blank=True)
    failure_code = models.CharField(_("failure code"), max_length=64, blank=True)
    succeeded_at = models.DateTimeField(_("refunded at"), null=True, blank=True)
    # The reconciler queries refunds whose result is overdue (a lost notification); see next_check_at
    # on Payment.
    next_check_at = models.DateTimeField(_("next check"), null=True, blank=True, db_index=True)
    requested_by = models.ForeignKey(
        "accounts.User",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["payment", "sequence"], name="refund_sequence_unique"),
            models.CheckConstraint(condition=Q(amount_fen__gt=0), name="refund_amount_positive"),
        ]

    def __str__(self) -> str:
        return self.out_refund_no

    @classmethod
    def scope_q(cls, scope: DataScope) -> Q:
        from openvend.merchants.models import Site

        return Q(payment__site__in=Site.objects.filter(Site.scope_q(scope)))


class ProviderNotification(models.Model):
    """Each notification id we have accepted, once (the unique constraint is the deduplication)."""

    provider = models.CharField(_("provider"), max_length=10, choices=Provider.choices)
    notification_id = models.CharField(_("notification id"), max_length=128)
    event_type = models.CharField(_("event"), max_length=40)
    outcome = models.CharField(_("outcome"), max_length=10, choices=NotificationOutcome.choices)
    payment = models.ForeignKey(
        Payment, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("payment")
    )
    detail = models.JSONField(_("detail"), default=dict, blank=True)
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)

    class Meta:
        verbose_name = _("provider notification")
        verbose_name_plural = _("provider notifications")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "notification_id"], name="notification_once"),
        ]

    def __str__(self) -> str:
        return f"{self.provider}:{self.notification_id}"
