"""`price_for`: which price applies across overlapping scene prices and periods, in exact fen."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openvend.catalog import pricing_services as pricing
from openvend.catalog.choices import PriceScope, PriceStatus
from openvend.catalog.models import PriceRule
from openvend.catalog.selectors import PriceQuote, price_for, prices_for
from openvend.core.errors import OpenVendError
from tests.catalog import selling_factories as make
from tests.world import World

T0 = datetime(2025, 3, 1, tzinfo=UTC)
TICK = timedelta(microseconds=1)


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def rule(
    world: World, item: Any, scope: str, price: int, start: datetime, end: datetime | None = None, **kw: Any
):
    return pricing.price_rule_create(
        actor=None,
        product=item,
        scope=scope,
        price_fen=price,
        effective_from=start,
        effective_to=end,
        **kw,
    )


@pytest.fixture
def timeline(world_a: World) -> dict[str, Any]:
    """default 350; merchant 330 from day 1; site sh-1 300 on days 3–10; device 280 (member 260)
    on days 5–7; a second sh-1 price 290 from day 4 overlapping the first; sh-1 310 on day 11."""
    cola = make.product(world_a, "COLA", price_fen=350)
    here = make.cabinet(world_a, "PR-HERE", site="sh-1")
    elsewhere = make.cabinet(world_a, "PR-SZ", site="sz-1")
    neighbour = make.cabinet(world_a, "PR-NEXT", site="sh-1")
    sh1 = world_a.sites["sh-1"]
    rules = {
        "merchant": rule(world_a, cola, PriceScope.MERCHANT, 330, day(1)),
        "site_a": rule(world_a, cola, PriceScope.SITE, 300, day(3), day(10), site=sh1),
        "device": rule(
            world_a, cola, PriceScope.DEVICE, 280, day(5), day(7), device=here, member_price_fen=260
        ),
        "site_b": rule(world_a, cola, PriceScope.SITE, 290, day(4), site=sh1),
        "site_c": rule(world_a, cola, PriceScope.SITE, 310, day(11), day(12), site=sh1),
    }
    return {"cola": cola, "here": here, "elsewhere": elsewhere, "neighbour": neighbour, "rules": rules}


# (instant, price on the priced device, source, winning rule name)
EXPECTED = [
    (day(0), 350, "default", None),
    (day(1) - TICK, 350, "default", None),
    (day(1), 330, "merchant", "merchant"),  # from is inclusive
    (day(2), 330, "merchant", "merchant"),
    (day(3) - TICK, 330, "merchant", "merchant"),
    (day(3), 300, "site", "site_a"),
    (day(4) - TICK, 300, "site", "site_a"),
    (day(4), 290, "site", "site_b"),  # overlapping site prices: the later effective_from wins
    (day(5) - TICK, 290, "site", "site_b"),
    (day(5), 280, "device", "device"),  # the device scene price beats every site price
    (day(6.5), 280, "device", "device"),
    (day(7) - TICK, 280, "device", "device"),
    (day(7), 290, "site", "site_b"),  # to is exclusive
    (day(10) - TICK, 290, "site", "site_b"),
    (day(10), 290, "site", "site_b"),
    (day(11), 310, "site", "site_c"),
    (day(12) - TICK, 310, "site", "site_c"),
    (day(12), 290, "site", "site_b"),  # a later short price ends: the open-ended one resumes
    (day(400), 290, "site", "site_b"),
]


@pytest.mark.parametrize(("at", "price", "source", "winner"), EXPECTED)
def test_price_across_overlapping_scene_prices(timeline: dict, at: datetime, price: int, source: str, winner):
    quote = price_for(timeline["here"], timeline["cola"], at)
    rule_id = timeline["rules"][winner].pk if winner else None
    assert quote == PriceQuote(price_fen=price, list_price_fen=price, source=source, rule_id=rule_id)


def test_other_devices_follow_their_own_site_and_the_merchant(timeline: dict) -> None:
    cola = timeline["cola"]
    # Another site: only the merchant price applies.
    assert price_for(timeline["elsewhere"], cola, day(5)).price_fen == 330
    assert price_for(timeline["elsewhere"], cola, day(0)).price_fen == 350
    # Same site, other device: the site price, never the first device's price.
    assert price_for(timeline["neighbour"], cola, day(5)) == PriceQuote(
        290, 290, "site", timeline["rules"]["site_b"].pk
    )


def test_member_prices_come_from_the_winning_rule_only(timeline: dict) -> None:
    here, cola = timeline["here"], timeline["cola"]
    assert price_for(here, cola, day(6), member=True) == PriceQuote(
        price_fen=260, list_price_fen=280, source="device", rule_id=timeline["rules"]["device"].pk
    )
    # The site price has no member price: members pay it too.
    assert price_for(here, cola, day(8), member=True) == PriceQuote(
        290, 290, "site", timeline["rules"]["site_b"].pk
    )
    assert price_for(here, cola, day(0), member=True) == PriceQuote(350, 350, "default", None)


def test_a_device_price_without_member_price_does_not_fall_back_to_a_cheaper_member_price(
    world_a: World,
) -> None:
    tea = make.product(world_a, "TEA", price_fen=500)
    cabinet = make.cabinet(world_a, "PR-MEM")
    rule(world_a, tea, PriceScope.MERCHANT, 450, day(0), member_price_fen=300)
    device_rule = rule(world_a, tea, PriceScope.DEVICE, 400, day(0), device=cabinet)
    assert price_for(cabinet, tea, day(1), member=True) == PriceQuote(400, 400, "device", device_rule.pk)


def test_same_start_the_newest_rule_wins(world_a: World) -> None:
    tea = make.product(world_a, "TEA", price_fen=500)
    cabinet = make.cabinet(world_a, "PR-TIE")
    rule(world_a, tea, PriceScope.MERCHANT, 420, day(1))
    newest = rule(world_a, tea, PriceScope.MERCHANT, 410, day(1))
    assert price_for(cabinet, tea, day(1)) == PriceQuote(410, 410, "merchant", newest.pk)


def test_pending_rejected_and_withdrawn_rules_price_nothing(world_a: World, platform_admin) -> None:
    tea = make.product(world_a, "TEA", price_fen=500)
    cabinet = make.cabinet(world_a, "PR-REV")
    active = rule(world_a, tea, PriceScope.MERCHANT, 480, day(0))
    pricing.catalog_settings_update(
        actor=platform_admin, merchant=world_a.merchant, price_changes_need_review=True
    )
    pending = rule(world_a, tea, PriceScope.DEVICE, 450, day(1), device=cabinet)
    rejected = rule(world_a, tea, PriceScope.DEVICE, 1, day(1), device=cabinet)
    assert pending.status == rejected.status == PriceStatus.PENDING
    pricing.price_rule_reject(actor=platform_admin, rule=rejected, note="typo")
    assert price_for(cabinet, tea, day(2)) == PriceQuote(480, 480, "merchant", active.pk)

    before_approval = timezone.now()
    approved = pricing.price_rule_approve(actor=platform_admin, rule=pending)
    # Approval never reprices the past: the backdated start moves to the approval instant.
    assert before_approval <= approved.effective_from <= timezone.now()
    assert price_for(cabinet, tea, day(2)) == PriceQuote(480, 480, "merchant", active.pk)
    in_force = approved.effective_from + TICK
    assert price_for(cabinet, tea, in_force) == PriceQuote(450, 450, "device", pending.pk)

    withdrawn = pricing.price_rule_withdraw(actor=None, rule=pending)
    # Withdrawing a rule in force ends it now; the quotes it gave while in force stay as they were.
    assert (withdrawn.status, withdrawn.effective_to is not None) == (PriceStatus.ACTIVE, True)
    assert price_for(cabinet, tea, in_force) == PriceQuote(450, 450, "device", pending.pk)
    assert price_for(cabinet, tea, timezone.now() + timedelta(days=1)) == PriceQuote(
        480, 480, "merchant", active.pk
    )


def test_a_track_price_beats_every_rule_members_included(world_a: World) -> None:
    water = make.product(world_a, "WATER", price_fen=200)
    machine = make.vending_machine(world_a, "VM-1")
    priced = make.track(machine, 1, water, price_fen=250)
    unpriced = make.track(machine, 2, water, price_fen=None)
    device_rule = rule(world_a, water, PriceScope.DEVICE, 180, day(0), device=machine, member_price_fen=150)
    assert price_for(machine, water, day(1), track=priced) == PriceQuote(250, 250, "track", None)
    assert price_for(machine, water, day(1), member=True, track=priced) == PriceQuote(250, 250, "track", None)
    # A track without its own price follows the catalog.
    assert price_for(machine, water, day(1), member=True, track=unpriced) == PriceQuote(
        150, 180, "device", device_rule.pk
    )


def test_a_free_track_price_of_zero_is_a_price(world_a: World) -> None:
    water = make.product(world_a, "WATER", price_fen=200)
    machine = make.vending_machine(world_a, "VM-0")
    assert price_for(machine, water, day(1), track=make.track(machine, 1, water, price_fen=0)).price_fen == 0


def test_another_merchants_product_or_track_is_refused(world_a: World, world_b: World) -> None:
    theirs = make.product(world_b, "COLA")
    cabinet = make.cabinet(world_a, "PR-MINE")
    with pytest.raises(OpenVendError) as caught:
        price_for(cabinet, theirs, day(1))
    assert caught.value.code == "catalog.price_foreign_reference"

    mine = make.product(world_a, "COLA")
    other_machine = make.vending_machine(world_a, "VM-OTHER")
    machine = make.vending_machine(world_a, "VM-MINE")
    foreign_track = make.track(other_machine, 1, mine, price_fen=1)
    with pytest.raises(OpenVendError) as caught:
        price_for(machine, mine, day(1), track=foreign_track)
    assert caught.value.code == "catalog.price_foreign_reference"


def test_a_visits_products_are_priced_together_exactly_as_one_by_one(timeline: dict, world_a: World) -> None:
    """A device price for one product must not leak to another: each gets its own winner."""
    here, cola = timeline["here"], timeline["cola"]
    tea = make.product(world_a, "TEA", price_fen=500)
    water = make.product(world_a, "WATER", price_fen=200)  # no rule at all: its default
    tea_rule = rule(world_a, tea, PriceScope.MERCHANT, 450, day(2))
    at = day(6)
    with CaptureQueriesContext(connection) as together:
        quotes = prices_for(here, [cola, tea, water], at)
    assert len(together) == 1
    assert quotes == {
        cola.pk: PriceQuote(280, 280, "device", timeline["rules"]["device"].pk),
        tea.pk: PriceQuote(450, 450, "merchant", tea_rule.pk),
        water.pk: PriceQuote(200, 200, "default", None),
    }
    assert quotes == {item.pk: price_for(here, item, at) for item in (cola, tea, water)}


def test_pricing_together_refuses_another_merchants_product(world_a: World, world_b: World) -> None:
    mine, theirs = make.product(world_a, "COLA"), make.product(world_b, "COLA")
    cabinet = make.cabinet(world_a, "PR-BOTH")
    with pytest.raises(OpenVendError) as caught:
        prices_for(cabinet, [mine, theirs], day(1))
    assert caught.value.code == "catalog.price_foreign_reference"


# --- property: the answer only depends on rules whose period contains the instant --------------

HOURS = st.integers(min_value=0, max_value=96)
RULES = st.lists(
    st.tuples(
        st.sampled_from([PriceScope.MERCHANT, PriceScope.SITE, PriceScope.DEVICE]),
        HOURS,
        st.one_of(st.none(), st.integers(min_value=1, max_value=48)),
        st.integers(min_value=0, max_value=999),
    ),
    max_size=6,
)


def _oracle(rules: list[tuple[int, str, datetime, datetime | None, int]], at: datetime, default: int):
    live = [r for r in rules if r[2] <= at and (r[3] is None or at < r[3])]
    for level in (PriceScope.DEVICE, PriceScope.SITE, PriceScope.MERCHANT):
        same = [r for r in live if r[1] == level]
        if same:
            best = max(same, key=lambda r: (r[2], r[0]))
            return best[4], best[0]
    return default, None


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rules=RULES, at_hour=st.integers(min_value=0, max_value=150), outsider=st.tuples(HOURS, st.booleans()))
def test_property_rules_not_covering_the_instant_never_matter(
    world_a: World, rules, at_hour, outsider
) -> None:
    item = make.product(world_a, "PROP") if not hasattr(world_a, "_prop") else world_a._prop  # type: ignore[attr-defined]
    if not hasattr(world_a, "_prop"):
        world_a._prop = item  # type: ignore[attr-defined]
        world_a._prop_device = make.cabinet(world_a, "PR-PROP")  # type: ignore[attr-defined]
    device = world_a._prop_device  # type: ignore[attr-defined]
    at = T0 + timedelta(hours=at_hour)
    with transaction.atomic():
        made = []
        for scope, start_h, length_h, price in rules:
            start = T0 + timedelta(hours=start_h)
            end = start + timedelta(hours=length_h) if length_h else None
            target = {"site": device.site} if scope == PriceScope.SITE else {}
            if scope == PriceScope.DEVICE:
                target = {"device": device}
            created = rule(world_a, item, scope, price, start, end, **target)
            made.append((created.pk, scope, start, end, price))
        expected_price, expected_rule = _oracle(made, at, item.default_price_fen)
        quote = price_for(device, item, at)
        assert (quote.price_fen, quote.rule_id) == (expected_price, expected_rule)

        # A device price that ends at `at` or starts after it changes nothing.
        hours, after = outsider
        if after:
            start, end = at + timedelta(hours=hours) + TICK, None
        else:
            start, end = at - timedelta(hours=hours + 1), at
        rule(world_a, item, PriceScope.DEVICE, 1, start, end, device=device)
        assert price_for(device, item, at) == quote
        transaction.set_rollback(True)
    assert not PriceRule.objects.filter(product=item).exists()


def test_a_track_that_sells_another_product_is_refused(world_a: World) -> None:
    water, cola = make.product(world_a, "WATER", price_fen=200), make.product(world_a, "COLA", price_fen=350)
    machine = make.vending_machine(world_a, "VM-X")
    water_track = make.track(machine, 1, water, price_fen=250)
    with pytest.raises(OpenVendError) as refused:
        price_for(machine, cola, day(1), track=water_track)
    assert refused.value.code == "catalog.track_product_mismatch"
