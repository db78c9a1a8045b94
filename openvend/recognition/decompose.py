"""Exact posterior search over integer moves on one component (branch and bound).

A hypothesis gives every slot an integer n (units taken, negative = put in). Its unnormalised
posterior mass is prior × likelihood (compiled.py, likelihood.py). Depth-first search picks the next
slot to change; a subtree is pruned when an upper bound on its *total* mass (not just its best
member) falls below TOL × the best mass found so far. Each pruned bound is kept, so the caller gets
the enumerated hypotheses plus a rigorous upper bound on the mass it did not enumerate.

The bound for the subtree below a node (slots ≥ s still free, `budget` units left) splits its
completions in two:
* takes only: each can only lower the predicted delta of a sensor, by at most what the remaining
  slots hold there; the best achievable residual gives an upper bound on the likelihood, times the
  prior mass of all take-only completions;
* with at least one put-back or misplacement: prior mass of those completions times the highest
  density the noise allows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from openvend.recognition.compiled import PUT_BACK_MAX, UNEXPLAINED_RANGE_G, Component, Prior, Slot, log_rate
from openvend.recognition.likelihood import LOG_2PI, Move, gaussian_loglik

TOL = 1e-6
"""Prune a subtree whose mass bound is below this fraction of the best hypothesis so far."""

Key = tuple[tuple[int, int], ...]
"""Net units per SKU index on this component, sorted, zeros omitted."""


@dataclass(frozen=True)
class ComponentPosterior:
    entries: tuple[tuple[float, Key, int, float], ...]
    """(log mass, per-SKU net units, unit moves, predicted total delta in grams), best first."""
    log_unenumerated: float
    """Log of an upper bound on the mass of hypotheses the search did not enumerate."""
    log_unexplained: float
    """Log mass of "outside the model" on this component."""
    nodes: int


@dataclass
class _Tables:
    log_ztake: list[float]
    log_zall: list[float]  # home takes and put-backs (misplacements: log_zf)
    log_zf: float
    put_cap: list[list[float]]
    put_unit: list[list[float]]
    put_sum_cap: list[float]
    put_sum_unit: list[float]
    take_cap: list[list[float]]  # per suffix start, per sensor: grams the remaining slots hold
    take_unit: list[list[float]]  # per suffix start, per sensor: heaviest remaining unit share
    sum_cap: list[float]
    sum_unit: list[float]
    sd2_max: list[float]


_TABLES: dict[tuple[int, Prior], tuple[Component, _Tables]] = {}


def _tables(comp: Component, prior: Prior) -> _Tables:
    hit = _TABLES.get((id(comp), prior))
    if hit is not None and hit[0] is comp:
        return hit[1]
    m, n = len(comp.sensors), comp.n_home
    log_zf = len(comp.slots[n:]) * math.log(sum(prior.misplace**v for v in range(PUT_BACK_MAX + 1)))
    t = _Tables(
        log_ztake=[0.0] * (n + 1),
        log_zall=[0.0] * (n + 1),
        log_zf=log_zf,
        put_cap=[[0.0] * m],
        put_unit=[[0.0] * m],
        put_sum_cap=[0.0],
        put_sum_unit=[0.0],
        take_cap=[[0.0] * m],
        take_unit=[[0.0] * m],
        sum_cap=[0.0],
        sum_unit=[0.0],
        sd2_max=[0.0],
    )
    # Suffix tables, built back to front: entry 0 is always the suffix starting at slot j.
    for j in range(n - 1, -1, -1):
        slot = comp.slots[j]
        z_take = sum(prior.take**v for v in range(slot.hi + 1))
        z_put = sum(prior.put_back**v for v in range(1, PUT_BACK_MAX + 1))
        t.log_ztake[j] = t.log_ztake[j + 1] + math.log(z_take)
        t.log_zall[j] = t.log_zall[j + 1] + math.log(z_take + z_put)
        share = slot.w / len(slot.sensors)
        cap, unit = list(t.take_cap[0]), list(t.take_unit[0])
        pcap, punit = list(t.put_cap[0]), list(t.put_unit[0])
        for i in slot.sensors:
            cap[i] += slot.hi * share
            if slot.hi:
                unit[i] = max(unit[i], share)
            pcap[i] += PUT_BACK_MAX * share
            punit[i] = max(punit[i], share)
        t.take_cap.insert(0, cap)
        t.take_unit.insert(0, unit)
        t.put_cap.insert(0, pcap)
        t.put_unit.insert(0, punit)
        t.sum_cap.insert(0, t.sum_cap[0] + slot.hi * slot.w)
        t.sum_unit.insert(0, max(t.sum_unit[0], slot.w if slot.hi else 0.0))
        t.put_sum_cap.insert(0, t.put_sum_cap[0] + PUT_BACK_MAX * slot.w)
        t.put_sum_unit.insert(0, max(t.put_sum_unit[0], slot.w))
        t.sd2_max.insert(0, max(t.sd2_max[0], slot.sd**2))
    if len(_TABLES) > 512:
        _TABLES.clear()
    _TABLES[(id(comp), prior)] = (comp, t)
    return t


def _log_sub(a: float, b: float) -> float:
    """log(exp(a) - exp(b)) for a ≥ b."""
    return -math.inf if a <= b else a + math.log(-math.expm1(b - a))


def _log_add(a: float, b: float) -> float:
    if a < b:
        a, b = b, a
    return a if b == -math.inf else a + math.log1p(math.exp(b - a))


def search(
    comp: Component, y: Sequence[float], base_var: Sequence[float], prior: Prior, max_items: int
) -> ComponentPosterior:
    t = _tables(comp, prior)
    m, slots = len(y), comp.slots
    log_peak = -0.5 * sum(LOG_2PI + math.log(v) for v in base_var)
    y_sum, base_sum = sum(y), sum(base_var)
    log_tol = math.log(TOL)
    y_arr = np.asarray(y, dtype=float)
    foreign = slots[comp.n_home :]
    f_sensor = np.array([f.sensors[0] for f in foreign], dtype=int)
    f_w = np.array([f.w for f in foreign])
    f_sd2 = np.array([f.sd**2 for f in foreign])
    rho, n_f = prior.misplace, len(foreign)
    log_mis = math.log(rho)
    x = n_f * (rho + rho * rho)
    log_f_any = math.log(math.expm1(n_f * math.log1p(rho + rho * rho))) if n_f else -math.inf
    # Two or more misplaced units: N·ρ² (one slot twice) + e^x - 1 - x ≤ x²·e^x/2 (two slots).
    log_f_multi = math.log(n_f * rho * rho + x * x * math.exp(x) / 2) if n_f else -math.inf
    found: dict[Key, tuple[float, Key, int, float]] = {}
    pruned: list[float] = []
    best = [-math.inf]
    nodes = [0]

    def loglik(mean: list[float], var: list[float], moves: list[Move]) -> float:
        if comp.bridged and any(len(mv[3]) > 1 for mv in moves):
            return gaussian_loglik(y, base_var, moves)
        total = 0.0
        for i in range(m):
            r = y[i] - mean[i]
            total += LOG_2PI + math.log(var[i]) + r * r / var[i]
        return -0.5 * total

    def fit_bound(
        mean: list[float], var: list[float], moves: list[Move], s: int, budget: int, puts: bool
    ) -> float:
        """Upper bound on the log likelihood of any completion from slot s on that uses home slots
        only: takes can lower each sensor's prediction by what the suffix holds there, put-backs
        (when `puts`) raise it by what they could return."""
        grow = budget * t.sd2_max[s]
        if not comp.bridged:
            total = 0.0
            cap, unit = t.take_cap[s], t.take_unit[s]
            pcap, punit = t.put_cap[s], t.put_unit[s]
            for i in range(m):
                r = y[i] - mean[i]
                up = min(cap[i], budget * unit[i])
                down = min(pcap[i], budget * punit[i]) if puts else 0.0
                d = r - down if r - down > 0 else (r + up if r + up < 0 else 0.0)
                total += LOG_2PI + math.log(var[i]) + d * d / (var[i] + grow)
            return -0.5 * total
        # Bridged: project on the component sum, where the unknown split cancels out.
        r = y_sum - sum(mean)
        up = min(t.sum_cap[s], budget * t.sum_unit[s])
        down = min(t.put_sum_cap[s], budget * t.put_sum_unit[s]) if puts else 0.0
        d = r - down if r - down > 0 else (r + up if r + up < 0 else 0.0)
        v_sum = base_sum + sum(abs(n) * sd * sd for n, _, sd, _ in moves) + grow
        return log_peak - 0.5 * d * d / v_sum

    def completions_bound(
        lp: float, mean: list[float], var: list[float], moves: list[Move], s: int, used: int, strict: bool
    ) -> float:
        """Upper bound on the mass of the node's completions from slot s on (without the node itself
        when `strict`): take-only, with home put-backs, and with misplacements."""
        budget = max_items - used
        z_take = _log_sub(t.log_ztake[s], 0.0) if strict else t.log_ztake[s]
        la = z_take + fit_bound(mean, var, moves, s, budget, False)
        lb = _log_sub(t.log_zall[s], t.log_ztake[s]) + fit_bound(mean, var, moves, s, budget, True)
        lc = t.log_zall[s] + math.log(math.expm1(t.log_zf)) + log_peak if t.log_zf > 0 else -math.inf
        return lp + _log_add(_log_add(la, lb), lc)

    def record(
        lp: float, mean: list[float], var: list[float], moves: list[Move], counts: dict[int, int], used: int
    ) -> float:
        nodes[0] += 1
        lm = lp + loglik(mean, var, moves)
        key = tuple(sorted((k, n) for k, n in counts.items() if n))
        weight = sum(n * w for n, w, _, _ in moves)
        old = found.get(key)
        if old is None:
            found[key] = (lm, key, used, weight)
        else:
            found[key] = (_log_add(old[0], lm), key, min(old[2], used), old[3] if old[0] >= lm else weight)
        best[0] = max(best[0], lm)
        return lm

    def misplaced(
        lp: float,
        ll: float,
        mean: list[float],
        var: list[float],
        moves: list[Move],
        counts: dict[int, int],
        used: int,
    ) -> None:
        """Completions of a node by misplaced put-backs: one unit enumerated where it fits (screened
        with NumPy over all SKU × sensor pairs at once), the rest bounded."""
        if used >= max_items or not f_w.size:
            return
        if lp + log_f_any + log_peak < best[0] + log_tol:
            pruned.append(lp + log_f_any + log_peak)
            return
        pruned.append(lp + log_f_multi + log_peak)
        if comp.bridged:
            # Rigorous screen: the likelihood is at most the peak density times the fit of the
            # component sum, where the unknown split of bridging items cancels out.
            r_sum = y_sum - sum(mean)
            v_sum = base_sum + sum(abs(n) * sd * sd for n, _, sd, _ in moves) + f_sd2
            lm1 = lp + log_mis + log_peak - 0.5 * (r_sum - f_w) ** 2 / v_sum
        else:
            r = (y_arr - np.asarray(mean))[f_sensor]
            v = np.asarray(var)[f_sensor]
            v2 = v + f_sd2
            # A put-back raises the predicted delta of its sensor by w: the residual drops by w.
            lm1 = lp + log_mis + ll - 0.5 * (np.log(v2 / v) + (r - f_w) ** 2 / v2 - r * r / v)
        keep = lm1 >= best[0] + log_tol
        rest = lm1[~keep]
        if rest.size:
            top = float(rest.max())
            pruned.append(top + math.log(float(np.exp(rest - top).sum())))
        for j in np.flatnonzero(keep):
            slot = foreign[j]
            mean2, var2 = apply(slot, -1, mean, var)
            counts2 = dict(counts)
            counts2[slot.sku] = counts2.get(slot.sku, 0) - 1
            record(
                lp + log_mis, mean2, var2, [*moves, (-1, slot.w, slot.sd, slot.sensors)], counts2, used + 1
            )

    def apply(slot: Slot, v: int, mean: list[float], var: list[float]) -> tuple[list[float], list[float]]:
        mean, var = list(mean), list(var)
        k = len(slot.sensors)
        for i in slot.sensors:
            mean[i] -= v * slot.w / k
            var[i] += abs(v) * (slot.sd / k) ** 2
        return mean, var

    def visit(s: int, lp: float, mean: list[float], var: list[float], moves: list[Move],
              counts: dict[int, int], puts: dict[int, int], used: int) -> None:  # fmt: skip
        if used >= max_items:
            return
        for k in range(s, comp.n_home):
            # Everything that changes a slot ≥ k (the node itself excluded) at once.
            rest = completions_bound(lp, mean, var, moves, k, used, True)
            if rest < best[0] + log_tol:
                pruned.append(rest)
                return
            slot = slots[k]
            budget = max_items - used
            values = list(range(1, min(slot.hi, budget) + 1))
            values += list(range(-1, -min(PUT_BACK_MAX - puts.get(slot.sku, 0), budget) - 1, -1))
            for v in values:
                lp2 = lp + log_rate(prior, slot, v)
                mean2, var2 = apply(slot, v, mean, var)
                moves2 = [*moves, (v, slot.w, slot.sd, slot.sensors)]
                bound = completions_bound(lp2, mean2, var2, moves2, k + 1, used + abs(v), False)
                if bound < best[0] + log_tol:
                    pruned.append(bound)
                    continue
                counts2 = dict(counts)
                counts2[slot.sku] = counts2.get(slot.sku, 0) + v
                puts2 = dict(puts)
                if v < 0:
                    puts2[slot.sku] = puts2.get(slot.sku, 0) - v
                lm = record(lp2, mean2, var2, moves2, counts2, used + abs(v))
                misplaced(lp2, lm - lp2, mean2, var2, moves2, counts2, used + abs(v))
                visit(k + 1, lp2, mean2, var2, moves2, counts2, puts2, used + abs(v))

    zero = [0.0] * m
    lm0 = record(0.0, zero, list(base_var), [], {}, 0)
    misplaced(0.0, lm0, zero, list(base_var), [], {}, 0)
    visit(0, 0.0, zero, list(base_var), [], {}, {}, 0)
    log_unenum = -math.inf
    for b in pruned:
        log_unenum = _log_add(log_unenum, b)
    entries = tuple(sorted(found.values(), key=lambda e: -e[0]))
    log_unexplained = math.log(prior.unexplained) - m * math.log(2 * UNEXPLAINED_RANGE_G)
    return ComponentPosterior(entries, log_unenum, log_unexplained, nodes[0])
