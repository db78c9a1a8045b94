"""A whole visit paid with WeChat payscore through the real sandbox: the shopper authorises, the door
events arrive through the gateway, the order is settled, the service order is opened and completed,
and WeChat deducts exactly the order's total."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from openvend.orders.choices import OrderState
from openvend.orders.models import Order
from openvend.payments.choices import AuthorisationState, PaymentMethod, PaymentState
from openvend.payments.models import PayAfterAuthorisation, Payment
from openvend.payments.services.authorisations import start_authorisation
from openvend.sandbox.wechat import WeChatSandbox
from openvend.shopping.choices import SessionState as S
from tests.orders.conftest import CHIPS_G, COLA_G, store_in, wait_until
from tests.payments.wechat.conftest import (
    SHOPPER,
    agree_permission,
)
from tests.world import World

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_payscore_visit_is_settled_and_deducted_at_the_sandbox(
    wechat: WeChatSandbox, world_a: World
) -> None:
    store = store_in(world_a, "PS-CAB1")
    shopper = store.shopper()
    authorisation, next_action = start_authorisation(
        merchant=world_a.merchant,
        consumer=shopper,
        method=PaymentMethod.WECHAT_PAYSCORE,
        payer_id=SHOPPER,
        return_url="https://h5.example.com/auth-done",
    )
    assert agree_permission(next_action["confirm_url"]).status_code == 302
    wait_until(
        lambda: PayAfterAuthorisation.objects.get(pk=authorisation.pk).state == AuthorisationState.ACTIVE
    )
    wechat.set_balance(SHOPPER, 2000)

    session = store.start(shopper, method=PaymentMethod.WECHAT_PAYSCORE)
    with CaptureQueriesContext(connection) as visit:
        store.visit(
            session, [("s1-1", -COLA_G), ("s2-1", -CHIPS_G)]
        )  # autocommit: settles and charges at once
    # Opening the service order and completing it share one provider and one sub-merchant.
    sql = [q["sql"] for q in visit.captured_queries]
    assert sum(q.startswith('SELECT "payments_provideraccount"') for q in sql) == 1
    assert sum(q.startswith('SELECT "payments_merchantpaymentconfig"') for q in sql) == 1

    order = Order.objects.get(session=session)
    payment = Payment.objects.get(order_ref=order.number)
    assert (payment.method, payment.amount_fen, payment.state, payment.authorisation_id) == (
        PaymentMethod.WECHAT_PAYSCORE,
        950,
        PaymentState.PAID,
        authorisation.pk,
    )
    assert payment.events.filter(kind="pay_after_opened").count() == 1
    assert (order.state, order.total_fen, order.paid_fen) == (OrderState.PAID, 950, 950)
    assert wechat.balance(SHOPPER) == 1050
    session.refresh_from_db()
    assert session.state == S.COMPLETED
