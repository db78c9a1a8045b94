"""Business hours of a site: outside them a shopper is told when the cabinet opens and nothing opens;
a window may cross midnight; no hours means always open."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone, translation

from openvend.merchants.models import Site
from openvend.shopping.choices import WayForward
from openvend.shopping.errors import PreconditionsFailed
from openvend.shopping.models import ShoppingSession
from openvend.shopping.preconditions import check_preconditions
from openvend.shopping.services import session_start
from tests.shopping.conftest import WALLET, Shop

pytestmark = pytest.mark.django_db


def _at(hour: int, minute: int = 0) -> datetime:
    """An instant on the site's wall clock (Asia/Shanghai)."""
    return timezone.make_aware(datetime(2026, 3, 2, hour, minute))


def _hours(shop: Shop, opens: time | None, closes: time | None) -> None:
    Site.objects.filter(pk=shop.device.site_id).update(opens_at=opens, closes_at=closes)
    shop.device.site.refresh_from_db()


def _codes(shop: Shop, now: datetime) -> list[str]:
    failures = check_preconditions(device=shop.device, consumer=shop.shopper(), method=WALLET, now=now)
    return [failure.code for failure in failures]


def test_outside_the_hours_says_when_the_cabinet_opens(shop: Shop) -> None:
    _hours(shop, time(9, 0), time(21, 30))
    with translation.override("en"):
        [failure] = check_preconditions(
            device=shop.device, consumer=shop.shopper(), method=WALLET, now=_at(22)
        )
    assert (failure.code, failure.way_forward) == ("outside_business_hours", WayForward.TRY_LATER)
    assert failure.message == "This cabinet is open from 09:00 to 21:30. Please come back at 09:00."


@pytest.mark.parametrize(
    ("hour", "minute", "open_"),
    [(8, 59, False), (9, 0, True), (12, 0, True), (21, 29, True), (21, 30, False), (3, 0, False)],
)
def test_a_daytime_window(shop: Shop, hour: int, minute: int, open_: bool) -> None:
    _hours(shop, time(9, 0), time(21, 30))
    assert _codes(shop, _at(hour, minute)) == ([] if open_ else ["outside_business_hours"])


@pytest.mark.parametrize(
    ("hour", "minute", "open_"),
    [
        (22, 0, True),
        (23, 59, True),
        (0, 0, True),
        (5, 59, True),
        (6, 0, False),
        (12, 0, False),
        (21, 59, False),
    ],
)
def test_a_window_across_midnight(shop: Shop, hour: int, minute: int, open_: bool) -> None:
    _hours(shop, time(22, 0), time(6, 0))
    assert _codes(shop, _at(hour, minute)) == ([] if open_ else ["outside_business_hours"])


def test_no_hours_is_always_open(shop: Shop) -> None:
    _hours(shop, None, None)
    assert [_codes(shop, _at(hour)) for hour in (0, 6, 12, 23)] == [[], [], [], []]


def test_the_hours_are_the_sites_local_time(shop: Shop) -> None:
    _hours(shop, time(9, 0), time(21, 0))
    utc_1am = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
    assert _codes(shop, utc_1am) == []
    assert _codes(shop, utc_1am - timedelta(minutes=1)) == ["outside_business_hours"]


def test_session_start_is_refused_outside_the_hours(shop: Shop) -> None:
    now = timezone.localtime()
    _hours(shop, (now + timedelta(hours=2)).time(), (now + timedelta(hours=3)).time())
    with pytest.raises(PreconditionsFailed) as caught:
        session_start(consumer=shop.shopper(), device=shop.device, method=WALLET)
    assert [f.code for f in caught.value.failures] == ["outside_business_hours"]
    assert not ShoppingSession.objects.exists()


def test_both_times_or_neither(shop: Shop) -> None:
    site = shop.device.site
    site.opens_at, site.closes_at = time(9, 0), None
    with pytest.raises(ValidationError):
        site.full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        Site.objects.filter(pk=site.pk).update(opens_at=time(9, 0), closes_at=time(9, 0))
    site.refresh_from_db()
    assert (site.opens_at, site.closes_at) == (None, None)
