"""The page a device's QR code opens: a forged code opens nothing, a signed-out shopper signs in and
comes back, every failed precondition is shown with its way forward, and the door-open button starts
exactly one visit per device."""

from __future__ import annotations

from datetime import time, timedelta
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.utils import timezone

from openvend.devices.models import Command, DeviceState
from openvend.devices.services import device_qr_token
from openvend.merchants.models import Site
from openvend.shopping.choices import SessionState
from openvend.shopping.models import BlacklistEntry, ShoppingSession
from tests.mobile.h5 import scan_url, signed_in, visit_url
from tests.shopping.conftest import PAYSCORE, WALLET, Shop, shop_in

pytestmark = pytest.mark.django_db


def _failures(page: str) -> list[str]:
    return [part.split('"', 1)[0] for part in page.split('data-testid="failure-')[1:]]


def test_the_device_qr_leads_a_shopper_to_the_merchants_scan_page(shop: Shop) -> None:
    token = device_qr_token(shop.device)
    response = Client().get(f"/m/scan/{token}/")
    assert response.status_code == 302
    assert response.url == f"/m/c/{shop.world.merchant.code}/scan/{token}/"


def test_a_signed_out_shopper_signs_in_first_and_comes_back(shop: Shop) -> None:
    url = scan_url(shop.device)
    response = Client().get(url)
    assert response.status_code == 302
    assert response.url == f"/m/c/{shop.world.merchant.code}/signin/?{urlencode({'next': url})}"


def test_a_tampered_code_opens_nothing(shop: Shop, world_b) -> None:
    phone = signed_in(shop.shopper())
    token = device_qr_token(shop.device)
    tampered = token[:-3] + ("AAA" if token[-3:] != "AAA" else "BBB")
    base = f"/m/c/{shop.world.merchant.code}/scan"
    page = phone.get(f"{base}/{tampered}/")
    assert page.status_code == 400 and "This code is not valid. Nothing was opened." in page.content.decode()
    opened = phone.post(f"{base}/{tampered}/open/", {"method": WALLET})
    assert opened.status_code == 400 and 'data-testid="invalid-code"' in opened.content.decode()
    # A good code of another merchant's device is not valid on this merchant's pages either.
    foreign = shop_in(world_b, "B-CAB1").device
    assert phone.get(f"{base}/{device_qr_token(foreign)}/").status_code == 400
    assert phone.post(f"{base}/{device_qr_token(foreign)}/open/", {"method": WALLET}).status_code == 400
    assert not ShoppingSession.objects.exists() and not Command.objects.exists()


def test_all_preconditions_met_shows_the_device_and_the_open_button(shop: Shop) -> None:
    Site.objects.filter(pk=shop.device.site_id).update(address="漕溪北路 1 号")
    page = signed_in(shop.shopper()).get(scan_url(shop.device)).content.decode()
    assert shop.device.name in page and shop.device.site.name in page and "漕溪北路 1 号" in page
    assert 'data-testid="failures"' not in page
    assert 'data-testid="open-door"' in page and "Open the door" in page
    # Fully automatic: the wallet is ready; payscore is offered but not authorised yet.
    assert 'data-testid="choose-wallet"' in page and 'data-testid="choose-wechat_payscore"' in page
    assert page.index("choose-wallet") < page.index("choose-wechat_payscore")
    assert '<input type="hidden" name="method" value="wallet">' in page


def test_device_offline_says_try_later(shop: Shop) -> None:
    DeviceState.objects.filter(device=shop.device).update(online=False)
    url = scan_url(shop.device)
    page = signed_in(shop.shopper()).get(url).content.decode()
    assert _failures(page) == ["device_offline"]
    assert "This device is offline at the moment. Please try again later." in page
    assert f'data-testid="way-try_later" href="{url}"' in page
    assert 'data-testid="open-door"' not in page


