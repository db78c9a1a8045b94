"""Synthetic weight-sensor sessions with ground truth, for tests and `openvend bench recognition`.

Calibration:
- unit weights are gross (pack + wrapper) weights of real packaged snacks and drinks;
- a SKU's unit-weight coefficient of variation is log-normal with median 1.3 % and 90th percentile
  4.6 %, so about 1 SKU in 11 varies by more than 5 % (bagged snacks, hand-filled goods);
- load cells: white noise σ ∈ {0.5, 1, 2, 5} g, slow drift, rare spikes and creep after a load change.

A session is 1–N customer actions: picks of one or more units, put-backs onto the item's own place
and misplaced returns onto another sensor. Evidence is either settled per-sensor deltas (`deltas_g`,
the noise of a delta is the sensor's `noise_sd_g`) or raw 10 Hz streams with settling before and
after, a hand resting on the shelf during each action, drift, creep and spikes.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

# log-normal CV: median 1.3 %, 90th percentile 4.6 % -> sigma = ln(4.6 / 1.3) / z(0.9).
CV_MEDIAN = 0.013
CV_P90 = 0.046
CV_LOG_SIGMA = math.log(CV_P90 / CV_MEDIAN) / 1.2815515655446004
CV_MAX = 0.15  # beyond this a product is not a "unit" any more (weighed goods)

NOISE_LEVELS_G = (0.5, 1.0, 2.0, 5.0)


@dataclass(frozen=True)
class CatalogueItem:
    sku: str
    name: str
    unit_weight_g: float
    price_fen: int
    category: str


def _c(sku: str, name: str, grams: float, fen: int, category: str) -> CatalogueItem:
    return CatalogueItem(sku, name, grams, fen, category)


# Gross weights of common packs; candy bars deliberately include near neighbours (2–5 g apart and
# closer), as real shelves do.
CATALOGUE: tuple[CatalogueItem, ...] = (
    _c("BAR-SNK50", "Snickers 50 g", 52.7, 450, "candy"),
    _c("BAR-MRS51", "Mars 51 g", 53.4, 450, "candy"),
    _c("BAR-TWX50", "Twix 50 g", 51.9, 450, "candy"),
    _c("BAR-TBL50", "Toblerone 50 g", 54.6, 900, "candy"),
    _c("BAR-BNT57", "Bounty 57 g", 59.2, 500, "candy"),
    _c("BAR-KKT42", "KitKat 4-finger 41.5 g", 43.6, 400, "candy"),
    _c("BAR-LIO42", "Lion 42 g", 44.9, 400, "candy"),
    _c("BAR-KBU43", "Kinder Bueno 43 g", 46.8, 600, "candy"),
    _c("BAR-DOV43", "Dove milk 43 g", 48.1, 600, "candy"),
    _c("BAR-PRT60", "Protein bar 60 g", 62.4, 1200, "candy"),
    _c("BAR-DOV80", "Dove tablet 80 g", 84.5, 1150, "candy"),
    _c("GUM-EXT14", "Extra gum 14 g", 16.2, 350, "candy"),
    _c("GUM-BOT40", "Xylitol gum bottle 40 g", 58.0, 1000, "candy"),
    _c("CHP-LAY40", "Lay's 40 g", 42.6, 400, "chips"),
    _c("CHP-LAY70", "Lay's 70 g", 73.1, 650, "chips"),
    _c("CHP-LAY90", "Lay's 90 g", 93.5, 750, "chips"),
    _c("CHP-CHT90", "Cheetos 90 g", 95.2, 750, "chips"),
    _c("CHP-DOR100", "Doritos 100 g", 104.0, 900, "chips"),
    _c("CHP-OIS60", "Oishi prawn crackers 60 g", 63.3, 550, "chips"),
    _c("CHP-LAY135", "Lay's 135 g", 139.6, 1050, "chips"),
    _c("CHP-PRG110", "Pringles 110 g tube", 151.0, 1300, "chips"),
    _c("CHP-WWS52", "Want Want rice crackers 52 g", 55.8, 450, "chips"),
    _c("BIS-ORE97", "Oreo 97 g", 101.5, 800, "biscuits"),
    _c("NUT-PEA160", "Sunflower seeds 160 g", 167.0, 900, "nuts"),
    _c("NUT-MIX30", "Daily nuts 30 g", 33.4, 550, "nuts"),
    _c("JRK-BEF50", "Beef jerky 50 g", 54.1, 1500, "meat"),
    _c("NDL-CUP105", "Cup noodles 105 g", 128.0, 550, "noodles"),
    _c("CAN-COK330", "Coca-Cola 330 ml can", 355.4, 350, "can"),
    _c("CAN-DCK330", "Coca-Cola Zero 330 ml can", 344.0, 350, "can"),
    _c("CAN-SPR330", "Sprite 330 ml can", 353.2, 350, "can"),
    _c("CAN-FAN330", "Fanta 330 ml can", 357.9, 350, "can"),
    _c("CAN-PEP330", "Pepsi 330 ml can", 355.0, 350, "can"),
    _c("CAN-WLK310", "Wong Lo Kat 310 ml can", 349.0, 450, "can"),
    _c("CAN-RDB250", "Red Bull 250 ml can", 274.5, 600, "can"),
    _c("CAN-COF180", "Canned coffee 180 ml", 212.0, 600, "can"),
    _c("BTL-NFS550", "Nongfu Spring 550 ml", 566.0, 200, "bottle"),
    _c("BTL-COK500", "Coca-Cola 500 ml PET", 545.0, 350, "bottle"),
    _c("BTL-SPR500", "Sprite 500 ml PET", 541.5, 350, "bottle"),
    _c("BTL-TEA500", "Oriental Leaf tea 500 ml", 528.0, 500, "bottle"),
    _c("BTL-ICT500", "Iced tea 500 ml", 538.0, 350, "bottle"),
    _c("BTL-POC500", "Pocari Sweat 500 ml", 543.5, 600, "bottle"),
    _c("BTL-GAT600", "Gatorade 600 ml", 640.0, 600, "bottle"),
    _c("BTL-CES555", "C'estbon water 555 ml", 571.0, 200, "bottle"),
    _c("BTL-NFS380", "Nongfu Spring 380 ml", 392.0, 150, "bottle"),
    _c("CTN-MLK250", "Milk 250 ml carton", 262.0, 400, "carton"),
    _c("CTN-SOY250", "Vitasoy 250 ml carton", 265.5, 400, "carton"),
    _c("CTN-YAK100", "Yakult 100 ml", 107.5, 250, "carton"),
)

PRICES_FEN: dict[str, int] = {item.sku: item.price_fen for item in CATALOGUE}


def draw_cv(rng: random.Random) -> float:
    """One SKU's unit-weight coefficient of variation."""
    return min(CV_MAX, CV_MEDIAN * math.exp(rng.gauss(0.0, CV_LOG_SIGMA)))


