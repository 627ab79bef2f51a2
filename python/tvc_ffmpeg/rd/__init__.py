"""Rate-distortion evaluation: classic encoders and our codec as curves, BD-rate, plots, tables.

- :mod:`.interface`: what a codec offers (``RdCodec``; ``FunctionCodec`` wraps a plain
  ``(clip, level) -> (num_bytes, decoded)`` function), and ``SourceClip``.
- :mod:`.classic`: x264, x265, SVT-AV1 and libaom ladders run through an ``ffmpeg`` binary.
- :mod:`.scaled`: the same encoders on a lanczos-downscaled picture, scaled back up
  (``ScaledCodec``; "x265 1/2", "SVT-AV1 1/4").
- :mod:`.envelope`: the best quality any classic curve reaches at each rate, and BD-rate
  against it.
- :mod:`.points`: one measured point (bpp, kbps, PSNR-Y, PSNR-YUV, MS-SSIM-Y, times).
- :mod:`.bdrate`: Bjøntegaard delta rate with PCHIP interpolation.
- :mod:`.report`: CSV and Markdown tables; :mod:`.plot`: PNG plots (needs matplotlib).

:mod:`.harness` is the command that runs it all (``bench/rd.py`` and ``tvc eval rd``);
docs/evaluation.md has the results.
"""

from .bdrate import bd_rate, pareto_front, quality_at_rate
from .classic import FLOOR, ClassicCodec, ClassicSetting, classic_codecs, libaom, svtav1, x264, x265
from .envelope import Envelope, EnvelopeBdRate, bd_rate_vs_envelope, clip_envelopes, lower_envelope
from .interface import CodedClip, FunctionCodec, RdCodec, SourceClip
from .points import RdPoint, floor_points, measure, run_codec
from .report import markdown_report, read_csv, write_csv
from .scaled import ScaledCodec, scaled_anchors

__all__ = [
    "FLOOR",
    "ClassicCodec",
    "ClassicSetting",
    "CodedClip",
    "Envelope",
    "EnvelopeBdRate",
    "FunctionCodec",
    "RdCodec",
    "RdPoint",
    "ScaledCodec",
    "SourceClip",
    "bd_rate",
    "bd_rate_vs_envelope",
    "classic_codecs",
    "clip_envelopes",
    "floor_points",
    "libaom",
    "lower_envelope",
    "markdown_report",
    "measure",
    "pareto_front",
    "quality_at_rate",
    "read_csv",
    "run_codec",
    "scaled_anchors",
    "svtav1",
    "write_csv",
    "x264",
    "x265",
]
