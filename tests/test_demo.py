"""The demo seed: two merchants, a user per preset role, printed logins that work, safe to re-run."""

from __future__ import annotations

import json

from django.utils import timezone

from openvend.accounts.models import Role, User
from openvend.accounts.presets import MERCHANT_PRESETS, PLATFORM_PRESETS
from openvend.demo.seed import seed_demo
from openvend.merchants.models import Merchant, OrgUnit, Site
from tests.conftest import console_login


def test_seed_is_complete_and_safe_to_rerun(db, tmp_path, client) -> None:
    logins_file = tmp_path / "demo-logins.json"
    first = seed_demo(logins_file)
    counts = (Merchant.objects.count(), OrgUnit.objects.count(), Site.objects.count(), User.objects.count())

    assert Merchant.objects.filter(status="active").count() == 2
    for merchant in Merchant.objects.all():
        staff_roles = sorted(r["role"] for r in first if r["merchant"] == merchant.name)
        assert staff_roles == sorted(p.code for p in MERCHANT_PRESETS)
        assert OrgUnit.objects.filter(merchant=merchant).count() >= 3
        assert Site.objects.filter(merchant=merchant).count() >= 2
    assert sorted(r["role"] for r in first if r["merchant"] == "platform") == sorted(
        p.code for p in PLATFORM_PRESETS
    )
    assert json.loads(logins_file.read_text()) == first
    assert {"merchant", "role", "username", "password"} <= set(first[0])
    assert Merchant.objects.get(code="xianguo").default_language == "zh-hans"

    second = seed_demo(logins_file)
    assert (
        Merchant.objects.count(),
        OrgUnit.objects.count(),
        Site.objects.count(),
        User.objects.count(),
    ) == counts
    assert second == first  # the same passwords keep working
    assert Role.objects.filter(merchant__isnull=False).count() == 2 * len(MERCHANT_PRESETS)

    for row in (second[0], next(r for r in second if r["merchant"] == "鲜果智柜")):
        client.logout()
        assert console_login(client, row["username"], row["password"], console=row["console"])


def test_demo_goods_are_set_up_through_the_services_once(db, tmp_path) -> None:
    """Library, adopted copies, template, price, planogram and opening stock — and a re-run adds nothing."""
    from openvend.catalog.models import PriceRule, Product, SellableItem
    from openvend.catalog.selectors import price_for
    from openvend.demo.catalog import demo_cabinets, stock_demo_devices
    from openvend.demo.products import PRODUCTS
    from openvend.inventory.models import Planogram, StockMovement
    from openvend.inventory.selectors import ledger_sum, on_hand
    from openvend.simulator.provision import provision_devices

    seed_demo(tmp_path / "logins.json")
    xianguo, northwind = Merchant.objects.get(code="xianguo"), Merchant.objects.get(code="northwind")
    assert Product.objects.filter(merchant__isnull=True).count() == len(PRODUCTS)
    for merchant in (xianguo, northwind):
        assert Product.objects.filter(merchant=merchant, source__isnull=False).count() == len(PRODUCTS)
    provision_devices(xianguo, 1, prefix="DEMOX")
    provision_devices(northwind, 1, prefix="DEMON")
    cabinets = demo_cabinets([xianguo, northwind])
    stock_demo_devices(cabinets)
    counts = (Product.objects.count(), PriceRule.objects.count(), SellableItem.objects.count())
    movements = StockMovement.objects.count()

    x_cabinet = next(d for d in cabinets if d.merchant_id == xianguo.pk)
    n_cabinet = next(d for d in cabinets if d.merchant_id == northwind.pk)
    assert SellableItem.objects.filter(device=x_cabinet, enabled=True).count() == len(PRODUCTS)
    x_plan = Planogram.objects.get(device=x_cabinet, status="active")
    assert x_plan.slots.count() == 16
    assert x_plan.check_report["perfect_separation"] is True
    n_plan = Planogram.objects.get(device=n_cabinet, status="active")
    assert n_plan.slots.count() == 17  # the crowded load cell the console warns about
    assert n_plan.check_report["perfect_separation"] is False
    assert any("s2-1" in note for note in n_plan.check_report["notes"])
    water = Product.objects.get(merchant=xianguo, sku="DR-WATER-550")
    quote = price_for(x_cabinet, water, timezone.now())
    assert (quote.price_fen, quote.source) == (180, "merchant")
    assert price_for(x_cabinet, water, timezone.now(), member=True).price_fen == 150
    first_slot = x_plan.slots.order_by("id").first()
    assert first_slot is not None
    assert on_hand(device=x_cabinet, product=first_slot.product) == first_slot.par_level
    assert on_hand(device=x_cabinet, product=first_slot.product) == ledger_sum(
        device=x_cabinet, product=first_slot.product
    )

    stock_demo_devices(demo_cabinets([xianguo, northwind]))
    seed_demo(tmp_path / "logins.json")
    assert (Product.objects.count(), PriceRule.objects.count(), SellableItem.objects.count()) == counts
    assert StockMovement.objects.count() == movements
    assert Planogram.objects.filter(device=x_cabinet).count() == 1


