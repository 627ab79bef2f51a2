"""``tvc decode IN.tvc OUT``: a .tvc stream back to video."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Optional, Sequence

from ..bitstream import TvcReader
from ..files import TvcInput
from ..video import open_output
from ._common import add_model_arguments, decoder_settings, progress

log = logging.getLogger("tvc.decode")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tvc decode",
        description=(
            "Decode a .tvc stream. Input: a .tvc file, or '-' for a stream on stdin (read "
            "record by record, so a pipe works). Output by extension: .y4m (raw), .mkv "
            "(FFV1, lossless), .mp4/.mov (H.264 CRF 16), or '-' for Y4M on stdout. Damaged, "
            "missing, repeated or out-of-order GoPs and a stream that ends early are reported "
            "(how many GoPs and frames were lost) and the exit status is then 1."
        ),
    )
    p.add_argument("input", help="input .tvc file, or '-' for stdin")
    p.add_argument("output", help="output video, or '-' for Y4M on stdout")
    add_model_arguments(p)
    return p


def _lost(src: TvcInput) -> str:
    gops, frames = src.lost_gops, src.lost_frames
    if gops is None:
        return f"{src.damaged} loss(es), an unknown number of GoPs lost"
    return f"{src.damaged} loss(es): {gops} GoP(s)" + ("" if frames is None else f", {frames} frame(s)") + " lost"


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    source = sys.stdin.buffer if args.input == "-" else args.input
    # One reader for everything: the header names the default model, then the same
    # reader delivers the GoPs (the input is read once, so stdin works).
    reader = TvcReader(source)
    frames = 0
    with reader:
        with TvcInput(reader, decoder_settings(args)) as src, open_output(args.output, src.info) as out, \
                progress(None, "decode") as bar:
            for frame in src:  # every loss is logged by TvcInput as it is met
                out.write(frame)
                frames += 1
                bar.update(1)
    log.info("%s: %d frames%s", args.output, frames, f"; {_lost(src)}" if src.damaged else "")
    return 1 if src.damaged else 0
