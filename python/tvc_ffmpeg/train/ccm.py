"""Training the discrete checkerboard context model on a tokenizer's tokens.

Steps (every one resumable from ``run_dir``):

1. ``tokens.npz``: digits of ``pool_gops`` random GoP crops from the training
   material (GopCropSampler), tokenized by the given tokenizer, plus the
   validation clips' digits (bikes and carphone frames 0-63, GoPs of 17).
2. ``checkpoint.pt``: the float mirror (fake quantisation) trained to minimise
   the code length of the digits, pass by pass, exactly in the coder's order;
   ``train.csv`` logs train bits/token and, every ``val_every`` steps, the real
   coded size of the validation tokens through the C++ coder.
3. ``ccm.tvcn``: the exported blob (a bare TVCN network for a v1 model, the
   TVCM container for ``prev_frames = 2`` or ``digit_heads``; docs/ccm.md).

``tokens.npz`` depends only on the tokenizer and the pool settings (``pool_gops``,
``video_fraction``, ``crop_size``, ``gop_frames``, ``seed``), never on the model's
shape, so a run with another model (``--prev-frames 2``, ``--digit-heads``,
``--hidden`` ...) can skip the tokenizing step: create its run directory, copy
another run's ``tokens.npz`` into it (same tokenizer and pool settings), then start
``tvc train ccm`` there.

``--device cuda`` moves the float mirror and the tokenizer (pool building) to the GPU;
mixed precision is refused with a warning (the fake quantisation needs exact float32
rounding), and ``minutes`` stops a session early with a checkpoint, as the tokenizer loop.

The context planes are built in numpy here (``context_planes``) and tested
equal to the C++ coder's (``CheckerboardCoder.context``).
"""

from __future__ import annotations

import copy
import csv
import json
import warnings
import logging
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from .. import _native
from ..errors import RunMismatchError
from ..models.ccm import CcmConfig, CheckerboardContextModel
from ..models.fsq import indices_to_digits
from ..models.gop import pad_to_valid_length
from .device import OnDevice, TrainDevice, load_checkpoint, to_cpu

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CcmTrainConfig:
    steps: int = 3000
    batch_size: int = 16
    lr: float = 2e-3
    hidden: int = 32
    kernels: Tuple[int, ...] = (3, 3, 1)  # per trunk layer; without digit heads the last is the logit layer
    prev_frames: int = 1  # previous latent frames in the context (CCM v2: 2)
    digit_heads: bool = False  # CCM v2: one logit head per digit, fed the earlier digits
    pool_gops: int = 384
    video_fraction: float = 0.4  # share of pool crops cut from real clips (the rest: stills in motion)
    crop_size: int = 128  # the training sampler needs crops no larger than its smallest clip (carphone, 144 lines)
    gop_frames: int = 17
    val_every: int = 250
    checkpoint_every: int = 250
    seed: int = 0


def context_planes(digits: np.ndarray, frame: int, pass_index: int, levels: Sequence[int],
                   pattern: int = 0, prev_frames: int = 1) -> np.ndarray:
    """Batched numpy version of CheckerboardCoder::context: digits (N, T, H, W, D) ->
    planes (N, (K+1)(D+1), H, W) for one latent frame and pass under a mask pattern, with
    K = prev_frames: per previous frame f-k (k = 1..K) its kept digits as 2d - (L-1) and a
    kept flag (127), then this frame's kept anchor digits and the anchor flag (pass 1 only)."""
    n, t, h, w, d = digits.shape
    keep = _native.mask_keep(pattern, t, h, w)
    lv = np.array(levels, np.int32)
    planes = np.zeros((n, (prev_frames + 1) * (d + 1), h, w), np.int32)
    for k in range(1, prev_frames + 1):
        if frame - k < 0:
            continue
        base = (k - 1) * (d + 1)
        prev = keep[frame - k]
        planes[:, base : base + d] = np.where(prev, np.moveaxis(2 * digits[:, frame - k] - (lv - 1), -1, 1), 0)
        planes[:, base + d] = np.where(prev, 127, 0)
    if pass_index == 1:
        base = prev_frames * (d + 1)
        anchors = ((np.add.outer(np.arange(h), np.arange(w)) % 2) == 0) & keep[frame]
        cur = np.moveaxis(2 * digits[:, frame] - (lv - 1), -1, 1)
        planes[:, base : base + d] = np.where(anchors, cur, 0)
        planes[:, base + d] = np.where(anchors, 127, 0)
    return planes


def pass_mask(h: int, w: int, pass_index: int, keep: np.ndarray) -> np.ndarray:
    """Positions coded in one pass: parity (y + x) % 2 == pass, and kept by the pattern."""
    return (((np.add.outer(np.arange(h), np.arange(w)) % 2) == pass_index) & keep).astype(np.float32)