# Which packs vary most: bagged and hand-portioned goods, then confectionery; filled drinks least.
_VARIABILITY = {"meat": 5, "nuts": 4, "chips": 4, "noodles": 3, "biscuits": 3, "candy": 2, "carton": 1}


def catalogue_products(
    n: int | None = None, *, seed: int = 0, units: tuple[int, int] = (6, 12)
) -> list[dict[str, Any]]:
    """Products in the optimiser's format. `n` picks a seeded subset. CVs are drawn from the
    calibrated distribution, then handed out by category so the largest go to bagged snacks and
    the smallest to drinks: the set of CVs keeps the target quantiles."""
    rng = random.Random(seed)  # noqa: S311 - simulation, not security
    items = list(CATALOGUE)
    if n is not None and n < len(items):
        items = sorted(rng.sample(items, n), key=lambda item: item.sku)
    cvs = sorted(draw_cv(rng) for _ in items)
    ranked = sorted(range(len(items)), key=lambda i: (_VARIABILITY.get(items[i].category, 0), rng.random()))
    cv_of = {i: cvs[rank] for rank, i in enumerate(ranked)}
    products = []
    for i, item in enumerate(items):
        cv = cv_of[i]
        products.append(
            {
                "sku": item.sku,
                "name": item.name,
                "unit_weight_g": item.unit_weight_g,
                "unit_weight_sd_g": round(item.unit_weight_g * cv, 3),
                "units": rng.randint(*units),
            }
        )
    return products


def grid_sensors(
    shelves: int, per_shelf: int, *, noise_sd_g: float = 1.0, capacity_units: int | None = None
) -> list[dict[str, Any]]:
    """Sensors named S<shelf><position>, e.g. S1A … S4D."""
    sensors = []
    for shelf in range(1, shelves + 1):
        for pos in range(per_shelf):
            sensor: dict[str, Any] = {
                "id": f"S{shelf}{chr(65 + pos)}",
                "shelf": shelf,
                "noise_sd_g": noise_sd_g,
            }
            if capacity_units is not None:
                sensor["capacity_units"] = capacity_units
            sensors.append(sensor)
    return sensors


