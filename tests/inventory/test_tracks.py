"""Vending tracks: generation, audited edits, and cloning one machine's tracks onto others."""

from __future__ import annotations

import pytest

from openvend.audit.models import AuditLogEntry
from openvend.core.errors import OpenVendError
from openvend.inventory.choices import MovementKind
from openvend.inventory.ledger import post_movement
from openvend.inventory.models import StockLevel, Track
from openvend.inventory.selectors import on_hand
from openvend.inventory.track_services import (
    track_create,
    track_delete,
    track_update,
    tracks_clone,
    tracks_generate,
)
from tests.devices.factories import activated_device
from tests.inventory.planogram_factories import product, vending_kind, vending_machine

pytestmark = pytest.mark.django_db

CONFIG = ("number", "product_id", "price_fen", "capacity", "par_level", "enabled")


def _config(device):
    return list(Track.objects.filter(device=device).order_by("number").values_list(*CONFIG))


@pytest.fixture
def admin(world_a):
    return world_a.user("merchant_admin")


@pytest.fixture
def goods(world_a):
    return (
        product(world_a, "COLA", "355.00"),
        product(world_a, "WATER", "560.00"),
        product(world_a, "GUM", "30.00"),
    )


@pytest.fixture
def source(world_a, admin, goods):
    """VEND-S001 with six tracks: 1–3 cola/water/gum configured, 4 disabled, 5–6 defaults."""
    cola, water, gum = goods
    machine = vending_machine(world_a, "VEND-S001")
    tracks_generate(actor=admin, device=machine)
    edits = {
        1: {"product": cola, "price_fen": 350, "capacity": 8, "par_level": 6},
        2: {"product": water, "price_fen": None, "capacity": 12, "par_level": 12},
        3: {"product": gum, "price_fen": 150, "capacity": 20, "par_level": 15},
        4: {"product": cola, "enabled": False},
    }
    for number, data in edits.items():
        track_update(actor=admin, track=Track.objects.get(device=machine, number=number), data=data)
    return machine


def test_generating_tracks_creates_the_missing_numbers_once(world_a, admin):
    machine = vending_machine(world_a, "VEND-G001")
    created = tracks_generate(actor=admin, device=machine)
    assert [t.number for t in created] == [1, 2, 3, 4, 5, 6]
    assert _config(machine) == [(n, None, None, 10, 10, True) for n in range(1, 7)]
    entries = AuditLogEntry.objects.filter(object_type="inventory.track", action="create")
    assert sorted(int(e.object_id) for e in entries) == sorted(t.pk for t in created)
    assert {e.actor_id for e in entries} == {admin.pk}
    Track.objects.get(device=machine, number=4).delete()
    again = tracks_generate(actor=admin, device=machine)
    assert [t.number for t in again] == [4]
    assert tracks_generate(actor=admin, device=machine) == []


def test_cabinets_have_no_tracks(world_a, admin):
    cabinet, _secret = activated_device(world_a, "CAB-T001")
    with pytest.raises(OpenVendError) as refused:
        tracks_generate(actor=admin, device=cabinet)
    assert refused.value.code == "inventory.not_vending_machine"
    with pytest.raises(OpenVendError):
        track_create(actor=admin, device=cabinet, number=1)
    assert not Track.objects.exists()


def test_editing_a_track_is_audited_with_before_and_after(world_a, admin, goods):
    cola = goods[0]
    machine = vending_machine(world_a, "VEND-E001")
    track = track_create(actor=admin, device=machine, number=2)
    track_update(
        actor=admin,
        track=track,
        data={"product": cola, "price_fen": 350, "capacity": 8, "par_level": 6, "enabled": False},
    )
    assert _config(machine) == [(2, cola.pk, 350, 8, 6, False)]
    entry = AuditLogEntry.objects.get(object_type="inventory.track", object_id=str(track.pk), action="update")
    assert sorted(entry.changed_fields) == ["capacity", "enabled", "par_level", "price_fen", "product"]
    assert (entry.before["product"], entry.after["product"]) == (None, cola.pk)
    assert (entry.before["price_fen"], entry.after["price_fen"]) == (None, 350)
    assert entry.actor_id == admin.pk and entry.merchant_id == world_a.merchant.pk
    # Saving the same values again writes no audit row.
    count = AuditLogEntry.objects.count()
    track_update(actor=admin, track=track, data={"price_fen": 350})
    assert AuditLogEntry.objects.count() == count


