"""Bjøntegaard delta rate (BD-rate) with piecewise cubic Hermite (PCHIP) interpolation.

The definition used (VCEG-M33, with the interpolation of JCTVC-A116's "pchip" variant as
used for HEVC/VVC common test conditions):

1. Each curve is a set of (rate, quality) points. Rate is taken as log10(rate) and
   expressed as a function of quality, r(q).
2. r(q) is interpolated with a monotone piecewise cubic Hermite interpolant (Fritsch and
   Carlson slopes), which, unlike a global cubic fit, never overshoots between points.
3. Both interpolants are integrated over the *overlapping* quality range
   [max(min q_a, min q_t), min(max q_a, max q_t)]; the mean difference
   d = (integral r_t - integral r_a) / (q_hi - q_lo) gives BD-rate = 10^d - 1, i.e. the
   average relative rate change of the test codec against the anchor at equal quality
   (negative = the test codec needs fewer bits).

Points are first reduced to their Pareto front (a point is dropped when another point has
no more rate and more quality), so r(q) is single-valued; a codec's ladder can contain a
dominated point (a floor setting that spends more bits for less quality than its neighbour)
and still yield a curve. Any rate unit works (bpp, kbps): BD-rate is a ratio.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Sequence, Tuple

import numpy as np

from ..errors import InvalidArgumentError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Pchip:
    """Monotone piecewise cubic Hermite interpolant through (x, y), x strictly increasing."""

    x: np.ndarray
    y: np.ndarray
    slopes: np.ndarray

    @classmethod
    def fit(cls, x: Sequence[float], y: Sequence[float]) -> "Pchip":
        xs = np.asarray(x, dtype=np.float64)
        ys = np.asarray(y, dtype=np.float64)
        if xs.ndim != 1 or xs.shape != ys.shape or xs.size < 2:
            raise InvalidArgumentError(f"pchip needs two or more (x, y) points, got shapes {xs.shape} and {ys.shape}")
        if not np.all(np.diff(xs) > 0):
            raise InvalidArgumentError("pchip needs strictly increasing x")
        return cls(xs, ys, _fritsch_carlson_slopes(xs, ys))

    def __call__(self, q: np.ndarray) -> np.ndarray:
        q = np.asarray(q, dtype=np.float64)
        k = np.clip(np.searchsorted(self.x, q, side="right") - 1, 0, self.x.size - 2)
        t = q - self.x[k]
        y0, d0, c2, c3 = self._coefficients(k)
        return y0 + t * (d0 + t * (c2 + t * c3))

    def integral(self, lo: float, hi: float) -> float:
        """Exact integral over [lo, hi] (both inside [x[0], x[-1]])."""
        if not (self.x[0] - 1e-12 <= lo <= hi <= self.x[-1] + 1e-12):
            raise InvalidArgumentError(f"integral range [{lo}, {hi}] outside [{self.x[0]}, {self.x[-1]}]")
        total = 0.0
        for k in range(self.x.size - 1):
            a = max(lo, self.x[k])
            b = min(hi, self.x[k + 1])
            if b <= a:
                continue
            y0, d0, c2, c3 = self._coefficients(k)
            total += float(self._antiderivative(b - self.x[k], y0, d0, c2, c3) - self._antiderivative(a - self.x[k], y0, d0, c2, c3))
        return total

    def _coefficients(self, k: np.ndarray):
        h = self.x[k + 1] - self.x[k]
        y0, y1 = self.y[k], self.y[k + 1]
        d0, d1 = self.slopes[k], self.slopes[k + 1]
        m = (y1 - y0) / h
        c2 = (3.0 * m - 2.0 * d0 - d1) / h
        c3 = (d0 + d1 - 2.0 * m) / (h * h)
        return y0, d0, c2, c3

    @staticmethod
    def _antiderivative(t, y0, d0, c2, c3):
        return y0 * t + d0 * t**2 / 2.0 + c2 * t**3 / 3.0 + c3 * t**4 / 4.0


def _fritsch_carlson_slopes(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    h = np.diff(x)
    m = np.diff(y) / h
    n = x.size
    d = np.zeros(n)
    if n == 2:
        d[:] = m[0]
        return d
    for k in range(1, n - 1):
        if m[k - 1] * m[k] <= 0:
            d[k] = 0.0  # local extremum or flat piece: zero slope keeps the curve monotone
        else:
            w1 = 2.0 * h[k] + h[k - 1]
            w2 = h[k] + 2.0 * h[k - 1]
            d[k] = (w1 + w2) / (w1 / m[k - 1] + w2 / m[k])  # weighted harmonic mean
    d[0] = _end_slope(h[0], h[1], m[0], m[1])
    d[-1] = _end_slope(h[-1], h[-2], m[-1], m[-2])
    return d


def _end_slope(h0: float, h1: float, m0: float, m1: float) -> float:
    """One-sided three-point slope, limited so the end pieces stay monotone."""
    d = ((2.0 * h0 + h1) * m0 - h0 * m1) / (h0 + h1)
    if np.sign(d) != np.sign(m0):
        return 0.0
    if np.sign(m0) != np.sign(m1) and abs(d) > abs(3.0 * m0):
        return 3.0 * m0
    return d


def pareto_front(rates: Sequence[float], quality: Sequence[float]) -> Tuple[np.ndarray, np.ndarray]:
    """Points not dominated by another (less or equal rate with more quality), sorted by rate.

    The result has strictly increasing rate and strictly increasing quality.
    """
    r = np.asarray(rates, dtype=np.float64)
    q = np.asarray(quality, dtype=np.float64)
    if r.shape != q.shape or r.ndim != 1:
        raise InvalidArgumentError(f"rates and quality must be 1-D of equal length, got {r.shape} and {q.shape}")
    if r.size == 0:
        raise InvalidArgumentError("a curve needs at least one point")
    if not (np.all(np.isfinite(r)) and np.all(r > 0)):
        raise InvalidArgumentError(f"rates must be finite and positive, got {r.tolist()}")
    if not np.all(np.isfinite(q)):
        raise InvalidArgumentError(f"quality values must be finite, got {q.tolist()}")
    order = np.lexsort((-q, r))  # by rate, and for equal rate the best quality first
    keep_r, keep_q = [], []
    best = -math.inf
    for i in order:
        if q[i] > best and (not keep_r or r[i] > keep_r[-1]):
            keep_r.append(r[i])
            keep_q.append(q[i])
            best = q[i]
    return np.array(keep_r), np.array(keep_q)


def bd_rate(
    anchor_rates: Sequence[float],
    anchor_quality: Sequence[float],
    test_rates: Sequence[float],
    test_quality: Sequence[float],
) -> float:
    """BD-rate of the test curve against the anchor, in percent (negative = test saves bits).

    Raises InvalidArgumentError when either curve has fewer than two Pareto points or the
    quality ranges do not overlap.
    """
    ra, qa = pareto_front(anchor_rates, anchor_quality)
    rt, qt = pareto_front(test_rates, test_quality)
    for label, r in (("anchor", ra), ("test", rt)):
        if r.size < 2:
            raise InvalidArgumentError(f"the {label} curve has fewer than two non-dominated points")
    lo = max(qa[0], qt[0])
    hi = min(qa[-1], qt[-1])
    if not hi > lo:
        raise InvalidArgumentError(
            f"quality ranges do not overlap: anchor [{qa[0]:.4g}, {qa[-1]:.4g}], test [{qt[0]:.4g}, {qt[-1]:.4g}]"
        )
    fa = Pchip.fit(qa, np.log10(ra))
    ft = Pchip.fit(qt, np.log10(rt))
    mean_diff = (ft.integral(lo, hi) - fa.integral(lo, hi)) / (hi - lo)
    return (10.0**mean_diff - 1.0) * 100.0


def overlap(anchor_quality: Sequence[float], test_quality: Sequence[float]) -> Tuple[float, float]:
    """The overlapping quality interval of two curves (may be empty: lo >= hi)."""
    return max(min(anchor_quality), min(test_quality)), min(max(anchor_quality), max(test_quality))


def quality_at_rate(rates: Sequence[float], quality: Sequence[float], rate: float) -> float:
    """Quality of a curve at ``rate``, PCHIP-interpolated in log rate; NaN outside the curve."""
    r, q = pareto_front(rates, quality)
    if r.size < 2 or not (r[0] <= rate <= r[-1]):
        return math.nan
    return float(Pchip.fit(np.log10(r), q)(np.array([math.log10(rate)]))[0])
