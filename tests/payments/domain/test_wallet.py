"""The wallet: recharge, pay, insufficient balance (never overdrawn), refund back; the balance is
always the sum of the entries; the same posting twice is one entry."""

from __future__ import annotations

from typing import Any

import pytest
from django.db.models import Sum
from django.utils.translation import gettext as _

from openvend.payments.choices import PaymentMethod, PaymentState, RefundState, WalletEntryKind
from openvend.payments.models import Payment, WalletAccount, WalletEntry
from openvend.payments.providers.wallet import NOT_ENOUGH
from openvend.payments.selectors import wallet_balance
from openvend.payments.services.charging import charge_now
from openvend.payments.services.errors import InsufficientBalance, PaymentErrorCode, PaymentRuleError
from openvend.payments.services.reconcile import sync_payment
from openvend.payments.services.refunds import request_refund
from openvend.payments.services.wallet import wallet_credit, wallet_debit, wallet_recharge
from tests.payments.domain.conftest import Shop

pytestmark = pytest.mark.django_db


def _sum_of_entries(shop: Shop) -> int:
    return int(
        WalletEntry.objects.filter(account__consumer=shop.consumer).aggregate(s=Sum("amount_fen"))["s"] or 0
    )


def _recharge(shop: Shop, amount: int, key: str = "top-up-1") -> WalletEntry:
    return wallet_recharge(
        merchant_id=shop.merchant.pk, consumer_id=shop.consumer.pk, amount_fen=amount, idempotency_key=key
    )


def test_recharge_pay_and_refund(shop: Shop, django_capture_on_commit_callbacks: Any) -> None:
    _recharge(shop, 2000)
    payment = shop.pay(method=PaymentMethod.WALLET, amount_fen=1250)
    assert charge_now(payment) == {}
    assert (payment.state, payment.provider_trade_no[:1]) == (PaymentState.PAID, "W")
    assert wallet_balance(shop.merchant, shop.consumer) == 750
    with django_capture_on_commit_callbacks(execute=True):
        refund = request_refund(payment=payment, amount_fen=500, reason="one can was warm")
    refund.refresh_from_db()
    assert refund.state == RefundState.SUCCEEDED
    assert Payment.objects.get(pk=payment.pk).refunded_fen == 500
    assert wallet_balance(shop.merchant, shop.consumer) == 1250 == _sum_of_entries(shop)
    assert list(
        WalletEntry.objects.order_by("id").values_list("kind", "amount_fen", "balance_after_fen")
    ) == [
        (WalletEntryKind.RECHARGE, 2000, 2000),
        (WalletEntryKind.PAYMENT, -1250, 750),
        (WalletEntryKind.REFUND, 500, 1250),
    ]


def test_insufficient_balance_fails_the_payment_and_writes_nothing(shop: Shop) -> None:
    _recharge(shop, 1000)
    payment = shop.pay(method=PaymentMethod.WALLET, amount_fen=1250)
    charge_now(payment)
    assert (payment.state, payment.failure_code) == (PaymentState.FAILED, NOT_ENOUGH)
    assert wallet_balance(shop.merchant, shop.consumer) == 1000 == _sum_of_entries(shop)
    assert WalletEntry.objects.count() == 1


def test_debit_refuses_to_overdraw(shop: Shop) -> None:
    _recharge(shop, 100)
    with pytest.raises(InsufficientBalance) as refused:
        wallet_debit(
            merchant_id=shop.merchant.pk, consumer_id=shop.consumer.pk, amount_fen=101, idempotency_key="d1"
        )
    assert refused.value.code == PaymentErrorCode.INSUFFICIENT_BALANCE
    assert str(refused.value) == _("The wallet holds %(balance)s fen, %(amount)s fen are needed.") % {
        "balance": 100,
        "amount": 101,
    }
    assert WalletAccount.objects.get().balance_fen == 100


def test_the_same_posting_twice_is_one_entry(shop: Shop) -> None:
    first = _recharge(shop, 500, key="gift-2026")
    again = _recharge(shop, 500, key="gift-2026")
    assert first.pk == again.pk
    credit = wallet_credit(
        merchant_id=shop.merchant.pk, consumer_id=shop.consumer.pk, amount_fen=1, idempotency_key="c1"
    )
    assert credit.balance_after_fen == 501
    assert wallet_balance(shop.merchant, shop.consumer) == 501 == _sum_of_entries(shop)


@pytest.mark.parametrize("amount", [0, -1, 1.5, True])
def test_postings_need_a_positive_whole_amount(shop: Shop, amount: Any) -> None:
    with pytest.raises(PaymentRuleError) as refused:
        _recharge(shop, amount)
    assert refused.value.code == PaymentErrorCode.INVALID_AMOUNT
    assert WalletEntry.objects.count() == 0


def test_wallet_is_per_merchant(shop: Shop, world_b: Any) -> None:
    _recharge(shop, 300)
    assert wallet_balance(world_b.merchant, shop.consumer) == 0


def test_query_reads_the_ledger(shop: Shop) -> None:
    """A debit whose answer was lost (payment still pending) is found by the query and booked."""
    _recharge(shop, 2000)
    payment = shop.pay(method=PaymentMethod.WALLET, amount_fen=800)
    Payment.objects.filter(pk=payment.pk).update(state=PaymentState.PENDING)
    wallet_debit(
        merchant_id=shop.merchant.pk,
        consumer_id=shop.consumer.pk,
        amount_fen=800,
        idempotency_key=f"pay:{payment.out_trade_no}",
    )
    payment.refresh_from_db()
    sync_payment(payment)
    assert payment.state == PaymentState.PAID
    assert wallet_balance(shop.merchant, shop.consumer) == 1200
