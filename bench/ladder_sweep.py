"""Rate and quality of candidate quality levels, for choosing a model card's ladder.

Each candidate is a picture scale and a continuous step (0: tokens only). The model is
run with a one-off ladder made of the candidates, every candidate is one encode + decode
of each clip through the RD harness (rd.ours.TvcRdCodec: the whole .tvc file counted,
colour correction on), and one JSON line per point is printed and appended to --out.

Usage:
  python3 bench/ladder_sweep.py --weights python/tvc_ffmpeg/models/weights/tvc-s-v4.pt \\
      --levels 1/2:0 3/4:0 3/4:3 1:0 1:3 3/2:0 3/2:3 --clips carphone bikes --out sweep.jsonl

Candidates must be given in an order the ladder check accepts (scales never shrink; at one
scale, tokens only first, then coarser to finer steps).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from fractions import Fraction

import torch

from tvc_ffmpeg.codec.model import CodecModel
from tvc_ffmpeg.data.cache import CacheLayout
from tvc_ffmpeg.metrics import clip_quality
from tvc_ffmpeg.models.continuous import step_code
from tvc_ffmpeg.models.registry import QualityLevel
from tvc_ffmpeg.rd.harness import load_clip
from tvc_ffmpeg.rd.ours import TvcRdCodec
from tvc_ffmpeg.settings import EncoderSettings


def _level(text: str) -> QualityLevel:
    scale, _, step = text.partition(":")
    return QualityLevel(Fraction(scale), step_code(float(step)) if float(step or 0) > 0 else 0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", required=True, help="a weights file (shipped format)")
    p.add_argument("--levels", nargs="+", required=True, help="candidates SCALE:STEP, e.g. 3/4:0 1:3")
    p.add_argument("--clips", nargs="+", default=["bikes", "carphone"])
    p.add_argument("--frames", type=int, default=64)
    p.add_argument("--gop", type=int, default=33)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--cache", default=None)
    p.add_argument("--out", required=True, help="JSON lines file to append to")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    levels = tuple(_level(t) for t in args.levels)
    codec = TvcRdCodec(EncoderSettings(weights_path=args.weights, gop_length=args.gop, threads=args.threads))
    codec._model = replace(CodecModel.from_file(args.weights), quality_levels=levels)
    cache = CacheLayout.resolve(args.cache)
    with open(args.out, "a") as out:
        for name in args.clips:
            clip = load_clip(name, 0, args.frames, cache)
            pixels = clip.width * clip.height * clip.num_frames
            for q, level in enumerate(levels):
                start = time.perf_counter()
                coded = codec.encode_decode(clip, q)
                m = clip_quality(clip.frames, coded.decoded)
                row = {"clip": name, "scale": str(level.scale), "step": level.step_code / 256,
                       "bytes": coded.num_bytes, "bpp": 8 * coded.num_bytes / pixels, "psnr_y": m.psnr_y,
                       "ms_ssim_y": m.ms_ssim_y, "cast": m.colour_cast,
                       "seconds": time.perf_counter() - start}
                print(json.dumps(row), flush=True)
                out.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
