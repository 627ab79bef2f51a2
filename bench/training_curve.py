"""Print a run's validation curve (val.csv) as a Markdown table, one row per validation.

    python3 bench/training_curve.py runs/tvc-s-v1-a [--every 500]
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import defaultdict
from pathlib import Path


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dir", type=Path)
    p.add_argument("--every", type=int, default=0, help="only steps that are multiples of this (0: all)")
    args = p.parse_args()
    rows = defaultdict(dict)
    with open(args.run_dir / "val.csv") as f:
        for r in csv.DictReader(f):
            rows[int(r["step"])][r["clip"]] = r
    clips = sorted({c for by_clip in rows.values() for c in by_clip})
    print("| step | train wall (min) | " + " | ".join(f"{c} PSNR-Y / MS-SSIM-Y" for c in clips) + " |")
    print("|---|---|" + "---|" * len(clips))
    for step in sorted(rows):
        if args.every and step % args.every and step != max(rows):
            continue
        by_clip = rows[step]
        wall = float(next(iter(by_clip.values()))["wall_s"]) / 60.0
        cells = [f"{float(by_clip[c]['psnr_y']):.2f} / {float(by_clip[c]['ms_ssim_y']):.3f}" if c in by_clip else "-"
                 for c in clips]
        print(f"| {step} | {wall:.0f} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
