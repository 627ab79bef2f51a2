"""The resumable training loop of the tokenizer.

A run directory holds everything about one run::

    config.json      the TrainConfig and TokenizerConfig (written once; a resume must match)
    checkpoint.pt    model + optimizer + step + accumulated wall time (atomically replaced)
    best.pt          model weights with the best mean validation PSNR-Y so far
    train.csv        step, wall_s, lr, threads, loss, l1, ms_ssim (every ``log_every`` steps)
    val.csv          step, wall_s, clip, psnr_y, psnr_yuv, ms_ssim_y, raw_bpp

Running the same command again continues from checkpoint.pt. Batches depend only on
(seed, step), so a resumed run sees the same data as an uninterrupted one. ``--steps`` may be
raised on resume; the learning-rate schedule is a function of (step, steps).

Where and how long a session trains (device, mixed precision, a ``minutes`` budget) are not
part of TrainConfig: they do not change what the run is, so a run may be continued on another
machine, and config.json of older runs stays valid.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Optional

import torch

from ..data.cache import CacheLayout
from ..errors import RunMismatchError
from ..data.dataset import CropConfig, GopCropSampler, PrefetchedBatches
from ..models.config import TokenizerConfig
from ..models.tokenizer import CausalVideoTokenizer
from .losses import LossWeights, reconstruction_loss
from .device import OnDevice, TrainDevice, load_checkpoint, to_cpu
from .runfiles import append_csv as _append_csv, atomic_save as _atomic_save, check_or_write_config
from .runfiles import cosine_lr as _lr_at, drop_rows_after as _drop_rows_after
from .runfiles import SessionSchedule, fit_steps_to_budget
from .threads import ThreadTuner
from .validate import ValidationSet

log = logging.getLogger(__name__)

# --fit-steps times session steps FIT_SKIP .. FIT_SKIP + FIT_PROBE (the first ones include
# cuDNN's kernel search and the batch threads' start).
FIT_SKIP, FIT_PROBE = 10, 100


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 10000
    batch_size: int = 4
    lr: float = 5e-4
    min_lr_fraction: float = 0.1
    warmup_steps: int = 200
    weight_decay: float = 1e-4
    grad_clip: float = 1.0
    seed: int = 0
    val_every: int = 250
    val_gop_frames: int = 17
    log_every: int = 10
    checkpoint_minutes: float = 10.0
    threads: int = 2  # at most; ThreadTuner drops to 1 while another job holds a core
    losses: LossWeights = field(default_factory=LossWeights)
    crop: CropConfig = field(default_factory=CropConfig)


def _check_or_write_config(run_dir: Path, train_cfg: TrainConfig, model_cfg: TokenizerConfig) -> None:
    check_or_write_config(run_dir, {"model": model_cfg.to_dict(), "train": asdict(train_cfg)})


def train_tokenizer(run_dir: Path, model_cfg: TokenizerConfig, cfg: TrainConfig,
                    cache: Optional[CacheLayout] = None, progress: bool = True,
                    init_weights: Optional[Path] = None, where: Optional[TrainDevice] = None,
                    minutes: Optional[float] = None, fit_steps: bool = False) -> Path:
    """Train (or continue training) until ``cfg.steps``; returns the path of best.pt.

    ``init_weights`` (a weights file or another run's best.pt/checkpoint.pt of the same
    config) starts a *new* run from those weights with a fresh schedule; it is ignored when
    the run directory already has a checkpoint, so the same command still resumes.

    ``minutes`` bounds this session's wall time: the loop stops early enough to validate
    (so best.pt exists) and checkpoint; running the command again continues.

    ``fit_steps`` (with ``minutes``, in a run's first session): after timing FIT_PROBE
    steps, lower ``cfg.steps`` to what the budget allows, so the learning-rate schedule
    ends inside the session; the lowered count is written to config.json.
    """
    from tqdm import tqdm

    torch.set_num_threads(cfg.threads)
    run_dir.mkdir(parents=True, exist_ok=True)
    _check_or_write_config(run_dir, cfg, model_cfg)
    cache = cache or CacheLayout.resolve()

    where = where or TrainDevice.resolve("cpu")
    session_start = time.monotonic()
    torch.manual_seed(cfg.seed)
    model = CausalVideoTokenizer(model_cfg).to(where.device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    step, wall, best = 0, 0.0, -math.inf
    ckpt_path = run_dir / "checkpoint.pt"
    if ckpt_path.exists():
        state = load_checkpoint(ckpt_path)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])  # moves its state to the parameters' device
        step, wall, best = int(state["step"]), float(state["wall_s"]), float(state["best_psnr_y"])
        log.info("resuming %s at step %d (%.0f s trained)", run_dir, step, wall)
        for name in ("train.csv", "val.csv"):
            _drop_rows_after(run_dir / name, step)
    elif init_weights is not None:
        from ..models.registry import load_tokenizer_file

        source = load_tokenizer_file(init_weights)
        if source.config != model_cfg:
            raise RunMismatchError(f"{init_weights}: config differs from this run's model config")
        model.load_state_dict(source.state_dict())
        log.info("new run %s initialised from %s", run_dir, init_weights)

    batches = PrefetchedBatches(GopCropSampler(cache, cfg.crop, cfg.seed), cfg.batch_size,
                                workers=where.loader_workers, pin_memory=where.is_cuda)
    validation = ValidationSet(cache)
    scaler = where.grad_scaler()
    val_seconds = 0.0  # duration of the last validation: the time a minutes budget keeps back

    def save_checkpoint() -> None:
        _atomic_save(to_cpu({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step,
                             "wall_s": wall, "best_psnr_y": best}), ckpt_path)

    def run_validation() -> None:
        nonlocal best, val_seconds
        t_val = time.monotonic()
        model.eval()
        results = validation.evaluate(OnDevice(model, where), cfg.val_gop_frames)
        model.train()
        val_seconds = time.monotonic() - t_val
        for r in results:
            _append_csv(run_dir / "val.csv", {"step": step, "wall_s": round(wall, 1), "clip": r.clip,
                                              "psnr_y": round(r.psnr_y, 3), "psnr_yuv": round(r.psnr_yuv, 3),
                                              "ms_ssim_y": round(r.ms_ssim_y, 4), "raw_bpp": round(r.raw_bpp, 5)})
        mean_psnr = sum(r.psnr_y for r in results) / len(results)
        log.info("step %d: %s", step, ", ".join(f"{r.clip} {r.psnr_y:.2f} dB / {r.ms_ssim_y:.3f}" for r in results))
        if mean_psnr > best:
            best = mean_psnr
            _atomic_save(to_cpu({"model": model.state_dict(), "config": model_cfg.to_dict(), "step": step,
                                 "mean_psnr_y": mean_psnr}), run_dir / "best.pt")

    model.train()
    tuner = ThreadTuner(cfg.threads)
    bar = tqdm(total=cfg.steps, initial=step, disable=not progress, desc="train", unit="step", mininterval=5.0)
    schedule = SessionSchedule(cfg.steps, cfg.val_every, cfg.checkpoint_minutes, minutes, session_start,
                               step if (run_dir / "best.pt").exists() else -1)
    first_step, fit_start = step, None
    if fit_steps and (minutes is None or step > 0):
        log.warning("--fit-steps ignored: it needs --minutes and a new run (a resumed run keeps its schedule)")
        fit_steps = False
    while step < cfg.steps and not schedule.time_up:
        t0 = time.monotonic()
        if fit_steps and step - first_step == FIT_SKIP:
            fit_start = t0
        if fit_steps and step - first_step == FIT_SKIP + FIT_PROBE:
            fit_steps = False
            per_step, left = (t0 - fit_start) / FIT_PROBE, schedule.seconds_left()
            fitted = fit_steps_to_budget(step, per_step, left, cfg.steps)
            log.info("--fit-steps: %.3f s/step, %.0f s left: %d steps (of at most %d)", per_step, left, fitted, cfg.steps)
            if fitted < cfg.steps:
                cfg = replace(cfg, steps=fitted)
                _check_or_write_config(run_dir, cfg, model_cfg)
                schedule.steps = bar.total = fitted
        lr = _lr_at(step, cfg)
        for group in optimizer.param_groups:
            group["lr"] = lr
        batch = batches.get(step).to(where.device, non_blocking=True)
        with where.autocast():
            out = model(batch)
        # The loss (MS-SSIM's small denominators) is computed in float32 whatever the autocast.
        loss, parts = reconstruction_loss(out.float(), batch, cfg.losses)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        scaler.step(optimizer)
        scaler.update()
        step += 1
        step_time = time.monotonic() - t0
        wall += step_time
        tuner.record(step_time)
        bar.update(1)
        if step % cfg.log_every == 0:
            _append_csv(run_dir / "train.csv", {"step": step, "wall_s": round(wall, 1), "lr": f"{lr:.3g}",
                                                "threads": tuner.current,
                                                **{k: round(v, 5) for k, v in parts.items()}})
            bar.set_postfix(loss=f"{parts['loss']:.4f}")
        if schedule.validate_now(step, step_time, val_seconds):
            t1 = time.monotonic()
            run_validation()
            wall += time.monotonic() - t1
        if schedule.save_now(step):
            save_checkpoint()
            schedule.saved()
    bar.close()
    batches.close()
    if schedule.time_up:
        log.info(schedule.stop_message(step))
    return run_dir / "best.pt"
