"""Runtime backends side by side: torch vs ONNX Runtime on the CPU, same run, same inputs.

    python3 bench/backends.py [--threads 2] [--gop 17] [--gops 4] [--weights PATH] [--cache-dir DIR]
                              [--tensorrt-build]

Times the tokenizer's encoder (pixels -> tokens) and decoder (tokens -> pixels) on 640x272
GoPs of 17 frames through each backend with the same thread count. The backends alternate
GoP by GoP (and swap order each GoP) so that load from other processes hits both alike;
one warm-up GoP per backend is excluded. Both decoders get torch's tokens, so the pixel
difference is the decoders' own. Also reported: token agreement between the encoders and
the pixel difference in 8-bit levels. Without ``--weights`` the shipped config is run with
seeded random weights (speed does not depend on their values; agreement does a little).
The ONNX export (once per model, cached) is timed separately when it happens.
``--tensorrt-build`` also builds both TensorRT engines (default profiles: up to 33 frames of
1088x1920) from the same ONNX files and reports their size and build time; TensorRT-RTX does
this without a GPU.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "python"))


def clip(gop: int, height: int, width: int, seed: int) -> np.ndarray:
    """A moving, textured test GoP (1, 3, T, H, W) in [-1, 1]: drifting sinusoids plus mild noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    out = np.empty((1, 3, gop, height, width), np.float32)
    for c in range(3):
        fx, fy, ph = rng.uniform(0.02, 0.2), rng.uniform(0.02, 0.2), rng.uniform(0, 6.3)
        for t in range(gop):
            out[0, c, t] = 0.7 * np.sin(fx * (xx + 3 * t) + ph) * np.cos(fy * (yy - t))
    out += rng.normal(0, 0.05, out.shape).astype(np.float32)
    return np.clip(out, -1, 1)


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def to_8bit(x: np.ndarray) -> np.ndarray:
    return np.round((np.clip(x, -1, 1) + 1) * 127.5).astype(np.int16)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2, help="threads per backend")
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--height", type=int, default=272)
    p.add_argument("--gop", type=int, default=17, help="frames per GoP (1 + 8k)")
    p.add_argument("--gops", type=int, default=4, help="timed GoPs per backend (after one warm-up)")
    p.add_argument("--weights", type=Path, default=None, help="weights file or training checkpoint")
    p.add_argument("--cache-dir", type=Path, default=None, help="ONNX cache (default: a fresh temp dir)")
    p.add_argument("--tensorrt-build", action="store_true", help="also build the TensorRT engines")
    args = p.parse_args()

    import onnxruntime
    import torch

    from tvc_ffmpeg.models.registry import DEFAULT_MODEL_ID, REGISTRY, load_tokenizer_file
    from tvc_ffmpeg.models.tokenizer import CausalVideoTokenizer
    from tvc_ffmpeg.runtime import cached_onnx, create_backend

    if args.weights is not None:
        tok = load_tokenizer_file(args.weights)
    else:
        torch.manual_seed(0)
        tok = CausalVideoTokenizer(REGISTRY[DEFAULT_MODEL_ID].config).eval()
        with torch.no_grad():  # the residual blocks start at zero; make them do something
            for prm in tok.parameters():
                if not prm.any():
                    prm.normal_(0.0, 0.02)
    cache = args.cache_dir or Path(tempfile.mkdtemp(prefix="tvc-bench-"))
    t0 = time.perf_counter()
    files = cached_onnx(tok, cache)
    t_export = time.perf_counter() - t0
    backends = {name: create_backend(name, tok, threads=args.threads, cache_dir=cache)
                for name in ("torch", "onnxruntime")}

    t_enc = {n: 0.0 for n in backends}
    t_dec = {n: 0.0 for n in backends}
    mismatched = total = 0
    max_diff = max_levels = 0.0
    for g in range(args.gops + 1):
        x = clip(args.gop, args.height, args.width, seed=g)
        tokens, pixels = {}, {}
        order = list(backends) if g % 2 == 0 else list(backends)[::-1]
        for name in order:
            s0 = time.perf_counter()
            tokens[name] = backends[name].encode(x)
            if g:  # GoP 0 is warm-up
                t_enc[name] += time.perf_counter() - s0
        for name in order:
            s0 = time.perf_counter()
            pixels[name] = backends[name].decode(tokens["torch"])  # same tokens into both decoders
            if g:
                t_dec[name] += time.perf_counter() - s0
        mismatched += int((tokens["torch"] != tokens["onnxruntime"]).sum())
        total += tokens["torch"].size
        a, b = pixels["torch"], pixels["onnxruntime"]
        max_diff = max(max_diff, float(np.abs(a - b).max()))
        max_levels = max(max_levels, float(np.abs(to_8bit(a) - to_8bit(b)).max()))

    frames = args.gops * args.gop
    print(f"date: {time.strftime('%Y-%m-%d %H:%M %Z')}; machine: {cpu_name()}, {os.cpu_count()} cores, "
          f"{args.threads} threads per backend; "
          f"torch {torch.__version__}, onnxruntime {onnxruntime.__version__}")
    print(f"model: {args.weights or 'shipped config, random weights'}; clip {args.width}x{args.height}, "
          f"GoP {args.gop}, {frames} timed frames per backend; ONNX export {t_export:.1f} s")
    for name in backends:
        e, d = t_enc[name], t_dec[name]
        print(f"{name:12s} encode {frames / e:6.2f} frames/s  decode {frames / d:6.2f} frames/s  "
              f"encode+decode {frames / (e + d):6.2f} frames/s")
    print(f"tokens differing torch vs onnxruntime: {mismatched} of {total} "
          f"(warm-up GoP included)")
    print(f"decoded pixels, max |torch - onnxruntime|: {max_diff:.3g} in [-1, 1], "
          f"{max_levels:.0f} 8-bit levels")
    if args.tensorrt_build:
        from tvc_ffmpeg.runtime import tensorrt_backend as trb

        trt = trb.import_tensorrt()
        prof = trb.profiles(tok.config, 33, 1088, 1920)
        for role, path, name in (("encoder", files.encoder, "video"), ("decoder", files.decoder, "indices")):
            s0 = time.perf_counter()
            engine = trb.build_engine(trt, path, name, prof[role])
            print(f"TensorRT ({trt.__name__} {trt.__version__}) {role} engine: {len(engine) / 1e6:.1f} MB, "
                  f"built in {time.perf_counter() - s0:.1f} s, profile max {prof[role][2]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
