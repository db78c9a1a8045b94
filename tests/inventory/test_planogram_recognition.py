"""A planogram version exported to the recognition format, and the recognition check's warnings."""

from __future__ import annotations

import pytest

from openvend.inventory.choices import MovementKind
from openvend.inventory.ledger import post_movement
from openvend.inventory.planogram_selectors import check_warnings
from openvend.inventory.planogram_services import (
    planogram_activate,
    planogram_draft_create,
    planogram_slot_add,
    planogram_slot_remove,
)
from openvend.inventory.recognition_export import recognition_planogram
from openvend.recognition.model import Evidence, Planogram, recognize
from tests.devices.factories import activated_device
from tests.inventory.planogram_factories import product

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(world_a):
    return world_a.user("merchant_admin")


@pytest.fixture
def cabinet(world_a):
    device, _secret = activated_device(world_a, "RECO-0001")
    return device


@pytest.fixture
def layout(world_a, cabinet, admin):
    """Cola bridging shelf 1, chips on s2-2 and a second chips slot on s2-1 (listed second, on
    purpose: the export orders slots by where they sit, not by when they were added)."""
    cola = product(world_a, "COLA-330", "355.00", "3.00", name="Cola 330 ml")
    chips = product(world_a, "CHIPS-70", "70.50", "1.25", name="Chips 70 g")
    draft = planogram_draft_create(actor=admin, device=cabinet)
    planogram_slot_add(
        actor=admin, planogram=draft, shelf=2, sensors=["s2-2"], product=chips, capacity=6, par_level=5
    )
    planogram_slot_add(
        actor=admin, planogram=draft, shelf=1, sensors=["s1-2", "s1-1"], product=cola, capacity=8, par_level=6
    )
    planogram_slot_add(
        actor=admin, planogram=draft, shelf=2, sensors=["s2-1"], product=chips, capacity=4, par_level=4
    )
    return draft, cola, chips


def _expected(cola_count: int, chips_counts: tuple[int, int], noise: float = 1.0) -> dict:
    return {
        "cabinet": "RECO-0001",
        "sensors": [
            {"id": "s1-1", "shelf": 1, "noise_sd_g": noise},
            {"id": "s1-2", "shelf": 1, "noise_sd_g": noise},
            {"id": "s2-1", "shelf": 2, "noise_sd_g": noise},
            {"id": "s2-2", "shelf": 2, "noise_sd_g": noise},
        ],
        "skus": [
            {
                "sku": "COLA-330",
                "name": "Cola 330 ml",
                "unit_weight_g": 355.0,
                "unit_weight_sd_g": 3.0,
                "placements": [{"sensors": ["s1-2", "s1-1"], "count": cola_count}],
            },
            {
                "sku": "CHIPS-70",
                "name": "Chips 70 g",
                "unit_weight_g": 70.5,
                "unit_weight_sd_g": 1.25,
                "placements": [
                    {"sensors": ["s2-1"], "count": chips_counts[0]},
                    {"sensors": ["s2-2"], "count": chips_counts[1]},
                ],
            },
        ],
    }


def test_export_at_par_levels_is_exactly_the_recognition_format(layout):
    draft, _cola, _chips = layout
    exported = recognition_planogram(draft)
    assert exported == _expected(6, (4, 5))
    # The loader `openvend recognize` uses reads it back unchanged…
    loaded = Planogram.from_dict(exported)
    assert loaded.to_dict() == exported
    # …and recognises a take with it: one cola split across the two load cells it bridges.
    result = recognize(
        loaded, Evidence.from_dict({"session": "S-1", "deltas_g": {"s1-1": -170.2, "s1-2": -184.9}})
    )
    assert (result.decision, result.items) == ("accept", (("COLA-330", 1),))


def test_noise_comes_from_the_setting(layout, settings):
    settings.OPENVEND_LOAD_CELL_NOISE_SD_G = 0.5
    assert recognition_planogram(layout[0]) == _expected(6, (4, 5), noise=0.5)


@pytest.mark.parametrize(
    ("cola_on_hand", "chips_on_hand", "cola_count", "chips_counts"),
    [
        (0, 0, 0, (0, 0)),
        (3, 3, 3, (3, 0)),  # chips fill the first slot in shelf order (s2-1, capacity 4) first
        (8, 7, 8, (4, 3)),
        (11, 12, 11, (4, 8)),  # beyond capacity: the surplus stays on the last slot, never dropped
    ],
)
def test_export_from_on_hand_spreads_stock_in_shelf_order(
    layout, cabinet, cola_on_hand, chips_on_hand, cola_count, chips_counts
):
    draft, cola, chips = layout
    for item, units in ((cola, cola_on_hand), (chips, chips_on_hand)):
        if units:
            post_movement(device=cabinet, product=item, quantity=units, kind=MovementKind.REPLENISHMENT)
    exported = recognition_planogram(draft, counts="on_hand")
    assert exported == _expected(cola_count, chips_counts)
    Planogram.from_dict(exported)


