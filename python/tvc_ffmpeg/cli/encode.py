"""``tvc encode IN OUT.tvc``: video to a .tvc stream."""

from __future__ import annotations

import argparse
import itertools
import logging
import sys
from typing import Optional, Sequence

from ..bitstream import TvcWriter
from ..codec import Encoder
from ..files import encode_into
from .._native import NUM_MASK_PATTERNS
from ..codec.session import AUTO_MASK_DB_PER_HALVING
from ..models.registry import DEFAULT_QUALITY_SCALES
from ..settings import AUTO_MASK, DEFAULT_GOP_LENGTH, DEFAULT_QUALITY, EncoderSettings
from ..video import open_input
from ._common import add_model_arguments, model_fields, progress

log = logging.getLogger("tvc.encode")


# Accepted --bitrate range in bit/s: below 1 bit/s no GoP fits, and above 1 Gbit/s
# the top quality level is reached long before (a typo such as "6G" for "6k").
MIN_BITRATE, MAX_BITRATE = 1.0, 1e9


def _bitrate(text: str) -> float:
    units = {"k": 1e3, "K": 1e3, "m": 1e6, "M": 1e6}
    number, scale = (text[:-1], units[text[-1]]) if text and text[-1] in units else (text, 1.0)
    try:
        value = float(number) * scale
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a bitrate such as 6000, 6k or 0.5M, got {text!r}") from None
    # float() also reads "inf", "nan" and "1e400" (inf): the range test refuses them all.
    if not MIN_BITRATE <= value <= MAX_BITRATE:
        raise argparse.ArgumentTypeError(
            f"bitrate must be between 1 bit/s and 1G bit/s (1000M), got {text!r}")
    return value


