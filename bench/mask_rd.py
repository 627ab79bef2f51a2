"""Per-token masks chosen by the encoder: an offline upper bound on what masking could buy.

Issue 11 asks whether dropping tokens can pay at equal rate. The shipped masks are fixed
patterns (csrc/core/mask.hpp) chosen per GoP (``--mask-pattern auto``). This benchmark
asks the larger question no bitstream can yet express: the encoder, which has every
token, drops in each latent frame after the first the tokens whose copy from the
previous latent frame (codec/predict.py, what the decoder fills them with) is closest to
them, and signals the drop map. Nothing here changes the bitstream; it measures what
such a map would give if one did.

For each clip and quality level it codes the clip for real (Encoder, Decoder, whole .tvc
file counted, colour correction off in every arm so that all arms are alike) without
masks (the ladder), with each fixed pattern, and with ``auto``; then, from the tokens the
unmasked stream carries, builds per-token drop maps:

  equal     drop exactly the tokens equal to the decoder's copy (the picture is unchanged)
  N %       drop, per latent frame, the N % with the smallest FSQ-value distance to the
            decoder's copy (equal tokens first)

Rate of a per-token arm = the unmasked file minus its token substreams, plus
  - the kept tokens' code length under the shipped integer context model (the C++ net
    run on the exact context planes the coder builds, dropped tokens zeroed as it zeroes
    them; the ideal length from the coder's own integer CDFs, plus the rANS flush the
    unmasked stream measured), and
  - the drop map's side information: per latent frame, positions x H(dropped share), the
    empirical binary entropy, a lower bound on any way of signalling it.
A "filled ctx" row re-prices the same map (and the fixed patterns) with context planes
taken from the decoder's filled grid instead of zeros: what a coder that fills each
latent frame before coding the next would pay (a bitstream change too).

Distortion of a per-token arm is the real Decoder's output for a packet that carries the
filled grid whole: exactly what a decoder that copies the dropped tokens shows.

Every row is a JSON line (stdout, and appended to --out), written as soon as its level is
measured. Rows with "arm" are points (bytes, bpp, PSNR-Y, MS-SSIM-Y, dropped share of the
maskable tokens); rows with "check" compare the rate estimate with the real coder on the
fixed patterns; after each clip, rows with "bd_rate_*" give each arm's curve over the
levels against the ladder (percent, negative = fewer bits at equal quality). ``--table``
merges runs and adds to each point the ladder's quality at its rate (``*_ladder``, PCHIP
in log rate, n/a outside the ladder's rates) and the difference (``d_*``).

Usage (carphone, 4 levels: 6 minutes on 2 free cores; bikes costs about 7x per level):
  python3 bench/mask_rd.py --clips carphone --levels 0 1 2 3 --out mask_rd.jsonl
  python3 bench/mask_rd.py --clips bikes --levels 0 1 2 --patterns 1 --fractions 0.25 0.5 \\
      --no-auto --out mask_rd.jsonl
  python3 bench/mask_rd.py --table mask_rd.jsonl     # markdown tables (several files merge)
  python3 bench/mask_rd.py --clips carphone --patterns --no-per-token  # the ladder and auto only
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import io
import json
import logging
import math
import sys
import time
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

log = logging.getLogger("mask_rd")

DEFAULT_FRACTIONS = (0.1, 0.25, 0.5)
CONTEXTS = ("zeroed", "filled")


# ------------------------------------------------------------------ pure functions

def binary_entropy(p: float) -> float:
    """H(p) in bits; 0 at p = 0 or 1."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"a probability must be in [0, 1], got {p}")
    if p in (0.0, 1.0):
        return 0.0
    return -(p * math.log2(p) + (1.0 - p) * math.log2(1.0 - p))