@dataclass
class StreamNoise:
    """Load-cell imperfections of raw streams. Defaults are typical of 5–10 kg shelf cells."""

    hz: float = 10.0
    drift_g_per_s: float = 0.02  # sd of a sensor's slow (thermal) drift rate
    spike_rate: float = 0.005  # share of samples hit by an electrical or knock spike
    spike_g: float = 60.0
    creep_fraction: float = 0.002  # creep after a load change, as a share of the change
    creep_tau_s: float = 2.0
    hand_g: tuple[float, float] = (150.0, 700.0)  # a hand resting on the shelf while picking


@dataclass
class SessionSpec:
    max_items: int = 3  # net items taken per session: 1..max_items
    put_back_rate: float = 0.08  # per session: take one extra unit and put it back where it was
    misplace_rate: float = 0.03  # per session: take one extra unit and return it to another sensor
    vision: bool = False
    vision_accuracy: float = 0.9  # chance the camera reports an SKU's count correctly
    streams: bool = False
    stream_noise: StreamNoise = field(default_factory=StreamNoise)


@dataclass
class _Action:
    sku: str
    qty: int  # negative = put back
    sensors: tuple[str, ...]
    grams: float  # signed total change (negative = removed)
    misplaced: bool = False


def _unit_weights(rng: random.Random, sku: dict[str, Any], qty: int) -> float:
    return sum(rng.gauss(sku["unit_weight_g"], sku["unit_weight_sd_g"]) for _ in range(qty))


def _split(rng: random.Random, grams: float, sensors: tuple[str, ...]) -> dict[str, float]:
    """An item lying across adjacent sensors loads them in a random proportion."""
    if len(sensors) == 1:
        return {sensors[0]: grams}
    weights = [rng.random() + 0.2 for _ in sensors]
    total = sum(weights)
    return {s: grams * w / total for s, w in zip(sensors, weights, strict=True)}


def _plan_actions(
    rng: random.Random, planogram: dict[str, Any], spec: SessionSpec
) -> tuple[list[_Action], Counter[str]]:
    skus = planogram["skus"]
    n_items = rng.randint(1, spec.max_items)
    taken: Counter[str] = Counter()
    actions: list[_Action] = []
    while sum(taken.values()) < n_items:
        sku = rng.choice(skus)
        placement = rng.choice(sku["placements"])
        room = n_items - sum(taken.values())
        # Same-SKU multiples are common: a third of picks take two or more when room allows.
        qty = 1 if room == 1 or rng.random() > 0.33 else rng.randint(2, room)
        qty = min(qty, placement["count"] - taken[sku["sku"]]) if placement["count"] > 0 else 0
        if qty <= 0:
            continue
        taken[sku["sku"]] += qty
        grams = -_unit_weights(rng, sku, qty)
        actions.append(_Action(sku["sku"], qty, tuple(placement["sensors"]), grams))
    all_sensors = [s["id"] for s in planogram["sensors"]]
    for rate, misplaced in ((spec.put_back_rate, False), (spec.misplace_rate, True)):
        if rng.random() >= rate:
            continue
        sku = rng.choice(skus)
        placement = rng.choice(sku["placements"])
        grams = _unit_weights(rng, sku, 1)
        actions.append(_Action(sku["sku"], 1, tuple(placement["sensors"]), -grams))
        back: tuple[str, ...] = tuple(placement["sensors"])
        if misplaced:
            others = [s for s in all_sensors if s not in placement["sensors"]]
            back = (rng.choice(others),) if others else back
        actions.append(_Action(sku["sku"], -1, back, grams, misplaced))
    rng.shuffle(actions)
    # A put-back cannot precede its pick: move each return after the matching pick.
    actions.sort(key=lambda a: a.qty < 0)
    return actions, taken


def _deltas(rng: random.Random, actions: list[_Action]) -> dict[str, float]:
    deltas: dict[str, float] = {}
    for action in actions:
        for sensor, grams in _split(rng, action.grams, action.sensors).items():
            deltas[sensor] = deltas.get(sensor, 0.0) + grams
    return deltas


