"""Planogram versions: drafts, draft-only edits, activation and the version in force at any instant."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from openvend.audit.models import AuditLogEntry
from openvend.core.errors import OpenVendError
from openvend.devices.models import DeviceKind
from openvend.inventory.models import Planogram, PlanogramSlot
from openvend.inventory.planogram_selectors import planogram_in_force
from openvend.inventory.planogram_services import (
    planogram_activate,
    planogram_draft_create,
    planogram_draft_delete,
    planogram_slot_add,
    planogram_slot_remove,
    planogram_slot_update,
)
from tests.devices.factories import activated_device
from tests.inventory.planogram_factories import product, vending_machine

pytestmark = pytest.mark.django_db

T0 = timezone.now().replace(microsecond=0) - timedelta(days=10)


def _at(moment):
    return mock.patch("openvend.inventory.planogram_services.timezone.now", return_value=moment)


def _slot_rows(planogram):
    return list(
        planogram.slots.order_by("shelf", "id").values_list(
            "shelf", "sensors", "product__sku", "capacity", "par_level"
        )
    )


@pytest.fixture
def cabinet(world_a):
    device, _secret = activated_device(world_a, "PLAN-0001")
    return device


@pytest.fixture
def admin(world_a):
    return world_a.user("merchant_admin")


def test_versions_supersede_each_other_and_history_answers_any_instant(world_a, cabinet, admin):
    cola, chips = product(world_a, "COLA", "355.00", "3.00"), product(world_a, "CHIPS", "70.00", "2.00")
    v1 = planogram_draft_create(actor=admin, device=cabinet, note="opening layout")
    assert (v1.version, v1.status, v1.effective_from, v1.effective_to) == (1, "draft", None, None)
    planogram_slot_add(
        actor=admin, planogram=v1, shelf=1, sensors=["s1-1", "s1-2"], product=cola, capacity=8, par_level=6
    )
    planogram_slot_add(
        actor=admin, planogram=v1, shelf=2, sensors=["s2-1"], product=chips, capacity=10, par_level=10
    )
    assert planogram_in_force(cabinet, T0) is None
    with _at(T0):
        planogram_activate(actor=admin, planogram=v1)
    v1.refresh_from_db()
    assert (v1.status, v1.effective_from, v1.effective_to) == ("active", T0, None)

    v2 = planogram_draft_create(actor=admin, device=cabinet, copy_in_force=True)
    assert (v2.version, v2.status) == (2, "draft")
    assert (
        _slot_rows(v2)
        == _slot_rows(v1)
        == [
            (1, ["s1-1", "s1-2"], "COLA", 8, 6),
            (2, ["s2-1"], "CHIPS", 10, 10),
        ]
    )
    t1 = T0 + timedelta(days=3)
    with _at(t1):
        planogram_activate(actor=admin, planogram=v2)
    v1.refresh_from_db()
    v2.refresh_from_db()
    assert (v1.status, v1.effective_from, v1.effective_to) == ("superseded", T0, t1)
    assert (v2.status, v2.effective_from, v2.effective_to) == ("active", t1, None)
    assert v1.effective_to == v2.effective_from

    assert planogram_in_force(cabinet, T0 - timedelta(seconds=1)) is None
    assert planogram_in_force(cabinet, T0) == v1
    assert planogram_in_force(cabinet, t1 - timedelta(microseconds=1)) == v1
    assert planogram_in_force(cabinet, t1) == v2
    assert planogram_in_force(cabinet, t1 + timedelta(days=400)) == v2
    assert planogram_in_force(cabinet) == v2
    # A draft is never in force, whatever its number.
    v3 = planogram_draft_create(actor=admin, device=cabinet)
    assert v3.version == 3
    assert planogram_in_force(cabinet) == v2


def test_every_step_is_audited_with_before_and_after(world_a, cabinet, admin):
    chips = product(world_a, "CHIPS", "70.00")
    v1 = planogram_draft_create(actor=admin, device=cabinet)
    created = AuditLogEntry.objects.get(
        object_type="inventory.planogram", object_id=str(v1.pk), action="create"
    )
    assert (created.actor_id, created.merchant_id, created.after["version"], created.after["slots"]) == (
        admin.pk,
        world_a.merchant.pk,
        1,
        [],
    )
    slot = planogram_slot_add(
        actor=admin, planogram=v1, shelf=1, sensors=["s1-1"], product=chips, capacity=5, par_level=4
    )
    entry = AuditLogEntry.objects.get(
        object_type="inventory.planogramslot", object_id=str(slot.pk), action="create"
    )
    assert entry.after == {
        "id": slot.pk,
        "planogram": v1.pk,
        "shelf": 1,
        "sensors": ["s1-1"],
        "product": chips.pk,
        "capacity": 5,
        "par_level": 4,
    }
    assert entry.merchant_id == world_a.merchant.pk
    planogram_slot_update(actor=admin, slot=slot, data={"capacity": 9, "par_level": 9})
    entry = AuditLogEntry.objects.get(
        object_type="inventory.planogramslot", object_id=str(slot.pk), action="update"
    )
    assert (entry.before["capacity"], entry.after["capacity"], sorted(entry.changed_fields)) == (
        5,
        9,
        ["capacity", "par_level"],
    )
    planogram_activate(actor=admin, planogram=v1)
    entry = AuditLogEntry.objects.filter(
        object_type="inventory.planogram", object_id=str(v1.pk), action="update"
    ).latest("id")
    assert (entry.before["status"], entry.after["status"], entry.message) == ("draft", "active", "activated")
    assert entry.before["effective_from"] is None and entry.after["effective_from"] is not None
    v2 = planogram_draft_create(actor=admin, device=cabinet, copy_from=v1)
    slot2 = v2.slots.get()
    planogram_slot_remove(actor=admin, slot=slot2)
    entry = AuditLogEntry.objects.get(
        object_type="inventory.planogramslot", object_id=str(slot2.pk), action="delete"
    )
    assert entry.before["capacity"] == 9 and entry.after is None
    planogram_activate_refused = AuditLogEntry.objects.count()
    with pytest.raises(OpenVendError) as refused:
        planogram_activate(actor=admin, planogram=v2)
    assert refused.value.code == "inventory.planogram_empty"
    assert AuditLogEntry.objects.count() == planogram_activate_refused
    planogram_draft_delete(actor=admin, planogram=v2)
    entry = AuditLogEntry.objects.get(
        object_type="inventory.planogram", object_id=str(v2.pk), action="delete"
    )
    assert entry.before["version"] == 2 and entry.before["slots"] == []
    superseded = AuditLogEntry.objects.filter(
        object_type="inventory.planogram", message__startswith="superseded"
    )
    assert not superseded.exists()  # v2 was never activated


def test_only_drafts_can_be_edited_activated_or_deleted(world_a, cabinet, admin):
    chips, nuts = product(world_a, "CHIPS", "70.00"), product(world_a, "NUTS", "120.00")
    v1 = planogram_draft_create(actor=admin, device=cabinet)
    slot = planogram_slot_add(
        actor=admin, planogram=v1, shelf=1, sensors=["s1-1"], product=chips, capacity=5, par_level=4
    )
    planogram_activate(actor=admin, planogram=v1)
    v1.refresh_from_db()
    before_rows, before_audit, before_v1 = (
        _slot_rows(v1),
        AuditLogEntry.objects.count(),
        Planogram.objects.filter(pk=v1.pk).values().get(),
    )
    attempts = [
        lambda: planogram_slot_add(
            actor=admin, planogram=v1, shelf=2, sensors=["s2-1"], product=nuts, capacity=5, par_level=5
        ),
        lambda: planogram_slot_update(actor=admin, slot=slot, data={"capacity": 50, "par_level": 50}),
        lambda: planogram_slot_remove(actor=admin, slot=slot),
        lambda: planogram_activate(actor=admin, planogram=v1),
        lambda: planogram_draft_delete(actor=admin, planogram=v1),
    ]
    for attempt in attempts:
        with pytest.raises(OpenVendError) as refused:
            attempt()
        assert refused.value.code == "inventory.planogram_not_draft"
        assert refused.value.status_code == 409
    assert _slot_rows(v1) == before_rows
    assert AuditLogEntry.objects.count() == before_audit
    assert Planogram.objects.filter(pk=v1.pk).values().get() == before_v1


@pytest.fixture
def wide_cabinet(world_a):
    from openvend.devices import services

    kind = DeviceKind.objects.create(
        code="test-gravity-2x3", name="Gravity 2×3", type="gravity_cabinet", shelves=2, sensors_per_shelf=3
    )
    services.device_register(actor=None, code="PLAN-WIDE", kind=kind)
    device, _secret = services.device_activate(
        actor=None, merchant=world_a.merchant, code="PLAN-WIDE", site=world_a.sites["sh-1"]
    )
    return device


@pytest.mark.parametrize(
    ("shelf", "sensors", "capacity", "par", "code", "field"),
    [
        (3, ["s3-1"], 5, 5, "inventory.bad_sensors", "shelf"),
        (1, ["s1-4"], 5, 5, "inventory.bad_sensors", "sensors"),
        (1, ["s2-1"], 5, 5, "inventory.bad_sensors", "sensors"),
        (1, ["s1-1", "s1-3"], 5, 5, "inventory.bad_sensors", "sensors"),
        (1, ["s1-1", "s2-1"], 5, 5, "inventory.bad_sensors", "sensors"),
        (1, ["s1-1", "s1-1"], 5, 5, "inventory.bad_sensors", "sensors"),
        (1, [], 5, 5, "inventory.bad_sensors", "sensors"),
        (1, ["s1-2"], 0, 0, "inventory.bad_capacity", "capacity"),
        (1, ["s1-2"], 5, 6, "inventory.bad_capacity", "par_level"),
    ],
)
def test_bad_slots_are_refused_and_change_nothing(
    world_a, wide_cabinet, admin, shelf, sensors, capacity, par, code, field
):
    chips = product(world_a, "CHIPS", "70.00")
    draft = planogram_draft_create(actor=admin, device=wide_cabinet)
    report, audit = dict(draft.check_report), AuditLogEntry.objects.count()
    with pytest.raises(OpenVendError) as refused:
        planogram_slot_add(
            actor=admin,
            planogram=draft,
            shelf=shelf,
            sensors=sensors,
            product=chips,
            capacity=capacity,
            par_level=par,
        )
    assert (refused.value.code, list(refused.value.fields)) == (code, [field])
    assert not PlanogramSlot.objects.exists()
    draft.refresh_from_db()
    assert draft.check_report == report
    assert AuditLogEntry.objects.count() == audit


def test_three_adjacent_sensors_may_be_bridged(world_a, wide_cabinet, admin):
    crate = product(world_a, "CRATE", "900.00", "5.00")
    draft = planogram_draft_create(actor=admin, device=wide_cabinet)
    slot = planogram_slot_add(
        actor=admin,
        planogram=draft,
        shelf=2,
        sensors=["s2-3", "s2-1", "s2-2"],
        product=crate,
        capacity=2,
        par_level=2,
    )
    assert slot.sensors == ["s2-3", "s2-1", "s2-2"]


def test_products_must_come_from_the_device_owners_library_and_have_a_weight(
    world_a, world_b, cabinet, admin
):
    theirs = product(world_b, "THEIRS", "50.00")
    weightless = product(world_a, "AIR", "0.00", "0.00")
    draft = planogram_draft_create(actor=admin, device=cabinet)
    for item, code in ((theirs, "inventory.other_merchant"), (weightless, "inventory.no_unit_weight")):
        with pytest.raises(OpenVendError) as refused:
            planogram_slot_add(
                actor=admin, planogram=draft, shelf=1, sensors=["s1-1"], product=item, capacity=5, par_level=5
            )
        assert refused.value.code == code
    assert not draft.slots.exists()


def test_double_booking_rules(world_a, cabinet, admin):
    a, b, c, d, e = (product(world_a, f"BAR-{n}", f"{40 + 13 * n}.00") for n in range(5))
    draft = planogram_draft_create(actor=admin, device=cabinet)
    first = planogram_slot_add(
        actor=admin, planogram=draft, shelf=1, sensors=["s1-1"], product=a, capacity=5, par_level=5
    )
    # The same product again on a sensor it already uses: one placement, raise its capacity instead.
    for sensors in (["s1-1"], ["s1-1", "s1-2"]):
        with pytest.raises(OpenVendError) as refused:
            planogram_slot_add(
                actor=admin, planogram=draft, shelf=1, sensors=sensors, product=a, capacity=5, par_level=5
            )
        assert refused.value.code == "inventory.sensor_overbooked"
    # The same product on another sensor is a second placement: fine.
    planogram_slot_add(
        actor=admin, planogram=draft, shelf=1, sensors=["s1-2"], product=a, capacity=5, par_level=5
    )
    # Up to four products share one sensor; the fifth is refused.
    for item in (b, c, d):
        planogram_slot_add(
            actor=admin, planogram=draft, shelf=1, sensors=["s1-1"], product=item, capacity=3, par_level=3
        )
    with pytest.raises(OpenVendError) as refused:
        planogram_slot_add(
            actor=admin, planogram=draft, shelf=1, sensors=["s1-1"], product=e, capacity=3, par_level=3
        )
    assert refused.value.code == "inventory.sensor_overbooked"
    assert draft.slots.count() == 5
    # Updating a slot onto a sensor where its product already sits is refused too, unchanged.
    second = draft.slots.get(sensors=["s1-2"])
    with pytest.raises(OpenVendError):
        planogram_slot_update(actor=admin, slot=second, data={"sensors": ["s1-1"]})
    second.refresh_from_db()
    assert second.sensors == ["s1-2"]
    # Updating a slot in place (its own sensors) is not double booking.
    planogram_slot_update(actor=admin, slot=first, data={"capacity": 6})
    first.refresh_from_db()
    assert first.capacity == 6


def test_vending_machines_get_no_planogram(world_a, admin):
    machine = vending_machine(world_a, "VEND-P001")
    with pytest.raises(OpenVendError) as refused:
        planogram_draft_create(actor=admin, device=machine)
    assert refused.value.code == "inventory.no_weight_sensors"
    assert "VEND-P001" in refused.value.message
    assert not Planogram.objects.exists()


def test_the_database_keeps_one_active_version(world_a, cabinet, admin):
    chips = product(world_a, "CHIPS", "70.00")
    v1 = planogram_draft_create(actor=admin, device=cabinet)
    planogram_slot_add(
        actor=admin, planogram=v1, shelf=1, sensors=["s1-1"], product=chips, capacity=5, par_level=5
    )
    planogram_activate(actor=admin, planogram=v1)
    v2 = planogram_draft_create(actor=admin, device=cabinet)
    with pytest.raises(IntegrityError), transaction.atomic():
        Planogram.objects.filter(pk=v2.pk).update(status="active")