def code_length_bits(model: CheckerboardContextModel, digits: torch.Tensor, pattern: int = 0) -> torch.Tensor:
    """Total bits of a batch of digit grids (N, T, H, W, D) under the float mirror."""
    levels = model.config.levels
    device = next(model.parameters()).device
    n, t, h, w, _ = digits.shape
    np_digits = digits.cpu().numpy()
    digits = digits.to(device)
    keep = _native.mask_keep(pattern, t, h, w)
    total = torch.zeros((), device=device)
    for f in range(t):
        for p in (0, 1):
            planes = context_planes(np_digits, f, p, levels, pattern, model.config.prev_frames)
            planes = torch.from_numpy(planes).float().to(device)
            mask = torch.from_numpy(pass_mask(h, w, p, keep[f])).to(device).expand(n, h, w)
            total = total + model.bits(planes, digits[:, f].permute(0, 3, 1, 2), mask)
    return total


def histogram_bits(train: np.ndarray, val: np.ndarray, levels: Sequence[int]) -> float:
    """Ideal code length (bits) of val under per-digit histograms fitted on train (add-one)."""
    bits = 0.0
    for d, n in enumerate(levels):
        counts = np.bincount(train[..., d].ravel(), minlength=n) + 1.0
        p = counts / counts.sum()
        bits += -np.log2(p[val[..., d].ravel()]).sum()
    return float(bits)


