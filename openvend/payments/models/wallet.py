"""Member balance (会员余额). The balance is the sum of immutable entries; `balance_fen` on the account
is that sum kept under a row lock in the same transaction, so it can be checked without a scan."""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from openvend.core.models import TenantModel
from openvend.core.scope import DataScope
from openvend.payments.choices import WalletEntryKind
from openvend.payments.models.immutable import AppendOnly, AppendOnlyQuerySet


class WalletAccount(TenantModel):
    consumer = models.ForeignKey(
        "consumers.Consumer", on_delete=models.PROTECT, related_name="wallets", verbose_name=_("consumer")
    )
    balance_fen = models.BigIntegerField(_("balance (fen)"), default=0)

    class Meta:
        verbose_name = _("wallet")
        verbose_name_plural = _("wallets")
        constraints = [
            models.UniqueConstraint(fields=["merchant", "consumer"], name="wallet_one_per_consumer"),
            models.CheckConstraint(condition=Q(balance_fen__gte=0), name="wallet_not_overdrawn"),
        ]

    def __str__(self) -> str:
        return f"{self.consumer} {self.balance_fen}"

    @classmethod
    def scope_q(cls, scope: DataScope) -> Q:
        return Q()


class WalletEntry(AppendOnly, TenantModel):
    account = models.ForeignKey(
        WalletAccount, on_delete=models.PROTECT, related_name="entries", verbose_name=_("wallet")
    )
    kind = models.CharField(_("kind"), max_length=12, choices=WalletEntryKind.choices)
    amount_fen = models.BigIntegerField(_("amount (fen)"), help_text=_("In (positive) or out (negative)."))
    balance_after_fen = models.BigIntegerField(_("balance after (fen)"))
    # Posting the same business event twice is a no-op (enforced by the database).
    idempotency_key = models.CharField(max_length=100, unique=True)
    note = models.CharField(_("note"), max_length=100, blank=True)

    objects: ClassVar[Any] = AppendOnlyQuerySet.as_manager()

    class Meta:
        verbose_name = _("wallet entry")
        verbose_name_plural = _("wallet entries")
        ordering = ["-id"]
        constraints = [models.CheckConstraint(condition=~Q(amount_fen=0), name="wallet_entry_not_zero")]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount_fen:+d}"

    @classmethod
    def scope_q(cls, scope: DataScope) -> Q:
        return Q()
