"""recognize(): extraction → per-component search → joint posterior → vision fusion → decision."""

from __future__ import annotations

import math
from typing import NamedTuple

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


# (a, b) has at least (a + 1)·(b + 1) candidates no worse and generated no later (both lists are
# sorted best first), so beyond that rank it can never be among the first JOINT_CAP.
_RANKED = np.outer(np.arange(1, JOINT_CAP + 1), np.arange(1, JOINT_CAP + 1)) <= JOINT_CAP


class JointList(NamedTuple):
    """Joint hypotheses over the components, best first, as parallel arrays (one row a hypothesis):
    NumPy does per component what a list of dicts would do hypothesis by hypothesis."""

    p: np.ndarray
    """Probability (before the put-in factor)."""
    counts: np.ndarray
    """Net units per SKU index (hypotheses × SKUs)."""
    units: np.ndarray
    """Unit moves."""
    grams: np.ndarray
    """Predicted total delta."""


def _combine(parts: list[Part], n_skus: int) -> JointList:
    """Joint hypotheses over the components: every pair of (joint so far, component entry) with
    p·q ≥ JOINT_FLOOR, ranked by p·q (stable in generation order: row by row, each row by column),
    the first JOINT_CAP kept.

    Most components of a session did not move: their second entry is ~1e-6 of the first, so that
    often no joint hypothesis times it reaches the floor and every pair uses the best entry
    (`_with_best_entry`: a few array operations); the others rank their pairs
    (`_with_ranked_entries`). Each value is the same product, summed or multiplied in the same order,
    as ranking the pairs one by one in Python would give (NumPy float64 and int64 arithmetic is
    Python's), so the result is bit for bit the same."""
    joint = JointList(
        np.ones(1), np.zeros((1, n_skus), dtype=np.int64), np.zeros(1, dtype=np.int64), np.zeros(1)
    )
    for probs in parts:
        if not len(joint.p) or not probs:
            return JointList(joint.p[:0], joint.counts[:0], joint.units[:0], joint.grams[:0])
        # p·q only falls along a row and down a column (both lists are sorted best first, and
        # x ≤ y implies x·q ≤ y·q in floating point): if the best joint hypothesis times the second
        # entry is under the floor, so is every pair but those with the best entry.
        if len(probs) == 1 or joint.p[0] * probs[1][0] < JOINT_FLOOR:
            joint = _with_best_entry(joint, probs[0])
        else:
            joint = _with_ranked_entries(joint, probs[:JOINT_CAP])
    return joint


def _with_best_entry(joint: JointList, best: tuple[float, Key, int, float]) -> JointList:
    """Every joint hypothesis with the component's best entry: the rank order is the joint list's
    own (q is fixed), and the products under the floor are a suffix (p falls down the list).

    Adding 0 units or 0 g is skipped: an identity, as joint grams are never -0.0 (they start at
    +0.0, and a sum is -0.0 only when both terms are)."""
    q, key, units, grams = best
    p, counts, moves, total = joint.p * q, joint.counts, joint.units, joint.grams
    if p[-1] < JOINT_FLOOR:
        n = int(np.count_nonzero(p >= JOINT_FLOOR))
        p, counts, moves, total = p[:n], counts[:n], moves[:n], total[:n]
    if key:
        counts = counts + _dense((key,), counts.shape[1])
    if units:
        moves = moves + units
    if grams:
        total = total + float(grams)
    return JointList(p, counts, moves, total)


def _with_ranked_entries(joint: JointList, entries: Part) -> JointList:
    """The first JOINT_CAP pairs by p·q, ties in generation order (row by row, each by column).

    Both lists are sorted best first, so (i, j) has at least (i + 1)·(j + 1) candidates no worse and
    generated no later: beyond that rank (`_RANKED`) it can never be among the first JOINT_CAP."""
    nj, nb = len(joint.p), len(entries)
    pq = (joint.p[:, None] * np.array([e[0] for e in entries])[None, :]).ravel()
    flat = np.flatnonzero(_RANKED[:nj, :nb].ravel() & (pq >= JOINT_FLOOR))
    top = flat[np.argsort(-pq[flat], kind="stable")[:JOINT_CAP]]
    rows, cols = np.divmod(top, nb)
    used = np.unique(cols).tolist()
    keys = np.zeros((nb, joint.counts.shape[1]), dtype=np.int64)
    keys[used] = _dense([entries[j][1] for j in used], joint.counts.shape[1])
    return JointList(
        pq[top],
        joint.counts[rows] + keys[cols],
        joint.units[rows] + np.array([e[2] for e in entries], dtype=np.int64)[cols],
        joint.grams[rows] + np.array([e[3] for e in entries], dtype=float)[cols],
    )


def _dense(keys: list[Key] | tuple[Key, ...], n_skus: int) -> np.ndarray:
    """Component keys as rows of net units per SKU index."""
    out = np.zeros((len(keys), n_skus), dtype=np.int64)
    for row, key in enumerate(keys):
        for k, n in key:
            out[row, k] += n
    return out


def _put_in_factor(prior: Prior, unmatched: int) -> float:
    """Prior factor for units put in that the session did not take out: a put-in of a SKU is a
    return of a unit taken in the same session unless the SKU's net count is negative."""
    return prior.unmatched_put_in**unmatched if unmatched else 1.0


def _by_items(
    comp: Compiled, prior: Prior, joint: JointList, max_items: int
) -> tuple[dict[Items, tuple[float, float]], float]:
    """Joint hypotheses summed per item list (probability, grams of the likeliest), best first
    within each, with the put-in factor; and the probability the list does not hold.

    That is everything not enumerated: unenumerated, unexplained and cut while combining (bounded
    before the put-in factor, which only lowers masses), and hypotheses beyond max_items (counted
    against us, with their put-in factor: conservative). Sums run in joint-list order."""
    lost = max(0.0, 1.0 - sum(joint.p.tolist()))
    unmatched = np.maximum(-joint.counts, 0).sum(axis=1)
    factors = [_put_in_factor(prior, n) for n in range(int(unmatched.max(initial=0)) + 1)]
    p = joint.p * np.array(factors)[unmatched]  # p·1.0 is p: the same products as one by one
    beyond = joint.units > max_items
    for p_beyond in p[beyond].tolist():
        lost += p_beyond
    kept = ~beyond
    moved = np.flatnonzero(joint.counts.any(axis=0)).tolist()  # SKU indices some hypothesis moves
    # One row of net units per item list (items are the row's nonzero entries), in first-seen order.
    rows = map(tuple, joint.counts[kept][:, moved].tolist())
    by_row: dict[tuple[int, ...], tuple[float, float]] = {}
    for row, p_row, grams in zip(rows, p[kept].tolist(), joint.grams[kept].tolist(), strict=True):
        old = by_row.get(row, (0.0, grams))
        by_row[row] = (old[0] + p_row, old[1] if old[0] >= p_row else grams)
    by_items = {
        tuple(sorted((comp.sku_ids[k], n) for k, n in zip(moved, row, strict=True) if n)): value
        for row, value in by_row.items()
    }
    return by_items, lost


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
    by_items, lost = _by_items(comp, prior, _combine(parts, len(comp.sku_ids)), max_items)

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
