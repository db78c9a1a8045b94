"""The payment pages of both consoles: lists with filters and search, the detail with its timeline
and refunds, the "Query provider" and "Refund" buttons, notifications (platform only), wallets."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.utils import translation
from django.utils.translation import gettext as _

from openvend.audit.models import AuditLogEntry
from openvend.consoles.admin.payments import fen_of, yuan
from openvend.payments.choices import PaymentMethod, PaymentState, RefundState
from openvend.payments.models import Payment, Refund
from openvend.payments.providers.base import ChargeResult, ChargeState, EventType, RefundResult
from openvend.payments.providers.base import RefundState as ProviderRefundState
from openvend.payments.services.charging import charge_now, send_charge
from openvend.payments.services.notifications import receive_notification
from openvend.payments.services.wallet import wallet_recharge
from tests.conftest import console_login
from tests.payments.domain.conftest import SP_MCHID, Shop
from tests.payments.domain.fakes import ScriptedProvider, notification_body
from tests.world import PASSWORD, World, platform_user

pytestmark = pytest.mark.django_db

PAYMENTS = "/console/payments/payment/"


def _login(client: Any, world: World, role: str) -> None:
    assert console_login(client, world.users[role].username, PASSWORD)


@pytest.fixture
def paid(shop: Shop, wechat: ScriptedProvider) -> Payment:
    payment = shop.pay(amount_fen=1250)
    send_charge(payment)
    payment.refresh_from_db()
    return payment


def test_yuan_and_fen_are_exact() -> None:
    assert [yuan(v) for v in (0, 5, 1250, -1999, 100000001)] == [
        "¥0.00",
        "¥0.05",
        "¥12.50",
        "-¥19.99",
        "¥1000000.01",
    ]
    assert [fen_of(Decimal(v)) for v in ("0.01", "12.5", "19.99", "1000000.01")] == [1, 1250, 1999, 100000001]
    with pytest.raises(ValueError):
        fen_of(Decimal("0.001"))


def test_list_filters_search_and_detail(
    shop: Shop, wechat: ScriptedProvider, paid: Payment, client: Any
) -> None:
    wechat.charge_answers.append(ChargeResult(ChargeState.FAILED, failure_code="NOTENOUGH"))
    failed = shop.pay(order_ref="ORD2002")
    send_charge(failed)
    _login(client, shop.world, "finance")
    page = client.get(PAYMENTS)
    assert page.status_code == 200
    assert {p.pk for p in page.context["cl"].result_list} == {paid.pk, failed.pk}
    assert "¥12.50" in page.content.decode()
    assert [p.pk for p in client.get(PAYMENTS, {"state__exact": "failed"}).context["cl"].result_list] == [
        failed.pk
    ]
    assert [p.pk for p in client.get(PAYMENTS, {"q": "ORD2002"}).context["cl"].result_list] == [failed.pk]
    method = client.get(PAYMENTS, {"method__exact": PaymentMethod.WALLET})
    assert list(method.context["cl"].result_list) == []
    detail = client.get(f"{PAYMENTS}{paid.pk}/change/")
    assert detail.status_code == 200
    html = detail.content.decode()
    assert "charge_response" in html and "ORD1001-01" in html  # the timeline is on the page
    assert client.get(f"{PAYMENTS}add/").status_code == 403


def test_another_merchants_payment_is_not_found(
    shop: Shop, world_b: World, paid: Payment, client: Any
) -> None:
    assert console_login(client, world_b.users["merchant_admin"].username, PASSWORD)
    other, missing = client.get(f"{PAYMENTS}{paid.pk}/change/"), client.get(f"{PAYMENTS}987654/change/")
    assert (other.status_code, other.url) == (missing.status_code, missing.url) == (302, "/console/")
    assert client.get(f"{PAYMENTS}{paid.pk}/query-provider/").status_code == 404
    assert client.get(f"{PAYMENTS}{paid.pk}/refund/").status_code == 404


def test_query_provider_button_repairs_a_lost_notification(
    shop: Shop, wechat: ScriptedProvider, client: Any
) -> None:
    wechat.charge_answers.append(ChargeResult(ChargeState.PENDING))
    payment = shop.pay(method=PaymentMethod.WECHAT_JSAPI)
    charge_now(payment)
    wechat.query_answers.append(ChargeResult(ChargeState.PAID, provider_trade_no="4200", amount_fen=1250))
    _login(client, shop.world, "store_manager")
    response = client.get(f"{PAYMENTS}{payment.pk}/query-provider/")
    assert response.status_code == 302
    assert Payment.objects.get(pk=payment.pk).state == PaymentState.PAID
    entry = AuditLogEntry.objects.filter(object_type="payments.payment").latest("id")
    assert (entry.actor_id, entry.channel) == (shop.world.users["store_manager"].pk, "console")


def test_refund_button_converts_yuan_to_fen(
    shop: Shop, wechat: ScriptedProvider, paid: Payment, client: Any, django_capture_on_commit_callbacks: Any
) -> None:
    wechat.refund_answers.append(RefundResult(ProviderRefundState.SUCCEEDED, refund_fen=1199))
    _login(client, shop.world, "customer_service")
    url = f"{PAYMENTS}{paid.pk}/refund/"
    form = client.get(url)
    assert form.status_code == 200
    assert "¥12.50" in form.content.decode()
    too_much = client.post(url, {"amount": "12.51", "reason": "warm"})
    assert too_much.status_code == 200
    with translation.override(too_much["Content-Language"]):  # the page's language
        expected = _("At most %(amount)s can be refunded.") % {"amount": "¥12.50"}
    assert too_much.context["form"].errors["amount"] == [expected]
    three_decimals = client.post(url, {"amount": "1.001", "reason": "warm"})
    assert "amount" in three_decimals.context["form"].errors
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(url, {"amount": "11.99", "reason": "warm"})
    assert done.status_code == 302
    refund = Refund.objects.get()
    assert (refund.amount_fen, refund.state, refund.reason) == (1199, RefundState.SUCCEEDED, "warm")
    assert Payment.objects.get(pk=paid.pk).refunded_fen == 1199
    entry = AuditLogEntry.objects.filter(object_type="payments.refund").get()
    assert (entry.actor_id, entry.channel) == (shop.world.users["customer_service"].pk, "console")


def test_refund_button_needs_the_permission(shop: Shop, paid: Payment, client: Any) -> None:
    _login(client, shop.world, "store_manager")  # may query, may not refund
    assert client.get(f"{PAYMENTS}{paid.pk}/refund/").status_code == 403
    assert client.post(f"{PAYMENTS}{paid.pk}/refund/", {"amount": "1", "reason": "x"}).status_code == 403
    assert Refund.objects.count() == 0
    _login(client, shop.world, "replenisher")
    assert client.get(PAYMENTS).status_code == 403


def test_refund_list_and_wallet_pages(
    shop: Shop, wechat: ScriptedProvider, paid: Payment, client: Any
) -> None:
    Refund.objects.create(
        merchant=shop.merchant, payment=paid, sequence=1, out_refund_no="ORD1001-01R1", amount_fen=5
    )
    wallet_recharge(
        merchant_id=shop.merchant.pk, consumer_id=shop.consumer.pk, amount_fen=3000, idempotency_key="k"
    )
    _login(client, shop.world, "merchant_admin")
    refunds = client.get("/console/payments/refund/")
    assert refunds.status_code == 200 and "ORD1001-01R1" in refunds.content.decode()
    wallets = client.get("/console/payments/walletaccount/")
    assert wallets.status_code == 200 and "¥30.00" in wallets.content.decode()
    account = wallets.context["cl"].result_list[0]
    detail = client.get(f"/console/payments/walletaccount/{account.pk}/change/")
    assert detail.status_code == 200 and "recharge" in detail.content.decode().lower()
    assert client.get("/console/payments/providernotification/").status_code == 404  # platform only


def test_platform_console_reads_payments_and_notifications(
    shop: Shop, wechat: ScriptedProvider, paid: Payment, client: Any
) -> None:
    body = notification_body("N-77", EventType.PAYMENT_PAID, out_trade_no=paid.out_trade_no, mch_id=SP_MCHID)
    receive_notification("wechat", {}, body)
    admin = platform_user("platform_admin")
    assert console_login(client, admin.username, PASSWORD, console="/platform/")
    assert client.get("/platform/payments/payment/").status_code == 200
    detail = client.get(f"/platform/payments/payment/{paid.pk}/change/")
    assert detail.status_code == 200
    notifications = client.get("/platform/payments/providernotification/")
    assert notifications.status_code == 200 and "N-77" in notifications.content.decode()
    assert client.get(f"/platform/payments/payment/{paid.pk}/refund/").status_code == 403  # merchants refund
