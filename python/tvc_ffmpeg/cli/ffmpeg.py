"""``tvc ffmpeg build``: an FFmpeg with ``-c:v libtvc`` and the .tvc format, built for this machine."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tvc ffmpeg", description="Build FFmpeg with TVC grafted in (docs/ffmpeg.md).")
    sub = p.add_subparsers(dest="action", required=True)
    b = sub.add_parser(
        "build",
        help="graft TVC into an FFmpeg source tree, build it, install ffmpeg and ffprobe",
        description=(
            "Get FFmpeg's Debian source package (unless --source is given), graft the libtvc "
            "encoder/decoder and the .tvc (de)muxer into it, configure it with libtvc plus the common "
            "decoders, demuxers and protocols (and libx264/libx265/libdav1d/libsvtav1 when their dev "
            "packages are installed), build it with every core and install ffmpeg and ffprobe. A build "
            "that already exists for the same source, graft and libtvc is reused."
        ),
    )
    b.add_argument("--source", type=Path, default=None,
                   help="an FFmpeg 5.1 or 7.1 source tree (default: Debian's, fetched into the cache)")
    b.add_argument("--prefix", type=Path, default=None,
                   help="install here (bin/ffmpeg, bin/ffprobe); default: a directory in the cache")
    b.add_argument("--jobs", type=int, default=None, help="parallel compile jobs (default: every core)")
    b.add_argument("--suite", default=None,
                   help="Debian release whose source package to fetch: bookworm (FFmpeg 5.1, default) or trixie (7.1)")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    from ..ffmpeg_build import DEFAULT_SUITE, build

    args = build_parser().parse_args(argv)
    if args.jobs is not None and args.jobs < 1:
        print("tvc ffmpeg build: error: --jobs must be at least 1", file=sys.stderr)
        return 2
    result = build(
        source=args.source,
        prefix=args.prefix,
        jobs=args.jobs,
        suite=args.suite or DEFAULT_SUITE,
        progress=lambda message: print(message, file=sys.stderr, flush=True),
    )
    how = "reused" if result.cached else f"built in {result.seconds:.0f} s"
    print(f"FFmpeg {result.version} with TVC ({how}):")
    print(f"  ffmpeg:  {result.ffmpeg}")
    print(f"  ffprobe: {result.ffprobe}")
    return 0
