"""The transition tables: every legal move writes one event with from/to, every illegal one is
refused and writes nothing, and asking for the current state is a no-op."""

from __future__ import annotations

import itertools

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from openvend.payments.choices import PaymentState, RefundState
from openvend.payments.errors import InvalidTransition
from openvend.payments.models import Payment, PaymentEvent, Refund
from openvend.payments.services.states import (
    PAYMENT_TRANSITIONS,
    REFUND_TRANSITIONS,
    record_event,
    transition,
    transition_refund,
)
from tests.payments.domain.conftest import Shop

pytestmark = pytest.mark.django_db

LEGAL = {
    (PaymentState.CREATED, PaymentState.PENDING),
    (PaymentState.CREATED, PaymentState.PAID),
    (PaymentState.CREATED, PaymentState.FAILED),
    (PaymentState.CREATED, PaymentState.CLOSED),
    (PaymentState.PENDING, PaymentState.PAID),
    (PaymentState.PENDING, PaymentState.FAILED),
    (PaymentState.PENDING, PaymentState.CLOSED),
    (PaymentState.FAILED, PaymentState.PENDING),
    (PaymentState.FAILED, PaymentState.PAID),
    (PaymentState.FAILED, PaymentState.CLOSED),
    (PaymentState.CLOSED, PaymentState.PAID),
}
ALL_PAIRS = [(a, b) for a, b in itertools.product(PaymentState.values, repeat=2) if a != b]
ILLEGAL = [pair for pair in ALL_PAIRS if pair not in LEGAL]


def test_the_table_is_exactly_the_specified_one() -> None:
    assert {(a, b) for a, targets in PAYMENT_TRANSITIONS.items() for b in targets} == LEGAL
    assert len(ILLEGAL) == 9  # 20 ordered pairs of distinct states, 11 legal


def _payment_in(shop: Shop, state: str) -> Payment:
    payment = shop.pay(order_ref=f"ORD-{state}")
    Payment.objects.filter(pk=payment.pk).update(state=state)  # set up the starting state directly
    payment.refresh_from_db()
    return payment


@pytest.mark.parametrize(("current", "target"), sorted(LEGAL))
def test_legal_transition_writes_one_event_with_from_and_to(shop: Shop, current: str, target: str) -> None:
    payment = _payment_in(shop, current)
    before = PaymentEvent.objects.filter(payment=payment).count()
    assert transition(payment, target, "test", {"why": "table"}) is True
    payment.refresh_from_db()
    assert payment.state == target
    events = list(PaymentEvent.objects.filter(payment=payment).order_by("id"))
    assert len(events) == before + 1
    assert (events[-1].kind, events[-1].from_state, events[-1].to_state) == ("test", current, target)
    assert events[-1].detail == {"why": "table"}
    assert (payment.paid_at is not None) == (target == PaymentState.PAID)


@pytest.mark.parametrize(("current", "target"), ILLEGAL)
def test_illegal_transition_is_refused_and_writes_nothing(shop: Shop, current: str, target: str) -> None:
    payment = _payment_in(shop, current)
    before = PaymentEvent.objects.filter(payment=payment).count()
    with pytest.raises(InvalidTransition) as refused:
        transition(payment, target, "test")
    assert (refused.value.current, refused.value.target) == (current, target)
    assert Payment.objects.get(pk=payment.pk).state == current
    assert PaymentEvent.objects.filter(payment=payment).count() == before


@pytest.mark.parametrize("state", PaymentState.values)
def test_moving_to_the_current_state_is_a_no_op(shop: Shop, state: str) -> None:
    payment = _payment_in(shop, state)
    before = PaymentEvent.objects.filter(payment=payment).count()
    assert transition(payment, state, "again") is False
    assert PaymentEvent.objects.filter(payment=payment).count() == before


def test_a_refused_move_leaves_the_callers_transaction_usable(shop: Shop) -> None:
    payment = _payment_in(shop, PaymentState.PAID)
    with transaction.atomic():
        with pytest.raises(InvalidTransition):
            transition(payment, PaymentState.PENDING, "late_answer")
        record_event(payment, "late_answer_ignored", {"state": payment.state})
    assert list(
        PaymentEvent.objects.filter(payment=payment).values_list("kind", flat=True).order_by("id")
    ) == [
        "created",
        "late_answer_ignored",
    ]


def test_a_row_the_caller_locked_is_not_read_again(shop: Shop) -> None:
    payment = _payment_in(shop, PaymentState.CREATED)
    with transaction.atomic():
        locked = Payment.objects.select_for_update().get(pk=payment.pk)
        with CaptureQueriesContext(connection) as moved:
            assert transition(payment, PaymentState.PENDING, "charge_sent", locked=locked) is True
    # The update and the event: no read, no savepoint.
    assert [q["sql"].split()[0] for q in moved.captured_queries] == ["UPDATE", "INSERT"]
    assert (payment.state, Payment.objects.get(pk=payment.pk).state) == (PaymentState.PENDING,) * 2


def test_creation_is_the_first_event(shop: Shop) -> None:
    payment = shop.pay()
    [event] = PaymentEvent.objects.filter(payment=payment)
    assert (event.kind, event.from_state, event.to_state) == ("created", "", PaymentState.CREATED)
    assert event.detail == {"amount_fen": 1250, "method": "wechat_payscore"}


REFUND_LEGAL = {
    (RefundState.CREATED, RefundState.PENDING),
    (RefundState.CREATED, RefundState.SUCCEEDED),
    (RefundState.CREATED, RefundState.FAILED),
    (RefundState.PENDING, RefundState.SUCCEEDED),
    (RefundState.PENDING, RefundState.FAILED),
}
REFUND_ILLEGAL = [
    (a, b)
    for a, b in itertools.product(RefundState.values, repeat=2)
    if a != b and (a, b) not in REFUND_LEGAL
]


def _refund_in(shop: Shop, state: str) -> Refund:
    payment = _payment_in(shop, PaymentState.PAID)
    return Refund.objects.create(
        merchant=shop.merchant,
        payment=payment,
        sequence=1,
        out_refund_no=f"{payment.out_trade_no}R1",
        amount_fen=300,
        state=state,
    )


def test_refund_table_is_exactly_the_specified_one() -> None:
    assert {(a, b) for a, targets in REFUND_TRANSITIONS.items() for b in targets} == REFUND_LEGAL


@pytest.mark.parametrize(("current", "target"), sorted(REFUND_LEGAL))
def test_legal_refund_transition(shop: Shop, current: str, target: str) -> None:
    refund = _refund_in(shop, current)
    assert transition_refund(refund, target, "test") is True
    event = PaymentEvent.objects.filter(refund=refund).get()
    assert (event.from_state, event.to_state, event.payment_id) == (current, target, refund.payment_id)
    assert event.detail == {"out_refund_no": refund.out_refund_no, "amount_fen": 300}
    # refunded_fen moves only on success
    assert Payment.objects.get(pk=refund.payment_id).refunded_fen == (
        300 if target == RefundState.SUCCEEDED else 0
    )


@pytest.mark.parametrize(("current", "target"), REFUND_ILLEGAL)
def test_illegal_refund_transition_is_refused(shop: Shop, current: str, target: str) -> None:
    refund = _refund_in(shop, current)
    with pytest.raises(InvalidTransition):
        transition_refund(refund, target, "test")
    assert Refund.objects.get(pk=refund.pk).state == current
    assert not PaymentEvent.objects.filter(refund=refund).exists()
    assert Payment.objects.get(pk=refund.payment_id).refunded_fen == 0