def test_blacklisted_shopper_is_sent_to_customer_service(shop: Shop) -> None:
    consumer = shop.shopper()
    BlacklistEntry.objects.create(merchant=shop.world.merchant, consumer=consumer, reason="theft")
    Site.objects.filter(pk=shop.device.site_id).update(contact_phone="021-5555")
    page = signed_in(consumer).get(scan_url(shop.device)).content.decode()
    assert _failures(page) == ["shopper_blacklisted"]
    assert "You may not shop at this merchant&#x27;s devices. Please contact customer service." in page
    assert 'data-testid="way-contact_staff" href="tel:021-5555"' in page


def test_unpaid_order_leads_to_the_orders_page(shop: Shop) -> None:
    consumer = shop.shopper()
    shop.owe(consumer, 350)
    page = signed_in(consumer).get(scan_url(shop.device)).content.decode()
    assert _failures(page) == ["unpaid_order"]
    assert "You have an unpaid order. Please pay it before shopping again." in page
    assert f'data-testid="way-pay_debt" href="/m/c/{shop.world.merchant.code}/orders/"' in page


def test_outside_business_hours_says_when_it_opens(shop: Shop) -> None:
    now = timezone.localtime()
    opens, closes = (now + timedelta(hours=2)).time(), (now + timedelta(hours=3)).time()
    Site.objects.filter(pk=shop.device.site_id).update(opens_at=opens, closes_at=closes)
    page = signed_in(shop.shopper()).get(scan_url(shop.device)).content.decode()
    assert _failures(page) == ["outside_business_hours"]
    text = f"This cabinet is open from {opens:%H:%M} to {closes:%H:%M}. Please come back at {opens:%H:%M}."
    assert text in page and 'data-testid="way-try_later"' in page


def test_pay_after_not_authorised_leads_to_the_pay_after_page(shop: Shop) -> None:
    url = scan_url(shop.device)
    page = signed_in(shop.shopper()).get(f"{url}?method={PAYSCORE}").content.decode()
    assert _failures(page) == ["not_authorised"]
    assert "Please authorise pay-after payment before opening the door." in page
    assert f'data-testid="way-authorise" href="/m/c/{shop.world.merchant.code}/pay-after/"' in page


def test_no_method_offered_asks_to_choose_another(shop: Shop) -> None:
    page = signed_in(shop.shopper()).get(scan_url(shop.device, "semi_auto")).content.decode()
    # Semi-automatic is paid in person: of the wallet and payscore only the wallet qualifies.
    assert 'data-testid="choose-wallet"' in page and "choose-wechat_payscore" not in page
    from openvend.payments.models import SitePaymentMethod

    SitePaymentMethod.objects.filter(method=WALLET).update(enabled=False)
    page = signed_in(shop.shopper("小李")).get(scan_url(shop.device, "semi_auto")).content.decode()
    assert _failures(page) == ["method_not_offered"]
    assert 'data-testid="way-choose_method" href="#methods"' in page
    assert "No way to pay is offered at this cabinet." in page


def test_several_failures_are_all_listed(shop: Shop) -> None:
    consumer = shop.shopper()
    shop.owe(consumer)
    DeviceState.objects.filter(device=shop.device).update(online=False)
    Site.objects.filter(pk=shop.device.site_id).update(opens_at=time(0, 0), closes_at=time(0, 1))
    page = signed_in(consumer).get(scan_url(shop.device)).content.decode()
    if timezone.localtime().time() < time(0, 1):
        pytest.skip("the test ran in the one open minute")
    assert _failures(page) == ["device_offline", "outside_business_hours", "unpaid_order"]


def test_open_the_door_starts_the_visit(shop: Shop) -> None:
    consumer = shop.shopper()
    shop.authorise(consumer)
    phone = signed_in(consumer)
    url = scan_url(shop.device)
    response = phone.post(f"{url}open/", {"method": PAYSCORE})
    session = ShoppingSession.objects.get()
    assert response.status_code == 302 and response.url == visit_url(session)
    assert (session.state, session.payment_method, session.consumer_id) == (
        SessionState.OPENING,
        PAYSCORE,
        consumer.pk,
    )
    assert Command.objects.filter(device=shop.device, kind="open_door").count() == 1
    page = phone.get(response.url).content.decode()
    assert "Opening the door…" in page and 'data-state="opening"' in page
    state = phone.get(f"{response.url}state/").json()
    assert state == {"state": "opening", "text": "Opening the door…", "final": False, "receipt_url": ""}