@pytest.mark.parametrize(
    ("data", "code", "field"),
    [
        ({"capacity": 0}, "inventory.bad_capacity", "capacity"),
        ({"capacity": 5, "par_level": 6}, "inventory.bad_capacity", "par_level"),
        ({"price_fen": -1}, "inventory.bad_track", "price_fen"),
        ("theirs", "inventory.other_merchant", "product"),
    ],
)
def test_bad_track_edits_are_refused_and_change_nothing(world_a, world_b, admin, data, code, field):
    machine = vending_machine(world_a, "VEND-B001")
    track = track_create(actor=admin, device=machine, number=1, capacity=8, par_level=6, price_fen=300)
    if data == "theirs":
        data = {"product": product(world_b, "THEIRS", "50.00")}
    before, audit = _config(machine), AuditLogEntry.objects.count()
    with pytest.raises(OpenVendError) as refused:
        track_update(actor=admin, track=track, data=data)
    assert (refused.value.code, list(refused.value.fields)) == (code, [field])
    assert _config(machine) == before
    assert AuditLogEntry.objects.count() == audit


def test_track_numbers_stay_within_the_machine(world_a, admin):
    machine = vending_machine(world_a, "VEND-N001")
    for number in (0, 7):
        with pytest.raises(OpenVendError) as refused:
            track_create(actor=admin, device=machine, number=number)
        assert refused.value.code == "inventory.bad_track"
    track_create(actor=admin, device=machine, number=6)
    with pytest.raises(OpenVendError) as refused:
        track_create(actor=admin, device=machine, number=6)
    assert (refused.value.code, refused.value.status_code) == ("inventory.bad_track", 409)
    assert _config(machine) == [(6, None, None, 10, 10, True)]


def test_a_track_holding_stock_keeps_its_product(world_a, admin, goods):
    cola, water, _gum = goods
    machine = vending_machine(world_a, "VEND-K001")
    track = track_create(actor=admin, device=machine, number=3, product=cola)
    post_movement(device=machine, product=cola, lane=3, quantity=5, kind=MovementKind.REPLENISHMENT)
    for attempt in (
        lambda: track_update(actor=admin, track=track, data={"product": water}),
        lambda: track_update(actor=admin, track=track, data={"product": None}),
        lambda: track_delete(actor=admin, track=track),
    ):
        with pytest.raises(OpenVendError) as refused:
            attempt()
        assert refused.value.code == "inventory.track_holds_stock"
    assert _config(machine) == [(3, cola.pk, None, 10, 10, True)]
    # Price and par can still change; once empty, so can the product.
    track_update(actor=admin, track=track, data={"price_fen": 400})
    post_movement(device=machine, product=cola, lane=3, quantity=-5, kind=MovementKind.REMOVAL)
    track_update(actor=admin, track=track, data={"product": water})
    assert _config(machine) == [(3, water.pk, 400, 10, 10, True)]


