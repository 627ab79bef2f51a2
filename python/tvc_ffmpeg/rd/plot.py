"""RD plots as PNG: PSNR-Y and MS-SSIM-Y against bpp (log axis), one figure per clip.

Downscaled classic curves ("x265 1/2") are dashed in their full-size curve's colour family;
the envelope of all classic curves (:mod:`.envelope`) is a thick grey line under them.

Needs matplotlib (optional dependency, ``pip install matplotlib``); the Agg backend is
used, so no display is needed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, List, Sequence

from ..errors import InvalidArgumentError
from .envelope import ENVELOPE, clip_envelopes
from .points import RdPoint, floor_points

PANELS = (("psnr_y", "PSNR-Y (dB)"), ("ms_ssim_y", "MS-SSIM-Y"))


def _matplotlib():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError("RD plots need matplotlib: pip install matplotlib") from exc
    return plt


def plot_clip(points: Sequence[RdPoint], clip: str, path: os.PathLike) -> Path:
    """Write one PNG with a PSNR-Y and an MS-SSIM-Y panel for ``clip``; floors are ringed."""
    plt = _matplotlib()
    pts = [p for p in points if p.clip == clip]
    if not pts:
        raise InvalidArgumentError(f"no RD points for clip {clip!r}")
    by_codec: Dict[str, List[RdPoint]] = {}
    for p in pts:
        by_codec.setdefault(p.codec, []).append(p)
    floors = {p.codec: p for p in floor_points(pts)}
    envelopes = clip_envelopes(pts, [m for m, _ in PANELS]).get(clip, {})
    fig, axes = plt.subplots(1, len(PANELS), figsize=(11, 4.5), dpi=90)
    for ax, (metric, label) in zip(axes, PANELS):
        if metric in envelopes:
            env = envelopes[metric]
            ax.plot(env.rates, env.quality, color="0.6", lw=5, alpha=0.5, label=ENVELOPE, zorder=0)
        for codec, cpts in by_codec.items():
            cpts = sorted(cpts, key=lambda q: q.bpp)
            style = "--" if "1/" in codec else "-"  # downscaled anchors dashed
            (line,) = ax.plot([q.bpp for q in cpts], [getattr(q, metric) for q in cpts], style, marker="o", ms=3, label=codec)
            f = floors[codec]
            ax.plot([f.bpp], [getattr(f, metric)], marker="o", ms=8, mfc="none", color=line.get_color())
        ax.set_xscale("log")
        _plain_log_ticks(ax, [q.bpp for q in pts])
        ax.set_xlabel("bits per pixel (log)")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
    first = pts[0]
    fig.suptitle(f"{clip} {first.width}x{first.height}, {first.frames} frames "
                 "(open circle: lowest rate of a curve; dashed: downscaled, lanczos down and up)")
    axes[0].legend(fontsize=7, ncol=2)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out)
    plt.close(fig)
    return out


def _plain_log_ticks(ax, rates: Sequence[float]) -> None:
    """Ticks at 1-2-5 steps labelled as plain numbers (matplotlib's 3x10^-2 labels collide)."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    lo, hi = min(rates), max(rates)
    ticks = [m * 10.0**e for e in range(-5, 2) for m in (1, 2, 5) if lo / 1.5 <= m * 10.0**e <= hi * 1.5]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def plot_all(points: Sequence[RdPoint], out_dir: os.PathLike) -> List[Path]:
    """One ``rd_<clip>.png`` per clip under ``out_dir``."""
    clips = list(dict.fromkeys(p.clip for p in points))
    return [plot_clip(points, c, Path(out_dir) / f"rd_{c}.png") for c in clips]
