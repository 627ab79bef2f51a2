"""Export a trained run as the shipped weights of a model id, and print what to record.

    python3 tools/export_tokenizer.py runs/tvc-s-v3-a/best.pt --model-id tvc-s-v3

Writes ``python/tvc_ffmpeg/models/weights/<id>.pt`` (float16, learned weights only) and
prints its sha256 (for ``REGISTRY`` in models/registry.py) and the token-only PSNR-Y of the
synthetic test clip that ``tests/test_models.py::test_shipped_weights_load_and_reconstruct``
compares against (``SHIPPED_PSNR_FLOOR_DB``). Both must be updated by hand, on purpose: a
weights change is a reviewed change.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

# tests/ holds the synthetic clip the shipped-weights test measures; reuse it, not a copy.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", type=Path, help="a run's best.pt or checkpoint.pt")
    p.add_argument("--model-id", required=True)
    args = p.parse_args()
    import numpy as np
    import torch

    from tokenizer_helpers import moving_pattern
    from tvc_ffmpeg.metrics import psnr_y, rgb_to_yuv420
    from tvc_ffmpeg.models.gop import reconstruct_clip
    from tvc_ffmpeg.models.registry import WEIGHTS_DIR, export_weights, get_entry, load_tokenizer_file

    torch.set_num_threads(2)
    entry = get_entry(args.model_id)
    model = load_tokenizer_file(args.checkpoint)
    if model.config != entry.config:
        raise SystemExit(f"{args.checkpoint}: config {model.config} differs from registry entry {entry.config}")
    WEIGHTS_DIR.mkdir(parents=True, exist_ok=True)
    digest = export_weights(model, args.model_id, entry.weights_path)
    shipped = load_tokenizer_file(entry.weights_path)
    rgb = moving_pattern(17, 64, 96).astype(np.float32) / 255.0
    rec = reconstruct_clip(shipped, rgb, gop_frames=17)
    score = psnr_y(rgb_to_yuv420(rgb), rgb_to_yuv420(rec.rgb))
    size = entry.weights_path.stat().st_size
    print(f"wrote {entry.weights_path} ({size / 1e6:.1f} MB)")
    print(f"sha256 {digest}")
    print(f"synthetic test clip PSNR-Y {score:.2f} dB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
