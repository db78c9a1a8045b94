"""recognize(): extraction → per-component search → joint posterior → vision fusion → decision."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from openvend.recognition.compiled import Compiled, Prior, compiled
from openvend.recognition.decompose import ComponentPosterior, Key, search_many
from openvend.recognition.extraction import extract
from openvend.recognition.fusion import VisionModel
from openvend.recognition.model import Decision, Evidence, Items, Planogram, Result

JOINT_CAP = 256
"""Joint hypotheses kept while combining components; what is cut goes to the unenumerated mass."""
JOINT_FLOOR = 1e-12
ALTERNATIVES = 3
MIN_ALT_P = 1e-6

Joint = tuple[float, dict[int, int], int, float]  # (probability, net units per SKU index, moves, grams)


def _deltas(planogram: Planogram, evidence: Evidence) -> tuple[dict[str, float], dict[str, float]]:
    known = {s.id for s in planogram.sensors}
    if evidence.deltas_g is not None:
        deltas, extra = dict(evidence.deltas_g), dict[str, float]()
    elif evidence.streams is not None:
        deltas, extra = extract(evidence.streams)
    else:
        raise ValueError(f"session {evidence.session}: no deltas and no streams")
    unknown = sorted(set(deltas) - known)
    if unknown:
        raise ValueError(f"session {evidence.session}: unknown sensor ids {unknown}")
    # A sensor that reports nothing is taken as unchanged (sparse deltas list only moving sensors).
    return {s: float(deltas.get(s, 0.0)) for s in known}, extra


Part = list[tuple[float, Key, int, float]]


def _normalised(post: ComponentPosterior) -> tuple[Part, float, float]:
    """Component probabilities, with the unenumerated and unexplained shares."""
    logs = [e[0] for e in post.entries] + [post.log_unenumerated, post.log_unexplained]
    top = max(logs)
    z = top + math.log(sum(math.exp(v - top) for v in logs))
    probs = [(math.exp(lm - z), key, units, grams) for lm, key, units, grams in post.entries]
    return probs, math.exp(post.log_unenumerated - z), math.exp(post.log_unexplained - z)


_NUMPY_PAIRS = 320
"""Above this many (joint, entry) pairs `_combine` ranks them with NumPy; below, in plain Python."""
# (a, b) has at least (a + 1)·(b + 1) candidates no worse and generated no later (both lists are
# sorted best first), so beyond that rank it can never be among the first JOINT_CAP.
_RANKED = np.outer(np.arange(1, JOINT_CAP + 1), np.arange(1, JOINT_CAP + 1)) <= JOINT_CAP


def _combine(parts: list[Part]) -> list[Joint]:
    """Joint hypotheses over the components: every pair of (joint so far, component entry) with
    p·q ≥ JOINT_FLOOR, ranked by p·q (stable in generation order), the first JOINT_CAP kept.

    Both lists are sorted best first, so (i, j) has at least (i + 1)·(j + 1) candidates no worse and
    generated no later: beyond that rank it can never be among the first JOINT_CAP. For the same
    reason p·q only falls along a row and down the first column, so a row stops at the first product
    below the floor, and the rows stop at the first row whose best product is below it."""
    # Parallel lists (floats and ints are not tracked by the garbage collector, tuples are).
    jv: list[float] = [1.0]
    jc: list[dict[int, int]] = [{}]
    ju: list[int] = [0]
    jg: list[float] = [0.0]
    cap = JOINT_CAP
    for probs in parts:
        nj, nb = len(jv), min(len(probs), cap)
        if not nj or not nb:
            return []
        q = [e[0] for e in probs[:nb]]
        if nj * nb > _NUMPY_PAIRS:
            nv, oi, oj = _candidates_np(jv, q, nj, nb)
        else:
            nv, oi, oj = _candidates(jv, q, nj, nb)
        if not any(oj):  # every pair uses the component's best entry
            _, key, u, g = probs[0]
            nc = [jc[i] for i in oi] if not key else [_add_key(jc[i], key) for i in oi]
            nu = [ju[i] + u for i in oi]
            ng = [jg[i] + g for i in oi]
        else:
            keys = [e[1] for e in probs[:nb]]
            us = [e[2] for e in probs[:nb]]
            gs = [e[3] for e in probs[:nb]]
            pairs = list(zip(oi, oj, strict=True))
            nc = [_add_key(jc[i], keys[j]) if keys[j] else jc[i] for i, j in pairs]
            nu = [ju[i] + us[j] for i, j in pairs]
            ng = [jg[i] + gs[j] for i, j in pairs]
        jv, jc, ju, jg = nv, nc, nu, ng
    return list(zip(jv, jc, ju, jg, strict=True))


def _candidates_np(
    jv: list[float], q: list[float], nj: int, nb: int
) -> tuple[list[float], list[int], list[int]]:
    """`_candidates` with NumPy (many pairs): the products of all of them at once, ranked positions
    only."""
    pq = np.array(jv)[:, None] * np.array(q)[None, :]
    flat = np.flatnonzero(_RANKED[:nj, :nb] & (pq >= JOINT_FLOOR))
    top = flat[np.argsort(-pq.ravel()[flat], kind="stable")[:JOINT_CAP]]
    return pq.ravel()[top].tolist(), (top // nb).tolist(), (top % nb).tolist()


_WIDTHS: dict[int, list[int]] = {}
"""Per number of component entries: how many columns of each row `_candidates` may rank."""


def _candidates(
    jv: list[float], q: list[float], nj: int, nb: int
) -> tuple[list[float], list[int], list[int]]:
    """The ranked candidates of `_combine` in plain Python (few pairs): values, rows, columns.

        Pairs are generated row by row, each row down to its first product under the floor (products
        only fall along a row, q being sorted best first), and the rows down to the first whose best
        product is under it (jv is sorted best first). Rows from `wide` on may rank their first column
        only (cap // (i + 1) < 2): that column is generated in one go. (x ≤ y implies x·q ≤ y·q in floating
    point too, so the cut-offs are the loop's.)"""
    cap, floor = JOINT_CAP, JOINT_FLOOR
    q0 = q[0]
    wide = 0 if nb == 1 else min(nj, cap // 2)
    widths = _WIDTHS.get(nb)
    if widths is None:
        widths = _WIDTHS[nb] = [min(nb, cap // (i + 1)) for i in range(cap)]
    cv: list[float] = []
    ci: list[int] = []
    cj: list[int] = []
    for i in range(wide):
        p = jv[i]
        value = p * q0
        if value < floor:
            break
        cv.append(value)
        ci.append(i)
        cj.append(0)
        for j in range(1, widths[i]):
            value = p * q[j]
            if value < floor:
                break
            cv.append(value)
            ci.append(i)
            cj.append(j)
    else:
        tail = [p * q0 for p in jv[wide:]]
        n = len(tail)
        while n and tail[n - 1] < floor:
            n -= 1
        if n:
            cv.extend(tail[:n])
            ci.extend(range(wide, wide + n))
            cj.extend([0] * n)
    if not any(cj):
        # Only the component's best entry: generation order is rank order (p falls, q0 is fixed).
        return cv, ci, cj
    order = sorted(range(len(cv)), key=lambda k: -cv[k])[:cap]  # stable: ties keep generation order
    return [cv[k] for k in order], [ci[k] for k in order], [cj[k] for k in order]


def _add_key(counts: dict[int, int], key: Key) -> dict[int, int]:
    """A copy of `counts` plus a component's net units (the original is shared, never mutated)."""
    c = dict(counts)
    for k, n in key:
        c[k] = c.get(k, 0) + n
    return c


def _put_in_factor(prior: Prior, counts: Mapping[int, int]) -> float:
    """Prior factor for units put in that the session did not take out: a put-in of a SKU is a
    return of a unit taken in the same session unless the SKU's net count is negative."""
    unmatched = sum(-n for n in counts.values() if n < 0)
    return prior.unmatched_put_in**unmatched if unmatched else 1.0


def _items(comp: Compiled, counts: Mapping[int, int]) -> Items:
    return tuple(sorted((comp.sku_ids[k], n) for k, n in counts.items() if n))


def _fmt(items: Items) -> str:
    return ", ".join(f"{q:+d} {s}" for s, q in items) if items else "nothing"


def run(planogram: Planogram, evidence: Evidence, *, threshold: float = 0.99, max_items: int = 6) -> Result:
    comp = compiled(planogram)
    deltas, extra = _deltas(planogram, evidence)
    prior = Prior()
    parts: list[Part] = []
    unexplained: list[tuple[float, list[str]]] = []
    ys, bases, names = [], [], []
    for c in comp.components:
        ids = [comp.sensor_ids[g] for g in c.sensors]
        ys.append([deltas[i] for i in ids])
        bases.append([c.noise_var[j] + extra.get(i, 0.0) ** 2 for j, i in enumerate(ids)])
        names.append(ids)
    for post, ids in zip(search_many(comp.components, ys, bases, prior, max_items), names, strict=True):
        probs, _, unexpl = _normalised(post)
        parts.append(probs)
        unexplained.append((unexpl, ids))
    combined = _combine(parts)
    # Everything the joint list does not hold: unenumerated, unexplained and cut while combining
    # (bounded before the put-in factor, which only lowers masses), and hypotheses beyond max_items
    # (counted against us, with their put-in factor: conservative).
    lost = max(0.0, 1.0 - sum(j[0] for j in combined))
    joint: list[Joint] = []
    for p, counts, units, grams in combined:
        p *= _put_in_factor(prior, counts)
        if units <= max_items:
            joint.append((p, counts, units, grams))
        else:
            lost += p

    by_items: dict[Items, tuple[float, float]] = {}
    for p, counts, _, grams in joint:
        key = _items(comp, counts)
        old = by_items.get(key, (0.0, grams))
        by_items[key] = (old[0] + p, old[1] if old[0] >= p else grams)

    vision = VisionModel(evidence.vision)
    if vision:
        skus = {s for items in by_items for s, _ in items} | set(vision.reports)
        scored = {k: (p * math.exp(vision.log_score(dict(k), skus)), g) for k, (p, g) in by_items.items()}
        lost_mass = lost * math.exp(vision.log_max(skus))
    else:
        scored, lost_mass = by_items, lost
    total = sum(p for p, _ in scored.values()) + lost_mass
    ranked = sorted(scored.items(), key=lambda kv: -kv[1][0])
    if not ranked or total <= 0:
        worst = max(unexplained, key=lambda u: u[0])[1]
        reason = f"weight change on {', '.join(worst)} not explained by the planogram"
        return Result(evidence.session, "review", 0.0, (), (), reason, extraction_sd_g=extra)
    (best, (p_best, g_best)), *others = ranked
    confidence = min(1.0, p_best / total)
    alternatives = tuple(
        (items, p / total) for items, (p, _) in others[:ALTERNATIVES] if p / total >= MIN_ALT_P
    )

    decision: Decision = "accept" if confidence >= threshold else "review"
    if decision == "accept":
        reason = f"weight change explained by {_fmt(best)}"
    else:
        worst_unexpl = max(unexplained, key=lambda u: u[0])
        if others and others[0][1][0] / total >= lost_mass / total:
            alt, (p_alt, g_alt) = others[0]
            reason = (
                f"two hypotheses within {abs(g_best - g_alt):.1f} g: {_fmt(best)} "
                f"(p={confidence:.3f}) vs {_fmt(alt)} (p={p_alt / total:.3f})"
            )
        elif worst_unexpl[0] > 0.5 * lost:
            reason = f"weight change on {', '.join(worst_unexpl[1])} not explained by the planogram"
        else:
            reason = f"confidence {confidence:.3f} below {threshold}: too many plausible moves"
    if vision:
        agree = all(vision.reports.get(s, (0, 0.0))[0] == q for s, q in best) and all(
            q == 0 or dict(best).get(s, 0) == q for s, (q, _) in vision.reports.items()
        )
        reason += "; vision agrees" if agree else "; vision disagrees"
    return Result(
        session=evidence.session,
        decision=decision,
        confidence=confidence,
        items=best,
        alternatives=alternatives,
        reason=reason,
        extraction_sd_g=extra,
    )
