"""Planogram check and optimiser: exact outcomes on small hand-made layouts."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from openvend.recognition import generator, planogram_cli
from openvend.recognition import planogram as design


def _sku(sku: str, grams: float, sd: float, *sensors: str, count: int = 10) -> dict[str, Any]:
    return {
        "sku": sku,
        "name": sku,
        "unit_weight_g": grams,
        "unit_weight_sd_g": sd,
        "placements": [{"sensors": list(sensors), "count": count}],
    }


def _plan(
    *skus: dict[str, Any], sensors: tuple[str, ...] = ("S1", "S2"), noise: float = 1.0
) -> dict[str, Any]:
    return {
        "cabinet": "t",
        "sensors": [{"id": s, "shelf": 1, "noise_sd_g": noise} for s in sensors],
        "skus": list(skus),
    }


def _row(report: dict[str, Any], sensor: str) -> dict[str, Any]:
    return next(r for r in report["sensors"] if r["sensor"] == sensor)


def test_two_skus_two_grams_apart_on_one_sensor_are_confusable() -> None:
    report = design.check(_plan(_sku("A", 50.0, 0.4, "S1"), _sku("B", 52.0, 0.4, "S1")))
    row = _row(report, "S1")
    singles = [
        p
        for p in row["confusable"]
        if p["a"] == [{"sku": "A", "qty": 1}] and p["b"] == [{"sku": "B", "qty": 1}]
    ]
    assert len(singles) == 1
    assert singles[0]["delta_g"] == pytest.approx(2.0)
    assert singles[0]["separation_sd"] < 3.0
    assert row["predicted_accuracy"] < 0.8
    assert report["perfect_separation"] is False
    assert any("perfect separation not achieved" in note and "S1" in note for note in report["notes"])


def test_well_separated_skus_are_not_confusable() -> None:
    report = design.check(_plan(_sku("A", 50.0, 0.4, "S1"), _sku("C", 355.0, 1.0, "S1")))
    row = _row(report, "S1")
    assert row["confusable_count"] == 0
    assert row["predicted_accuracy"] > 0.9999
    assert report["perfect_separation"] is True
    assert report["notes"] == []


def test_the_same_two_skus_on_separate_sensors_decode() -> None:
    report = design.check(_plan(_sku("A", 50.0, 0.4, "S1"), _sku("B", 52.0, 0.4, "S2")))
    assert [_row(report, s)["confusable_count"] for s in ("S1", "S2")] == [0, 0]
    assert report["overall_predicted_accuracy"] > 0.9999


def test_identical_weights_are_a_coin_toss() -> None:
    # One unit of either decodes half the time; the accuracy is well below one.
    acc = design.check(_plan(_sku("A", 50.0, 0.0, "S1"), _sku("B", 50.0, 0.0, "S1")))["sensors"][0]
    assert 0.2 < acc["predicted_accuracy"] < 0.6


def test_bridging_placement_joins_sensors_into_one_group() -> None:
    report = design.check(_plan(_sku("A", 50.0, 0.4, "S1", "S2"), _sku("B", 51.0, 0.4, "S2")))
    assert _row(report, "S1")["group"] == ["S1", "S2"]
    assert _row(report, "S1")["skus"] == ["A", "B"]
    assert _row(report, "S2")["confusable_count"] > 0


def test_an_skus_own_multiples_overlapping_is_reported_as_impossible() -> None:
    report = design.check(_plan(_sku("G", 20.0, 6.0, "S1")))
    assert any("no placement can separate" in note for note in report["notes"])
    assert report["perfect_separation"] is False


def _products(*weights: float, units: int = 8, sd: float = 0.3) -> list[dict[str, Any]]:
    return [
        {"sku": f"P{i}", "name": f"P{i}", "unit_weight_g": w, "unit_weight_sd_g": sd, "units": units}
        for i, w in enumerate(weights)
    ]


def _sensors(n: int, **extra: Any) -> list[dict[str, Any]]:
    return [{"id": f"S{i}", "shelf": 1 + i // 2, "noise_sd_g": 1.0, **extra} for i in range(n)]


def _sensor_of(plan: dict[str, Any]) -> dict[str, list[str]]:
    return {k["sku"]: [s for p in k["placements"] for s in p["sensors"]] for k in plan["skus"]}


def test_optimize_puts_near_identical_weights_on_different_sensors() -> None:
    plan = design.optimize(_products(50.0, 50.6, 355.0, 540.0), _sensors(2, capacity_units=16))
    where = _sensor_of(plan)
    assert where["P0"] != where["P1"]
    assert design.check(plan)["perfect_separation"] is True


def test_optimize_is_deterministic_for_a_seed() -> None:
    products = generator.catalogue_products(30, seed=1)
    sensors = generator.grid_sensors(4, 4, capacity_units=24)
    assert design.optimize(products, sensors, seed=3) == design.optimize(products, sensors, seed=3)


def test_optimize_respects_capacity_and_splits_large_stock() -> None:
    products = _products(50.0, 120.0, 355.0, 540.0, units=10) + _products(70.0, units=25)[:1]
    products[-1]["sku"] = "BIG"
    sensors = _sensors(4, capacity_units=20)
    plan = design.optimize(products, sensors)
    load: dict[str, int] = {}
    for k in plan["skus"]:
        for p in k["placements"]:
            load[p["sensors"][0]] = load.get(p["sensors"][0], 0) + p["count"]
    assert max(load.values()) <= 20
    big = next(k for k in plan["skus"] if k["sku"] == "BIG")
    assert sum(p["count"] for p in big["placements"]) == 25
    assert len(big["placements"]) == 2


def test_optimize_respects_a_gram_capacity() -> None:
    sensors = _sensors(2, capacity_g=3000.0)
    plan = design.optimize(_products(355.0, 340.0, units=8), sensors)
    assert _sensor_of(plan)["P0"] != _sensor_of(plan)["P1"]  # 2 × 8 × ~350 g exceeds 3 kg


def test_optimize_without_room_says_so() -> None:
    with pytest.raises(ValueError, match="no sensor has room"):
        design.optimize(_products(50.0, units=30), _sensors(1, capacity_units=20, capacity_g=100.0))


def test_optimised_beats_a_naive_layout() -> None:
    products = generator.catalogue_products(30, seed=1)
    sensors = generator.grid_sensors(4, 4, capacity_units=24)
    optimised = design.check(design.optimize(products, sensors))["overall_predicted_accuracy"]
    naive = design.check(design.naive(sorted(products, key=lambda p: p["unit_weight_g"]), sensors))
    assert optimised >= naive["overall_predicted_accuracy"]
    assert optimised > 0.999


def test_cli_bodies_print_json(tmp_path: Path) -> None:
    products, sensors = tmp_path / "products.json", tmp_path / "sensors.json"
    products.write_text(json.dumps(_products(50.0, 50.6, 355.0)))
    sensors.write_text(json.dumps(_sensors(2)))
    out = tmp_path / "plan.json"
    assert planogram_cli.run_optimize(str(products), str(sensors), out_path=str(out)) == 0
    plan = json.loads(out.read_text())
    assert {k["sku"] for k in plan["skus"]} == {"P0", "P1", "P2"}
    buffer = io.StringIO()
    assert planogram_cli.run_check(str(out), out=buffer) == 0
    assert json.loads(buffer.getvalue())["perfect_separation"] is True


def test_cli_subcommand(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from openvend.cli import main

    path = tmp_path / "plan.json"
    path.write_text(json.dumps(_plan(_sku("A", 50.0, 0.4, "S1"), _sku("B", 52.0, 0.4, "S1"))))
    assert main(["planogram", "check", "--planogram", str(path)]) == 0
    assert json.loads(capsys.readouterr().out)["perfect_separation"] is False