def drop_map_bits(keep: np.ndarray) -> float:
    """Side information of a drop map (latent frames, H, W; True = kept): per latent frame
    after the first, positions x H(dropped share). Latent frame 0 is always sent whole, so
    it costs nothing and must be all True."""
    keep = np.asarray(keep, bool)
    if keep.ndim != 3:
        raise ValueError("a keep map is (latent frames, height, width)")
    if not keep[0].all():
        raise ValueError("latent frame 0 is always kept whole")
    n = keep.shape[1] * keep.shape[2]
    return float(sum(n * binary_entropy(1.0 - float(frame.mean())) for frame in keep[1:]))


def fsq_values(tokens: np.ndarray, levels: Sequence[int]) -> np.ndarray:
    """Token indices (...) -> their FSQ code vectors (..., D) in [-1, 1]."""
    from tvc_ffmpeg.models.fsq import indices_to_digits

    lv = np.array(levels, np.float64)
    return 2.0 * indices_to_digits(tokens, levels) / (lv - 1.0) - 1.0


def ranked_keep(tokens: np.ndarray, levels: Sequence[int], fraction: Optional[float]) -> np.ndarray:
    """The drop map an encoder that sees every token would choose, frame by frame.

    In latent frame f >= 1 the decoder fills a dropped token with the same position of
    its own (already filled) latent frame f - 1; a token's cost of dropping is the squared
    FSQ-value distance to that copy. ``fraction`` None drops exactly the tokens whose copy
    is equal (distance 0); otherwise the ``round(fraction x positions)`` cheapest of each
    frame are dropped, ties in raster order. Returns keep (True = sent)."""
    grid = np.asarray(tokens, np.int64)
    if grid.ndim != 3:
        raise ValueError("a token grid is (latent frames, height, width)")
    if fraction is not None and not 0.0 <= fraction <= 1.0:
        raise ValueError(f"drop fraction must be in [0, 1], got {fraction}")
    keep = np.ones(grid.shape, bool)
    values = fsq_values(grid, levels)
    filled = values[0]
    n = grid.shape[1] * grid.shape[2]
    for f in range(1, grid.shape[0]):
        distance = ((values[f] - filled) ** 2).sum(-1).ravel()
        if fraction is None:
            dropped = distance == 0.0
        else:
            dropped = np.zeros(n, bool)
            dropped[np.argsort(distance, kind="stable")[: int(round(fraction * n))]] = True
        keep[f] = ~dropped.reshape(grid.shape[1:])
        filled = np.where(keep[f][..., None], values[f], filled)
    return keep


class KeptTokenBits:
    """Code length (bits) of the kept tokens of a grid under a model's integer context
    model, for any keep map: the C++ coder's own context planes and net
    (``_native.CheckerboardCoder.context``, ``_native.int_net_forward``) and its integer
    CDFs (``_native.logits_to_cdf``); each symbol costs -log2(frequency / 2^precision).
    The rANS flush is not included."""

    def __init__(self, ccm_blob: bytes, levels: Sequence[int]) -> None:
        from tvc_ffmpeg import _native
        from tvc_ffmpeg.codec.tokens import PRECISION

        self._native = _native
        self._blob = ccm_blob
        self._precision = PRECISION
        self.levels = tuple(int(v) for v in levels)
        self._coder = _native.CheckerboardCoder(ccm_blob, list(self.levels))
        self._offsets = np.concatenate([[0], np.cumsum(self.levels)[:-1]]).astype(int)

    def bits(self, tokens: np.ndarray, keep: np.ndarray, context: str = "zeroed") -> float:
        """``context`` "zeroed": what today's coder sees (dropped tokens are zero planes);
        "filled": context planes from the grid the decoder fills by copying."""
        from tvc_ffmpeg.codec.predict import copy_previous
        from tvc_ffmpeg.models.fsq import indices_to_digits

        if context not in CONTEXTS:
            raise ValueError(f"context must be one of {CONTEXTS}, got {context!r}")
        grid = np.asarray(tokens, np.int64)
        keep = np.asarray(keep, bool)
        if keep.shape != grid.shape:
            raise ValueError(f"keep map {keep.shape} does not match the token grid {grid.shape}")
        digits = indices_to_digits(grid, self.levels).astype(np.int32)
        seen = digits if context == "zeroed" else \
            indices_to_digits(copy_previous(np.where(keep, grid, -1)), self.levels).astype(np.int32)
        d = len(self.levels)
        t, h, w = grid.shape
        parity = (np.arange(h)[:, None] + np.arange(w)[None, :]) & 1
        total = 0.0
        for f in range(t):
            for pass_index in (0, 1):
                planes = self._coder.context(seen, f, pass_index, 0)  # pattern 0: every token known
                if context == "zeroed":  # the coder never uses a dropped token as context
                    if f > 0:
                        planes[: d + 1] *= keep[f - 1]
                    if pass_index == 1:
                        planes[d + 1:] *= keep[f]
                logits = self._native.int_net_forward(self._blob, planes)
                coded = keep[f] & (parity == pass_index)
                for i, level in enumerate(self.levels):
                    rows = np.ascontiguousarray(logits[self._offsets[i]: self._offsets[i] + level][:, coded].T)
                    if not rows.size:
                        continue
                    cdf = self._native.logits_to_cdf(rows, self._precision).astype(np.int64)
                    symbol = digits[f][coded][:, i]
                    freq = cdf[np.arange(len(symbol)), symbol + 1] - cdf[np.arange(len(symbol)), symbol]
                    total += float((self._precision - np.log2(freq)).sum())
        return total


