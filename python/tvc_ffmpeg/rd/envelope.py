"""The lower envelope of the classic curves: "the best a user gets from x265/SVT-AV1".

A codec that beats x265's full-size curve but not x265 at half size has beaten nothing a user
would run. So the anchor for our codec is the envelope of every classic curve in the run
(full size, floors, downscaled): per metric and at each rate, the best quality any of them
reaches.

How it is built, per metric: each classic curve is reduced to its Pareto front and
interpolated like every curve here (PCHIP in log rate, :func:`.bdrate.quality_at_rate`);
the interpolants are sampled on a shared log-rate grid (``SAMPLES_PER_DECADE``) inside each
curve's own rate span, the raw points are added, and the Pareto front of all of it is the
envelope. Where two curves cross it follows whichever is higher; a lone point (a curve with
one non-dominated point) is kept as it is. No point is extrapolated: below the lowest classic
rate the envelope does not exist, which the tables say in words.

BD-rate against it (:func:`bd_rate_vs_envelope`) is the usual one (:func:`.bdrate.bd_rate`,
overlapping quality range only); when the ranges do not overlap the result carries the two
ranges and a sentence instead of a number.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from ..errors import InvalidArgumentError
from .bdrate import Pchip, bd_rate, pareto_front, quality_at_rate
from .points import RdPoint

# Codec names whose first word is one of these are classic curves ("x265", "x265 1/2", ...).
CLASSIC_FAMILIES = ("x264", "x265", "SVT-AV1", "libaom")
SAMPLES_PER_DECADE = 200  # envelope samples per factor of 10 in rate (PCHIP between them)

ENVELOPE = "classic envelope"  # the name the envelope goes by in tables and plots


def family(codec: str) -> str:
    return codec.split(" ", 1)[0]


def is_classic(codec: str, families: Sequence[str] = CLASSIC_FAMILIES) -> bool:
    return family(codec) in families


@dataclass(frozen=True)
class Envelope:
    """One metric's envelope: rates strictly increasing, quality strictly increasing, and
    for each sample the curve it comes from."""

    metric: str
    rates: np.ndarray
    quality: np.ndarray
    source: Tuple[str, ...]

    def quality_at(self, rate: float) -> float:
        """Envelope quality at ``rate``; NaN outside its rate span."""
        if self.rates.size == 1:
            return float(self.quality[0]) if math.isclose(rate, self.rates[0]) else math.nan
        return quality_at_rate(self.rates, self.quality, rate)

    def source_at(self, rate: float) -> str:
        """The classic curve that gives the envelope at ``rate`` ('' outside its span)."""
        if not (self.rates[0] <= rate <= self.rates[-1]):
            return ""
        return self.source[int(np.argmin(np.abs(np.log(self.rates) - math.log(rate))))]


def lower_envelope(curves: Dict[str, Tuple[Sequence[float], Sequence[float]]], metric: str = "") -> Envelope:
    """The best quality at each rate over ``curves`` ({name: (rates, quality)})."""
    if not curves:
        raise InvalidArgumentError("the envelope needs at least one curve")
    fronts = {name: pareto_front(r, q) for name, (r, q) in curves.items()}
    lo = min(r[0] for r, _ in fronts.values())
    hi = max(r[-1] for r, _ in fronts.values())
    decades = max(math.log10(hi / lo), 1e-9)
    grid = np.logspace(math.log10(lo), math.log10(hi), int(math.ceil(decades * SAMPLES_PER_DECADE)) + 1)
    rates: List[float] = []
    quality: List[float] = []
    source: List[str] = []
    for name, (r, q) in fronts.items():
        rates += r.tolist()
        quality += q.tolist()
        source += [name] * r.size
        if r.size < 2:
            continue
        inside = grid[(grid > r[0]) & (grid < r[-1])]
        fit = Pchip.fit(np.log10(r), q)
        rates += inside.tolist()
        quality += fit(np.log10(inside)).tolist()
        source += [name] * inside.size
    env_r, env_q = pareto_front(rates, quality)
    # pareto_front sorts and drops; find each kept sample's curve again by (rate, quality).
    origin = {(a, b): s for a, b, s in zip(rates, quality, source)}
    return Envelope(metric, env_r, env_q, tuple(origin[(a, b)] for a, b in zip(env_r.tolist(), env_q.tolist())))


def clip_envelopes(
    points: Iterable[RdPoint], metrics: Sequence[str], families: Sequence[str] = CLASSIC_FAMILIES
) -> Dict[str, Dict[str, Envelope]]:
    """{clip: {metric: Envelope}} over the classic points of each clip (metrics with a NaN
    on any classic point, e.g. VMAF when not measured, are left out)."""
    by_clip: Dict[str, Dict[str, List[RdPoint]]] = {}
    for p in points:
        if is_classic(p.codec, families):
            by_clip.setdefault(p.clip, {}).setdefault(p.codec, []).append(p)
    out: Dict[str, Dict[str, Envelope]] = {}
    for clip, codecs in by_clip.items():
        out[clip] = {}
        for metric in metrics:
            values = [getattr(p, metric) for pts in codecs.values() for p in pts]
            if not all(math.isfinite(v) for v in values):
                continue
            curves = {c: ([p.bpp for p in pts], [getattr(p, metric) for p in pts]) for c, pts in codecs.items()}
            out[clip][metric] = lower_envelope(curves, metric)
    return out


@dataclass(frozen=True)
class EnvelopeBdRate:
    """BD-rate of one curve against an envelope, or why there is none."""

    percent: float  # NaN when undefined
    test_range: Tuple[float, float]
    envelope_range: Tuple[float, float]
    note: str = ""  # the reason when percent is NaN

    @property
    def defined(self) -> bool:
        return math.isfinite(self.percent)


def bd_rate_vs_envelope(env: Envelope, rates: Sequence[float], quality: Sequence[float]) -> EnvelopeBdRate:
    """BD-rate (percent, negative = fewer bits than the envelope) over the overlapping range."""
    tr, tq = pareto_front(rates, quality)
    test_range = (float(tq[0]), float(tq[-1]))
    env_range = (float(env.quality[0]), float(env.quality[-1]))
    nan = math.nan
    if tr.size < 2:
        return EnvelopeBdRate(nan, test_range, env_range, "fewer than two non-dominated points")
    if not min(test_range[1], env_range[1]) > max(test_range[0], env_range[0]):
        side = "below the envelope's lowest" if test_range[1] <= env_range[0] else "above the envelope's highest"
        return EnvelopeBdRate(nan, test_range, env_range, f"no overlap: every point is {side} quality")
    return EnvelopeBdRate(bd_rate(env.rates, env.quality, tr, tq), test_range, env_range)


def overlap_range(result: EnvelopeBdRate) -> Optional[Tuple[float, float]]:
    """The quality interval a BD-rate was computed over; None when the ranges do not overlap."""
    lo = max(result.test_range[0], result.envelope_range[0])
    hi = min(result.test_range[1], result.envelope_range[1])
    return (lo, hi) if hi > lo else None
