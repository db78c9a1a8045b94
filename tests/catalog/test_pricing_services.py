# mypy: disable-error-code="index"
"""Price rule writes: validation, the platform review flow, withdrawal, and their audit rows."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone, translation
from django.utils.translation import gettext

from openvend.audit.models import AuditLogEntry
from openvend.catalog import pricing_services as pricing
from openvend.catalog.choices import PriceScope, PriceStatus
from openvend.catalog.models import CatalogSettings, PriceRule
from openvend.core.errors import ConflictError, OpenVendError
from tests.catalog import selling_factories as make
from tests.world import World, platform_user

T0 = datetime(2025, 3, 1, tzinfo=UTC)


def _create(world: World, actor=None, **overrides):
    data = {
        "actor": actor,
        "product": overrides.pop("product", None) or make.product(world, f"P-{uuid.uuid4().hex[:8]}"),
        "scope": PriceScope.SITE,
        "site": world.sites["sh-1"],
        "price_fen": 300,
        "effective_from": T0,
    }
    data.update(overrides)
    return pricing.price_rule_create(**data)


def _need_review(world: World, admin) -> None:
    pricing.catalog_settings_update(actor=admin, merchant=world.merchant, price_changes_need_review=True)


def test_create_is_active_and_audited(world_a: World) -> None:
    manager = world_a.user("store_manager")
    rule = _create(world_a, manager, member_price_fen=280, note="开业价")
    assert (rule.status, rule.price_fen, rule.member_price_fen, rule.created_by_id) == (
        PriceStatus.ACTIVE,
        300,
        280,
        manager.pk,
    )
    entry = AuditLogEntry.objects.get(
        action="create", object_type="catalog.pricerule", object_id=str(rule.pk)
    )
    assert entry.actor_id == manager.pk
    assert entry.after["price_fen"] == 300
    assert entry.after["status"] == "active"
    assert entry.merchant_id == world_a.merchant.pk


BAD = [
    ({"scope": PriceScope.SITE, "site": None}, "catalog.price_bad_target", "site"),
    ({"scope": PriceScope.MERCHANT}, "catalog.price_bad_target", "site"),  # site given for merchant
    ({"scope": PriceScope.DEVICE}, "catalog.price_bad_target", "site"),
    ({"scope": "planet"}, "catalog.price_bad_target", "scope"),
    ({"price_fen": -1}, "catalog.price_bad_amount", "price_fen"),
    ({"price_fen": 3.5}, "catalog.price_bad_amount", "price_fen"),
    ({"member_price_fen": -5}, "catalog.price_bad_amount", "member_price_fen"),
    ({"member_price_fen": 301}, "catalog.price_bad_amount", "member_price_fen"),
    ({"effective_to": T0}, "catalog.price_bad_period", "effective_to"),
    ({"effective_to": T0 - timedelta(days=1)}, "catalog.price_bad_period", "effective_to"),
]


@pytest.mark.parametrize(("overrides", "code", "field"), BAD)
def test_bad_input_is_refused_and_changes_nothing(world_a: World, overrides, code, field) -> None:
    item = make.product(world_a, "BAD")
    audit_before = AuditLogEntry.objects.count()
    with pytest.raises(OpenVendError) as caught:
        _create(world_a, world_a.user("merchant_admin"), product=item, **overrides)
    assert caught.value.code == code
    assert field in caught.value.fields
    assert PriceRule.objects.count() == 0
    assert AuditLogEntry.objects.count() == audit_before


def test_targets_of_another_merchant_are_refused(world_a: World, world_b: World) -> None:
    admin = world_a.user("merchant_admin")
    theirs = make.product(world_b, "THEIRS")
    their_device = make.cabinet(world_b, "PR-B1")
    with pytest.raises(OpenVendError) as caught:
        _create(world_a, admin, product=theirs)
    assert (caught.value.code, list(caught.value.fields)) == ("catalog.price_foreign_reference", ["product"])
    with pytest.raises(OpenVendError) as caught:
        _create(world_a, admin, site=world_b.sites["sh-1"])
    assert list(caught.value.fields) == ["site"]
    with pytest.raises(OpenVendError) as caught:
        _create(world_a, admin, scope=PriceScope.DEVICE, site=None, device=their_device)
    assert list(caught.value.fields) == ["device"]
    assert PriceRule.objects.count() == 0


def test_scoped_staff_price_only_inside_their_scope(world_a: World) -> None:
    manager = world_a.user("store_manager")  # scoped to 上海徐汇: sites sh-1, sh-2
    south_device = make.cabinet(world_a, "PR-SZ", site="sz-1")
    with pytest.raises(OpenVendError) as caught:
        _create(world_a, manager, site=world_a.sites["sz-1"])
    assert (caught.value.code, list(caught.value.fields)) == ("catalog.price_out_of_scope", ["site"])
    with pytest.raises(OpenVendError) as caught:
        _create(world_a, manager, scope=PriceScope.DEVICE, site=None, device=south_device)
    assert list(caught.value.fields) == ["device"]
    with pytest.raises(OpenVendError) as caught:
        _create(world_a, manager, scope=PriceScope.MERCHANT, site=None)
    assert (caught.value.code, list(caught.value.fields)) == ("catalog.price_out_of_scope", ["scope"])
    assert PriceRule.objects.count() == 0
    # The merchant administrator sees everything and may price the whole merchant.
    assert _create(world_a, world_a.user("merchant_admin"), scope=PriceScope.MERCHANT, site=None).pk


def test_review_flow_approve_and_reject_with_audit(world_a: World, platform_admin) -> None:
    _need_review(world_a, platform_admin)
    settings_row = CatalogSettings.objects.get(merchant=world_a.merchant)
    entry = AuditLogEntry.objects.get(object_type="catalog.catalogsettings", object_id=str(settings_row.pk))
    assert (entry.action, entry.after["price_changes_need_review"]) == ("create", True)

    manager = world_a.user("store_manager")
    to_approve = _create(world_a, manager, price_fen=320)
    to_reject = _create(world_a, manager, price_fen=5)
    assert to_approve.status == to_reject.status == PriceStatus.PENDING

    pricing.price_rule_approve(actor=platform_admin, rule=to_approve, note="ok")
    to_approve.refresh_from_db()
    assert (to_approve.status, to_approve.reviewed_by_id, to_approve.review_note) == (
        PriceStatus.ACTIVE,
        platform_admin.pk,
        "ok",
    )
    assert to_approve.reviewed_at is not None
    review = AuditLogEntry.objects.filter(
        object_type="catalog.pricerule", object_id=str(to_approve.pk), action="review"
    ).get()
    assert (review.before["status"], review.after["status"]) == ("pending", "active")
    assert review.actor_id == platform_admin.pk
    assert review.merchant_id == world_a.merchant.pk
    assert "status" in review.changed_fields

    # Messages come in the active language; pin it rather than inherit it from earlier tests.
    with translation.override("zh-hans"):
        with pytest.raises(OpenVendError) as caught:
            pricing.price_rule_reject(actor=platform_admin, rule=to_reject, note="  ")
        assert caught.value.fields == {"note": [gettext("Required when rejecting.")]}
    pricing.price_rule_reject(actor=platform_admin, rule=to_reject, note="价格过低")
    to_reject.refresh_from_db()
    assert (to_reject.status, to_reject.review_note) == (PriceStatus.REJECTED, "价格过低")
    review = AuditLogEntry.objects.filter(
        object_type="catalog.pricerule", object_id=str(to_reject.pk), action="review"
    ).get()
    assert (review.before["status"], review.after["status"]) == ("pending", "rejected")

    # Decided rules cannot be decided again.
    for decide in (pricing.price_rule_approve, pricing.price_rule_reject):
        with pytest.raises(ConflictError):
            decide(actor=platform_admin, rule=to_reject, note="again")


def test_only_platform_reviewers_review_and_only_platform_admins_set_the_policy(
    world_a: World, platform_admin
) -> None:
    _need_review(world_a, platform_admin)
    pending = _create(world_a, world_a.user("merchant_admin"))
    merchant_admin = world_a.user("merchant_admin")
    with pytest.raises(OpenVendError) as caught:
        pricing.price_rule_approve(actor=merchant_admin, rule=pending)
    assert caught.value.code == "catalog.price_not_reviewer"
    reviewer = platform_user("platform_reviewer")
    for actor in (merchant_admin, reviewer):
        with pytest.raises(OpenVendError) as caught:
            pricing.catalog_settings_update(
                actor=actor, merchant=world_a.merchant, price_changes_need_review=False
            )
        assert caught.value.code == "catalog.price_not_reviewer"
    pending.refresh_from_db()
    assert pending.status == PriceStatus.PENDING
    assert CatalogSettings.objects.get(merchant=world_a.merchant).price_changes_need_review is True
    # The merchant reviewer role does review prices.
    pricing.price_rule_approve(actor=reviewer, rule=pending)
    pending.refresh_from_db()
    assert (pending.status, pending.reviewed_by_id) == (PriceStatus.ACTIVE, reviewer.pk)


def test_withdraw_keeps_history_and_only_pending_rules_are_edited_or_deleted(
    world_a: World, platform_admin
) -> None:
    admin = world_a.user("merchant_admin")
    active = _create(world_a, admin)
    with pytest.raises(ConflictError) as conflict:
        pricing.price_rule_update(actor=admin, rule=active, data={"price_fen": 1})
    assert conflict.value.code == "catalog.price_rule_state"
    with pytest.raises(ConflictError):
        pricing.price_rule_delete(actor=admin, rule=active)
    active.refresh_from_db()
    assert active.price_fen == 300

    pricing.price_rule_withdraw(actor=admin, rule=active, note="换季")
    active.refresh_from_db()
    # In force already, so it is ended now rather than erased: the past keeps its price.
    assert (active.status, active.note, active.price_fen) == (PriceStatus.ACTIVE, "换季", 300)
    assert active.effective_to is not None and active.effective_to <= timezone.now()
    entry = AuditLogEntry.objects.filter(
        object_type="catalog.pricerule", object_id=str(active.pk), action="update"
    ).latest("id")
    assert (entry.before["effective_to"], entry.after["effective_to"]) == (
        None,
        active.effective_to.isoformat(),
    )
    with pytest.raises(ConflictError):
        pricing.price_rule_withdraw(actor=admin, rule=active)

    _need_review(world_a, platform_admin)
    pending = _create(world_a, admin)
    pricing.price_rule_update(actor=admin, rule=pending, data={"price_fen": 299, "note": "改"})
    pending.refresh_from_db()
    assert (pending.price_fen, pending.status) == (299, PriceStatus.PENDING)
    entry = AuditLogEntry.objects.filter(
        object_type="catalog.pricerule", object_id=str(pending.pk), action="update"
    ).latest("id")
    assert (entry.before["price_fen"], entry.after["price_fen"]) == (300, 299)
    with pytest.raises(OpenVendError) as caught:
        pricing.price_rule_update(actor=admin, rule=pending, data={"member_price_fen": 400})
    assert caught.value.code == "catalog.price_bad_amount"
    with pytest.raises(OpenVendError) as caught:
        pricing.price_rule_update(actor=admin, rule=pending, data={"site": world_a.sites["sh-2"]})
    assert list(caught.value.fields) == ["site"]
    pending.refresh_from_db()
    assert (pending.price_fen, pending.member_price_fen, pending.site_id) == (
        299,
        None,
        world_a.sites["sh-1"].pk,
    )

    pricing.price_rule_delete(actor=admin, rule=pending)
    assert not PriceRule.objects.filter(pk=pending.pk).exists()
    assert (
        AuditLogEntry.objects.filter(
            object_type="catalog.pricerule", object_id=str(pending.pk), action="delete"
        )
        .get()
        .before["price_fen"]
        == 299
    )


def test_turning_review_off_leaves_waiting_rules_waiting(world_a: World, platform_admin) -> None:
    _need_review(world_a, platform_admin)
    waiting = _create(world_a)
    pricing.catalog_settings_update(
        actor=platform_admin, merchant=world_a.merchant, price_changes_need_review=False
    )
    waiting.refresh_from_db()
    assert waiting.status == PriceStatus.PENDING
    assert _create(world_a).status == PriceStatus.ACTIVE
    row = CatalogSettings.objects.get(merchant=world_a.merchant)
    entry = AuditLogEntry.objects.filter(
        object_type="catalog.catalogsettings", object_id=str(row.pk), action="update"
    ).get()
    assert (entry.before["price_changes_need_review"], entry.after["price_changes_need_review"]) == (
        True,
        False,
    )


def test_state_refusals_are_whole_translatable_sentences(world_a: World, platform_admin) -> None:
    admin = world_a.user("merchant_admin")
    _need_review(world_a, platform_admin)
    rejected = _create(world_a, admin)
    pricing.price_rule_reject(actor=platform_admin, rule=rejected, note="too low")
    withdrawn = _create(world_a, admin)
    pricing.price_rule_withdraw(actor=admin, rule=withdrawn)
    cases: list[tuple[Callable[..., PriceRule], dict[str, Any], str, str]] = [
        (pricing.price_rule_approve, {"actor": platform_admin, "rule": rejected}, "approve", "Rejected"),
        (
            pricing.price_rule_reject,
            {"actor": platform_admin, "rule": withdrawn, "note": "x"},
            "reject",
            "Withdrawn",
        ),
        (pricing.price_rule_withdraw, {"actor": admin, "rule": rejected}, "withdraw", "Rejected"),
    ]
    before = list(PriceRule.objects.order_by("pk").values_list())
    for language in ("en", "zh-hans"):
        for decide, kwargs, verb, status in cases:
            with translation.override(language):
                with pytest.raises(ConflictError) as caught:
                    decide(**kwargs)
                # One msgid per action: the verb is translated with its sentence, never spliced in.
                expected = gettext(f"Cannot {verb} a price rule that is %(status)s.") % {
                    "status": gettext(status)
                }
            assert (caught.value.code, caught.value.message) == ("catalog.price_rule_state", expected)
            if language == "en":
                assert expected == f"Cannot {verb} a price rule that is {status}."
    assert list(PriceRule.objects.order_by("pk").values_list()) == before


def test_approving_a_decided_rule_whose_period_is_over_is_a_state_refusal(
    world_a: World, platform_admin
) -> None:
    admin = world_a.user("merchant_admin")
    _need_review(world_a, platform_admin)
    over = {"effective_from": T0, "effective_to": T0 + timedelta(days=1)}
    rejected = _create(world_a, admin, **over)
    pricing.price_rule_reject(actor=platform_admin, rule=rejected, note="too late")
    pending = _create(world_a, admin, **over)
    before = list(PriceRule.objects.order_by("pk").values_list())
    reviews = AuditLogEntry.objects.filter(object_type="catalog.pricerule", action="review").count()
    with translation.override("en"), pytest.raises(ConflictError) as caught:
        pricing.price_rule_approve(actor=platform_admin, rule=rejected)
    assert (caught.value.code, caught.value.message) == (
        "catalog.price_rule_state",
        "Cannot approve a price rule that is Rejected.",
    )
    # Still pending, its period over: that is what the refusal says.
    with translation.override("en"), pytest.raises(ConflictError) as caught:
        pricing.price_rule_approve(actor=platform_admin, rule=pending)
    assert (caught.value.code, caught.value.message) == (
        "catalog.price_period_passed",
        "This price's period is already over; it can only be rejected.",
    )
    assert list(PriceRule.objects.order_by("pk").values_list()) == before
    assert AuditLogEntry.objects.filter(object_type="catalog.pricerule", action="review").count() == reviews
