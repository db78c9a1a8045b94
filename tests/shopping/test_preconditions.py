"""Each precondition failing on its own, with its exact message and way forward; all of them
passing opens the door; several failing are all reported."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from openvend.consumers.models import ConsumerStatus
from openvend.devices.models import Command, Device, DeviceState
from openvend.merchants.models import Site
from openvend.payments.models import SitePaymentMethod
from openvend.shopping.choices import SessionState, WayForward
from openvend.shopping.errors import PreconditionsFailed, ShoppingErrorCode
from openvend.shopping.models import BlacklistEntry, ShoppingEvent, ShoppingSession
from openvend.shopping.preconditions import check_preconditions
from openvend.shopping.services import session_start
from tests.shopping.conftest import PAYSCORE, WALLET, Shop

pytestmark = pytest.mark.django_db


def _refused(shop: Shop, consumer, method: str = WALLET) -> list[tuple[str, str, str]]:
    with pytest.raises(PreconditionsFailed) as caught:
        session_start(consumer=consumer, device=shop.device, method=method)
    assert caught.value.code == ShoppingErrorCode.PRECONDITIONS
    assert not ShoppingSession.objects.exists()
    assert not Command.objects.filter(device=shop.device).exists()
    return [(f.code, f.message, f.way_forward) for f in caught.value.failures]


def test_all_preconditions_met_opens_the_door(shop: Shop) -> None:
    consumer = shop.shopper()
    shop.authorise(consumer)
    session = session_start(consumer=consumer, device=shop.device, method=PAYSCORE)
    session.refresh_from_db()
    assert (session.state, session.flow, session.payment_method) == (
        SessionState.OPENING,
        "full_auto",
        PAYSCORE,
    )
    assert (session.merchant_id, session.site_id, session.consumer_id) == (
        shop.world.merchant.pk,
        shop.device.site_id,
        consumer.pk,
    )
    command = Command.objects.get(device=shop.device)
    assert (command.kind, command.params, command.status) == (
        "open_door",
        {"door": 1, "mode": "staff"},
        "pending",
    )
    assert session.command_id == command.pk
    events = list(ShoppingEvent.objects.filter(session=session).values_list("kind", "from_state", "to_state"))
    assert events == [("created", "", "created"), ("door_command", "created", "opening")]


def test_device_offline(shop: Shop) -> None:
    DeviceState.objects.filter(device=shop.device).update(online=False)
    with translation.override("en"):
        assert _refused(shop, shop.shopper()) == [
            (
                "device_offline",
                _("This device is offline at the moment. Please try again later."),
                WayForward.TRY_LATER,
            )
        ]


def test_device_never_reported_is_offline(shop: Shop) -> None:
    DeviceState.objects.filter(device=shop.device).delete()
    assert [code for code, _m, _w in _refused(shop, shop.shopper())] == ["device_offline"]


def test_device_locked_for_a_foreign_object(shop: Shop) -> None:
    Device.objects.filter(pk=shop.device.pk).update(locked_by_foreign_object=True)
    with translation.override("en"):
        assert _refused(shop, shop.shopper()) == [
            (
                "device_locked",
                _("This device is locked until staff have checked it. Please contact customer service."),
                WayForward.CONTACT_STAFF,
            )
        ]


def test_device_usage_time_expired(shop: Shop) -> None:
    Device.objects.filter(pk=shop.device.pk).update(service_expires_at=timezone.now() - timedelta(minutes=1))
    with translation.override("en"):
        assert _refused(shop, shop.shopper()) == [
            (
                "device_expired",
                _("This device's service period has ended. Please contact customer service."),
                WayForward.CONTACT_STAFF,
            )
        ]


def test_device_usage_time_not_yet_expired_is_fine(shop: Shop) -> None:
    Device.objects.filter(pk=shop.device.pk).update(service_expires_at=timezone.now() + timedelta(days=1))
    assert session_start(consumer=shop.shopper(), device=shop.device, method=WALLET).state == "opening"


def test_device_disabled_or_site_closed(shop: Shop) -> None:
    Site.objects.filter(pk=shop.device.site_id).update(is_active=False)
    with translation.override("en"):
        assert _refused(shop, shop.shopper()) == [
            ("device_out_of_service", _("This device is not in service."), WayForward.CONTACT_STAFF)
        ]


def test_shopper_frozen(shop: Shop) -> None:
    consumer = shop.shopper()
    consumer.status = ConsumerStatus.FROZEN
    consumer.save()
    with translation.override("en"):
        assert _refused(shop, consumer) == [
            (
                "shopper_frozen",
                _("Your account is frozen. Please contact customer service."),
                WayForward.CONTACT_STAFF,
            )
        ]


def test_shopper_blacklisted(shop: Shop) -> None:
    consumer = shop.shopper()
    BlacklistEntry.objects.create(merchant=shop.world.merchant, consumer=consumer, reason="theft")
    with translation.override("en"):
        assert _refused(shop, consumer) == [
            (
                "shopper_blacklisted",
                _("You may not shop at this merchant's devices. Please contact customer service."),
                WayForward.CONTACT_STAFF,
            )
        ]


def test_blacklist_entry_expired_or_inactive_does_not_refuse(shop: Shop, world_b) -> None:
    consumer = shop.shopper()
    past = timezone.now() - timedelta(days=1)
    BlacklistEntry.objects.create(merchant=shop.world.merchant, consumer=consumer, reason="old", until=past)
    BlacklistEntry.objects.create(
        merchant=shop.world.merchant, consumer=consumer, reason="lifted", active=False
    )
    BlacklistEntry.objects.create(merchant=world_b.merchant, consumer=consumer, reason="another merchant")
    assert check_preconditions(device=shop.device, consumer=consumer, method=WALLET) == []


def test_unpaid_order(shop: Shop) -> None:
    consumer = shop.shopper()
    shop.owe(consumer, amount_fen=350)
    with translation.override("en"):
        assert _refused(shop, consumer) == [
            (
                "unpaid_order",
                _("You have an unpaid order. Please pay it before shopping again."),
                WayForward.PAY_DEBT,
            )
        ]


def test_pay_after_method_without_authorisation(shop: Shop) -> None:
    with translation.override("en"):
        assert _refused(shop, shop.shopper(), method=PAYSCORE) == [
            (
                "not_authorised",
                _("Please authorise pay-after payment before opening the door."),
                WayForward.AUTHORISE,
            )
        ]


def test_authorisation_at_another_merchant_does_not_count(shop: Shop, world_b) -> None:
    consumer = shop.shopper()
    other = shop.authorise(consumer)
    other.merchant = world_b.merchant
    other.save()
    assert [code for code, _m, _w in _refused(shop, consumer, method=PAYSCORE)] == ["not_authorised"]


def test_method_not_offered_at_the_site(shop: Shop) -> None:
    SitePaymentMethod.objects.filter(site=shop.device.site, method=WALLET).update(enabled=False)
    with translation.override("en"):
        assert _refused(shop, shop.shopper()) == [
            (
                "method_not_offered",
                _("This payment method is not available at this device. Please choose another."),
                WayForward.CHOOSE_METHOD,
            )
        ]


def test_every_failure_is_reported_at_once_in_chinese(shop: Shop) -> None:
    consumer = shop.shopper()
    shop.owe(consumer)
    DeviceState.objects.filter(device=shop.device).update(online=False)
    with translation.override("zh-hans"):
        failures = _refused(shop, consumer, method=PAYSCORE)
        expected_offline = _("This device is offline at the moment. Please try again later.")
    assert [(code, way) for code, _m, way in failures] == [
        ("device_offline", "try_later"),
        ("unpaid_order", "pay_debt"),
        ("not_authorised", "authorise"),
    ]
    assert failures[0][1] == expected_offline
