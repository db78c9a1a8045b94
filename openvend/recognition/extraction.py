"""From raw load-cell streams to a session's net change per sensor, with an extraction uncertainty.

Per stream:
1. Spikes (EMI, a knock on the cabinet) are replaced by the running median when they sit more than
   SPIKE_K robust sds away from it; the robust sd comes from the MAD of first differences, which a
   step change in load barely moves.
2. A window is *stable* when its sd stays within STABLE_K noise sds. The pre-activity level is read
   from the last stable window before the first unstable one (so a re-zero or drift before the door
   opened is tracked, not averaged in); the post level from the end of the final stable segment, so
   a hand resting on the shelf that is lifted again before the door closes leaves no trace.
3. Drift: the slope of the pre-activity segment (thermal drift) is extrapolated across the activity
   and removed when it is significant. Creep: a post segment still sloping beyond that drift means
   the cell has not settled; its remaining movement over one window is added to the uncertainty.
4. No stable ending (a hand still on the shelf at door close) or too short a stream: the delta is
   still reported but with a wide uncertainty, so the decision goes to review rather than guessing.

The returned sd is the *extra* uncertainty beyond the sensor's own noise_sd_g (which the likelihood
already carries).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from openvend.recognition.model import Stream

WINDOW_S = 0.4
SPIKE_K = 6.0
STABLE_K = 3.0
MIN_NOISE_G = 0.05


def _robust_noise(x: np.ndarray) -> float:
    d = np.diff(x)
    if d.size == 0:
        return MIN_NOISE_G
    mad = float(np.median(np.abs(d - np.median(d))))
    return max(MIN_NOISE_G, 1.4826 * mad / np.sqrt(2.0))


def _running_median(x: np.ndarray, k: int) -> np.ndarray:
    pad = k // 2
    padded = np.pad(x, pad, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, k)
    return np.median(windows, axis=1)


def despike(x: np.ndarray, noise: float, k: int = 7) -> np.ndarray:
    if x.size < k:
        return x
    med = _running_median(x, k)
    bad = np.abs(x - med) > SPIKE_K * noise
    return np.where(bad, med, x)


def _rolling_sd(x: np.ndarray, w: int) -> np.ndarray:
    c1 = np.cumsum(np.concatenate([[0.0], x]))
    c2 = np.cumsum(np.concatenate([[0.0], x * x]))
    s1 = c1[w:] - c1[:-w]
    s2 = c2[w:] - c2[:-w]
    return np.sqrt(np.maximum(0.0, s2 / w - (s1 / w) ** 2))


def _slope(seg: np.ndarray, hz: float) -> tuple[float, float]:
    """Least-squares slope (g/s) of a segment and its standard error."""
    n = seg.size
    if n < 3:
        return 0.0, 0.0
    t = np.arange(n) / hz
    t = t - t.mean()
    sxx = float(t @ t)
    slope = float(t @ (seg - seg.mean())) / sxx
    resid = seg - seg.mean() - slope * t
    se = float(np.sqrt(max(float(resid @ resid) / (n - 2), 1e-12) / sxx))
    return slope, se


def extract_stream(stream: Stream) -> tuple[float, float]:
    """(net change in grams, extra uncertainty sd in grams) of one sensor over a session."""
    hz = stream.hz
    x = np.asarray(stream.samples_g, dtype=float)
    w = max(5, round(WINDOW_S * hz))
    if x.size < 2 * w:
        if x.size == 0:
            return 0.0, 0.0
        head, tail = x[: max(1, x.size // 3)], x[-max(1, x.size // 3) :]
        spread = float(np.ptp(x)) if x.size > 1 else 0.0
        return float(np.median(tail) - np.median(head)), max(spread, _robust_noise(x))
    noise = _robust_noise(x)
    x = despike(x, noise)
    stable = _rolling_sd(x, w) <= STABLE_K * noise  # stable[i]: window x[i:i+w]
    unstable = np.flatnonzero(~stable)
    extra_var = 0.0
    if unstable.size == 0:  # nothing happened on this sensor: one segment, drift only
        pre_end, post_start = x.size // 2, x.size // 2
    else:
        pre_end = int(unstable[0]) + w - 1  # windows before the first unstable one are clean
        post_start = int(unstable[-1]) + 1
        if unstable[0] == 0:  # the stream starts mid-activity
            pre_end = w
            extra_var += float(np.var(x[:w]))
        if post_start > x.size - w:  # no stable ending: a hand or a swinging item at door close
            post_start = x.size - w
            extra_var += float(np.ptp(x[post_start:])) ** 2
    pre = x[max(0, pre_end - 4 * w) : max(pre_end, 1)]
    post = x[post_start:]
    before = float(np.median(pre[-w:]))
    after = float(np.median(post[-w:]))
    drift, drift_se = _slope(pre, hz)
    gap_s = (x.size - w / 2 - (pre_end - w / 2)) / hz
    if abs(drift) > 3 * drift_se:
        after -= drift * gap_s
    extra_var += (drift_se * gap_s) ** 2
    creep, creep_se = _slope(post, hz)
    excess = abs(creep - drift) if abs(drift) > 3 * drift_se else abs(creep)
    if excess > 3 * creep_se + noise / (w / hz):
        extra_var += (excess * w / hz) ** 2
    return after - before, float(np.sqrt(extra_var))


def extract(streams: Mapping[str, Stream]) -> tuple[dict[str, float], dict[str, float]]:
    deltas: dict[str, float] = {}
    sds: dict[str, float] = {}
    for sensor_id, stream in streams.items():
        deltas[sensor_id], sds[sensor_id] = extract_stream(stream)
    return deltas, sds
