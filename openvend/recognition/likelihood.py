"""The measurement model: what a set of moves predicts on each load cell, and how sure that prediction is.

For a move of n units of a SKU with unit weight w (sd s_w) on a placement over k sensors, the
predicted delta on each of those sensors is -n·w/k (taking removes weight). Its variance has three
parts: weight spread |n|·(s_w/k)² per sensor, the sensor's own noise σ², and the extraction
uncertainty e² from the stream (extraction.py). An item bridging k sensors splits its weight in an
unknown proportion: we integrate that proportion out as a Dirichlet(1, …, 1) share vector
approximated by a Gaussian, which adds (n·w)²/(k(k+1))·(I - 11ᵀ/k) to the covariance of those
sensors. Its sum over the bridged sensors is unaffected, so the pair total stays sharp while the
split itself is free.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from openvend.recognition.model import Action, Planogram

LOG_2PI = math.log(2.0 * math.pi)


def split_var_factor(k: int) -> float:
    """Per-share variance scale of a Dirichlet(1, …, 1) split over k sensors (1/12 for a pair)."""
    return 1.0 / (k * (k + 1)) if k > 1 else 0.0


def predict_marginal(
    planogram: Planogram,
    actions: Sequence[Action],
    *,
    extraction_sd_g: Mapping[str, float] | None = None,
) -> tuple[dict[str, float], dict[str, float]]:
    extraction = extraction_sd_g or {}
    mean = {s.id: 0.0 for s in planogram.sensors}
    var = {s.id: s.noise_sd_g**2 + extraction.get(s.id, 0.0) ** 2 for s in planogram.sensors}
    for action in actions:
        sku = planogram.sku(action.sku)
        k = len(action.sensors)
        split = split_var_factor(k) * (k - 1) / k  # diagonal of (I - 11ᵀ/k) is (k-1)/k
        for sensor_id in action.sensors:
            if sensor_id not in mean:
                raise ValueError(f"action on unknown sensor {sensor_id}")
            mean[sensor_id] -= action.qty * sku.unit_weight_g / k
            var[sensor_id] += abs(action.qty) * (sku.unit_weight_sd_g / k) ** 2
            var[sensor_id] += (action.qty * sku.unit_weight_g) ** 2 * split
    return mean, {k: math.sqrt(v) for k, v in var.items()}


Move = tuple[int, float, float, tuple[int, ...]]
"""(n, unit weight, unit weight sd, local sensor indices) of one hypothesised move."""


def gaussian_loglik(y: Sequence[float], base_var: Sequence[float], moves: Sequence[Move]) -> float:
    """Log density of observed deltas `y` (one component's sensors) under the moves.

    Fast path: without bridging moves the covariance is diagonal and this is a plain sum; with them
    the (small) full covariance is built and solved with NumPy."""
    m = len(y)
    mean = [0.0] * m
    var = list(base_var)
    bridged = False
    for n, w, sd, idx in moves:
        k = len(idx)
        for i in idx:
            mean[i] -= n * w / k
            var[i] += abs(n) * (sd / k) ** 2
        bridged = bridged or k > 1
    if not bridged:
        total = 0.0
        for i in range(m):
            ri = y[i] - mean[i]
            total += LOG_2PI + math.log(var[i]) + ri * ri / var[i]
        return -0.5 * total
    cov = [[0.0] * m for _ in range(m)]
    for i in range(m):
        cov[i][i] = var[i]
    for n, w, sd, idx in moves:
        k = len(idx)
        if k < 2:
            continue
        # Weight spread is shared by the bridged sensors (off-diagonal sd²/k²); the split adds
        # (n·w)²/(k(k+1))·(I - 11ᵀ/k).
        spread = abs(n) * (sd / k) ** 2
        split = (n * w) ** 2 * split_var_factor(k)
        for a in idx:
            for b in idx:
                if a == b:
                    cov[a][a] += split * (1 - 1 / k)
                else:
                    cov[a][b] += spread - split / k
    r = [y[i] - mean[i] for i in range(m)]
    if m == 2:  # closed form: most bridged components are one pair of load cells
        det = cov[0][0] * cov[1][1] - cov[0][1] * cov[1][0]
        if det <= 0:
            return -math.inf
        maha = (cov[1][1] * r[0] * r[0] - 2 * cov[0][1] * r[0] * r[1] + cov[0][0] * r[1] * r[1]) / det
        return -0.5 * (2 * LOG_2PI + math.log(det) + maha)
    c = np.array(cov)
    sign, logdet = np.linalg.slogdet(c)
    if sign <= 0:
        return -math.inf
    rv = np.array(r)
    return -0.5 * (m * LOG_2PI + logdet + float(rv @ np.linalg.solve(c, rv)))
