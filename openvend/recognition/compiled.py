"""A planogram compiled for search: sensors grouped into independent components and moves as slots.

Sensors joined by a bridging placement are one component; a session's likelihood factorises over
components, so each is searched on its own and the results are combined (engine.py). A slot is one
place where units of one SKU can move: its home placements (take up to `count`, or put back up to
PUT_BACK_MAX) and, for misplaced put-backs, every single sensor in the component that is not home.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

from openvend.recognition.model import Planogram

PUT_BACK_MAX = 2
"""Most units of one SKU a session can put in: put-backs are rare, and bounding them keeps the
search finite."""


@dataclass(frozen=True)
class Prior:
    """Per-unit prior weights: a hypothesis has prior ∝ Π over slots of rate^|n| (a truncated
    geometric per slot), so fewer moves are likelier and put-backs and misplacements rarer."""

    take: float = 0.05
    put_back: float = 0.004
    misplace: float = 2e-5
    unmatched_put_in: float = 1e-3
    """Extra factor per unit put in that the session did not take out (a SKU's net count below
    zero): a shopper returns what they took, so "took a Mars, left a Snickers on another shelf" is
    far less likely than "took a Snickers and left it there". Applied to joint hypotheses
    (engine.py), since the take and the return may lie on different components."""
    unexplained: float = 1e-6
    """Prior of "something outside the model happened on this component" (foreign object, a jammed
    sensor): its density is flat over ±UNEXPLAINED_RANGE_G per sensor."""


UNEXPLAINED_RANGE_G = 3000.0


@dataclass(frozen=True)
class Slot:
    sku: int
    sensors: tuple[int, ...]  # local indices in the component
    w: float
    sd: float
    hi: int  # most units that can be taken (0 for a misplacement slot)
    foreign: bool

    @property
    def lo(self) -> int:
        return -PUT_BACK_MAX


@dataclass(frozen=True)
class Component:
    sensors: tuple[int, ...]  # global sensor indices
    noise_var: tuple[float, ...]
    slots: tuple[Slot, ...]  # home slots first, heaviest first; then misplacement slots
    n_home: int
    bridged: bool


@dataclass(frozen=True)
class Compiled:
    planogram: Planogram
    sensor_ids: tuple[str, ...]
    sku_ids: tuple[str, ...]
    components: tuple[Component, ...]


def _components(planogram: Planogram) -> list[list[int]]:
    index = {s.id: i for i, s in enumerate(planogram.sensors)}
    parent = list(range(len(index)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for sku in planogram.skus:
        for p in sku.placements:
            first = find(index[p.sensors[0]])
            for sid in p.sensors[1:]:
                parent[find(index[sid])] = first
    groups: dict[int, list[int]] = {}
    for i in range(len(index)):
        groups.setdefault(find(i), []).append(i)
    return sorted(groups.values())


def compile_planogram(planogram: Planogram) -> Compiled:
    index = {s.id: i for i, s in enumerate(planogram.sensors)}
    components = []
    for group in _components(planogram):
        local = {g: j for j, g in enumerate(group)}
        home: list[Slot] = []
        home_sensors: dict[int, set[int]] = {}
        for k, sku in enumerate(planogram.skus):
            for p in sku.placements:
                gidx = [index[s] for s in p.sensors]
                if gidx[0] not in local:
                    continue
                home.append(
                    Slot(
                        k,
                        tuple(local[g] for g in gidx),
                        sku.unit_weight_g,
                        sku.unit_weight_sd_g,
                        p.count,
                        False,
                    )
                )
                if len(gidx) == 1:
                    home_sensors.setdefault(k, set()).add(local[gidx[0]])
        # Heaviest first: big residuals are explained early, which finds a good incumbent fast.
        home.sort(key=lambda s: (-s.w, s.sku, s.sensors))
        foreign = [
            Slot(k, (j,), sku.unit_weight_g, sku.unit_weight_sd_g, 0, True)
            for k, sku in enumerate(planogram.skus)
            for j in range(len(group))
            if j not in home_sensors.get(k, set())
        ]
        components.append(
            Component(
                sensors=tuple(group),
                noise_var=tuple(planogram.sensors[g].noise_sd_g ** 2 for g in group),
                slots=tuple(home + foreign),
                n_home=len(home),
                bridged=any(len(s.sensors) > 1 for s in home),
            )
        )
    return Compiled(
        planogram=planogram,
        sensor_ids=tuple(s.id for s in planogram.sensors),
        sku_ids=tuple(s.sku for s in planogram.skus),
        components=tuple(components),
    )


@functools.lru_cache(maxsize=256)
def compiled(planogram: Planogram) -> Compiled:
    """Compile once per planogram value. Keys are values, not identities: a cabinet's planogram is
    rebuilt from the stock ledger for every visit, and while its counts stand still it is equal to
    the one already compiled (its components, equal too, find their search tables again)."""
    return compile_planogram(planogram)


def log_rate(prior: Prior, slot: Slot, n: int) -> float:
    if n > 0:
        return n * math.log(prior.take)
    if n < 0:
        return -n * math.log(prior.misplace if slot.foreign else prior.put_back)
    return 0.0
