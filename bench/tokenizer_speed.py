"""Tokenizer speed and cost: encode + decode frames/s at 640x272 on the CPU, MACs per pixel.

    python3 bench/tokenizer_speed.py [--threads 2] [--gop 17] [--gops 4] [--weights PATH]
                                     [--decoder-scales 1 1.25 1.5]

Times ``encoder(x)`` (pixels -> tokens) and ``decoder(indices)`` (tokens -> pixels) separately
on random GoPs of the given size (speed does not depend on the weights' values, so an
untrained model of the shipped config gives the same number; ``--weights`` loads real ones).
One warm-up GoP is excluded. MACs are counted from the convolutions actually run (forward
hooks), per pixel of input video; elementwise ops are not counted.

``--decoder-scales`` also times untrained decoders whose widths are the shipped config's times
each factor (rounded to a multiple of 8), alternating them GoP by GoP so machine load hits
all alike, and prints each one's decode rate against the first factor's: the CPU cost of a
wider decoder (docs/models.md, "A wider decoder: the cost side").
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
import types
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _bare_package() -> None:
    # Skip tvc_ffmpeg/__init__ (it needs the compiled extension; the tokenizer does not).
    if "tvc_ffmpeg" not in sys.modules:
        pkg = types.ModuleType("tvc_ffmpeg")
        pkg.__path__ = [str(REPO / "python" / "tvc_ffmpeg")]
        sys.modules["tvc_ffmpeg"] = pkg


def count_macs(module, x) -> int:
    import torch

    total = 0

    def hook(mod, inputs, output):
        nonlocal total
        kernel = 1
        for k in mod.kernel_size:
            kernel *= k
        total += output.numel() * (mod.in_channels // mod.groups) * kernel

    handles = [m.register_forward_hook(hook) for m in module.modules()
               if isinstance(m, (torch.nn.Conv2d, torch.nn.Conv3d))]
    with torch.no_grad():
        out = module(x)
    for h in handles:
        h.remove()
    return total, out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--height", type=int, default=272)
    p.add_argument("--gop", type=int, default=17, help="frames per GoP (1 + 8k)")
    p.add_argument("--gops", type=int, default=4, help="timed GoPs (after one warm-up)")
    p.add_argument("--weights", type=Path, default=None, help="weights file or run checkpoint")
    p.add_argument("--decoder-scales", type=float, nargs="+", default=None, metavar="F",
                   help="also time decoders with the widths scaled by each F (the first is the reference)")
    args = p.parse_args()
    if args.decoder_scales is not None and any(not f > 0 for f in args.decoder_scales):
        p.error("--decoder-scales: each factor must be positive")
    _bare_package()
    import torch

    from tvc_ffmpeg.models.registry import DEFAULT_MODEL_ID, REGISTRY, load_tokenizer_file
    from tvc_ffmpeg.models.tokenizer import CausalVideoTokenizer

    torch.set_num_threads(args.threads)
    if args.weights is not None:
        model = load_tokenizer_file(args.weights)
    else:
        model = CausalVideoTokenizer(REGISTRY[DEFAULT_MODEL_ID].config).eval()
    torch.manual_seed(0)
    x = torch.rand(1, 3, args.gop, args.height, args.width) * 2 - 1
    pixels = args.gop * args.height * args.width
    enc_macs, (indices, _) = count_macs(model.encoder, x)
    dec_macs, _ = count_macs(model.decoder, indices)
    t_enc = t_dec = 0.0
    with torch.no_grad():
        for i in range(args.gops + 1):
            t0 = time.perf_counter()
            indices, _ = model.encoder(x)
            t1 = time.perf_counter()
            model.decoder(indices)
            t2 = time.perf_counter()
            if i:  # first GoP is warm-up
                t_enc += t1 - t0
                t_dec += t2 - t1
    frames = args.gops * args.gop
    n_enc = sum(p.numel() for p in model.encoder.parameters())
    n_dec = sum(p.numel() for p in model.decoder.parameters())
    print(f"machine: {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"{args.threads} threads, {time.strftime('%Y-%m-%d')}")
    print(f"clip: {args.width}x{args.height}, GoP {args.gop}, {frames} timed frames")
    print(f"params: encoder {n_enc / 1e6:.2f} M, decoder {n_dec / 1e6:.2f} M")
    print(f"MACs/pixel: encoder {enc_macs / pixels:.0f}, decoder {dec_macs / pixels:.0f}, "
          f"total {(enc_macs + dec_macs) / pixels:.0f}")
    print(f"encode {frames / t_enc:.1f} frames/s, decode {frames / t_dec:.1f} frames/s, "
          f"encode+decode {frames / (t_enc + t_dec):.1f} frames/s")
    if args.decoder_scales:
        time_wider_decoders(model.config, indices, args.decoder_scales, args.gops, args.gop)
    return 0


def time_wider_decoders(config, indices, scales, gops: int, gop: int) -> None:
    from dataclasses import replace

    import torch

    from tvc_ffmpeg.models.tokenizer import TokenizerDecoder

    decoders = []
    for f in scales:
        widths = tuple(max(8, int(round(w * f / 8)) * 8) for w in config.decoder_widths)
        decoders.append((f, widths, TokenizerDecoder(replace(config, decoder_widths=widths)).eval()))
    seconds = [0.0] * len(decoders)
    with torch.no_grad():
        for i in range(gops + 1):
            for k, (_, _, dec) in enumerate(decoders):
                t0 = time.perf_counter()
                dec(indices)
                if i:  # first round is warm-up
                    seconds[k] += time.perf_counter() - t0
    frames = gops * gop
    for (f, widths, dec), s in zip(decoders, seconds):
        params = sum(p.numel() for p in dec.parameters())
        macs, _ = count_macs(dec, indices)
        print(f"decoder x{f:g} widths {widths}: {params / 1e6:.2f} M params, "
              f"{macs / (frames / gops * indices.shape[-1] * indices.shape[-2] * 256):.0f} MACs/pixel, "
              f"{frames / s:.1f} frames/s, time x{s / seconds[0]:.2f}")


if __name__ == "__main__":
    sys.exit(main())
