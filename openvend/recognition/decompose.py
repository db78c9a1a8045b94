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

Speed without changing the answer: the search is one routine for a single sensor (scalar state) and
one for bridged components; per-slot moves, prior rates and the suffix limits per unit budget are
precomputed once per component, and the bounds are evaluated inline with the same arithmetic.
Single misplaced units are screened by a weight window around the residual (only the window is
scored one by one); the bounds of the pruned ones, like every other pruned bound, only add up, so
they are evaluated together with NumPy when the search ends, for every component of a session in
one pass (`search_many`). Pairs of misplaced units are summed one by one only near each residual;
one provable bound stands in for the far ones (`_pair_window`).
"""

from __future__ import annotations

import functools
import math
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from openvend.recognition.compiled import (
    PUT_BACK_MAX,
    UNEXPLAINED_RANGE_G,
    Component,
    Prior,
    log_rate,
)
from openvend.recognition.likelihood import LOG_2PI, Move, gaussian_loglik, split_var_factor

TOL = 1e-6
"""Prune a subtree whose mass bound is below this fraction of the best hypothesis so far."""
NEG_INF = -math.inf
LOG_NEGLIGIBLE = math.log(1e-9)
"""A misplacement bound this far below the best hypothesis so far is kept as it is; above it, the
exact mass of two misplaced units is computed pair by pair (NumPy, at the end of the search)."""

PAIR_CUT = 40.0
"""A node's pairs of misplaced units that together provably hold less than e^-PAIR_CUT of its pair mass
(below the rounding of the sum) are not scored one by one: one bound on all of them stands in."""

Limits = tuple[list[list[float]], list[list[float]], list[list[float]]]
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


Opt = tuple[int, float, float, float, float, float, float, float, int, tuple[int, ...], Move]
"""One value of a home slot: (n, log prior rate, mean shift per sensor, variance per sensor,
|n|·sd², grams n·w, split variance on the diagonal, covariance off the diagonal, SKU, sensors, move)."""


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
    # Derived per suffix start: log prior mass of take-only completions without the empty one, of
    # completions with a home put-back, and of completions with a misplacement (before log_peak).
    z_strict: list[float] = field(default_factory=list)
    z_put: list[float] = field(default_factory=list)
    z_mis: list[float] = field(default_factory=list)
    opts: list[list[Opt]] = field(default_factory=list)
    f_w: np.ndarray = field(default_factory=lambda: np.zeros(0))
    f_sd2: np.ndarray = field(default_factory=lambda: np.zeros(0))
    # Misplacement slots by weight (a component without bridging has one sensor, so all of them
    # rest on it): sorted weights, their slot indices, and the slots' weights and sd² as lists.
    f_sorted: list[float] = field(default_factory=list)
    f_order: list[int] = field(default_factory=list)
    f_wl: list[float] = field(default_factory=list)
    f_sd2l: list[float] = field(default_factory=list)
    f_sd2_max: float = 0.0
    f_w_min: float = 0.0  # lightest and heaviest misplaceable unit
    f_w_max: float = 0.0
    log_mis: float = 0.0
    log_f_any: float = -math.inf
    log_f_3: float = -math.inf  # three or more misplaced units
    # Every way to misplace exactly two units (two slots once, or one slot twice): total weight and
    # sd², for the exact (one sensor) or sum-bounded (bridged) mass of those completions.
    # Sorted by total weight (`p_wl` the same as a list), so that the pairs near a residual are a slice.
    p_w: np.ndarray = field(default_factory=lambda: np.zeros(0))
    p_sd2: np.ndarray = field(default_factory=lambda: np.zeros(0))
    p_wl: list[float] = field(default_factory=list)
    p_sd2l: list[float] = field(default_factory=list)
    p_sd2_min: float = 0.0
    p_sd2_max: float = 0.0
    log_n_pairs: float = -math.inf
    # One-sensor components: the suffix limits of that sensor as plain lists.
    cap0: list[float] = field(default_factory=list)
    unit0: list[float] = field(default_factory=list)
    pcap0: list[float] = field(default_factory=list)
    punit0: list[float] = field(default_factory=list)


CACHED_COMPONENTS = 2048
"""Search tables kept per component value (least recently used go first): a cabinet's components
recur visit after visit, and a sale changes only the components whose counts it moved."""


@functools.lru_cache(maxsize=CACHED_COMPONENTS)
def _tables(comp: Component, prior: Prior) -> _Tables:
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
    for s in range(n + 1):
        t.z_strict.append(_log_sub(t.log_ztake[s], 0.0))
        t.z_put.append(_log_sub(t.log_zall[s], t.log_ztake[s]))
        t.z_mis.append(t.log_zall[s] + math.log(math.expm1(t.log_zf)) if t.log_zf > 0 else -math.inf)
    for slot in comp.slots[:n]:
        k = len(slot.sensors)
        values = [*range(1, slot.hi + 1), *range(-1, -PUT_BACK_MAX - 1, -1)]
        opts: list[Opt] = []
        for v in values:
            spread = abs(v) * (slot.sd / k) ** 2
            split = (v * slot.w) ** 2 * split_var_factor(k)
            opts.append(
                (
                    v,
                    log_rate(prior, slot, v),
                    v * slot.w / k,
                    abs(v) * (slot.sd / k) ** 2,
                    abs(v) * slot.sd * slot.sd,
                    v * slot.w,
                    split * (1 - 1 / k),
                    spread - split / k,
                    slot.sku,
                    slot.sensors,
                    (v, slot.w, slot.sd, slot.sensors),
                )
            )
        t.opts.append(opts)
    foreign = comp.slots[n:]
    t.f_w = np.array([f.w for f in foreign])
    t.f_sd2 = np.array([f.sd**2 for f in foreign])
    t.f_order = sorted(range(len(foreign)), key=lambda j: foreign[j].w)
    t.f_sorted = [foreign[j].w for j in t.f_order]
    t.f_wl = [f.w for f in foreign]
    t.f_sd2l = [f.sd**2 for f in foreign]
    t.f_sd2_max = max(t.f_sd2l, default=0.0)
    t.f_w_min = min(t.f_wl, default=0.0)
    t.f_w_max = max(t.f_wl, default=0.0)
    rho, n_f = prior.misplace, len(foreign)
    t.log_mis = math.log(rho)
    x = n_f * (rho + rho * rho)
    if n_f:
        t.log_f_any = math.log(math.expm1(n_f * math.log1p(rho + rho * rho)))
        # Three or more misplaced units: three or more slots (at most e₃(a)·Π(1 + a) ≤ x³·e^x/6 with
        # a = ρ + ρ² per slot), or two slots one of them twice (≤ N²·ρ³) or both twice (≤ N²·ρ⁴).
        t.log_f_3 = math.log(x**3 * math.exp(x) / 6 + n_f * n_f * (rho**3 + rho**4))
        pi, pj = np.triu_indices(n_f)
        p_w = t.f_w[pi] + t.f_w[pj]
        by_w = np.argsort(p_w, kind="stable")
        t.p_w = p_w[by_w]
        t.p_sd2 = (t.f_sd2[pi] + t.f_sd2[pj])[by_w]
        t.p_wl = t.p_w.tolist()
        t.p_sd2l = t.p_sd2.tolist()
        t.p_sd2_min = 2 * min(t.f_sd2l)
        t.p_sd2_max = 2 * t.f_sd2_max
        t.log_n_pairs = math.log(len(t.p_w))
    if m == 1:
        t.cap0 = [c[0] for c in t.take_cap]
        t.unit0 = [u[0] for u in t.take_unit]
        t.pcap0 = [c[0] for c in t.put_cap]
        t.punit0 = [u[0] for u in t.put_unit]
    return t


@functools.lru_cache(maxsize=CACHED_COMPONENTS)
def _limits(comp: Component, prior: Prior, max_items: int) -> Limits:
    return _build_limits(comp, _tables(comp, prior), max_items)


def _build_limits(comp: Component, t: _Tables, max_items: int) -> Limits:
    """Per suffix start s and unit budget b: the variance growth b·sd²max, how far takes can lower
    the prediction and how far put-backs can raise it (on the sensor, or on the component sum when
    bridged), exactly as the fit bounds compute them."""
    grow, up, down = [], [], []
    for s in range(comp.n_home + 1):
        budgets = range(max_items + 1)
        grow.append([b * t.sd2_max[s] for b in budgets])
        if comp.bridged:
            up.append([min(t.sum_cap[s], b * t.sum_unit[s]) for b in budgets])
            down.append([min(t.put_sum_cap[s], b * t.put_sum_unit[s]) for b in budgets])
        else:
            up.append([min(t.take_cap[s][0], b * t.take_unit[s][0]) for b in budgets])
            down.append([min(t.put_cap[s][0], b * t.put_unit[s][0]) for b in budgets])
    return grow, up, down


def _mis_bounds(r: float, v: float, log_peak: float, budget: int, t: _Tables) -> tuple[float, float, float]:
    """Upper bounds on the log mass, relative to the node's prior, of its completions by one or more
    misplaced units, by exactly two and by three or more (nothing else changed).

    Each misplaced unit raises the prediction by its weight, so k of them move the residual `r` (of
    the sensor, or of the component sum when bridged) down by a total in [k·w_min, k·w_max], with
    k ≤ budget; their variance adds at most k·sd²max to `v`. The density is then at most `log_peak`
    (the peak at the node's own variance, or of the base covariance when bridged) times
    exp(-d²/2v_max), d being the distance from r to the reachable interval. The prior factors
    (log_f_any, 2·log ρ per pair, log_f_3) ignore the budget: more mass, still a bound."""
    lo, hi = t.f_w_min, t.f_w_max
    v_max = v + budget * t.f_sd2_max
    top = budget * hi
    d = r - top if r > top else (lo - r if r < lo else 0.0)
    any_ = t.log_f_any + log_peak - 0.5 * d * d / v_max
    if budget < 2:
        return any_, -math.inf, -math.inf
    d = r - 2 * hi if r > 2 * hi else (2 * lo - r if r < 2 * lo else 0.0)
    two = 2 * t.log_mis + t.log_n_pairs + log_peak - 0.5 * d * d / (v + 2 * t.f_sd2_max)
    if budget < 3:
        return any_, two, -math.inf
    d = r - top if r > top else (3 * lo - r if r < 3 * lo else 0.0)
    return any_, two, t.log_f_3 + log_peak - 0.5 * d * d / v_max


def _log_sub(a: float, b: float) -> float:
    """log(exp(a) - exp(b)) for a ≥ b."""
    return -math.inf if a <= b else a + math.log(-math.expm1(b - a))


def _log_add(a: float, b: float) -> float:
    if a < b:
        a, b = b, a
    return a if b == -math.inf else a + math.log1p(math.exp(b - a))


@dataclass
class _Deferred:
    """What one component's search leaves for the end: the pruned bounds, and the nodes whose
    single misplaced units (rows: log prior + log ρ [+ peak], residual, variance; minus the
    enumerated (row, unit) pairs) and pairs of misplaced units (pairs: log prior + 2 log ρ [+ peak],
    residual, variance) are bounded term by term, over every misplaceable unit, and over the pairs
    near the residual plus one bound for the others (`_pair_window`)."""

    t: _Tables
    bridged: bool
    pruned: list[float]
    rows: list[tuple[float, float, float]]
    excluded: list[tuple[int, int]]
    pairs: list[tuple[float, float, float]]


def _pair_window(a: float, r: float, v: float, t: _Tables, bridged: bool) -> tuple[int, int, float]:
    """The slice of the pairs (sorted by weight) to score one by one for the pair row (a, r, v), and
    the log of an upper bound on the sum of the other pairs' terms (-inf if none is left out).

    With a pair's sd² in [s₋, s₊], a pair at distance d from r has a term at most
    a − ½(log 2π + log(v + s₋) + d²/(v + s₊)) (bridged: a − ½d²/(v + s₊)). The better of the two pairs
    next to r has the term a − ½(log 2π + g) (bridged: a − ½g), g = log v₂ + (r − w)²/v₂. Beyond
    the reach D² = (v + s₊)(g − log(v + s₋) + 2(PAIR_CUT + log N)) (bridged: without the logs) every
    pair is below that one by more than PAIR_CUT + log N, so the N at most left out add less than
    e^-PAIR_CUT of the row's largest term. Their bound is their count times the largest term the
    nearest of them can have: still an upper bound, and too small to change the sum it is added to."""
    wl, sl = t.p_wl, t.p_sd2l
    n = len(wl)
    k = bisect_left(wl, r)
    # g of the pair just below r and of the one just above; the better one sets the reach.
    gap = math.inf
    for j in (k - 1, k):
        if 0 <= j < n:
            v2 = v + sl[j]
            g = (r - wl[j]) ** 2 / v2 + (math.log(v2) if not bridged else 0.0)
            if g < gap:
                gap = g
    v_lo, v_hi = v + t.p_sd2_min, v + t.p_sd2_max
    gap += 2 * (PAIR_CUT + t.log_n_pairs)
    if not bridged:
        gap -= math.log(v_lo)
    reach = math.sqrt(v_hi * max(gap, 0.0))
    lo, hi = bisect_left(wl, r - reach, 0, k), bisect_right(wl, r + reach, k)
    left_out = n - (hi - lo)
    if not left_out:
        return lo, hi, -math.inf
    d = min(r - wl[lo - 1] if lo else math.inf, wl[hi] - r if hi < n else math.inf)
    top = a - 0.5 * d * d / v_hi
    if not bridged:
        top -= 0.5 * (LOG_2PI + math.log(v_lo))
    return lo, hi, math.log(left_out) + top


def _log_unenumerated(deferred: Sequence[_Deferred]) -> list[float]:
    """Per component, log Σ exp over its pruned bounds and its deferred misplacement terms.

    The terms of every component are evaluated in one NumPy pass (per-call overhead, not
    arithmetic, dominates the small arrays of one component), with the formulas of one sensor

        unit j:  a − ½(log(v₂/v) + (r − w_j)²/v₂ − r²/v),   v₂ = v + sd²_j,
        pair p:  a − ½(log 2π + log v₂ + (r − w_p)²/v₂),     v₂ = v + sd²_p,

    and of a bridged component (through the component sum) a − ½(r − w)²/(v + sd²) for both; pairs
    only within `_pair_window`'s slice, the bounds on the rest going with the pruned ones. Each
    (component, kind) block is reduced to its own log-sum-exp, and those to the component's."""
    blocks: list[np.ndarray] = []
    owner: list[int] = []  # component of each block
    tails: list[list[float]] = [[] for _ in deferred]  # bounds on the pairs not scored one by one
    for kind in range(4):  # single rows, bridged rows, single pairs, bridged pairs
        bridged, is_pair = bool(kind & 1), kind >= 2
        a_l: list[tuple[float, float, float]] = []
        w_l: list[np.ndarray] = []
        s_l: list[np.ndarray] = []
        lengths: list[int] = []
        excl: list[int] = []
        for c, d in enumerate(deferred):
            if d.bridged != bridged:
                continue
            rows = d.pairs if is_pair else d.rows
            if not rows:
                continue
            w, sd2 = (d.t.p_w, d.t.p_sd2) if is_pair else (d.t.f_w, d.t.f_sd2)
            n = len(w)
            a_l.extend(rows)
            if is_pair:  # only the pairs near each residual; one bound for the rest (_pair_window)
                size = 0
                for a_, r_, v_ in rows:
                    lo, hi, tail = _pair_window(a_, r_, v_, d.t, bridged)
                    w_l.append(w[lo:hi])
                    s_l.append(sd2[lo:hi])
                    size += hi - lo
                    if tail != -math.inf:
                        tails[c].append(tail)
                lengths.append(size)
            else:
                if d.excluded:
                    base = sum(lengths)
                    excl.extend(base + row * n + j for row, j in d.excluded)
                w_l.extend([w] * len(rows))
                s_l.extend([sd2] * len(rows))
                lengths.append(n * len(rows))
            owner.append(c)
        if not a_l:
            continue
        per_row = np.fromiter((len(x) for x in w_l), dtype=np.intp, count=len(w_l))
        a, r, v = np.repeat(np.array(a_l).T, per_row, axis=1)  # three contiguous rows
        w, sd2 = np.concatenate(w_l), np.concatenate(s_l)
        if bridged:
            terms = a - 0.5 * (r - w) ** 2 / (v + sd2)
        elif is_pair:
            v2 = v + sd2
            terms = a - 0.5 * (LOG_2PI + np.log(v2) + (r - w) ** 2 / v2)
        else:
            v2 = v + sd2
            terms = a - 0.5 * (np.log(v2 / v) + (r - w) ** 2 / v2 - r * r / v)
        if excl:
            terms[np.array(excl, dtype=np.intp)] = -math.inf
        blocks.append(terms)
        blocks.append(np.array(lengths, dtype=np.intp))
    block_lse: list[list[float]] = [[] for _ in deferred]
    if blocks:
        values = np.concatenate(blocks[0::2])
        sizes = np.concatenate(blocks[1::2])
        starts = np.zeros(len(sizes), dtype=np.intp)
        np.cumsum(sizes[:-1], out=starts[1:])
        top = np.maximum.reduceat(values, starts)
        shift = np.where(top == -math.inf, 0.0, top)
        sums = np.add.reduceat(np.exp(values - np.repeat(shift, sizes)), starts)
        with np.errstate(divide="ignore"):
            lse = (shift + np.log(sums)).tolist()
        for c, value in zip(owner, lse, strict=True):
            block_lse[c].append(value)
    out = []
    log, exp = math.log, math.exp
    for d, extra, tails_c in zip(deferred, block_lse, tails, strict=True):
        values_c = d.pruned + extra + tails_c if extra else d.pruned
        top_c = max(values_c, default=-math.inf)
        if top_c == -math.inf:
            out.append(-math.inf)
        else:
            out.append(top_c + log(sum([exp(x - top_c) for x in values_c])))
    return out


def search(
    comp: Component, y: Sequence[float], base_var: Sequence[float], prior: Prior, max_items: int
) -> ComponentPosterior:
    return search_many((comp,), (y,), (base_var,), prior, max_items)[0]


def search_many(
    comps: Sequence[Component],
    ys: Sequence[Sequence[float]],
    base_vars: Sequence[Sequence[float]],
    prior: Prior,
    max_items: int,
) -> list[ComponentPosterior]:
    """`search` on each component; the deferred bounds of all of them are summed in one pass."""
    found = []
    deferred = []
    for comp, y, base_var in zip(comps, ys, base_vars, strict=True):
        t = _tables(comp, prior)
        lim = _limits(comp, prior, max_items)
        if comp.bridged:
            entries, d, nodes = _search_bridged(comp, t, lim, list(y), list(base_var), max_items)
        else:
            entries, d, nodes = _search_single(comp, t, lim, float(y[0]), float(base_var[0]), max_items)
        log_unexplained = math.log(prior.unexplained) - len(y) * math.log(2 * UNEXPLAINED_RANGE_G)
        found.append((entries, log_unexplained, nodes))
        deferred.append(d)
    return [
        ComponentPosterior(entries, log_unenum, log_unexplained, nodes)
        for (entries, log_unexplained, nodes), log_unenum in zip(
            found, _log_unenumerated(deferred), strict=True
        )
    ]


Found = dict[Key, tuple[float, Key, int, float]]


def _found_add(found: Found, key: Key, lm: float, used: int, weight: float) -> None:
    old = found.get(key)
    if old is None:
        found[key] = (lm, key, used, weight)
    else:
        found[key] = (_log_add(old[0], lm), key, min(old[2], used), old[3] if old[0] >= lm else weight)


_BUMPS: dict[tuple[Key, int, int], Key] = {}


def _bump(key: Key, sku: int, v: int) -> Key:
    """`key` with v more units of `sku` (memoised: the same small keys recur in every session)."""
    hit = _BUMPS.get((key, sku, v))
    if hit is not None:
        return hit
    d = dict(key)
    n = d.get(sku, 0) + v
    if n:
        d[sku] = n
    else:
        del d[sku]
    out = tuple(sorted(d.items()))
    if len(_BUMPS) > 200_000:
        _BUMPS.clear()
    _BUMPS[(key, sku, v)] = out
    return out


def _entries(found: Found) -> tuple[tuple[float, Key, int, float], ...]:
    return tuple(sorted(found.values(), key=lambda e: -e[0]))


def _search_single(
    comp: Component, t: _Tables, lim: Limits, y: float, bv: float, max_items: int
) -> tuple[tuple[tuple[float, Key, int, float], ...], _Deferred, int]:
    """One sensor, no bridging: the search of `_search_bridged` with scalar state and per-sensor
    bounds."""
    n_home, foreign = comp.n_home, comp.slots[comp.n_home :]
    log_peak = -0.5 * (LOG_2PI + math.log(bv))
    log_tol = math.log(TOL)
    z_take, z_strict, z_put = t.log_ztake, t.z_strict, t.z_put
    z_mis = [z + log_peak for z in t.z_mis]
    sd2_max, opts = t.sd2_max, t.opts
    cap, unit, pcap, punit = t.cap0, t.unit0, t.pcap0, t.punit0
    log_mis = t.log_mis
    f_sorted, f_order, f_wl, f_sd2l, f_sd2_max = t.f_sorted, t.f_order, t.f_wl, t.f_sd2l, t.f_sd2_max
    excluded: list[tuple[int, int]] = []  # (row, slot): enumerated, so not part of the row's bound
    n_f = len(foreign)
    grow_t, up_t, down_t = lim
    log, log1p, exp = math.log, math.log1p, math.exp
    found: Found = {}
    pruned: list[float] = []
    rows: list[tuple[float, float, float]] = []
    pairs: list[tuple[float, float, float]] = []  # (log prior + 2 log ρ [+ peak], residual, variance)
    best = -math.inf
    nodes = 0

    def fits(mean: float, var: float, lv: float, s: int, budget: int) -> tuple[float, float]:
        """Upper bounds on the log likelihood of take-only completions from slot s on and of those
        with home put-backs (the interval bounds of the module docstring)."""
        grow = budget * sd2_max[s]
        r = y - mean
        up = min(cap[s], budget * unit[s])
        vg = var + grow
        low = r + up
        d = r if r > 0 else (low if low < 0 else 0.0)
        fa = -0.5 * (lv + d * d / vg)
        rd = r - min(pcap[s], budget * punit[s])
        d = rd if rd > 0 else (low if low < 0 else 0.0)
        return fa, -0.5 * (lv + d * d / vg)

    def total(lp: float, la: float, lb: float, lc: float) -> float:
        if la < lb:
            la, lb = lb, la
        a = la if lb == -math.inf else la + math.log1p(math.exp(lb - la))
        if a < lc:
            a, lc = lc, a
        return lp + (a if lc == -math.inf else a + math.log1p(math.exp(lc - a)))

    def record(lp: float, mean: float, var: float, lv: float, key: Key, used: int, weight: float) -> float:
        nonlocal best, nodes
        nodes += 1
        r = y - mean
        lm = lp + -0.5 * (lv + r * r / var)
        _found_add(found, key, lm, used, weight)
        if lm > best:
            best = lm
        return lm

    def misplaced(lp: float, ll: float, mean: float, var: float, key: Key, used: int, weight: float) -> None:
        if used >= max_items or not n_f:
            return
        r, v = y - mean, var
        b, b_two, b_three = _mis_bounds(r, var, -0.5 * (LOG_2PI + math.log(var)), max_items - used, t)
        b += lp
        if b < best + log_tol:
            pruned.append(b)
            return
        pruned.append(lp + b_three)
        if lp + b_two < best + LOG_NEGLIGIBLE:
            pruned.append(lp + b_two)
        else:  # exact mass of the node with two misplaced units, summed at the end
            pairs.append((lp + 2 * log_mis, r, v))
        a = lp + log_mis + ll
        # Which single misplaced units could beat the threshold: log(v2/v) ≥ 0 and v2 ≤ v + sd²max
        # bound them to a weight window around the residual; the window's members are scored
        # exactly, and every other one goes, with the whole row, into the bound summed at the end.
        thr = best + log_tol
        room = a + 0.5 * r * r / v - thr
        kept: list[int] = []
        if room >= 0:
            reach = math.sqrt(2.0 * room * (v + f_sd2_max)) * (1 + 1e-9) + 1e-9
            lo, hi = bisect_left(f_sorted, r - reach), bisect_right(f_sorted, r + reach)
            for j in sorted(f_order[lo:hi]):
                v2 = v + f_sd2l[j]
                if a - 0.5 * (math.log(v2 / v) + (r - f_wl[j]) ** 2 / v2 - r * r / v) >= thr:
                    kept.append(j)
        row = len(rows)
        rows.append((a, r, v))
        for j in kept:
            excluded.append((row, j))
            slot = foreign[j]
            var2 = var + abs(-1) * (slot.sd / 1) ** 2
            record(
                lp + log_mis,
                mean - -1 * slot.w / 1,
                var2,
                LOG_2PI + math.log(var2),
                _bump(key, slot.sku, -1),
                used + 1,
                weight + -1 * slot.w,
            )

    def visit(s: int, lp: float, mean: float, var: float, lv: float, key: Key, puts: dict[int, int],
              used: int, weight: float, fit: tuple[float, float] | None) -> None:  # fmt: skip
        if used >= max_items:
            return
        budget = max_items - used
        for k in range(s, n_home):
            fa, fb = fit if (fit is not None and k == s) else fits(mean, var, lv, k, budget)
            rest = total(lp, z_strict[k] + fa, z_put[k] + fb, z_mis[k])
            if rest < best + log_tol:
                pruned.append(rest)
                return
            k1 = k + 1
            zt1, zp1, zm1 = z_take[k1], z_put[k1], z_mis[k1]
            g1, u1, d1 = grow_t[k1], up_t[k1], down_t[k1]
            for v, lr, dm, dv, _, dw, _, _, sku, _, _ in opts[k]:
                if v > 0:
                    av = v
                    if v > budget:
                        continue
                else:
                    av = -v
                    if av > min(PUT_BACK_MAX - puts.get(sku, 0), budget):
                        continue
                # The child's completions bound, inlined (fits and total above, same arithmetic).
                lp2 = lp + lr
                mean2 = mean - dm
                var2 = var + dv
                lv2 = LOG_2PI + log(var2)
                used2 = used + av
                b2 = max_items - used2
                vg = var2 + g1[b2]
                r = y - mean2
                low = r + u1[b2]
                d = r if r > 0 else (low if low < 0 else 0.0)
                fa2 = -0.5 * (lv2 + d * d / vg)
                rd = r - d1[b2]
                d = rd if rd > 0 else (low if low < 0 else 0.0)
                fb2 = -0.5 * (lv2 + d * d / vg)
                la, lb = zt1 + fa2, zp1 + fb2
                if la < lb:
                    la, lb = lb, la
                if lb != NEG_INF:
                    la = la + log1p(exp(lb - la))
                lc = zm1
                if la < lc:
                    la, lc = lc, la
                bound = lp2 + (la if lc == NEG_INF else la + log1p(exp(lc - la)))
                if bound < best + log_tol:
                    pruned.append(bound)
                    continue
                key2 = _bump(key, sku, v)
                weight2 = weight + dw
                lm = record(lp2, mean2, var2, lv2, key2, used2, weight2)
                misplaced(lp2, lm - lp2, mean2, var2, key2, used2, weight2)
                if k1 < n_home and used2 < max_items:  # else the child has nothing left to change
                    puts2 = puts if v > 0 else {**puts, sku: puts.get(sku, 0) - v}
                    visit(k1, lp2, mean2, var2, lv2, key2, puts2, used2, weight2, (fa2, fb2))

    lv0 = LOG_2PI + math.log(bv)
    lm0 = record(0.0, 0.0, bv, lv0, (), 0, 0)
    misplaced(0.0, lm0, 0.0, bv, (), 0, 0)
    visit(0, 0.0, 0.0, bv, lv0, (), {}, 0, 0, None)
    # The closure refers to itself; breaking that cycle lets refcounting, not the GC, free the search.
    visit = None  # type: ignore[assignment]
    return _entries(found), _Deferred(t, False, pruned, rows, excluded, pairs), nodes


def _search_bridged(
    comp: Component, t: _Tables, lim: Limits, y: list[float], base_var: list[float], max_items: int
) -> tuple[tuple[tuple[float, Key, int, float], ...], _Deferred, int]:
    """Sensors joined by bridging placements: bounds through the component sum, full covariance."""
    m, n_home, foreign = len(y), comp.n_home, comp.slots[comp.n_home :]
    log_peak = -0.5 * sum(LOG_2PI + math.log(v) for v in base_var)
    y_sum, base_sum = sum(y), sum(base_var)
    log_tol = math.log(TOL)
    z_take, z_strict, z_put = t.log_ztake, t.z_strict, t.z_put
    z_mis = [z + log_peak for z in t.z_mis]
    sd2_max, opts = t.sd2_max, t.opts
    sum_cap, sum_unit, put_sum_cap, put_sum_unit = t.sum_cap, t.sum_unit, t.put_sum_cap, t.put_sum_unit
    log_mis = t.log_mis
    f_sorted, f_order, f_wl, f_sd2l, f_sd2_max = t.f_sorted, t.f_order, t.f_wl, t.f_sd2l, t.f_sd2_max
    excluded: list[tuple[int, int]] = []  # (row, slot): enumerated, so not part of the row's bound
    n_f = len(foreign)
    pair = m == 2
    grow_t, up_t, down_t = lim
    log1p, exp = math.log1p, math.exp
    found: Found = {}
    pruned: list[float] = []
    rows: list[tuple[float, float, float]] = []
    pairs: list[tuple[float, float, float]] = []  # (log prior + 2 log ρ [+ peak], residual, variance)
    best = -math.inf
    nodes = 0

    def fits(msum: float, sd2: float, s: int, budget: int) -> tuple[float, float]:
        grow = budget * sd2_max[s]
        r = y_sum - msum
        up = min(sum_cap[s], budget * sum_unit[s])
        v_sum = base_sum + sd2 + grow
        low = r + up
        d = r if r > 0 else (low if low < 0 else 0.0)
        fa = log_peak - 0.5 * d * d / v_sum
        rd = r - min(put_sum_cap[s], budget * put_sum_unit[s])
        d = rd if rd > 0 else (low if low < 0 else 0.0)
        return fa, log_peak - 0.5 * d * d / v_sum

    def total(lp: float, la: float, lb: float, lc: float) -> float:
        if la < lb:
            la, lb = lb, la
        a = la if lb == -math.inf else la + math.log1p(math.exp(lb - la))
        if a < lc:
            a, lc = lc, a
        return lp + (a if lc == -math.inf else a + math.log1p(math.exp(lc - a)))

    def loglik(mean: list[float], var: list[float], terms: tuple[tuple[float, float], ...],
               moves: list[Move]) -> float:  # fmt: skip
        if not terms:
            acc = 0.0
            for i in range(m):
                r = y[i] - mean[i]
                acc += LOG_2PI + math.log(var[i]) + r * r / var[i]
            return -0.5 * acc
        if not pair:
            return gaussian_loglik(y, base_var, moves)
        c00, c11, c01, c10 = var[0], var[1], 0.0, 0.0
        for da, oa in terms:
            c00 += da
            c01 += oa
            c10 += oa
            c11 += da
        r0, r1 = y[0] - mean[0], y[1] - mean[1]
        det = c00 * c11 - c01 * c10
        if det <= 0:
            return -math.inf
        maha = (c11 * r0 * r0 - 2 * c01 * r0 * r1 + c00 * r1 * r1) / det
        return -0.5 * (2 * LOG_2PI + math.log(det) + maha)

    def record(lp: float, mean: list[float], var: list[float], terms: tuple[tuple[float, float], ...],
               moves: list[Move], key: Key, used: int, weight: float) -> float:  # fmt: skip
        nonlocal best, nodes
        nodes += 1
        lm = lp + loglik(mean, var, terms, moves)
        _found_add(found, key, lm, used, weight)
        if lm > best:
            best = lm
        return lm

    def misplaced(lp: float, mean: list[float], var: list[float], sd2: float,
                  terms: tuple[tuple[float, float], ...], moves: list[Move], key: Key, used: int,
                  weight: float) -> None:  # fmt: skip
        if used >= max_items or not n_f:
            return
        # Rigorous screen: the likelihood is at most the peak density times the fit of the
        # component sum, where the unknown split of bridging items cancels out.
        r_sum = y_sum - sum(mean)
        v0 = base_sum + sd2
        b, b_two, b_three = _mis_bounds(r_sum, v0, log_peak, max_items - used, t)
        b += lp
        if b < best + log_tol:
            pruned.append(b)
            return
        pruned.append(lp + b_three)
        if lp + b_two < best + LOG_NEGLIGIBLE:
            pruned.append(lp + b_two)
        else:  # the sum bound of each pair of misplaced units, summed at the end
            pairs.append((lp + 2 * log_mis + log_peak, r_sum, v0))
        a = lp + log_mis + log_peak
        # A weight window around the residual holds every unit that could beat the threshold (see
        # the one-sensor search); the rest of the row is bounded at the end.
        thr = best + log_tol
        kept: list[int] = []
        if a >= thr:
            reach = math.sqrt(2.0 * (a - thr) * (v0 + f_sd2_max)) * (1 + 1e-9) + 1e-9
            lo, hi = bisect_left(f_sorted, r_sum - reach), bisect_right(f_sorted, r_sum + reach)
            for j in sorted(f_order[lo:hi]):
                if a - 0.5 * (r_sum - f_wl[j]) ** 2 / (v0 + f_sd2l[j]) >= thr:
                    kept.append(j)
        row = len(rows)
        rows.append((a, r_sum, v0))
        for j in kept:
            excluded.append((row, j))
            slot = foreign[j]
            i = slot.sensors[0]
            mean2, var2 = list(mean), list(var)
            mean2[i] -= -1 * slot.w / 1
            var2[i] += abs(-1) * (slot.sd / 1) ** 2
            record(
                lp + log_mis,
                mean2,
                var2,
                terms,
                [*moves, (-1, slot.w, slot.sd, slot.sensors)],
                _bump(key, slot.sku, -1),
                used + 1,
                weight + -1 * slot.w,
            )

    def visit(s: int, lp: float, mean: list[float], var: list[float], sd2: float,
              terms: tuple[tuple[float, float], ...], moves: list[Move], key: Key, puts: dict[int, int],
              used: int, weight: float, fit: tuple[float, float] | None) -> None:  # fmt: skip
        if used >= max_items:
            return
        budget = max_items - used
        for k in range(s, n_home):
            fa, fb = fit if (fit is not None and k == s) else fits(sum(mean), sd2, k, budget)
            rest = total(lp, z_strict[k] + fa, z_put[k] + fb, z_mis[k])
            if rest < best + log_tol:
                pruned.append(rest)
                return
            k1 = k + 1
            zt1, zp1, zm1 = z_take[k1], z_put[k1], z_mis[k1]
            g1, u1, d1 = grow_t[k1], up_t[k1], down_t[k1]
            for v, lr, dm, dv, ds, dw, da, oa, sku, idx, move in opts[k]:
                if v > 0:
                    av = v
                    if v > budget:
                        continue
                else:
                    av = -v
                    if av > min(PUT_BACK_MAX - puts.get(sku, 0), budget):
                        continue
                # The child's completions bound, inlined (fits and total above, same arithmetic).
                lp2 = lp + lr
                mean2 = list(mean)
                for i in idx:
                    mean2[i] -= dm
                sd2b = sd2 + ds
                used2 = used + av
                b2 = max_items - used2
                r = y_sum - sum(mean2)
                v_sum = base_sum + sd2b + g1[b2]
                low = r + u1[b2]
                d = r if r > 0 else (low if low < 0 else 0.0)
                fa2 = log_peak - 0.5 * d * d / v_sum
                rd = r - d1[b2]
                d = rd if rd > 0 else (low if low < 0 else 0.0)
                fb2 = log_peak - 0.5 * d * d / v_sum
                la, lb = zt1 + fa2, zp1 + fb2
                if la < lb:
                    la, lb = lb, la
                if lb != NEG_INF:
                    la = la + log1p(exp(lb - la))
                lc = zm1
                if la < lc:
                    la, lc = lc, la
                bound = lp2 + (la if lc == NEG_INF else la + log1p(exp(lc - la)))
                if bound < best + log_tol:
                    pruned.append(bound)
                    continue
                var2 = list(var)
                for i in idx:
                    var2[i] += dv
                key2 = _bump(key, sku, v)
                weight2 = weight + dw
                terms2 = (*terms, (da, oa)) if len(idx) > 1 else terms
                moves2 = [*moves, move]
                record(lp2, mean2, var2, terms2, moves2, key2, used2, weight2)
                misplaced(lp2, mean2, var2, sd2b, terms2, moves2, key2, used2, weight2)
                if k1 < n_home and used2 < max_items:  # else the child has nothing left to change
                    puts2 = puts if v > 0 else {**puts, sku: puts.get(sku, 0) - v}
                    visit(k1, lp2, mean2, var2, sd2b, terms2, moves2, key2, puts2, used2, weight2, (fa2, fb2))

    zero = [0.0] * m
    record(0.0, zero, list(base_var), (), [], (), 0, 0)
    misplaced(0.0, zero, list(base_var), 0, (), [], (), 0, 0)
    visit(0, 0.0, zero, list(base_var), 0, (), [], (), {}, 0, 0, None)
    # The closure refers to itself; breaking that cycle lets refcounting, not the GC, free the search.
    visit = None  # type: ignore[assignment]
    return _entries(found), _Deferred(t, True, pruned, rows, excluded, pairs), nodes
