"""Measure token quality against raw token bits for several FSQ level sets.

Each level set trains the same tokenizer (same seed, same data, same short schedule) in its
own run directory, then its validation PSNR-Y / MS-SSIM-Y and raw token rate are tabulated.
Short runs on small crops rank the choices cheaply; they do not predict the final quality
of a long run. Validation is on the full validation clips (GoP 17), after the last step.

    Run from the repo root (the data cache must exist: tvc data):
    python3 bench/fsq_levels.py --steps 300 --crop-size 64 --out runs/fsq-sweep
"""

from __future__ import annotations

import argparse
import csv
import logging
import sys
import time
import types
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LEVEL_SETS = ("5,5,5", "8,8,8", "8,5,5,5", "7,5,5,5,5", "8,8,8,5,5,5")


def _bare_package() -> None:
    # Skip tvc_ffmpeg/__init__ (it needs the compiled extension, which training does not).
    if "tvc_ffmpeg" not in sys.modules:
        pkg = types.ModuleType("tvc_ffmpeg")
        pkg.__path__ = [str(REPO / "python" / "tvc_ffmpeg")]
        sys.modules["tvc_ffmpeg"] = pkg


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--crop-size", type=int, default=64)
    p.add_argument("--crop-frames", type=int, default=17)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--out", type=Path, default=Path("runs/fsq-sweep"))
    p.add_argument("--levels", nargs="*", default=list(LEVEL_SETS), help="level sets, e.g. 8,5,5,5")
    p.add_argument("--cache", default=None)
    p.add_argument("--summary-only", action="store_true", help="only tabulate existing runs")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    _bare_package()
    from dataclasses import replace

    from tvc_ffmpeg.data.cache import CacheLayout
    from tvc_ffmpeg.data.dataset import CropConfig
    from tvc_ffmpeg.models.config import TokenizerConfig
    from tvc_ffmpeg.train.loop import TrainConfig, train_tokenizer

    cfg = TrainConfig(steps=args.steps, val_every=args.steps, warmup_steps=min(200, args.steps // 5),
                      batch_size=args.batch_size,
                      crop=replace(CropConfig(), size=args.crop_size, frames=args.crop_frames))
    rows = []
    for text in args.levels:
        levels = tuple(int(v) for v in text.split(","))
        run_dir = args.out / ("fsq-" + "-".join(map(str, levels)))
        model_cfg = TokenizerConfig(fsq_levels=levels)
        if not args.summary_only:
            t0 = time.time()
            train_tokenizer(run_dir, model_cfg, cfg, CacheLayout.resolve(args.cache), progress=False)
            logging.info("%s: %.0f s", run_dir, time.time() - t0)
        with open(run_dir / "val.csv") as f:
            last = [r for r in csv.DictReader(f) if int(r["step"]) == args.steps]
        for r in last:
            rows.append((text, model_cfg.codebook_size, model_cfg.bits_per_token, r["clip"],
                         float(r["psnr_y"]), float(r["ms_ssim_y"]), float(r["raw_bpp"])))
    print(f"FSQ sweep, {args.steps} steps each of batch {args.batch_size} x {args.crop_frames}x"
          f"{args.crop_size}x{args.crop_size}, validation GoP 17 on 64 frames")
    print("| levels | codebook | bits/token | clip | PSNR-Y dB | MS-SSIM-Y | raw bpp |")
    print("|---|---|---|---|---|---|---|")
    for levels, size, bits, clip, psnr, msssim, bpp in rows:
        print(f"| {levels} | {size} | {bits:.2f} | {clip} | {psnr:.2f} | {msssim:.4f} | {bpp:.4f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
