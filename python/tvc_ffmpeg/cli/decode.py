"""``tvc decode IN.tvc OUT``: a .tvc stream back to video."""

from __future__ import annotations

import argparse
import logging
from typing import Optional, Sequence

from ..bitstream import read_header
from ..files import TvcInput
from ..video import open_output
from ._common import add_model_arguments, load_model, progress

log = logging.getLogger("tvc.decode")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tvc decode",
        description=(
            "Decode a .tvc stream. Output by extension: .y4m (raw), .mkv (FFV1, lossless), "
            ".mp4/.mov (H.264 CRF 16), or '-' for Y4M on stdout. A damaged GoP is reported "
            "and skipped; the exit status is then 1."
        ),
    )
    p.add_argument("input", help="input .tvc file")
    p.add_argument("output", help="output video, or '-' for Y4M on stdout")
    add_model_arguments(p)
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    model = load_model(args, default_id=read_header(args.input).model_id)
    frames = 0
    with TvcInput(args.input, model) as src, open_output(args.output, src.info) as out, \
            progress(None, "decode") as bar:
        for frame in src:  # damaged GoPs are logged and skipped by TvcInput
            out.write(frame)
            frames += 1
            bar.update(1)
        damaged = src.damaged
    log.info("%s: %d frames%s", args.output, frames,
             f", {damaged} damaged GoP(s) skipped" if damaged else "")
    return 1 if damaged else 0
