"""The member wallet ledger: recharge, debit and credit, each one immutable entry.

The account row is locked (SELECT … FOR UPDATE) for every posting, so the balance check and the new
entry are one step: concurrent debits cannot overdraw. Each posting carries an idempotency key;
posting the same key again returns the entry already written and changes nothing.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from openvend.payments.choices import WalletEntryKind
from openvend.payments.models import WalletAccount, WalletEntry
from openvend.payments.services.errors import InsufficientBalance, PaymentErrorCode, PaymentRuleError


def _positive(amount_fen: Any) -> int:
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or amount_fen <= 0:
        raise PaymentRuleError(
            PaymentErrorCode.INVALID_AMOUNT,
            _("The amount must be a whole number of fen greater than zero."),
        )
    return amount_fen


def wallet_account_lock(*, merchant_id: int, consumer_id: int) -> WalletAccount:
    """The consumer's wallet at this merchant, created on first use, locked for this transaction."""
    accounts = WalletAccount.objects.select_for_update().filter(
        merchant_id=merchant_id, consumer_id=consumer_id
    )
    account = accounts.first()
    if account is not None:
        return account
    try:
        with transaction.atomic():
            WalletAccount.objects.create(merchant_id=merchant_id, consumer_id=consumer_id)
    except IntegrityError:
        pass  # created concurrently: lock that one
    locked: WalletAccount = accounts.get()
    return locked


def _post(
    *, merchant_id: int, consumer_id: int, kind: str, amount_fen: int, idempotency_key: str, note: str
) -> WalletEntry:
    with transaction.atomic():
        account = wallet_account_lock(merchant_id=merchant_id, consumer_id=consumer_id)
        existing: WalletEntry | None = WalletEntry.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing
        balance = account.balance_fen + amount_fen
        if balance < 0:
            raise InsufficientBalance(
                _("The wallet holds %(balance)s fen, %(amount)s fen are needed.")
                % {"balance": account.balance_fen, "amount": -amount_fen}
            )
        entry: WalletEntry = WalletEntry.objects.create(
            merchant_id=merchant_id,
            account=account,
            kind=kind,
            amount_fen=amount_fen,
            balance_after_fen=balance,
            idempotency_key=idempotency_key,
            note=note[:100],
        )
        WalletAccount.objects.filter(pk=account.pk).update(balance_fen=balance)
        return entry


def wallet_recharge(
    *, merchant_id: int, consumer_id: int, amount_fen: int, idempotency_key: str, note: str = ""
) -> WalletEntry:
    """Money in (a top-up paid through a provider, or a gift)."""
    return _post(
        merchant_id=merchant_id,
        consumer_id=consumer_id,
        kind=WalletEntryKind.RECHARGE,
        amount_fen=_positive(amount_fen),
        idempotency_key=idempotency_key,
        note=note,
    )


def wallet_debit(
    *,
    merchant_id: int,
    consumer_id: int,
    amount_fen: int,
    idempotency_key: str,
    note: str = "",
    kind: str = WalletEntryKind.PAYMENT,
) -> WalletEntry:
    """Money out; raises InsufficientBalance (and writes nothing) when the balance is short."""
    return _post(
        merchant_id=merchant_id,
        consumer_id=consumer_id,
        kind=kind,
        amount_fen=-_positive(amount_fen),
        idempotency_key=idempotency_key,
        note=note,
    )


def wallet_credit(
    *,
    merchant_id: int,
    consumer_id: int,
    amount_fen: int,
    idempotency_key: str,
    note: str = "",
    kind: str = WalletEntryKind.REFUND,
) -> WalletEntry:
    """Money back in (a refund, an adjustment in the shopper's favour)."""
    return _post(
        merchant_id=merchant_id,
        consumer_id=consumer_id,
        kind=kind,
        amount_fen=_positive(amount_fen),
        idempotency_key=idempotency_key,
        note=note,
    )
