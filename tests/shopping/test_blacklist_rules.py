"""The blacklist by hand (add, lift, audited) and by rule (the Nth happening in the window, one entry
at a time), and the door refusing a blacklisted shopper."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from openvend.audit.models import AuditLogEntry
from openvend.core.errors import OpenVendError
from openvend.orders.models import Order
from openvend.shopping.blacklist_services import (
    blacklist_add,
    blacklist_lift,
    blacklist_rules_apply,
    count_happenings,
)
from openvend.shopping.choices import BlacklistRuleKind, BlacklistSource
from openvend.shopping.models import BlacklistEntry, BlacklistRule
from openvend.shopping.preconditions import check_preconditions
from tests.orders.conftest import COLA_G, Store, store_in
from tests.world import World

pytestmark = pytest.mark.django_db
PUT_IN = BlacklistRuleKind.FOREIGN_OBJECT


@pytest.fixture(name="store")
def _store(world_a: World) -> Store:
    return store_in(world_a, "BL-CAB1")


@pytest.fixture(name="settled")
def _settled(django_capture_on_commit_callbacks: Any) -> Callable[..., Any]:
    def run(action: Callable[[], Any]) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return action()

    return run


def _codes(store: Store, consumer: Any) -> list[str]:
    return [f.code for f in check_preconditions(device=store.device, consumer=consumer, method="wallet")]


def test_add_and_lift_by_hand(store: Store, world_a: World) -> None:
    actor = world_a.user("customer_service")
    shopper = store.shopper()
    entry = blacklist_add(actor=actor, merchant=world_a.merchant, consumer=shopper, reason="多次偷拿")
    assert (entry.source, entry.active, entry.until, entry.created_by) == (
        BlacklistSource.MANUAL,
        True,
        None,
        actor,
    )
    assert _codes(store, shopper) == ["shopper_blacklisted"]
    with pytest.raises(OpenVendError) as refused:
        blacklist_add(actor=actor, merchant=world_a.merchant, consumer=shopper, reason="again")
    assert refused.value.code == "core.conflict"

    lifted = blacklist_lift(actor=actor, entry=entry)
    assert lifted.active is False
    assert _codes(store, shopper) == []
    with pytest.raises(OpenVendError):
        blacklist_lift(actor=actor, entry=entry)
    audits = list(
        AuditLogEntry.objects.filter(object_type="shopping.blacklistentry")
        .order_by("id")
        .values_list("action", "actor", "changed_fields")
    )
    assert audits == [("create", actor.pk, []), ("update", actor.pk, ["active"])]


def test_add_refuses_a_past_end_or_no_reason(store: Store, world_a: World) -> None:
    shopper = store.shopper()
    for kwargs in (dict(reason=" "), dict(reason="x", until=timezone.now() - timedelta(minutes=1))):
        with pytest.raises(OpenVendError) as refused:
            blacklist_add(actor=None, merchant=world_a.merchant, consumer=shopper, **kwargs)  # type: ignore[arg-type]
        assert refused.value.code == "core.invalid"
    assert not BlacklistEntry.objects.exists()


def test_a_ban_until_a_date_ends_by_itself(store: Store, world_a: World) -> None:
    shopper = store.shopper()
    until = timezone.now() + timedelta(days=1)
    blacklist_add(actor=None, merchant=world_a.merchant, consumer=shopper, reason="x", until=until)
    assert (
        check_preconditions(
            device=store.device, consumer=shopper, method="wallet", now=until + timedelta(seconds=1)
        )
        == []
    )


def _put_in_visit(store: Store, settled: Callable[..., Any], shopper: Any) -> Order:
    """The shopper puts a cola into the cabinet that they did not take out in this visit."""
    session = store.start(shopper)
    settled(lambda: store.visit(session, [("s1-1", COLA_G + 0.3)]))
    return Order.objects.get(session=session)


def test_rule_triggers_on_the_nth_happening_and_not_before(
    store: Store, settled: Callable[..., Any], world_a: World
) -> None:
    rule = BlacklistRule.objects.create(
        merchant=world_a.merchant, kind=PUT_IN, threshold=2, window_days=7, ban_days=3
    )
    shopper = store.shopper()
    other = store.shopper(nickname="别人")
    _put_in_visit(store, settled, shopper)
    assert blacklist_rules_apply(merchant_id=world_a.merchant.pk, consumer=shopper, kind=PUT_IN) is None
    _put_in_visit(store, settled, other)
    assert blacklist_rules_apply(merchant_id=world_a.merchant.pk, consumer=shopper, kind=PUT_IN) is None

    assert not BlacklistEntry.objects.exists()

    _put_in_visit(store, settled, shopper)  # settling the visit applies the rule by itself
    entry = BlacklistEntry.objects.get()

    assert (entry.rule, entry.source, entry.consumer) == (
        rule,
        BlacklistSource.RULE,
        shopper,
    )
    assert entry.until is not None and timedelta(days=3) - (entry.until - timezone.now()) < timedelta(
        minutes=1
    )
    assert blacklist_rules_apply(merchant_id=world_a.merchant.pk, consumer=shopper, kind=PUT_IN) is None
    assert BlacklistEntry.objects.count() == 1
    assert _codes(store, shopper) == ["shopper_blacklisted"]
    assert _codes(store, other) == []
    assert (
        AuditLogEntry.objects.get(object_type="shopping.blacklistentry").message
        == f"blacklist rule {rule.pk}"
    )

    # Lifted, the same history does not ban again; a new offence counts from the last ban.
    blacklist_lift(actor=None, entry=entry)
    assert blacklist_rules_apply(merchant_id=world_a.merchant.pk, consumer=shopper, kind=PUT_IN) is None


def test_happenings_outside_the_window_do_not_count(store: Store, settled: Callable[..., Any]) -> None:
    shopper = store.shopper()
    order = _put_in_visit(store, settled, shopper)
    merchant_id = store.device.merchant_id
    now = timezone.now()
    assert (
        count_happenings(
            merchant_id=merchant_id, consumer=shopper, kind=PUT_IN, since=now - timedelta(days=7)
        )
        == 1
    )
    Order.objects.filter(pk=order.pk).update(created_at=now - timedelta(days=8))
    assert (
        count_happenings(
            merchant_id=merchant_id, consumer=shopper, kind=PUT_IN, since=now - timedelta(days=7)
        )
        == 0
    )


def test_inactive_rules_and_other_merchants_rules_do_nothing(
    store: Store, settled: Callable[..., Any], world_a: World, world_b: World
) -> None:
    BlacklistRule.objects.create(merchant=world_a.merchant, kind=PUT_IN, threshold=1, active=False)
    BlacklistRule.objects.create(merchant=world_b.merchant, kind=PUT_IN, threshold=1)
    shopper = store.shopper()
    _put_in_visit(store, settled, shopper)
    assert blacklist_rules_apply(merchant_id=world_a.merchant.pk, consumer=shopper, kind=PUT_IN) is None
    assert blacklist_rules_apply(merchant_id=world_b.merchant.pk, consumer=shopper, kind=PUT_IN) is None
    assert not BlacklistEntry.objects.exists()