def _tokenize(tokenizer, clips: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        indices, _ = tokenizer.encode(clips)
    return indices_to_digits(indices.numpy(), tokenizer.config.fsq_levels).astype(np.int32)


def _validation_digits(tokenizer, gop_frames: int, cache) -> List[np.ndarray]:
    """Digits of every GoP of the validation clips (frames 0-63, padded to the tokenizer's multiple)."""
    from ..data.clips import VALIDATION_CLIPS
    from ..metrics import yuv420_to_rgb
    from .validate import validation_yuv

    out = []
    sf = tokenizer.spatial_factor
    for clip in VALIDATION_CLIPS:
        rgb = yuv420_to_rgb(validation_yuv(clip, cache)).astype(np.float32)  # (T, H, W, 3) in [0, 1]
        t, h, w, _ = rgb.shape
        ph, pw = -(-h // sf) * sf, -(-w // sf) * sf
        rgb = np.pad(rgb, ((0, 0), (0, ph - h), (0, pw - w), (0, 0)), mode="edge")
        for start in range(0, t, gop_frames):
            part = rgb[start : start + gop_frames]
            part = pad_to_valid_length(part, tokenizer.temporal_factor)
            x = torch.from_numpy(part).permute(3, 0, 1, 2)[None] * 2.0 - 1.0
            out.append(_tokenize(tokenizer, x)[0])
    return out


def build_token_pool(tokenizer, run_dir: Path, cfg: CcmTrainConfig, cache=None) -> Tuple[np.ndarray, List[np.ndarray]]:
    path = run_dir / "tokens.npz"
    if path.exists():
        data = np.load(path)
        val = [data[k] for k in sorted(k for k in data.files if k.startswith("val_"))]
        return data["train"], val
    from ..data.cache import CacheLayout
    from ..data.dataset import CropConfig, GopCropSampler

    cache = cache if isinstance(cache, CacheLayout) else CacheLayout.resolve(cache)
    crop = CropConfig(frames=cfg.gop_frames, size=cfg.crop_size, video_fraction=cfg.video_fraction)
    sampler = GopCropSampler(cache, crop, seed=cfg.seed + 1000)
    parts = []
    from tqdm import tqdm

    for i in tqdm(range(0, cfg.pool_gops, 4), desc="tokenize", unit="batch"):
        parts.append(_tokenize(tokenizer, sampler.batch(i, min(4, cfg.pool_gops - i))))
    train = np.concatenate(parts)
    val = _validation_digits(tokenizer, cfg.gop_frames, cache)
    np.savez_compressed(path, train=train, **{f"val_{i:03d}": v for i, v in enumerate(val)})
    return train, val


def export_blob(model: CheckerboardContextModel) -> bytes:
    """The integer network of a float mirror wherever it lives (export reads CPU numpy)."""
    return copy.deepcopy(model).cpu().eval().export_int()


def coded_bits(blob: bytes, grids: List[np.ndarray], levels: Sequence[int], pattern: int = 0) -> int:
    coder = _native.CheckerboardCoder(blob, list(levels))
    return sum(len(coder.encode(g, pattern)) * 8 for g in grids)


def check_run_config(path: Path, cfg: CcmTrainConfig) -> None:
    """Refuse to resume a run directory whose ccm_config.json differs from ``cfg``. A key the
    file lacks (written before that setting existed) counts as that setting's default."""
    if not path.exists():
        return
    as_json = lambda c: json.loads(json.dumps(asdict(c)))  # tuples become lists, as in the file
    saved = {**as_json(CcmTrainConfig()), **json.loads(path.read_text())}
    wanted = as_json(cfg)
    differ = sorted(k for k in set(saved) | set(wanted) if saved.get(k) != wanted.get(k))
    if differ:
        raise RunMismatchError(f"{path} differs from this run's settings in {', '.join(differ)}: "
                               "use a new run directory")


def train_ccm(run_dir: os.PathLike, tokenizer, cfg: CcmTrainConfig, cache=None,
              where: Optional[TrainDevice] = None, minutes: Optional[float] = None) -> Dict[str, float]:
    where = where or TrainDevice.resolve("cpu")
    if where.amp is not None:
        warnings.warn("--amp ignored by ccm training: its fake quantisation needs float32", stacklevel=2)
    session_start = time.monotonic()
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    cfg_path = run_dir / "ccm_config.json"
    check_run_config(cfg_path, cfg)
    cfg_path.write_text(json.dumps(asdict(cfg), indent=2))
    levels = tuple(tokenizer.config.fsq_levels)
    torch.manual_seed(cfg.seed)
    train, val = build_token_pool(OnDevice(tokenizer.to(where.device).eval(), where), run_dir, cfg, cache)
    model = CheckerboardContextModel(CcmConfig(levels, hidden=cfg.hidden, kernels=tuple(cfg.kernels),
                                               prev_frames=cfg.prev_frames, digit_heads=cfg.digit_heads))
    model.to(where.device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    step = 0
    ckpt = run_dir / "checkpoint.pt"
    if ckpt.exists():
        state = load_checkpoint(ckpt)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        step = int(state["step"])
        log.info("resuming CCM training at step %d", step)
    val_tokens = sum(int(np.prod(v.shape[:3])) for v in val)
    raw = math.log2(np.prod(levels))
    hist = histogram_bits(train, np.concatenate([v.reshape(-1, len(levels)) for v in val]), levels) / val_tokens
    log_path = run_dir / "train.csv"
    new_log = not log_path.exists()
    from tqdm import tqdm

    result: Dict[str, float] = {"raw_bits_per_token": raw, "histogram_bits_per_token": hist}
    with open(log_path, "a", newline="") as f:
        writer = csv.writer(f)
        if new_log:
            writer.writerow(["step", "train_bits_per_token", "val_bits_per_token", "wall_s"])
        t0 = time.time()
        bar = tqdm(range(step, cfg.steps), initial=step, total=cfg.steps, desc="ccm", unit="step")
        done = step
        for step in bar:
            rng = np.random.default_rng([cfg.seed, step])
            batch = train[rng.integers(0, len(train), cfg.batch_size)]
            if rng.random() < 0.5:  # mirror images are as likely as the originals
                batch = np.ascontiguousarray(batch[:, :, :, ::-1])
            model.train()
            lr = cfg.lr * 0.5 * (1 + math.cos(math.pi * step / cfg.steps))
            for g in opt.param_groups:
                g["lr"] = lr
            # Every mask pattern occurs in use: train on all of them.
            pattern = int(rng.integers(0, _native.NUM_MASK_PATTERNS))
            kept = int(_native.mask_keep(pattern, *batch.shape[1:4]).sum())
            bits = code_length_bits(model, torch.from_numpy(batch), pattern)
            loss = bits / (cfg.batch_size * kept)
            opt.zero_grad()
            loss.backward()
            opt.step()
            bar.set_postfix(bits_per_token=f"{loss.item():.3f}")
            done = step + 1
            # Stop this session while a validation and a checkpoint still fit in the budget.
            time_up = minutes is not None and time.monotonic() - session_start > minutes * 60 - 15.0
            val_bpt = ""
            if done % cfg.val_every == 0 or done == cfg.steps or time_up:
                model.eval()
                val_bpt = coded_bits(export_blob(model), val, levels) / val_tokens
                result["val_bits_per_token"] = val_bpt
            writer.writerow([done, f"{loss.item():.4f}", f"{val_bpt:.4f}" if val_bpt != "" else "",
                             f"{time.time() - t0:.1f}"])
            f.flush()
            if done % cfg.checkpoint_every == 0 or done == cfg.steps or time_up:
                tmp = ckpt.with_suffix(".tmp")
                torch.save(to_cpu({"model": model.state_dict(), "optimizer": opt.state_dict(), "step": done}), tmp)
                os.replace(tmp, ckpt)
            if time_up:
                log.info("time budget of %.1f min used: stopped at step %d of %d", minutes, done, cfg.steps)
                break
        result["steps_done"] = done
    model.eval()
    blob = export_blob(model)
    (run_dir / "ccm.tvcn").write_bytes(blob)
    result["val_bits_per_token"] = coded_bits(blob, val, levels) / val_tokens
    (run_dir / "result.json").write_text(json.dumps(result, indent=2))
    return result