# ------------------------------------------------------------------ coding the clips

@dataclasses.dataclass
class Coded:
    """One real encode + decode: the packets, the file's bytes and the decoded planes."""

    header: object
    packets: list
    num_bytes: int
    decoded: object


def _encode(clip, model, quality: int, mask, gop: int) -> Tuple[object, list, int]:
    from tvc_ffmpeg.bitstream import TvcWriter
    from tvc_ffmpeg.codec import Encoder
    from tvc_ffmpeg.settings import EncoderSettings
    from tvc_ffmpeg.video import Frame, VideoInfo

    y, u, v = clip.frames.y, clip.frames.u, clip.frames.v
    info = VideoInfo(width=clip.width, height=clip.height, frame_rate=clip.frame_rate,
                     time_base=1 / clip.frame_rate)
    settings = EncoderSettings(quality=quality, mask_pattern=mask, gop_length=gop, colour_correction=False)
    enc = Encoder(info, settings, model=model)
    packets = []
    for i in range(y.shape[0]):
        packets += enc.encode(Frame(y[i], u[i], v[i], pts=i))
    packets += enc.encode(None)
    buf = io.BytesIO()
    with TvcWriter(buf, enc.header) as writer:
        writer.write_packets(packets)
    return enc.header, packets, len(buf.getvalue())


def _decode(header, packets: Iterable, model):
    from tvc_ffmpeg.codec import Decoder
    from tvc_ffmpeg.metrics import Yuv420Clip

    dec = Decoder(header, model=model)
    frames = [f for p in packets for f in dec.decode(p)]
    return Yuv420Clip(np.stack([f.y for f in frames]), np.stack([f.u for f in frames]),
                      np.stack([f.v for f in frames]))


def code_clip(clip, model, quality: int, mask, gop: int) -> Coded:
    header, packets, num_bytes = _encode(clip, model, quality, mask, gop)
    return Coded(header, packets, num_bytes, _decode(header, packets, model))


def _finite(x: float) -> Optional[float]:
    return None if x is None or not math.isfinite(x) else round(float(x), 6)


_QUALITY_MEMO: Dict[Tuple[str, bytes], object] = {}


def _quality(source, decoded):
    """clip_quality, computed once per distinct decoded clip (MS-SSIM is the slow part here;
    the "equal" arm and the "filled ctx" rows decode to pictures already measured)."""
    from tvc_ffmpeg.metrics import clip_quality

    digest = hashlib.sha256()
    for plane in (decoded.y, decoded.u, decoded.v):
        digest.update(np.ascontiguousarray(plane).tobytes())
    key = (source.name, digest.digest())
    if key not in _QUALITY_MEMO:
        _QUALITY_MEMO[key] = clip_quality(source.frames, decoded)
    return _QUALITY_MEMO[key]


