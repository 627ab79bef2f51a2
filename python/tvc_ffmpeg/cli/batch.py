"""``tvc batch SOURCE... -o OUT_DIR``: many videos to .tvc files as one job on Ray workers."""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional, Sequence

from ..settings import DEFAULT_GOP_LENGTH, DEFAULT_QUALITY, EncoderSettings
from ._common import add_model_arguments, model_fields, progress
from .encode import _bitrate, _mask_pattern


def build_parser() -> argparse.ArgumentParser:
    from ..distributed.batch import DEFAULT_RETRIES

    p = argparse.ArgumentParser(
        prog="tvc batch",
        description=(
            "Encode many videos as one job on Ray workers (pip install \"tvc-ffmpeg[ray]\"), one "
            "task per file. Prints one row per file: frames, size in bits per pixel (bpp) and "
            "kbit/s, seconds, tries, and the error of a file that failed after its retries. "
            "Outputs that are already complete and valid are skipped, so a job can be re-run. "
            "Exit status 1 when any file failed. docs/distributed.md"
        ),
    )
    p.add_argument("sources", nargs="+", metavar="SOURCE",
                   help="a directory (its video files at any depth), a quoted glob ('clips/*.mp4'), "
                        "@LIST (a text file, one input per line) or a video file")
    p.add_argument("-o", "--output-dir", required=True,
                   help="where the .tvc files go (NAME.tvc; a directory source's sub-directories are kept)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, default=None, metavar="N",
                       help="local worker processes (default: one per CPU)")
    where.add_argument("--ray", default=None, metavar="ADDRESS",
                       help="a running Ray cluster ('auto' or ray://HEAD:10001); inputs and the "
                            "output directory must be reachable from every node under the same path")
    p.add_argument("--retries", type=int, default=DEFAULT_RETRIES,
                   help=f"tries after the first for a file that fails (default {DEFAULT_RETRIES})")
    p.add_argument("--overwrite", action="store_true", help="re-encode outputs that are already complete")
    p.add_argument("--gop-length", type=int, default=DEFAULT_GOP_LENGTH,
                   help=f"frames per GoP, 1 + 8k (default {DEFAULT_GOP_LENGTH})")
    rate = p.add_mutually_exclusive_group()
    rate.add_argument("--quality", "-q", type=int, default=DEFAULT_QUALITY,
                      help=f"quality level, higher = better (default {DEFAULT_QUALITY}; tvc encode --help)")
    rate.add_argument("--bitrate", "-b", type=_bitrate, default=None, metavar="RATE",
                      help="target bitrate in bit/s per file (6000, 6k, 0.5M)")
    p.add_argument("--mask-pattern", type=_mask_pattern, default=0, metavar="{0,1,2,3,auto}",
                   help="share of tokens dropped (tvc encode --help)")
    add_model_arguments(p)
    return p


def format_table(results) -> List[str]:
    """The per-file table: one row per file, errors last in their row."""
    rows = [("file", "frames", "bpp", "kbit/s", "seconds", "tries", "result")]
    for r in results:
        if r.error is not None:
            outcome = f"FAILED: {r.error}"
        else:
            outcome = "skipped (complete)" if r.skipped else "ok"
        rows.append((r.input, str(r.frames) if r.error is None else "-",
                     f"{r.bpp:.5f}" if r.error is None else "-", f"{r.kbps:.2f}" if r.error is None else "-",
                     f"{r.seconds:.1f}", str(r.attempts), outcome))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))
            + "  " + row[-1] for row in rows]


def main(argv: Optional[Sequence[str]] = None) -> int:
    from ..distributed import encode_batch, jobs_from

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.workers is not None and args.workers < 1:
        parser.error("--workers must be at least 1")
    if args.retries < 0:
        parser.error("--retries must be at least 0")
    settings = EncoderSettings(quality=args.quality, bitrate=args.bitrate, gop_length=args.gop_length,
                               mask_pattern=args.mask_pattern, **model_fields(args))
    jobs = jobs_from(args.sources, args.output_dir)
    if not jobs:
        parser.error(f"no video files in {' '.join(args.sources)}")
    with progress(len(jobs), "batch", unit="file") as bar:
        results = encode_batch(jobs, settings, workers=args.workers, address=args.ray,
                               retries=args.retries, overwrite=args.overwrite, progress=bar.update)
    for line in format_table(results):
        print(line)
    failed = sum(r.error is not None for r in results)
    done = len(results) - failed
    print(f"{done} of {len(results)} files encoded or already complete, {failed} failed",
          file=sys.stderr)
    return 1 if failed else 0
