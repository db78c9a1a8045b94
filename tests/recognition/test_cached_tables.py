"""A cabinet's planogram is rebuilt from the stock ledger for every visit. Its search tables are kept
per component value, so a rebuilt planogram whose counts did not move finds them again, and a visit
that moved one position's count rebuilds only that position's component."""

from __future__ import annotations

from typing import Any

from openvend.recognition import compiled as compiled_module
from openvend.recognition import decompose
from openvend.recognition.model import Evidence, Planogram, recognize

WEIGHTS_G = (330.0, 355.0, 60.0, 500.0)


def _plan(counts: tuple[int, ...]) -> Planogram:
    data: dict[str, Any] = {
        "cabinet": "c1",
        "sensors": [{"id": f"s{i}", "shelf": i, "noise_sd_g": 2.0} for i in range(4)],
        "skus": [
            {
                "sku": f"k{i}",
                "unit_weight_g": w,
                "unit_weight_sd_g": w * 0.02,
                "placements": [{"sensors": [f"s{i}"], "count": counts[i]}],
            }
            for i, w in enumerate(WEIGHTS_G)
        ],
    }
    return Planogram.from_dict(data)


def _took_two_of_k3(session: str) -> Evidence:
    return Evidence(session=session, deltas_g={"s0": 0.4, "s1": -0.3, "s2": 0.1, "s3": -1000.6})


def test_a_rebuilt_planogram_reuses_the_tables_of_every_component_whose_count_stood_still() -> None:
    compiled_module.compiled.cache_clear()
    decompose._tables.cache_clear()
    first = recognize(_plan((10, 10, 10, 10)), _took_two_of_k3("v1"))
    assert (first.decision, first.items) == ("accept", (("k3", 2),))
    assert decompose._tables.cache_info().currsize == 4  # one per load cell: each is a component of its own

    again = recognize(_plan((10, 10, 10, 10)), _took_two_of_k3("v2"))
    assert decompose._tables.cache_info().currsize == 4
    assert (again.items, again.confidence) == (first.items, first.confidence)

    after_the_sale = recognize(_plan((10, 10, 10, 8)), _took_two_of_k3("v3"))
    assert decompose._tables.cache_info().currsize == 5  # only k3's component moved
    assert after_the_sale.items == (("k3", 2),)


def test_the_least_recently_used_tables_go_first() -> None:
    decompose._tables.cache_clear()
    seen = [_plan((n, 10, 10, 10)) for n in range(1, 4)]
    for plan in seen:
        recognize(plan, _took_two_of_k3("lru"))
    info = decompose._tables.cache_info()
    # Three planograms that differ only in k0's count: the other three components are shared.
    assert (info.currsize, info.maxsize) == (6, decompose.CACHED_COMPONENTS)
    recognize(seen[0], _took_two_of_k3("again"))
    assert decompose._tables.cache_info().misses == info.misses  # still there: nothing rebuilt