def _point(source, num_bytes: float, decoded, **fields) -> Dict:
    m = _quality(source, decoded)
    pixels = source.width * source.height * source.num_frames
    return dict(fields, bytes=round(num_bytes, 1), bpp=round(8 * num_bytes / pixels, 7),
                psnr_y=round(m.psnr_y, 3), ms_ssim_y=round(m.ms_ssim_y, 4))


def measure_level(clip, model, quality: int, fractions: Sequence[float], gop: int, auto: bool,
                  patterns: Sequence[int] = (1, 2, 3), per_token: bool = True) -> Tuple[List[Dict], List[Dict]]:
    """Every arm at one quality level: (points, estimate checks)."""
    from tvc_ffmpeg._native import mask_keep
    from tvc_ffmpeg.bitstream import SUBSTREAM_DISCRETE
    from tvc_ffmpeg.codec import Decoder
    from tvc_ffmpeg.codec.predict import copy_previous

    base = dict(clip=clip.name, quality=quality)
    estimator = KeptTokenBits(model.ccm_blob, model.fsq_levels)
    coder = model.token_coder()
    full = code_clip(clip, model, quality, 0, gop)
    points = [_point(clip, full.num_bytes, full.decoded, arm="ladder", dropped=0.0, **base)]
    reader = Decoder(full.header, model=model)
    grids = [reader.tokens_of(p) for p in full.packets]
    actual = [8 * len(p.substream(SUBSTREAM_DISCRETE)) for p in full.packets]
    flush = [a - estimator.bits(g, np.ones(g.shape, bool)) for a, g in zip(actual, grids)]
    other_bytes = full.num_bytes - sum(actual) / 8  # headers, framing: the same in every arm
    maskable = sum(g[1:].size for g in grids)

    def priced(keeps: List[np.ndarray], context: str) -> Tuple[float, float, float]:
        token = sum(estimator.bits(g, k, context) + fl for g, k, fl in zip(grids, keeps, flush))
        side = sum(drop_map_bits(k) for k in keeps)
        return other_bytes + (token + side) / 8, token, side

    checks = []
    for pattern in patterns:
        coded = code_clip(clip, model, quality, pattern, gop)
        keeps = [mask_keep(pattern, *g.shape) for g in grids]
        dropped = sum(int((~k).sum()) for k in keeps) / maskable
        points.append(_point(clip, coded.num_bytes, coded.decoded, arm=f"pattern {pattern}", dropped=dropped, **base))
        real = sum(8 * len(p.substream(SUBSTREAM_DISCRETE)) for p in coded.packets)
        estimate = sum(estimator.bits(g, k) + fl for g, k, fl in zip(grids, keeps, flush))
        checks.append(dict(base, check="ccm estimate", pattern=pattern, real_bits=real,
                           estimated_bits=round(estimate, 1), error=round(estimate / real - 1, 4)))
        total, token, _ = priced(keeps, "filled")
        points.append(_point(clip, total, coded.decoded, arm=f"pattern {pattern} (filled ctx)",
                             dropped=dropped, token_bits=round(token, 1), **base))
    if auto:
        coded = code_clip(clip, model, quality, "auto", gop)
        used = [p.mask_pattern for p in coded.packets]
        points.append(_point(clip, coded.num_bytes, coded.decoded, arm="auto", patterns=used, **base))
    for fraction in (None, *fractions) if per_token else ():
        name = "equal" if fraction is None else f"{round(100 * fraction)} %"
        keeps = [ranked_keep(g, model.fsq_levels, fraction) for g in grids]
        packets = [dataclasses.replace(p, substreams=((SUBSTREAM_DISCRETE,
                                                       coder.encode(copy_previous(np.where(k, g, -1)), 0)),))
                   for p, g, k in zip(full.packets, grids, keeps)]
        decoded = _decode(full.header, packets, model)
        dropped = sum(int((~k).sum()) for k in keeps) / maskable
        for context in CONTEXTS:
            total, token, side = priced(keeps, context)
            arm = f"per-token {name}" + (" (filled ctx)" if context == "filled" else "")
            points.append(_point(clip, total, decoded, arm=arm, dropped=round(dropped, 4),
                                 token_bits=round(token, 1), map_bits=round(side, 1), **base))
    return points, checks


