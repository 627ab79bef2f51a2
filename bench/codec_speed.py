"""Encode and decode speed of the TVC codec beside x265's, same run, same clip.

Clip: bikes.mp4 frames 0-63 (640x272) from the data cache (`tvc data` or
`tvc demo` fetches it), or --input. TVC: the shipped model (or --weights) at
every quality level, default GoP length, torch with --threads threads, plus
quality 2 with --mask-pattern auto (the encoder decodes its mask candidates). x265 (PyAV's libx265):
preset medium, QP 51 on every frame, keyint 32 (its rate floor, as in
DESIGN.md), then decoding the result. Prints frames/s and the ratio to x265.

Usage: python bench/codec_speed.py [--threads 2] [--frames 64] [--weights FILE]
           [--backend torch|onnxruntime|tensorrt] [--levels 3 2 1 0] [--no-auto-mask]

With a backend other than torch, one GoP is decoded before timing starts, so the
one-time ONNX export and session creation are not counted.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from datetime import date
from fractions import Fraction

import numpy as np
import torch


def load_frames(path, count):
    from tvc_ffmpeg.video import open_input

    with open_input(path) as r:
        frames = []
        for f in r:
            frames.append(f)
            if len(frames) == count:
                break
        return r.info, frames


def x265_speed(info, frames, threads):
    import av

    out = av.open("/dev/null", "w", format="hevc")
    s = out.add_stream("libx265", rate=Fraction(info.frame_rate).limit_denominator(1000))
    s.width, s.height, s.pix_fmt = info.width, info.height, "yuv420p"
    s.options = {"x265-params": f"qp=51:keyint=32:min-keyint=32:pools={threads}:log-level=error",
                 "preset": "medium"}
    vf = []
    for i, f in enumerate(frames):
        v = av.VideoFrame(info.width, info.height, "yuv420p")
        for plane, data in zip(v.planes, (f.y, f.u, f.v)):
            buf = np.zeros((plane.height, plane.line_size), np.uint8)
            buf[:, : data.shape[1]] = data
            plane.update(buf)
        v.pts = i
        vf.append(v)
    packets = []
    t0 = time.perf_counter()
    for v in vf:
        packets += list(s.encode(v))
    packets += list(s.encode(None))
    enc = time.perf_counter() - t0
    ctx = av.CodecContext.create("hevc", "r")
    t0 = time.perf_counter()
    n = 0
    for p in packets:
        n += len(ctx.decode(p))
    n += len(ctx.decode(None))
    dec = time.perf_counter() - t0
    out.close()
    return len(frames) / enc, n / dec, sum(p.size for p in packets)


def tvc_speed(info, frames, model, quality, mask_pattern=0):
    from tvc_ffmpeg.codec import Decoder, Encoder
    from tvc_ffmpeg.settings import EncoderSettings

    t0 = time.perf_counter()
    enc = Encoder(info, EncoderSettings(quality=quality, mask_pattern=mask_pattern), model=model)
    packets = [p for f in frames for p in enc.encode(f)] + enc.encode(None)
    t_enc = time.perf_counter() - t0
    dec = Decoder(enc.header, model=model)
    t0 = time.perf_counter()
    n = sum(len(dec.decode(p)) for p in packets)
    t_dec = time.perf_counter() - t0
    return len(frames) / t_enc, n / t_dec, sum(len(p.to_bytes()) for p in packets)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", default=None)
    ap.add_argument("--frames", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--weights", default=None)
    ap.add_argument("--backend", default="torch", help="runtime backend of the nets (docs/runtime.md)")
    ap.add_argument("--levels", type=int, nargs="+", default=[3, 2, 1, 0], help="quality levels to time")
    ap.add_argument("--no-auto-mask", action="store_true", help="skip the quality-2 auto-mask row")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    from tvc_ffmpeg.codec import CodecModel

    if args.input is None:
        from tvc_ffmpeg.data.cache import CacheLayout

        args.input = CacheLayout.resolve().video("bikes")
    info, frames = load_frames(args.input, args.frames)
    model = CodecModel.from_file(args.weights) if args.weights else CodecModel.load()
    model = model.with_runtime(args.backend)
    if args.backend != "torch":
        tvc_speed(info, frames[:9], model, 2)  # one-time export and session creation
    rows = []
    xe, xd, xb = x265_speed(info, frames, args.threads)
    for q in args.levels:
        e, d, b = tvc_speed(info, frames, model, q)
        rows.append((f"TVC q{q} ({model.model_id}, {args.backend})", e, d, b))
    if not args.no_auto_mask:
        e, d, b = tvc_speed(info, frames, model, 2, "auto")
        rows.append((f"TVC q2 auto-mask ({model.model_id}, {args.backend})", e, d, b))
    rows.append(("x265 QP 51 (preset medium)", xe, xd, xb))
    px = info.width * info.height * len(frames)
    print(f"{info.width}x{info.height}, {len(frames)} frames; {platform.machine()}, {args.threads} threads; "
          f"torch {torch.__version__}; {date.today()}")
    print()
    print("| codec | encode fps | decode fps | encode vs x265 | decode vs x265 | bpp |")
    print("|---|---|---|---|---|---|")
    for name, e, d, b in rows:
        print(f"| {name} | {e:.1f} | {d:.1f} | {e / xe:.2f}x | {d / xd:.2f}x | {b * 8 / px:.5f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