def test_cloning_copies_configuration_exactly_and_never_stock(world_a, admin, source, goods):
    cola, water, gum = goods
    post_movement(device=source, product=cola, lane=1, quantity=7, kind=MovementKind.REPLENISHMENT)
    generated = vending_machine(world_a, "VEND-T001")
    tracks_generate(actor=admin, device=generated)
    track_update(actor=admin, track=Track.objects.get(device=generated, number=3), data={"price_fen": 990})
    bare = vending_machine(world_a, "VEND-T002")
    audit = AuditLogEntry.objects.count()

    result = tracks_clone(actor=admin, source_device=source, target_devices=[generated, bare, source])

    # 6 tracks: on VEND-T001, tracks 1–4 change and 5–6 already match; VEND-T002 gets all six.
    assert (result.targets, result.created, result.updated, result.unchanged) == (2, 6, 4, 2)
    expected = _config(source)
    assert expected[:4] == [
        (1, cola.pk, 350, 8, 6, True),
        (2, water.pk, None, 12, 12, True),
        (3, gum.pk, 150, 20, 15, True),
        (4, cola.pk, None, 10, 10, False),
    ]
    assert _config(generated) == _config(bare) == expected
    assert on_hand(device=source, product=cola, lane=1) == 7
    assert not StockLevel.objects.filter(device__in=[generated, bare]).exists()
    entries = AuditLogEntry.objects.filter(pk__gt=0).order_by("id")[audit:]
    assert [(e.action, e.message) for e in entries] == [("update", "cloned from VEND-S001")] * 4 + [
        ("create", "cloned from VEND-S001")
    ] * 6
    first = entries[0]
    assert (first.before["product"], first.after["product"], first.after["price_fen"]) == (None, cola.pk, 350)


def test_cloning_selected_numbers_only(world_a, admin, source, goods):
    target = vending_machine(world_a, "VEND-T003")
    result = tracks_clone(actor=admin, source_device=source, target_devices=[target], numbers=[2, 3])
    assert (result.created, result.updated, result.unchanged) == (2, 0, 0)
    assert _config(target) == _config(source)[1:3]


def test_cloning_to_a_different_kind_is_refused_and_changes_nothing(world_a, admin, source):
    good = vending_machine(world_a, "VEND-T004")
    tracks_generate(actor=admin, device=good)
    other_kind = vending_machine(world_a, "VEND-X040", kind=vending_kind("test-vending-40", tracks=40))
    before_good, audit = _config(good), AuditLogEntry.objects.count()
    with pytest.raises(OpenVendError) as refused:
        tracks_clone(actor=admin, source_device=source, target_devices=[good, other_kind])
    assert refused.value.code == "inventory.kind_mismatch"
    assert "VEND-X040 (Vending 40)" in refused.value.message
    assert "VEND-T004" not in refused.value.message
    assert _config(good) == before_good
    assert _config(other_kind) == []
    assert AuditLogEntry.objects.count() == audit


def test_cloning_over_a_lane_holding_other_stock_is_refused_for_every_target(world_a, admin, source, goods):
    water = goods[1]
    clean = vending_machine(world_a, "VEND-T005")
    stocked = vending_machine(world_a, "VEND-T006")
    track_create(actor=admin, device=stocked, number=1, product=water)
    post_movement(device=stocked, product=water, lane=1, quantity=2, kind=MovementKind.REPLENISHMENT)
    audit = AuditLogEntry.objects.count()
    with pytest.raises(OpenVendError) as refused:
        tracks_clone(actor=admin, source_device=source, target_devices=[clean, stocked])
    assert refused.value.code == "inventory.track_holds_stock"
    assert "VEND-T006" in refused.value.message
    assert _config(clean) == []
    assert _config(stocked) == [(1, water.pk, None, 10, 10, True)]
    assert AuditLogEntry.objects.count() == audit


def test_targets_outside_the_actors_scope_are_not_found(world_a, world_b, source):
    operations = world_a.user("operations")  # scoped to 上海徐汇: sh-1 and sh-2, not sz-1
    far = vending_machine(world_a, "VEND-FAR1", site="sz-1")
    near = vending_machine(world_a, "VEND-NEAR")
    foreign = vending_machine(world_b, "VEND-B999")
    for targets in ([near, far], [near, foreign]):
        with pytest.raises(OpenVendError) as refused:
            tracks_clone(actor=operations, source_device=source, target_devices=targets)
        assert (refused.value.code, refused.value.status_code) == ("core.not_found", 404)
    assert _config(near) == _config(far) == _config(foreign) == []
    result = tracks_clone(actor=operations, source_device=source, target_devices=[near])
    assert result.created == 6
    entry = AuditLogEntry.objects.filter(object_type="inventory.track", action="create").latest("id")
    assert entry.actor_id == operations.pk