def compare_with_ladder(points: List[Dict]) -> List[Dict]:
    """Adds the ladder's quality at each point's rate; returns BD-rate rows per arm."""
    from tvc_ffmpeg.errors import InvalidArgumentError
    from tvc_ffmpeg.rd.bdrate import bd_rate, quality_at_rate

    ladder = [p for p in points if p["arm"] == "ladder"]
    rates = [p["bpp"] for p in ladder]
    for p in points:
        for metric in ("psnr_y", "ms_ssim_y"):
            at = quality_at_rate(rates, [q[metric] for q in ladder], p["bpp"])
            p[f"{metric}_ladder"] = _finite(at)
            p[f"d_{metric}"] = _finite(p[metric] - at)
    rows = []
    for arm in dict.fromkeys(p["arm"] for p in points if p["arm"] != "ladder"):
        curve = [p for p in points if p["arm"] == arm]
        row = dict(clip=points[0]["clip"], arm=arm)
        for metric in ("psnr_y", "ms_ssim_y"):
            try:
                row[f"bd_rate_{metric}"] = round(bd_rate(rates, [q[metric] for q in ladder],
                                                         [q["bpp"] for q in curve], [q[metric] for q in curve]), 2)
            except InvalidArgumentError:  # fewer than two Pareto points or no overlap
                row[f"bd_rate_{metric}"] = None
        rows.append(row)
    return rows


# ------------------------------------------------------------------ tables

def _cell(x, spec: str) -> str:
    return "n/a" if x is None else format(x, spec)


def tabulate(rows: Iterable[Dict]) -> List[Dict]:
    """The rows of one or more runs (several files may be concatenated) -> points with their
    equal-rate deltas, each clip's BD-rate rows, and the estimate checks. A later row of the
    same clip, level and arm (or check) replaces an earlier one; BD-rate rows in the input
    are recomputed, not read."""
    points: Dict[Tuple, Dict] = {}
    checks: Dict[Tuple, Dict] = {}
    for row in rows:
        if "check" in row:
            checks[(row["clip"], row["quality"], row["pattern"])] = row
        elif "arm" in row and "bpp" in row:
            points[(row["clip"], row["quality"], row["arm"])] = dict(row)
    out, summary = [], []
    for clip in dict.fromkeys(key[0] for key in points):
        mine = sorted((p for key, p in points.items() if key[0] == clip), key=lambda p: p["quality"])
        if any(p["arm"] == "ladder" for p in mine):
            summary += compare_with_ladder(mine)
        out += mine
    return out + summary + list(checks.values())