def _streams(
    rng: random.Random, planogram: dict[str, Any], actions: list[_Action], noise: StreamNoise
) -> dict[str, dict[str, Any]]:
    dt = 1.0 / noise.hz
    # Timeline in samples: 2 s settled, each action ~2–4 s (hand rests, item leaves, hand lifts),
    # 2.5 s settling at the end.
    steps: list[tuple[int, int, dict[str, float], dict[str, float]]] = []  # (start, end, hand, change)
    t = int(2.0 * noise.hz)
    for action in actions:
        length = int(rng.uniform(2.0, 4.0) * noise.hz)
        hand = {s: rng.uniform(*noise.hand_g) / len(action.sensors) for s in action.sensors}
        steps.append((t, t + length, hand, _split(rng, action.grams, action.sensors)))
        t += length + int(rng.uniform(0.3, 1.0) * noise.hz)
    total = t + int(2.5 * noise.hz)
    streams: dict[str, dict[str, Any]] = {}
    for sensor in planogram["sensors"]:
        sid, sd = sensor["id"], sensor["noise_sd_g"]
        drift = rng.gauss(0.0, noise.drift_g_per_s)
        base = [drift * i * dt for i in range(total)]
        for start, end, hand, change in steps:
            if sid in hand:
                for i in range(start, end):
                    base[i] += hand[sid] * (0.6 + 0.4 * rng.random())  # a hand is not still
            if sid in change:
                grams, mid = change[sid], (start + end) // 2
                for i in range(mid, total):
                    settle = 1.0 - math.exp(-(i - mid) * dt / noise.creep_tau_s)
                    base[i] += grams * (1.0 + noise.creep_fraction * settle)
        samples = []
        for value in base:
            value += rng.gauss(0.0, sd)
            if rng.random() < noise.spike_rate:
                value += rng.choice((-1.0, 1.0)) * rng.uniform(0.3, 1.0) * noise.spike_g
            samples.append(round(value, 2))
        streams[sid] = {"hz": noise.hz, "samples_g": samples}
    return streams


def _vision(
    rng: random.Random, planogram: dict[str, Any], taken: Counter[str], spec: SessionSpec
) -> list[dict[str, Any]]:
    seen = []
    skus = [s["sku"] for s in planogram["skus"]]
    for sku, qty in sorted(taken.items()):
        if qty <= 0:
            continue
        if rng.random() < spec.vision_accuracy:
            seen.append({"sku": sku, "qty": qty, "score": round(rng.uniform(0.85, 0.99), 3)})
        elif rng.random() < 0.5:
            # Occluded item: the camera misses one unit or reports a look-alike with a low score.
            if qty > 1:
                seen.append({"sku": sku, "qty": qty - 1, "score": round(rng.uniform(0.5, 0.8), 3)})
        else:
            seen.append({"sku": rng.choice(skus), "qty": qty, "score": round(rng.uniform(0.3, 0.7), 3)})
    return seen


def generate_session(
    rng: random.Random, planogram: dict[str, Any], spec: SessionSpec, session_id: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """One session: (evidence dict, truth dict). Truth items are the net units taken."""
    actions, taken = _plan_actions(rng, planogram, spec)
    sensors = {s["id"]: s for s in planogram["sensors"]}
    evidence: dict[str, Any] = {"session": session_id}
    if spec.streams:
        evidence["streams"] = _streams(rng, planogram, actions, spec.stream_noise)
    else:
        true = _deltas(rng, actions)
        evidence["deltas_g"] = {
            sid: round(true.get(sid, 0.0) + rng.gauss(0.0, s["noise_sd_g"]), 2) for sid, s in sensors.items()
        }
    if spec.vision:
        evidence["vision"] = _vision(rng, planogram, taken, spec)
    truth = {
        "session": session_id,
        "items": [{"sku": sku, "qty": qty} for sku, qty in sorted(taken.items()) if qty > 0],
        "put_back": any(a.qty < 0 for a in actions),
        "misplaced": any(a.misplaced for a in actions),
    }
    return evidence, truth


def generate_sessions(
    planogram: dict[str, Any], n: int, *, seed: int = 0, spec: SessionSpec | None = None
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    rng = random.Random(seed)  # noqa: S311 - simulation, not security
    spec = spec or SessionSpec()
    return [generate_session(rng, planogram, spec, f"s{seed}-{i:05d}") for i in range(n)]
