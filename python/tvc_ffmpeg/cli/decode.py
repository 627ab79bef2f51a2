"""``tvc decode IN.tvc OUT``: a .tvc stream back to video."""

from __future__ import annotations

import argparse
import logging
from typing import Optional, Sequence

from ..bitstream import TvcReader
from ..codec import Decoder
from ..errors import InvalidDataError
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
    reader = TvcReader(args.input)
    header = reader.header
    model = load_model(args, default_id=header.model_id)
    damaged = 0
    frames = 0
    with Decoder(header, model) as dec, open_output(args.output, dec.info) as out, \
            progress(None, "decode") as bar:
        for record, packet in reader:
            if packet is None:
                damaged += 1
                log.warning("skipping damaged data at byte %d: %s", record.offset, record.error)
                continue
            try:
                decoded = dec.decode(packet)
            except InvalidDataError as exc:
                damaged += 1
                log.warning("skipping GoP %d: %s", packet.gop_index, exc)
                continue
            for frame in decoded:
                out.write(frame)
            frames += len(decoded)
            bar.update(len(decoded))
    log.info("%s: %d frames%s", args.output, frames,
             f", {damaged} damaged GoP(s) skipped" if damaged else "")
    return 1 if damaged else 0
