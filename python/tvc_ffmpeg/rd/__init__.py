"""Rate-distortion evaluation: classic encoders and our codec as curves, BD-rate, plots, tables.

- :mod:`.interface`: what a codec offers (``RdCodec``; ``FunctionCodec`` wraps a plain
  ``(clip, level) -> (num_bytes, decoded)`` function), and ``SourceClip``.
- :mod:`.classic`: x264, x265, SVT-AV1 and libaom ladders run through an ``ffmpeg`` binary.
- :mod:`.points`: one measured point (bpp, kbps, PSNR-Y, PSNR-YUV, MS-SSIM-Y, times).
- :mod:`.bdrate`: Bjøntegaard delta rate with PCHIP interpolation.
- :mod:`.report`: CSV and Markdown tables; :mod:`.plot`: PNG plots (needs matplotlib).

``bench/rd.py`` is the command that runs it all; docs/evaluation.md has the results.
"""

from .bdrate import bd_rate, pareto_front, quality_at_rate
from .classic import FLOOR, ClassicCodec, ClassicSetting, classic_codecs, libaom, svtav1, x264, x265
from .interface import CodedClip, FunctionCodec, RdCodec, SourceClip
from .points import RdPoint, floor_points, measure, run_codec
from .report import markdown_report, read_csv, write_csv

__all__ = [
    "FLOOR",
    "ClassicCodec",
    "ClassicSetting",
    "CodedClip",
    "FunctionCodec",
    "RdCodec",
    "RdPoint",
    "SourceClip",
    "bd_rate",
    "classic_codecs",
    "floor_points",
    "libaom",
    "markdown_report",
    "measure",
    "pareto_front",
    "quality_at_rate",
    "read_csv",
    "run_codec",
    "svtav1",
    "write_csv",
    "x264",
    "x265",
]
