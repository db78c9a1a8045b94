"""What must hold after any fault, checked the same way after every scenario:

- every shopping session is in exactly one terminal state (completed, review, failed, cancelled);
- at most one order per session, and at most one paid payment per order reference;
- every position's stock = initial − Σ sold + Σ replenished, by the ledger's movements, by its
  running balance and by the on-hand counter alike, and each sale is one movement per order line;
- the payment ledger balances: Σ paid − Σ refunded per order = order.paid_fen − order.refunded_fen.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Count, Max, QuerySet, Sum

from openvend.inventory.choices import MovementKind
from openvend.inventory.models import StockLevel, StockMovement
from openvend.orders.models import Order, OrderLine
from openvend.payments.choices import PaymentState, RefundState
from openvend.payments.models import Payment, Refund
from openvend.shopping.choices import SessionState as S
from openvend.shopping.models import ShoppingSession

TERMINAL_STATES = frozenset({S.COMPLETED, S.REVIEW, S.FAILED, S.CANCELLED})
Position = tuple[int, int, int]  # device, product, lane


@dataclass(frozen=True)
class StockBaseline:
    """Stock before the scenario: on hand per position, and the last movement posted by then."""

    on_hand: dict[Position, int]
    last_movement_id: int


def stock_baseline() -> StockBaseline:
    levels = StockLevel.objects.values_list("device_id", "product_id", "lane", "on_hand")
    last = StockMovement.objects.aggregate(last=Max("id"))["last"] or 0
    return StockBaseline({(d, p, lane): n for d, p, lane, n in levels}, last)


def _session_problems() -> list[str]:
    return [
        f"session {pk} ended in {state!r}, not in one terminal state"
        for pk, state in ShoppingSession.objects.exclude(state__in=TERMINAL_STATES).values_list("pk", "state")
    ]


def _uniqueness_problems() -> list[str]:
    problems = [
        f"session {row['session']} has {row['n']} orders"
        for row in Order.objects.values("session").annotate(n=Count("id")).filter(n__gt=1)
    ]
    problems += [
        f"order {row['order_ref']} has {row['n']} paid payments"
        for row in Payment.objects.filter(state=PaymentState.PAID)
        .values("merchant", "order_ref")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    ]
    return problems


def _stock_problems(baseline: StockBaseline) -> list[str]:
    problems = []
    since = StockMovement.objects.filter(id__gt=baseline.last_movement_id)
    moved: dict[Position, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for device, product, lane, kind, quantity in since.values_list(
        "device_id", "product_id", "lane", "kind", "quantity"
    ):
        moved[(device, product, lane)][kind] += quantity
    for level in StockLevel.objects.all():
        position = (level.device_id, level.product_id, level.lane)
        kinds = moved.get(position, {})
        sold = -kinds.get(MovementKind.SALE, 0)
        replenished = kinds.get(MovementKind.REPLENISHMENT, 0)
        counted = (MovementKind.SALE, MovementKind.REPLENISHMENT)
        others = {kind: n for kind, n in kinds.items() if kind not in counted}
        expected = baseline.on_hand.get(position, 0) - sold + replenished
        movements = StockMovement.objects.filter(
            device_id=level.device_id, product_id=level.product_id, lane=level.lane
        )
        ledger = movements.aggregate(total=Sum("quantity"))["total"] or 0
        last = movements.order_by("-id").first()
        balance = last.balance_after if last is not None else 0
        if others:
            problems.append(f"{position}: unexpected movements {others}")
        if not level.on_hand == ledger == balance == expected:
            problems.append(
                f"{position}: on hand {level.on_hand}, ledger Σ {ledger}, last balance {balance}, "
                f"expected {expected} (initial − {sold} sold + {replenished} replenished)"
            )
    problems += _sales_match_orders(since)
    return problems


def _sales_match_orders(since: QuerySet[StockMovement]) -> list[str]:
    """Each sale movement is one order line, once: a replayed or repeated settle sold nothing twice."""
    problems = []
    sales = since.filter(kind=MovementKind.SALE)
    per_line: dict[tuple[str, int], list[int]] = defaultdict(list)
    for source_id, product, quantity in sales.values_list("source_id", "product_id", "quantity"):
        per_line[(source_id, product)].append(quantity)
    orders = {str(pk) for pk, _p in per_line}
    expected = {
        (str(order), product): -quantity
        for order, product, quantity in OrderLine.objects.filter(order_id__in=orders).values_list(
            "order_id", "product_id", "quantity"
        )
    }
    for key, quantities in per_line.items():
        if quantities != [expected.get(key)]:
            line = expected.get(key)
            problems.append(f"order {key[0]} product {key[1]}: sale movements {quantities}, line {line}")
    return problems


def _payment_ledger_problems() -> list[str]:
    problems = []
    for order in Order.objects.all():
        payments = Payment.objects.filter(merchant_id=order.merchant_id, order_ref=order.number)
        paid = payments.filter(state=PaymentState.PAID).aggregate(n=Sum("amount_fen"))["n"] or 0
        refunds = Refund.objects.filter(payment__in=payments, state=RefundState.SUCCEEDED)
        refunded = refunds.aggregate(n=Sum("amount_fen"))["n"] or 0
        if paid - refunded != order.paid_fen - order.refunded_fen:
            problems.append(
                f"order {order.number}: Σ paid {paid} − Σ refunded {refunded} ≠ "
                f"paid {order.paid_fen} − refunded {order.refunded_fen}"
            )
    return problems


def assert_invariants(baseline: StockBaseline) -> None:
    problems = [
        *_session_problems(),
        *_uniqueness_problems(),
        *_stock_problems(baseline),
        *_payment_ledger_problems(),
    ]
    assert not problems, "invariants broken:\n" + "\n".join(problems)