def test_demo_payments_point_the_platform_at_both_sandboxes_and_every_site_offers_every_method(
    db, tmp_path
) -> None:
    """What `make demo` does for payments, then a real call through each configured provider."""
    from openvend.consumers.models import Consumer
    from openvend.demo.payments import WECHAT_MCH_ID, configure_demo_payments
    from openvend.payments.choices import PaymentMethod, PaymentState, Provider
    from openvend.payments.models import MerchantPaymentConfig, ProviderAccount, SitePaymentMethod
    from openvend.payments.services.authorisations import start_authorisation
    from openvend.payments.services.charging import charge_now, create_payment
    from openvend.sandbox.alipay import AlipaySandbox
    from openvend.sandbox.wechat import WeChatSandbox

    seed_demo(tmp_path / "logins.json")
    wechat, alipay = WeChatSandbox(time_scale=0.001), AlipaySandbox(time_scale=0.001)
    wechat.start()
    alipay.start()
    try:
        configure_demo_payments(wechat, alipay, "http://127.0.0.1:9")
        configure_demo_payments(wechat, alipay, "http://127.0.0.1:9")  # a restart re-points, adds nothing

        accounts = {a.provider: a for a in ProviderAccount.objects.all()}
        assert sorted(accounts) == [Provider.ALIPAY, Provider.WECHAT]
        assert accounts[Provider.WECHAT].mch_id == WECHAT_MCH_ID
        assert accounts[Provider.WECHAT].base_url == wechat.url
        assert accounts[Provider.WECHAT].private_key_enc.startswith("enc1:")
        assert "PRIVATE KEY" not in accounts[Provider.WECHAT].private_key_enc
        assert accounts[Provider.WECHAT].notify_url == "http://127.0.0.1:9/pay/notify/wechat/"
        merchants = list(Merchant.objects.filter(status="active"))
        assert MerchantPaymentConfig.objects.count() == len(merchants) == 2
        sites = Site.objects.filter(merchant__in=merchants).count()
        assert SitePaymentMethod.objects.filter(enabled=True).count() == sites * len(PaymentMethod.values)

        xianguo = Merchant.objects.get(code="xianguo")
        payment = create_payment(
            merchant=xianguo,
            order_ref="DEMO000001",
            amount_fen=1250,
            method=PaymentMethod.WECHAT_JSAPI,
            description="demo",
            payer_id="o-demo-shopper",
        )
        next_action = charge_now(payment)
        payment.refresh_from_db()
        assert payment.state == PaymentState.PENDING
        assert next_action["cashier_url"].startswith(wechat.url)
        assert next_action["jsapi"]["package"].startswith("prepay_id=")

        consumer = Consumer.objects.create(nickname="demo")
        authorisation, sign = start_authorisation(
            merchant=xianguo,
            consumer=consumer,
            method=PaymentMethod.ALIPAY_AGREEMENT,
            payer_id="2088000000000001",
            return_url="http://127.0.0.1:9/back",
        )
        assert authorisation.state == "pending"
        assert sign["sign_url"].startswith(alipay.url)
    finally:
        wechat.stop()
        alipay.stop()
