"""Training the token predictor on a tokenizer's token grids.

Uses the token pool that CCM training builds (``tokens.npz`` in the run
directory, see train/ccm.py), so both models see the same tokens. Each step
drops tokens with a random mask pattern (1..3, as the codec does) or, for one
batch in four, a random share of the later latent frames' tokens, and
minimises the cross-entropy of the dropped digits. Validation reports, per
mask pattern, the share of dropped tokens predicted exactly, next to the
copy-previous baseline. Resumable from ``predictor.pt``; log in
``predictor.csv``. ``where`` puts the model on a GPU with optional autocast; checkpoints
hold CPU tensors either way.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
import torch

from .. import _native
from ..codec.predict import copy_previous
from ..models.predictor import PredictorConfig, TokenPredictor
from ..models.fsq import digits_to_indices
from .device import TrainDevice, load_checkpoint, to_cpu

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PredictorTrainConfig:
    steps: int = 3000
    batch_size: int = 8
    lr: float = 5e-4
    width: int = 128
    depth: int = 4
    heads: int = 4
    val_every: int = 250
    seed: int = 0


def masked(grids: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Drop tokens as the codec would (a random pattern 1..3), or at random."""
    n, t, h, w = grids.shape
    out = grids.copy()
    if rng.random() < 0.75:
        keep = _native.mask_keep(int(rng.integers(1, _native.NUM_MASK_PATTERNS)), t, h, w)
        out[:, ~keep] = -1
    else:
        drop = rng.random((n, t, h, w)) < rng.uniform(0.1, 0.9)
        drop[:, 0] = False
        out[drop] = -1
    return out


def evaluate(model: TokenPredictor, grids: List[np.ndarray]) -> Dict[str, float]:
    """Share of dropped tokens predicted exactly, per pattern, model vs copy-previous."""
    res: Dict[str, float] = {}
    model.eval()
    for pattern in range(1, _native.NUM_MASK_PATTERNS):
        hit = base = total = 0
        for g in grids:
            keep = _native.mask_keep(pattern, *g.shape)
            holes = np.where(keep, g, -1)
            device = next(model.parameters()).device
            pred = model.fill(torch.from_numpy(holes)[None].to(device))[0].cpu().numpy()
            hit += int((pred[~keep] == g[~keep]).sum())
            base += int((copy_previous(holes)[~keep] == g[~keep]).sum())
            total += int((~keep).sum())
        res[f"pattern{pattern}_accuracy"] = hit / total
        res[f"pattern{pattern}_copy_previous"] = base / total
    return res


def train_predictor(run_dir: os.PathLike, levels, cfg: PredictorTrainConfig,
                    where: Optional[TrainDevice] = None) -> Dict[str, float]:
    where = where or TrainDevice.resolve("cpu")
    run_dir = Path(run_dir)
    pool = run_dir / "tokens.npz"
    if not pool.exists():
        raise FileNotFoundError(f"{pool} missing: run CCM training in this directory first (it builds the pool)")
    data = np.load(pool)
    train = digits_to_indices(data["train"], levels)
    val = [digits_to_indices(data[k], levels) for k in sorted(k for k in data.files if k.startswith("val_"))]
    cfg_path = run_dir / "predictor_config.json"
    if cfg_path.exists() and json.loads(cfg_path.read_text()) != asdict(cfg):
        raise ValueError(f"{cfg_path} differs from this run's settings: use a new run directory")
    cfg_path.write_text(json.dumps(asdict(cfg), indent=2))
    torch.manual_seed(cfg.seed)
    model = TokenPredictor(PredictorConfig(tuple(levels), width=cfg.width, depth=cfg.depth, heads=cfg.heads))
    model.to(where.device)
    scaler = where.grad_scaler()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.01)
    ckpt = run_dir / "predictor.pt"
    step = 0
    if ckpt.exists():
        state = load_checkpoint(ckpt)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        step = int(state["step"])
    from tqdm import tqdm

    log_path = run_dir / "predictor.csv"
    new = not log_path.exists()
    result: Dict[str, float] = {}
    with open(log_path, "a", newline="") as f:
        writer = csv.writer(f)
        if new:
            writer.writerow(["step", "loss_nats_per_digit", "val", "wall_s"])
        t0 = time.time()
        for step in tqdm(range(step, cfg.steps), initial=step, total=cfg.steps, desc="predictor", unit="step"):
            rng = np.random.default_rng([cfg.seed, step])
            batch = train[rng.integers(0, len(train), cfg.batch_size)]
            if rng.random() < 0.5:
                batch = np.ascontiguousarray(batch[:, :, :, ::-1])
            holes = masked(batch, rng)
            lr = cfg.lr * min(1.0, (step + 1) / 100) * 0.5 * (1 + math.cos(math.pi * step / cfg.steps))
            for g in opt.param_groups:
                g["lr"] = lr
            model.train()
            with where.autocast():
                loss = model.loss(torch.from_numpy(holes).to(where.device), torch.from_numpy(batch).to(where.device))
            opt.zero_grad()
            scaler.scale(loss).backward()
            scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            scaler.step(opt)
            scaler.update()
            done = step + 1
            val_text = ""
            if done % cfg.val_every == 0 or done == cfg.steps:
                result = evaluate(model, val)
                val_text = json.dumps(result)
                tmp = ckpt.with_suffix(".tmp")
                torch.save(to_cpu({"model": model.state_dict(), "optimizer": opt.state_dict(), "step": done,
                                   "config": model.config.to_dict()}), tmp)
                os.replace(tmp, ckpt)
            writer.writerow([done, f"{loss.item():.4f}", val_text, f"{time.time() - t0:.1f}"])
            f.flush()
    return result


def load_trained_predictor(run_dir: os.PathLike) -> TokenPredictor:
    """The predictor of a run's last checkpoint, in eval mode."""
    state = load_checkpoint(Path(run_dir) / "predictor.pt")
    model = TokenPredictor(PredictorConfig.from_dict(state["config"]))
    model.load_state_dict(state["model"])
    return model.eval()