def test_oversold_stock_counts_as_nothing(layout, cabinet):
    draft, cola, _chips = layout
    post_movement(device=cabinet, product=cola, quantity=-2, kind=MovementKind.SALE)
    assert recognition_planogram(draft, counts="on_hand")["skus"][0]["placements"][0]["count"] == 0


def test_candy_bars_a_gram_apart_on_one_sensor_are_reported_confusable(world_a, cabinet, admin):
    bar_a = product(world_a, "BAR-A", "45.00", "1.00")
    bar_b = product(world_a, "BAR-B", "46.00", "1.00")
    draft = planogram_draft_create(actor=admin, device=cabinet)
    assert check_warnings(draft.check_report) == []
    planogram_slot_add(
        actor=admin, planogram=draft, shelf=1, sensors=["s1-1"], product=bar_a, capacity=5, par_level=5
    )
    draft.refresh_from_db()
    assert check_warnings(draft.check_report) == []  # one SKU alone decodes
    planogram_slot_add(
        actor=admin, planogram=draft, shelf=1, sensors=["s1-1"], product=bar_b, capacity=5, par_level=5
    )
    draft.refresh_from_db()
    report = draft.check_report
    row = next(r for r in report["sensors"] if r["sensor"] == "s1-1")
    assert row["skus"] == ["BAR-A", "BAR-B"]
    assert (row["confusable_count"], row["predicted_accuracy"]) == (10, 0.452092)
    single = {
        "a": [{"sku": "BAR-A", "qty": 1}],
        "b": [{"sku": "BAR-B", "qty": 1}],
        "delta_g": 1.0,
        "separation_sd": 0.5,
    }
    assert single in row["confusable"]
    warnings = check_warnings(report)
    assert [(w["sensors"], w["skus"]) for w in warnings] == [(["s1-1"], ["BAR-A", "BAR-B"])]
    assert warnings[0]["predicted_accuracy"] == row["predicted_accuracy"]
    assert {"a": "1 × BAR-A", "b": "1 × BAR-B", "delta_g": 1.0, "separation_sd": 0.5} in warnings[0][
        "confusable"
    ]
    assert report["perfect_separation"] is False
    # Activation with warnings is allowed; the warnings stay on the version in force.
    planogram_activate(actor=admin, planogram=draft)
    draft.refresh_from_db()
    assert draft.status == "active"
    assert check_warnings(draft.check_report) == warnings


def test_a_light_bar_next_to_a_can_is_not_confusable(world_a, cabinet, admin):
    bar = product(world_a, "BAR-A", "45.00", "1.00")
    can = product(world_a, "CAN-330", "330.00", "1.00")
    draft = planogram_draft_create(actor=admin, device=cabinet)
    for item in (bar, can):
        planogram_slot_add(
            actor=admin, planogram=draft, shelf=1, sensors=["s1-1"], product=item, capacity=5, par_level=5
        )
    draft.refresh_from_db()
    row = next(r for r in draft.check_report["sensors"] if r["sensor"] == "s1-1")
    assert (row["skus"], row["confusable_count"], row["confusable"]) == (["BAR-A", "CAN-330"], 0, [])
    assert row["predicted_accuracy"] > 0.999
    assert check_warnings(draft.check_report) == []


def test_the_report_follows_every_slot_change(world_a, cabinet, admin):
    bar_a = product(world_a, "BAR-A", "45.00", "1.00")
    bar_b = product(world_a, "BAR-B", "46.00", "1.00")
    draft = planogram_draft_create(actor=admin, device=cabinet)
    planogram_slot_add(
        actor=admin, planogram=draft, shelf=1, sensors=["s1-1"], product=bar_a, capacity=5, par_level=5
    )
    slot_b = planogram_slot_add(
        actor=admin, planogram=draft, shelf=1, sensors=["s1-1"], product=bar_b, capacity=5, par_level=5
    )
    draft.refresh_from_db()
    assert len(check_warnings(draft.check_report)) == 1
    planogram_slot_remove(actor=admin, slot=slot_b)
    draft.refresh_from_db()
    assert check_warnings(draft.check_report) == []