def markdown_tables(rows: List[Dict]) -> str:
    """The points (with their equal-rate deltas) and the BD-rates of a run, as markdown."""
    out = ["| clip | q | arm | dropped | bpp | PSNR-Y | MS-SSIM-Y | ΔPSNR-Y vs ladder | ΔMS-SSIM vs ladder |",
           "|---|---:|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        if "arm" in r and "bpp" in r:
            dropped = r.get("dropped")
            out.append(f"| {r['clip']} | {r['quality']} | {r['arm']} | "
                       f"{'' if dropped is None else format(dropped, '.0%')} | {r['bpp']:.4f} | {r['psnr_y']:.2f} | "
                       f"{r['ms_ssim_y']:.3f} | {_cell(r.get('d_psnr_y'), '+.2f')} | "
                       f"{_cell(r.get('d_ms_ssim_y'), '+.3f')} |")
    out += ["", "| clip | arm | BD-rate PSNR-Y | BD-rate MS-SSIM-Y |", "|---|---|---:|---:|"]
    for r in rows:
        if "bd_rate_psnr_y" in r:
            out.append(f"| {r['clip']} | {r['arm']} | {_cell(r['bd_rate_psnr_y'], '+.1f')} % | "
                       f"{_cell(r['bd_rate_ms_ssim_y'], '+.1f')} % |")
    out += ["", "| clip | q | pattern | real bits | estimated bits | error |", "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        if "check" in r:
            out.append(f"| {r['clip']} | {r['quality']} | {r['pattern']} | {r['real_bits']} | "
                       f"{r['estimated_bits']:.0f} | {r['error']:+.2%} |")
    return "\n".join(out)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python3 bench/mask_rd.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="tvc-s-v4", help="shipped model id (default tvc-s-v4)")
    p.add_argument("--clips", nargs="+", default=["bikes", "carphone"], help="validation clips")
    p.add_argument("--frames", type=int, default=64, help="frames from frame 0 (default 64)")
    p.add_argument("--gop", type=int, default=33, help="GoP length in frames (default 33)")
    p.add_argument("--levels", type=int, nargs="+", default=[0, 1, 2, 3],
                   help="token-only quality levels to measure (default 0 1 2 3: scales 1/2, 3/4, 1, 3/2)")
    p.add_argument("--fractions", type=float, nargs="+", default=list(DEFAULT_FRACTIONS),
                   help="per-token drop fractions of each latent frame after the first (default 0.1 0.25 0.5)")
    p.add_argument("--no-auto", action="store_true", help="skip the --mask-pattern auto arm")
    p.add_argument("--no-per-token", action="store_true",
                   help="skip the per-token arms (with --patterns alone: the ladder and auto only)")
    p.add_argument("--backend", default=None, help="runtime of the nets (default: the model's default)")
    p.add_argument("--threads", type=int, default=2, help="CPU threads for the nets (default 2)")
    p.add_argument("--cache", default=None, help="data cache (default $TVC_CACHE or ./cache)")
    p.add_argument("--out", default=None, help="JSON lines file to append every row to")
    p.add_argument("--patterns", type=int, nargs="*", default=[1, 2, 3],
                   help="fixed mask patterns to code for real (default 1 2 3; none: give the flag alone)")
    p.add_argument("--table", metavar="JSONL", nargs="+", default=None,
                   help="print markdown tables of earlier runs' rows (files are merged) and exit")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    if args.table is not None:
        rows = []
        for path in args.table:
            with open(path) as f:
                rows += [json.loads(line) for line in f if line.strip()]
        print(markdown_tables(tabulate(rows)))
        return 0
    import torch

    from tvc_ffmpeg.codec import CodecModel
    from tvc_ffmpeg.data.cache import CacheLayout
    from tvc_ffmpeg.rd.harness import load_clip

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    torch.set_num_threads(args.threads)
    model = CodecModel.load(args.model)
    model = model.with_runtime(args.backend or model.backend, args.threads)
    cache = CacheLayout.resolve(args.cache)
    out = open(args.out, "a") if args.out else None

    def emit(rows: Iterable[Dict]) -> None:
        for row in rows:
            line = json.dumps(dict(row, model=model.model_id, backend=model.backend))
            print(line, flush=True)
            if out is not None:
                out.write(line + "\n")
                out.flush()

    try:
        for name in args.clips:
            clip = load_clip(name, 0, args.frames, cache)
            points = []
            for quality in args.levels:
                start = time.perf_counter()
                p, c = measure_level(clip, model, quality, args.fractions, args.gop, not args.no_auto,
                                     args.patterns, not args.no_per_token)
                points += p
                log.info("%s q%d: %d arms in %.0f s", name, quality, len(p), time.perf_counter() - start)
                # Each level's rows as soon as they exist: a long run stopped early keeps them.
                emit(p + c)
            emit(row for row in tabulate(points) if "bd_rate_psnr_y" in row)
    finally:
        if out is not None:
            out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