def test_a_method_that_is_not_offered_here_opens_nothing(shop: Shop) -> None:
    response = signed_in(shop.shopper()).post(f"{scan_url(shop.device)}open/", {"method": "alipay_wap"})
    assert response.status_code == 409
    assert _failures(response.content.decode()) == ["method_not_offered", "method_needs_shopper"]
    assert not ShoppingSession.objects.exists() and not Command.objects.exists()


def test_the_second_shopper_is_told_the_cabinet_is_busy(shop: Shop) -> None:
    first, second = shop.shopper("甲"), shop.shopper("乙")
    url = scan_url(shop.device)
    assert signed_in(first).post(f"{url}open/", {"method": WALLET}).status_code == 302
    busy = signed_in(second).post(f"{url}open/", {"method": WALLET})
    assert busy.status_code == 409
    assert "Someone else is using this cabinet" in busy.content.decode()
    assert list(ShoppingSession.objects.values_list("consumer_id", flat=True)) == [first.pk]


def test_another_shoppers_visit_is_not_found(shop: Shop) -> None:
    owner = shop.shopper("甲")
    signed_in(owner).post(f"{scan_url(shop.device)}open/", {"method": WALLET})
    session = ShoppingSession.objects.get()
    other = signed_in(shop.shopper("乙"))
    assert other.get(visit_url(session)).status_code == 404
    assert other.get(f"{visit_url(session)}state/").status_code == 404
    assert signed_in(owner).get(visit_url(session)).status_code == 200


def test_the_pages_speak_chinese_by_default(shop: Shop) -> None:
    consumer = shop.shopper()
    phone = signed_in(consumer)
    phone.cookies.pop("django_language")
    page = phone.get(scan_url(shop.device))
    assert page.status_code == 200 and '<html lang="zh-hans">' in page.content.decode()


def test_paying_in_person_through_wechat_asks_who_the_shopper_is_there_first(shop: Shop) -> None:
    from openvend.payments.models import SitePaymentMethod

    SitePaymentMethod.objects.create(
        merchant=shop.world.merchant, site=shop.device.site, method="wechat_jsapi"
    )
    url = scan_url(shop.device, "semi_auto")
    response = signed_in(shop.shopper()).post(f"{url}open/", {"method": "wechat_jsapi"})
    assert response.status_code == 302
    next_url = f"{url}?{urlencode({'method': 'wechat_jsapi'})}"
    assert response.url == f"/m/c/{shop.world.merchant.code}/signin/wechat/?{urlencode({'next': next_url})}"
    assert not ShoppingSession.objects.exists()


def test_the_visit_page_follows_the_door(shop: Shop) -> None:
    from openvend.shopping.services import session_door_event, sessions_expire

    phone = signed_in(shop.shopper())
    phone.post(f"{scan_url(shop.device)}open/", {"method": WALLET})
    session = ShoppingSession.objects.get()
    key = str(session.command_id)
    session_door_event(device=shop.device, session_key=key, kind="door_opened", at=timezone.now())
    assert phone.get(f"{visit_url(session)}state/").json() == {
        "state": "open",
        "text": "Door open: take what you want and close the door.",
        "final": False,
        "receipt_url": "",
    }
    # Had the door never opened, the clock would cancel the visit:
    ShoppingSession.objects.filter(pk=session.pk).update(
        state=SessionState.OPENING, created_at=timezone.now() - timedelta(hours=1)
    )
    sessions_expire()
    assert phone.get(f"{visit_url(session)}state/").json() == {
        "state": "cancelled",
        "text": "The door was not opened in time. Nothing was charged.",
        "final": True,
        "receipt_url": "",
    }