def _mask_pattern(text: str):
    if text == AUTO_MASK:
        return text
    if text.isdigit() and int(text) < NUM_MASK_PATTERNS:
        return int(text)
    raise argparse.ArgumentTypeError(f"mask pattern must be 0..{NUM_MASK_PATTERNS - 1} or {AUTO_MASK}, got {text!r}")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tvc encode",
        description=(
            "Encode a video into a .tvc stream. Input: any file PyAV/FFmpeg opens, a .y4m "
            "file, or '-' for Y4M on stdin (e.g. ffmpeg -i in.mp4 -pix_fmt yuv420p -f "
            "yuv4mpegpipe - | tvc encode - out.tvc). Frames are coded as 8-bit 4:2:0; other "
            "formats are converted with a warning. Prints the size in bits per pixel "
            "(bpp = stream bits / (width x height x frames)) and kbit/s."
        ),
    )
    p.add_argument("input", help="input video, or '-' for Y4M on stdin")
    p.add_argument("output", help="output .tvc file, or '-' for the stream on stdout (e.g. "
                                   "tvc encode in.y4m - | tvc decode - out.y4m; the summary "
                                   "line then goes to stderr)")
    p.add_argument("--gop-length", type=int, default=DEFAULT_GOP_LENGTH,
                   help=f"frames per GoP, 1 + 8k (default {DEFAULT_GOP_LENGTH}); longer GoPs cost "
                        "fewer bits per frame, each GoP is decodable on its own")
    scales = ", ".join(f"{q}: {s}" for q, s in enumerate(DEFAULT_QUALITY_SCALES))
    rate = p.add_mutually_exclusive_group()
    # No argparse choices: the ladder belongs to the model (a continuous model has more
    # levels), and Encoder names the valid levels of the model in use.
    rate.add_argument("--quality", "-q", type=int, default=DEFAULT_QUALITY,
                      help=f"quality level, higher = better (default {DEFAULT_QUALITY}); the model's "
                           f"ladder. Levels 0-3 code the picture at a fraction of the source size "
                           f"({scales}) and the decoder scales it back; tvc-s-v6's levels 4 and 5 "
                           "add the continuous stream to the 3/2 picture. Measured with tvc-s-v6 on "
                           "bikes 640x272, frames 0-63 (bpp, PSNR-Y dB): 0: 0.0015, 23.6; 1: 0.0031, "
                           "24.7; 2: 0.0052, 25.3; 3: 0.0116, 25.9; 4: 0.0410, 31.1; 5: 0.0613, 31.6 "
                           "(docs/codec.md has both validation clips)")
    rate.add_argument("--bitrate", "-b", type=_bitrate, default=None, metavar="RATE",
                      help="target bitrate in bit/s, with an optional k (x1000) or M (x1000000) "
                           "suffix (e.g. 6000, 6k, 0.5M; 1 to 1000M): each GoP's quality level "
                           "is chosen to stay at or below it")
    p.add_argument("--mask-pattern", type=_mask_pattern, default=0, metavar="{0,1,2,3,auto}",
                   help="drop 0 (default), 25, 50 or 75 %% of the tokens after each GoP's first latent "
                        "frame, which the decoder predicts; 'auto' prices and decodes each GoP's "
                        "candidates and drops tokens only where that loses less than coding at a lower "
                        f"quality level would for the same saving ({AUTO_MASK_DB_PER_HALVING} dB per "
                        "halving of the bits; static scenes; encoding is slower). docs/codec.md has "
                        "the measurements")
    p.add_argument("--no-colour-correction", dest="colour_correction", action="store_false",
                   help="do not send each GoP's mean Y/U/V offset (a few bytes per GoP that remove the "
                        "decoder's colour cast; docs/codec.md)")
    p.add_argument("--frames", type=int, default=None, help="encode at most this many frames")
    par = p.add_argument_group("parallel encoding (needs Ray: pip install \"tvc-ffmpeg[ray]\"; "
                                 "docs/distributed.md)")
    where = par.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, default=None, metavar="N",
                       help="code GoP ranges in N local worker processes (a private Ray cluster); "
                            "the input must be a file. With --quality the stream is byte-identical "
                            "to the serial one; with --bitrate each range gets the budget of its "
                            "frames. Give each worker --threads 1 (its default under Ray)")
    where.add_argument("--ray", default=None, metavar="ADDRESS",
                       help="code GoP ranges on a running Ray cluster: 'auto' (the one this node "
                            "belongs to) or ray://HEAD:10001; the input path must be readable on "
                            "every node, the output is written here")
    par.add_argument("--gops-per-task", type=int, default=None, metavar="K",
                     help="GoPs per task (default: about 4 tasks per worker)")
    add_model_arguments(p)
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    if args.frames is not None and args.frames < 1:
        build_parser().error("--frames must be at least 1")
    if args.workers is not None and args.workers < 1:
        build_parser().error("--workers must be at least 1")
    if args.gops_per_task is not None and args.gops_per_task < 1:
        build_parser().error("--gops-per-task must be at least 1")
    settings = EncoderSettings(quality=args.quality, bitrate=args.bitrate, gop_length=args.gop_length,
                               mask_pattern=args.mask_pattern, colour_correction=args.colour_correction,
                               **model_fields(args))
    if args.workers is not None or args.ray is not None:
        return _encode_parallel(args, settings)
    model = settings.load_model()  # before the input is opened: a bad --weights fails first
    # '-' is the stream on stdout, written in place (there is nothing to rename into);
    # everything else the command says goes to stderr then, never into the stream.
    to_stdout = args.output == "-"
    target = sys.stdout.buffer if to_stdout else args.output
    with open_input(args.input) as reader, Encoder(reader.info, settings, model=model) as enc, \
            TvcWriter(target, enc.header) as writer, progress(args.frames, "encode") as bar:
        frames = encode_into(writer, enc, itertools.islice(reader, args.frames), bar.update)
        if frames == 0:
            writer.abort()  # an empty stream is not a result: leave nothing behind
        else:
            writer.close()
        size = writer.bytes_written
        info = reader.info
    if frames == 0:
        log.error("%s has no frames", args.input)
        return 1
    _summary(writer.name, frames, info, size, to_stdout)
    return 0


def _summary(name: str, frames: int, info, size: int, to_stdout: bool) -> None:
    bpp = size * 8 / (info.width * info.height * frames)
    kbps = size * 8 * float(info.frame_rate) / frames / 1000
    print(f"{name}: {frames} frames {info.width}x{info.height}, {size} bytes, "
          f"{bpp:.5f} bpp, {kbps:.2f} kbit/s at {float(info.frame_rate):g} fps",
          file=sys.stderr if to_stdout else sys.stdout)


def _encode_parallel(args: argparse.Namespace, settings: EncoderSettings) -> int:
    """--workers / --ray: GoP ranges on Ray workers (tvc_ffmpeg.distributed)."""
    from ..distributed import encode_parallel, index_input

    to_stdout = args.output == "-"
    target = sys.stdout.buffer if to_stdout else args.output
    index = index_input(args.input, args.frames)  # once, here: the bar then knows the total
    with progress(index.frame_count, "encode") as bar:
        result = encode_parallel(index, target, settings, workers=args.workers, address=args.ray,
                                 gops_per_range=args.gops_per_task, progress=bar.update)
    if result.frames == 0:
        log.error("%s has no frames", args.input)
        return 1
    _summary(result.output, result.frames, result.info, result.bytes, to_stdout)
    return 0
