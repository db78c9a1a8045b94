"""`openvend bench recognition`: weight (and vision) recognition against two baselines.

Tiers, each on the same generated sessions for every method:
  opt-σ1      optimised planogram (30 catalogue SKUs on 4 shelves × 4 sensors), σ = 1 g, 1–3 items
  opt-σ0.5/2/5  the same, re-optimised for that noise
  adversarial a fixed planogram with near-identical weights sharing four sensors, σ = 1 g
  streams     the opt-σ1 planogram from raw 10 Hz streams (drift, spikes, creep, a resting hand)
  vision      the adversarial planogram with camera counts
  latency     8 shelves × 4 sensors, 30 SKUs, 1–6 items
Methods: ours (`recognize`), divide-and-round and AIM3S-style (openvend.recognition.baselines).
Sessions include put-backs (8 %) and misplaced returns (3 %). BENCH_RECOGNITION_SESSIONS sets the
sessions per tier (default 2000) and BENCH_RECOGNITION_BUDGET_S the seconds per tier (default 10);
the last line is one JSON object with every figure.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import platform
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from openvend.recognition import baselines, generator
from openvend.recognition import planogram as design

SESSIONS = int(os.environ.get("BENCH_RECOGNITION_SESSIONS", "2000"))
# Wall-clock budget per tier (all methods together); a tier that runs out is scored on the sessions
# it finished, and the report says how many.
BUDGET_S = float(os.environ.get("BENCH_RECOGNITION_BUDGET_S", "10"))
THRESHOLD = 0.99
COVERAGES = (1.0, 0.99, 0.98, 0.95, 0.9, 0.8)
# Below this many sessions an accuracy target at the 99 % level is not decided either way.
MIN_SESSIONS = 200
ADVERSARIAL_PAIRS = (
    ("BAR-SNK50", "BAR-TWX50"),  # 0.8 g apart
    ("CAN-COK330", "CAN-PEP330"),  # 0.4 g apart
    ("BAR-KBU43", "BAR-DOV43"),  # 1.3 g apart
    ("CTN-MLK250", "CTN-SOY250"),  # 3.5 g apart
)

Method = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass
class Tier:
    name: str
    planogram: dict[str, Any]
    spec: generator.SessionSpec
    seed: int
    sessions: int = SESSIONS
    sessions_data: list[tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=list)


# ------------------------------------------------------------------------------------------ planograms


def optimised(noise: float, *, shelves: int = 4, per_shelf: int = 4) -> dict[str, Any]:
    products = generator.catalogue_products(30, seed=1)
    sensors = generator.grid_sensors(shelves, per_shelf, noise_sd_g=noise, capacity_units=24)
    return design.optimize(products, sensors, seed=0, cabinet=f"opt-{shelves}x{per_shelf}-s{noise:g}")


def adversarial(noise: float = 1.0) -> dict[str, Any]:
    """Four look-alike pairs, each pair sharing one sensor of shelf 1; 22 more SKUs optimised over
    the other twelve sensors."""
    products = generator.catalogue_products(seed=1)
    by_sku = {p["sku"]: p for p in products}
    paired = {sku for pair in ADVERSARIAL_PAIRS for sku in pair}
    rest = [p for p in products if p["sku"] not in paired][:22]
    sensors = generator.grid_sensors(4, 4, noise_sd_g=noise, capacity_units=24)
    plan = design.optimize(rest, sensors[4:], seed=0, cabinet="adversarial")
    plan["sensors"] = [dict(s) for s in sensors]
    for sensor, pair in zip(sensors[:4], ADVERSARIAL_PAIRS, strict=True):
        for sku in pair:
            p = by_sku[sku]
            plan["skus"].append(
                {
                    "sku": sku,
                    "name": p["name"],
                    "unit_weight_g": p["unit_weight_g"],
                    "unit_weight_sd_g": p["unit_weight_sd_g"],
                    "placements": [{"sensors": [sensor["id"]], "count": p["units"]}],
                }
            )
    return plan


def tiers() -> list[Tier]:
    opt1 = optimised(1.0)
    adv = adversarial()
    spec = generator.SessionSpec
    out = [Tier("opt-σ1", opt1, spec(), seed=101)]
    out += [Tier(f"opt-σ{s:g}", optimised(s), spec(), seed=102 + i) for i, s in enumerate((0.5, 2.0, 5.0))]
    out.append(Tier("adversarial", adv, spec(), seed=105))
    out.append(Tier("streams", opt1, spec(streams=True), seed=106))
    out.append(Tier("vision", adv, spec(vision=True), seed=107))
    out.append(
        Tier(
            "latency",
            optimised(1.0, shelves=8),
            spec(max_items=6),
            seed=108,
            sessions=max(200, SESSIONS // 2),
        )
    )
    return out


# ------------------------------------------------------------------------------------------- methods


def _ours_available() -> bool:
    return importlib.util.find_spec("openvend.recognition.engine") is not None


def methods(planogram: dict[str, Any]) -> dict[str, Method]:
    out: dict[str, Method] = {}
    if _ours_available():
        from openvend.recognition.model import Evidence, Planogram, recognize

        compiled = Planogram.from_dict(planogram)

        def ours(evidence: dict[str, Any]) -> dict[str, Any]:
            return recognize(
                compiled, Evidence.from_dict(evidence), threshold=THRESHOLD, max_items=6
            ).to_dict()

        out["ours"] = ours
    out["divide-round"] = lambda ev: baselines.divide_and_round(planogram, ev, threshold=THRESHOLD)
    out["aim3s"] = lambda ev: baselines.aim3s(planogram, ev, threshold=THRESHOLD)
    return out


# ------------------------------------------------------------------------------------------- metrics


def _counter(items: Sequence[Mapping[str, Any]]) -> Counter[str]:
    c: Counter[str] = Counter()
    for item in items:
        c[str(item["sku"])] += int(item["qty"])
    return Counter({k: v for k, v in c.items() if v != 0})


def _pct(values: Sequence[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _ece(conf: Sequence[float], hit: Sequence[bool], bins: int = 10) -> float:
    total = 0.0
    for b in range(bins):
        idx = [i for i, c in enumerate(conf) if (b / bins < c <= (b + 1) / bins) or (b == 0 and c == 0.0)]
        if idx:
            gap = abs(sum(conf[i] for i in idx) / len(idx) - sum(hit[i] for i in idx) / len(idx))
            total += gap * len(idx) / len(conf)
    return total


def score(
    results: Sequence[dict[str, Any]], truths: Sequence[dict[str, Any]], latencies: Sequence[float]
) -> dict[str, Any]:
    prices = generator.PRICES_FEN
    hits, conf = [], []
    tp = n_pred = n_true = 0
    money = []
    for result, truth in zip(results, truths, strict=True):
        pred, true = _counter(result["items"]), _counter(truth["items"])
        hits.append(pred == true)
        conf.append(min(1.0, max(0.0, float(result["confidence"]))))
        tp += sum(min(q, true[k]) for k, q in pred.items() if q > 0)
        n_pred += sum(q for q in pred.values() if q > 0)
        n_true += sum(true.values())
        bill = sum(prices.get(k, 0) * q for k, q in pred.items())
        money.append(abs(bill - sum(prices.get(k, 0) * q for k, q in true.items())))
    n = len(hits)
    precision = tp / n_pred if n_pred else 1.0
    recall = tp / n_true if n_true else 1.0
    accepted = [i for i, r in enumerate(results) if r["decision"] == "accept"]
    acc_hits = [hits[i] for i in accepted]
    order = sorted(range(n), key=lambda i: -conf[i])
    curve = {}
    for cov in COVERAGES:
        top = order[: max(1, round(cov * n))]
        curve[f"{cov:g}"] = sum(hits[i] for i in top) / len(top)
    return {
        "sessions": n,
        "exact": sum(hits) / n,
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "money_err_fen_mean": sum(money) / n,
        "money_err_share": sum(1 for m in money if m) / n,
        "ece": _ece(conf, hits),
        "brier": sum((c - h) ** 2 for c, h in zip(conf, hits, strict=True)) / n,
        "coverage": len(accepted) / n,
        "review": 1.0 - len(accepted) / n,
        "accepted_exact": sum(acc_hits) / len(acc_hits) if acc_hits else math.nan,
        "accepted_predicted": sum(conf[i] for i in accepted) / len(accepted) if accepted else math.nan,
        "accepted_money_err_fen_mean": sum(money[i] for i in accepted) / len(accepted)
        if accepted
        else math.nan,
        "risk_coverage": curve,
        "latency_ms_p50": _pct(latencies, 0.5) * 1e3,
        "latency_ms_p99": _pct(latencies, 0.99) * 1e3,
    }


def run_tier(tier: Tier) -> dict[str, Any]:
    """Every method on session 1, then session 2, …: whatever the time budget cuts off, all methods
    are scored on the same sessions."""
    tier.sessions_data = generator.generate_sessions(
        tier.planogram, tier.sessions, seed=tier.seed, spec=tier.spec
    )
    named = methods(tier.planogram)
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in named}
    latencies: dict[str, list[float]] = {name: [] for name in named}
    errors: Counter[str] = Counter()
    truths = []
    deadline = time.perf_counter() + BUDGET_S
    for evidence, truth in tier.sessions_data:
        if time.perf_counter() > deadline:
            break
        truths.append(truth)
        for name, method in named.items():
            start = time.perf_counter()
            try:
                result = method(evidence)
            except Exception as exc:  # one failing session must not hide the tier's figures
                errors[name] += 1
                result = {"session": truth["session"], "decision": "review", "confidence": 0.0, "items": []}
                result["reason"] = f"error: {type(exc).__name__}: {exc}"
            latencies[name].append(time.perf_counter() - start)
            results[name].append(result)
    tier.sessions = len(truths)
    return {name: score(results[name], truths, latencies[name]) | {"errors": errors[name]} for name in named}


# ------------------------------------------------------------------------------------------- report


def _f(x: float, digits: int = 2) -> str:
    return "n/a" if isinstance(x, float) and math.isnan(x) else f"{100 * x:.{digits}f}%"


def _print_table(figures: dict[str, dict[str, Any]]) -> None:
    head = (
        f"{'tier':<12} {'method':<13} {'exact':>8} {'F1':>8} {'money¥':>7} {'ECE':>6} {'Brier':>6} "
        f"{'review':>7} {'acc@.99':>8} {'pred@.99':>8} {'acc@95%':>8} {'p50ms':>6} {'p99ms':>6}"
    )
    print(head)
    print("-" * len(head))
    for tier, by_method in figures.items():
        for name, m in by_method.items():
            if name.startswith("_"):
                continue
            print(
                f"{tier:<12} {name:<13} {_f(m['exact']):>8} {_f(m['f1']):>8} "
                f"{m['money_err_fen_mean'] / 100:>7.3f} {m['ece']:>6.3f} {m['brier']:>6.3f} "
                f"{_f(m['review']):>7} {_f(m['accepted_exact']):>8} {_f(m['accepted_predicted']):>8} "
                f"{_f(m['risk_coverage']['0.95']):>8} {m['latency_ms_p50']:>6.2f} {m['latency_ms_p99']:>6.2f}"
            )


def targets(figures: dict[str, dict[str, Any]]) -> dict[str, Any]:
    if "ours" not in figures["opt-σ1"]:
        return {"evaluated": False, "reason": "recognize (openvend.recognition.engine) is not available"}
    t1 = figures["opt-σ1"]["ours"]
    adv = figures["adversarial"]["ours"]
    gaps = {t: abs(m["ours"]["accepted_predicted"] - m["ours"]["accepted_exact"]) for t, m in figures.items()}
    # Strictly better session exact-match than each baseline; a tie (e.g. all at 100 %) is not better.
    beats = {
        t: {b: round(m["ours"]["exact"] - m[b]["exact"], 6) for b in ("divide-round", "aim3s")}
        for t, m in figures.items()
    }
    lat = figures["latency"]["ours"]["latency_ms_p99"]
    lat_n = figures["latency"]["ours"]["sessions"]
    goal: dict[str, Any] = {
        "opt_s1_exact_ge_99.5_and_review_le_1": {
            "met": t1["exact"] >= 0.995 and t1["review"] <= 0.01,
            "sessions": t1["sessions"],
            "exact": t1["exact"],
            "accepted_exact": t1["accepted_exact"],
            "review": t1["review"],
        },
        "adversarial_accepted_exact_ge_99": {
            "met": adv["accepted_exact"] >= 0.99,
            "sessions": adv["sessions"],
            "accepted_exact": adv["accepted_exact"],
            "coverage": adv["coverage"],
        },
        "beats_both_baselines_on_exact": {
            "met": all(d > 0 for margins in beats.values() for d in margins.values()),
            "sessions": min(m["ours"]["sessions"] for m in figures.values()),
            "margin_per_tier": beats,
        },
        "predicted_vs_measured_within_1pt": {
            "met": all(g <= 0.01 for g in gaps.values()),
            "sessions": min(m["ours"]["sessions"] for m in figures.values()),
            "gap_points": {t: round(100 * g, 3) for t, g in gaps.items()},
        },
        "latency_p99_le_5ms_8x4_30sku_6items": {"met": lat <= 5.0, "sessions": lat_n, "p99_ms": lat},
    }
    for key, value in goal.items():
        # Accuracy at the 99 % level needs hundreds of sessions; latency far off target does not.
        if value["sessions"] < MIN_SESSIONS and not (key.startswith("latency") and not value["met"]):
            value["met"] = None
            value["undecided"] = f"only {value['sessions']} sessions (< {MIN_SESSIONS})"
    return {"evaluated": True, **goal}


def main() -> int:
    started = time.perf_counter()
    figures: dict[str, dict[str, Any]] = {}
    checks: dict[str, float] = {}
    run: dict[str, int] = {}
    for tier in tiers():
        planned = tier.sessions
        figures[tier.name] = run_tier(tier)
        run[tier.name] = tier.sessions
        checks[tier.name] = design.check(tier.planogram)["overall_predicted_accuracy"]
        cut = "" if tier.sessions == planned else f" (of {planned}: time budget {BUDGET_S:g} s reached)"
        print(f"# {tier.name}: {tier.sessions} sessions{cut}; check() predicts {_f(checks[tier.name])}")
    print()
    _print_table(figures)
    goal = targets(figures)
    print()
    if goal["evaluated"]:
        for key, value in goal.items():
            if key != "evaluated":
                verdict = {True: "MET", False: "NOT MET", None: "UNDECIDED"}[value["met"]]
                extra = f" ({value['undecided']})" if "undecided" in value else ""
                print(f"target {key}: {verdict}{extra}")
    else:
        print(f"targets not evaluated: {goal['reason']}")
    elapsed = time.perf_counter() - started
    payload = {
        "benchmark": "recognition",
        "sessions_per_tier": SESSIONS,
        "sessions_run": run,
        "budget_s_per_tier": BUDGET_S,
        "threshold": THRESHOLD,
        "machine": f"{platform.machine()} {os.cpu_count()} cpu, Python {platform.python_version()}",
        "seconds": round(elapsed, 1),
        "check_predicted_accuracy": checks,
        "tiers": figures,
        "targets": goal,
    }
    # JSON has no NaN: an empty set of accepted sessions prints as null.
    print(json.dumps(_clean(payload), allow_nan=False))
    return 0


def _clean(obj: Any) -> Any:
    if isinstance(obj, float):
        return None if math.isnan(obj) else round(obj, 6)
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    return obj
