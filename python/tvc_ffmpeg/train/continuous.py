"""Training the continuous stream on top of a frozen tokenizer (``tvc train continuous``).

The base is a shipped weights file (tokenizer + discrete CCM). Its encoder, FSQ and pixel
decoder stay frozen, so the token-only quality levels decode exactly as the base model does.
Trained: ContinuousEncoder, ControlBranch (through FusedDecoder) and the continuous CCM's
fake-quant mirror (models/continuous.py, models/continuous_ccm.py).

One step, for a batch of GoP crops x in [-1, 1]:

1. tokens = the frozen encoder's tokens of x (no mask); recon = their token-only decode;
2. a quantisation step drawn log-uniformly in [step_min, step_max], rounded through the
   header's 1/256 units (step_code / step_of_code), one per batch;
3. latent = ContinuousEncoder(x, recon); values = quantize(latent, step, "ste"): the integers
   the coder codes, with straight-through gradients (rate and decoder see the same values the
   codec will: no train/test gap in what the CCM is conditioned on);
4. rate = latent_bits(ccm, values, token_context(tokens, levels, T', f, code)) in bits;
   decoded = FusedDecoder(tokens, dequantize(values, step));
5. loss = MSE(decoded, x) + lam * bpp (rate_distortion_loss).

Rate warm-up: the branch's output convs start at zero, so at first the latent changes nothing
and the only gradient the encoder gets is the rate's, which drives it to an empty latent (the
issue's calibration saw exactly that collapse). For ``rate_warmup`` steps the rate gradient
that reaches the encoder is scaled by step / rate_warmup (0 -> 1); the CCM always learns from
the full rate, so its model of the latent is ready when the weight arrives.

The run directory is laid out as the tokenizer's (train/runfiles.py)::

    config.json    base weights (model id, sha256), continuous and CCM configs, TrainConfig
    checkpoint.pt  {"model": {encoder, branch, ccm}, optimizer, step, wall_s, best_val_loss}
    best.pt        {"model": {...}, "config": {...}, step, val_loss}: lowest validation loss
    train.csv      step, wall_s, lr, threads, q_step, rate_weight, loss, mse, bpp
    val.csv        step, wall_s, clip, q_step, token_psnr_y, psnr_y, ms_ssim_y, token_raw_bpp, bpp, loss

Validation runs the validation clips (bikes, carphone; frames 0-32 by default, two GoPs of 17:
--val-frames 64 gives frames 0-63, at twice the time) GoP by GoP at the fixed
steps ``val_steps``: PSNR-Y of the token-only and of the fused reconstruction, the continuous
bpp under the CCM mirror (latent_bits on the rounded values; the integer coder's real size is
within a few percent) and the raw token bpp. The run's criterion is the mean over clips and
steps of MSE + lam * bpp, the training loss itself; best.pt keeps its minimum.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch

from ..data.cache import CacheLayout
from ..data.dataset import CropConfig, GopCropSampler, PrefetchedBatches
from ..errors import RunMismatchError, TrainArgumentError
from ..metrics import Yuv420Clip, clip_quality, rgb_to_yuv420, yuv420_to_rgb
from ..models.bundle import ContinuousBundle, ModelBundle, half_state, read_bundle, write_bundle
from ..models.continuous import (
    ContinuousConfig, ContinuousEncoder, ControlBranch, FusedDecoder, context_plane_count, dequantize, freeze,
    latent_bits, quantize, rate_distortion_loss, step_code, step_of_code, token_context)
from ..models.continuous_ccm import ContinuousCcmConfig, ContinuousContextModel, ladder_scales
from ..models.gop import pad_to_valid_length
from ..models.tokenizer import CausalVideoTokenizer
from .device import TrainDevice, load_checkpoint, to_cpu
from .runfiles import SessionSchedule, append_csv, atomic_save, check_or_write_config, cosine_lr, drop_rows_after
from .threads import ThreadTuner
from .validate import ValidationSet

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ContinuousTrainConfig:
    """What a run is (stored in config.json; a resume must match all but ``steps``).

    lam: rate weight (loss = MSE on [-1, 1] RGB + lam * bits per pixel); step_min/step_max:
    the range the per-batch quantisation step is drawn from (log-uniform); rate_warmup: steps
    over which the rate gradient reaching the encoder ramps from 0 to 1; val_steps: the fixed
    steps validation measures at."""

    steps: int = 3000
    batch_size: int = 1
    lr: float = 5e-4
    ccm_lr_scale: float = 5.0
    min_lr_fraction: float = 0.1
    warmup_steps: int = 50
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    seed: int = 0
    lam: float = 0.1
    step_min: float = 0.5
    step_max: float = 4.0
    rate_warmup: int = 1000
    ccm_hidden: int = 32
    latent_init_std: float = 2.0
    ccm_init_scale: float = 1.4
    val_steps: Tuple[float, ...] = (1.0, 2.0, 4.0)
    val_frames: int = 33
    val_every: int = 250
    log_every: int = 10
    checkpoint_minutes: float = 10.0
    threads: int = 2
    crop: CropConfig = field(default_factory=CropConfig)

    def __post_init__(self) -> None:
        positive = {"steps": self.steps, "batch_size": self.batch_size, "val_every": self.val_every,
                    "log_every": self.log_every, "threads": self.threads, "ccm_hidden": self.ccm_hidden}
        for name, value in positive.items():
            if value < 1:
                raise TrainArgumentError(f"--{name.replace('_', '-')} must be positive, got {value}")
        if not self.lr > 0:
            raise TrainArgumentError(f"--lr must be positive, got {self.lr}")
        if not self.lam >= 0 or math.isinf(self.lam):
            raise TrainArgumentError(f"--lambda must be a finite number >= 0, got {self.lam}")
        if self.rate_warmup < 0:
            raise TrainArgumentError(f"--rate-warmup must be >= 0, got {self.rate_warmup}")
        if not 0 < self.step_min <= self.step_max or self.step_max > 255:
            raise TrainArgumentError(f"--step-range must be A,B with 0 < A <= B <= 255, "
                                     f"got {self.step_min},{self.step_max}")
        for name in ("latent_init_std", "ccm_init_scale", "ccm_lr_scale"):
            if not getattr(self, name) > 0:
                raise TrainArgumentError(f"{name} must be positive, got {getattr(self, name)}")
        if self.val_frames < 1:
            raise TrainArgumentError(f"--val-frames must be positive, got {self.val_frames}")
        if not self.val_steps or any(not 0 < s <= 255 for s in self.val_steps):
            raise TrainArgumentError(f"validation steps must be in (0, 255], got {self.val_steps}")
        if self.crop.size % 16 or self.crop.frames < 9 or (self.crop.frames - 1) % 8:
            raise TrainArgumentError(f"--gop-frames must be 1 + 8k (k >= 1) and the crop size a multiple of 16, "
                                     f"got {self.crop.frames} frames, {self.crop.size} pixels")


# ------------------------------------------------------------------ the trained parts

class TrainableContinuous:
    """The frozen tokenizer and the three trained modules, on one device."""

    def __init__(self, tokenizer: CausalVideoTokenizer, config: ContinuousConfig, ccm_config: ContinuousCcmConfig,
                 device: torch.device) -> None:
        self.tokenizer = freeze(tokenizer).eval().to(device)
        self.config = config
        self.ccm_config = ccm_config
        self.levels = tokenizer.config.fsq_levels
        self.encoder = ContinuousEncoder(config, tokenizer.config).to(device)
        self.branch = ControlBranch(config, tokenizer.config).to(device)
        self.fused = FusedDecoder(self.tokenizer.decoder, self.branch)
        self.ccm = ContinuousContextModel(ccm_config).to(device)

    def trained(self) -> Dict[str, torch.nn.Module]:
        return {"encoder": self.encoder, "branch": self.branch, "ccm": self.ccm}

    def parameters(self) -> List[torch.nn.Parameter]:
        return [p for m in self.trained().values() for p in m.parameters()]

    def state_dict(self) -> dict:
        return {name: m.state_dict() for name, m in self.trained().items()}

    def load_state_dict(self, state: dict) -> None:
        for name, module in self.trained().items():
            module.load_state_dict(state[name])

    def train(self, mode: bool = True) -> None:
        # The tokenizer stays in eval mode: it is frozen.
        for m in self.trained().values():
            m.train(mode)

    @torch.no_grad()
    def tokens(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(indices, FSQ codes, token-only reconstruction) of clips x: what the codec's token stream gives."""
        indices, codes = self.tokenizer.encode(x)
        return indices, codes, self.tokenizer.decoder.decode_codes(codes)

    def code(self, indices: torch.Tensor, values: torch.Tensor, code: int, rate_grad: float = 1.0) -> torch.Tensor:
        """Bits of the integer-valued latent ``values`` under the CCM, conditioned as the codec does.
        ``rate_grad`` scales only the gradient that reaches the latent (the rate warm-up)."""
        if rate_grad != 1.0:
            values = values.detach() + rate_grad * (values - values.detach())
        context = token_context(indices, self.levels, values.shape[2], self.config.temporal_factor, code)
        return latent_bits(self.ccm, values, context)


def sample_step(seed: int, step: int, cfg: ContinuousTrainConfig) -> Tuple[int, float]:
    """The (header code, step) of a training step: log-uniform in [step_min, step_max], drawn from
    its own generator of (seed, step), so a resumed run draws the same steps."""
    rng = np.random.default_rng([seed, step, 0x5173])
    q = math.exp(rng.uniform(math.log(cfg.step_min), math.log(cfg.step_max)))
    code = step_code(q)
    return code, step_of_code(code)


@torch.no_grad()
def init_latent_scale(parts: TrainableContinuous, x: torch.Tensor, target_std: float) -> float:
    """Rescale the fresh encoder's output conv so its latent on ``x`` has standard deviation
    ``target_std``; returns the factor. A default-initialised encoder puts out values near 0.1,
    which every step in the training range rounds to 0: the decoder would see an empty latent
    and learn nothing from it until the encoder happened to grow its output 10-fold."""
    _, _, recon = parts.tokens(x)
    std = float(parts.encoder(x, recon).std())
    factor = target_std / max(std, 1e-6)
    parts.encoder.head.weight.mul_(factor)
    parts.encoder.head.bias.mul_(factor)
    return factor


@torch.no_grad()
def init_ccm_scale(ccm: ContinuousContextModel, scale: float) -> int:
    """Start the fresh CCM's scale outputs at the ladder index nearest Laplace scale ``scale``
    (latent units) instead of index 0 (b = 0.11, about 13 bits per unit of |value - mean|):
    from there the first nonzero latents cost what a Laplace fit to the initial latent
    predicts, not a penalty that drives the encoder to an empty latent. Returns the index."""
    index = int(np.argmin(np.abs(np.log(ladder_scales()) - math.log(scale))))
    ccm.layers[-1].conv.bias[: ccm.config.channels].fill_(float(index))
    return index


def rate_weight(step: int, cfg: ContinuousTrainConfig) -> float:
    """Share of the rate gradient that reaches the encoder at ``step`` (linear ramp 0 -> 1)."""
    if cfg.rate_warmup == 0:
        return 1.0
    return min(1.0, step / cfg.rate_warmup)


# ------------------------------------------------------------------ validation

@dataclass(frozen=True)
class ContinuousValResult:
    clip: str
    q_step: float
    token_psnr_y: float
    psnr_y: float
    ms_ssim_y: float
    token_raw_bpp: float
    bpp: float  # continuous stream, under the CCM mirror
    mse: float  # RGB on [-1, 1], the training distortion

    def loss(self, lam: float) -> float:
        return self.mse + lam * self.bpp


@torch.no_grad()
def validate_continuous(parts: TrainableContinuous, validation: ValidationSet, gop_frames: int,
                        steps: Tuple[float, ...], frames: Optional[int] = None) -> List[ContinuousValResult]:
    """Every validation clip (its first ``frames`` frames, default all), GoP by GoP (each coded
    alone, as in the codec), at each step."""
    device = next(parts.encoder.parameters()).device
    tf = parts.tokenizer.config.temporal_factor
    codebook_bits = math.log2(parts.tokenizer.config.codebook_size)
    results = []
    for clip in validation.clips:
        ref = validation.yuv[clip.name]
        if frames is not None:
            ref = Yuv420Clip(ref.y[:frames], ref.u[:frames], ref.v[:frames])
        rgb = yuv420_to_rgb(ref)
        t, h, w, _ = rgb.shape
        token_rec = np.empty_like(rgb, dtype=np.float32)
        fused_rec = {q: np.empty_like(rgb, dtype=np.float32) for q in steps}
        bits = {q: 0.0 for q in steps}
        tokens = 0
        for start in range(0, t, gop_frames):
            part = rgb[start : start + gop_frames]
            n = part.shape[0]
            x = torch.from_numpy(np.ascontiguousarray(pad_to_valid_length(part, tf))).float()
            x = (x.permute(3, 0, 1, 2).unsqueeze(0) * 2.0 - 1.0).to(device)
            indices, codes, recon = parts.tokens(x)
            tokens += int(indices.numel())
            token_rec[start : start + n] = _to_rgb01(recon, n)
            latent = parts.encoder(x, recon)
            for q in steps:
                code = step_code(q)
                values = quantize(latent, step_of_code(code), "round").float()
                bits[q] += float(parts.code(indices, values, code))
                decoded = parts.fused.decode_codes(codes, dequantize(values, step_of_code(code)))
                fused_rec[q][start : start + n] = _to_rgb01(decoded, n)
        token_q = clip_quality(ref, rgb_to_yuv420(token_rec))
        pixels = t * h * w
        for q in steps:
            fq = clip_quality(ref, rgb_to_yuv420(fused_rec[q]))
            mse = float(np.mean((2.0 * fused_rec[q] - 2.0 * rgb) ** 2))
            results.append(ContinuousValResult(clip.name, q, token_q.psnr_y, fq.psnr_y, fq.ms_ssim_y,
                                               tokens * codebook_bits / pixels, bits[q] / pixels, mse))
    return results


def _to_rgb01(video: torch.Tensor, frames: int) -> np.ndarray:
    """(1, 3, T, H, W) in [-1, 1] -> (frames, H, W, 3) float32 in [0, 1]."""
    return ((video[0, :, :frames].permute(1, 2, 3, 0).clamp(-1, 1) + 1.0) / 2.0).float().cpu().numpy()


# ------------------------------------------------------------------ the loop

def _base_section(bundle: ModelBundle) -> dict:
    return {"model_id": bundle.model_id, "sha256": bundle.sha256}


def _ccm_config(cfg: ContinuousTrainConfig, config: ContinuousConfig, levels) -> ContinuousCcmConfig:
    return ContinuousCcmConfig(channels=config.channels, context_planes=context_plane_count(levels),
                               hidden=cfg.ccm_hidden)


def train_continuous(run_dir: Path, base: ModelBundle, config: ContinuousConfig, cfg: ContinuousTrainConfig,
                     cache: Optional[CacheLayout] = None, progress: bool = True,
                     where: Optional[TrainDevice] = None, minutes: Optional[float] = None,
                     init: Optional[ContinuousBundle] = None) -> Path:
    """Train (or continue) until ``cfg.steps``; returns the path of best.pt (which may not exist
    yet when no validation ran). The same call on the same run_dir resumes from checkpoint.pt.

    ``init`` (another model's continuous stream of the same configuration) starts a new run
    from its encoder, branch and CCM instead of from scratch: the way to carry a trained stream
    over to a fine-tuned tokenizer. It is ignored when the run resumes."""
    from tqdm import tqdm

    torch.set_num_threads(cfg.threads)
    run_dir.mkdir(parents=True, exist_ok=True)
    ccm_config = _ccm_config(cfg, config, base.tokenizer_config.fsq_levels)
    check_or_write_config(run_dir, {"base": _base_section(base), "continuous": config.to_dict(),
                                    "ccm": asdict(ccm_config), "train": asdict(cfg)})
    cache = cache or CacheLayout.resolve()
    where = where or TrainDevice.resolve("cpu")
    session_start = time.monotonic()
    torch.manual_seed(cfg.seed)
    parts = TrainableContinuous(base.tokenizer(), config, ccm_config, where.device)
    # The CCM learns faster than the nets (as 'tvc train ccm' does, lr 2e-3): its outputs are
    # ladder indices and latent units, which a small lr would move by a fraction a step.
    nets = [p for m in (parts.encoder, parts.branch) for p in m.parameters()]
    optimizer = torch.optim.AdamW([{"params": nets, "lr_scale": 1.0},
                                   {"params": list(parts.ccm.parameters()), "lr_scale": cfg.ccm_lr_scale}],
                                  lr=cfg.lr, weight_decay=cfg.weight_decay)
    step, wall, best = 0, 0.0, math.inf
    ckpt_path = run_dir / "checkpoint.pt"
    sampler = GopCropSampler(cache, cfg.crop, cfg.seed)
    if ckpt_path.exists():
        state = load_checkpoint(ckpt_path)
        parts.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        step, wall, best = int(state["step"]), float(state["wall_s"]), float(state["best_val_loss"])
        log.info("resuming %s at step %d (%.0f s trained)", run_dir, step, wall)
        for name in ("train.csv", "val.csv"):
            drop_rows_after(run_dir / name, step)
    elif init is not None:
        load_continuous_init(parts, init)
        log.info("new run %s: continuous stream initialised from the --init-continuous weights", run_dir)
    else:
        probe = sampler.batch(0, cfg.batch_size).to(where.device)
        log.info("latent scale at init x%.1f, CCM scale index %d", init_latent_scale(parts, probe, cfg.latent_init_std),
                 init_ccm_scale(parts.ccm, cfg.ccm_init_scale))

    validation = ValidationSet(cache)
    scaler = where.grad_scaler()
    val_seconds = 0.0

    def save_checkpoint() -> None:
        atomic_save(to_cpu({"model": parts.state_dict(), "optimizer": optimizer.state_dict(), "step": step,
                            "wall_s": wall, "best_val_loss": best}), ckpt_path)

    def run_validation() -> None:
        nonlocal best, val_seconds
        t_val = time.monotonic()
        parts.train(False)
        results = validate_continuous(parts, validation, cfg.crop.frames, cfg.val_steps, cfg.val_frames)
        parts.train(True)
        val_seconds = time.monotonic() - t_val
        log.info("validation took %.0f s", val_seconds)
        for r in results:
            append_csv(run_dir / "val.csv", {
                "step": step, "wall_s": round(wall, 1), "clip": r.clip, "q_step": r.q_step,
                "token_psnr_y": round(r.token_psnr_y, 3), "psnr_y": round(r.psnr_y, 3),
                "ms_ssim_y": round(r.ms_ssim_y, 4), "token_raw_bpp": round(r.token_raw_bpp, 5),
                "bpp": round(r.bpp, 6), "loss": round(r.loss(cfg.lam), 6)})
        val_loss = sum(r.loss(cfg.lam) for r in results) / len(results)
        log.info("step %d: %s", step, ", ".join(f"{r.clip} q{r.q_step:g} {r.psnr_y:.2f} dB "
                                                 f"(tokens {r.token_psnr_y:.2f}) {r.bpp:.4f} bpp" for r in results))
        if val_loss < best:
            best = val_loss
            atomic_save(to_cpu({"model": parts.state_dict(),
                                "config": {"continuous": config.to_dict(), "ccm": asdict(ccm_config)},
                                "base": _base_section(base), "step": step, "val_loss": val_loss}),
                        run_dir / "best.pt")

    parts.train(True)
    batches = PrefetchedBatches(sampler, cfg.batch_size, workers=where.loader_workers, pin_memory=where.is_cuda)
    tuner = ThreadTuner(cfg.threads)
    bar = tqdm(total=cfg.steps, initial=step, disable=not progress, desc="train continuous", unit="step",
               mininterval=5.0)
    schedule = SessionSchedule(cfg.steps, cfg.val_every, cfg.checkpoint_minutes, minutes, session_start,
                               step if (run_dir / "best.pt").exists() else -1)
    while step < cfg.steps and not schedule.time_up:
        t0 = time.monotonic()
        lr = cosine_lr(step, cfg)
        for group in optimizer.param_groups:
            group["lr"] = lr * group["lr_scale"]
        x = batches.get(step).to(where.device, non_blocking=True)
        code, q = sample_step(cfg.seed, step, cfg)
        ramp = rate_weight(step, cfg)
        # Tokens in float32 whatever the autocast: the codec makes them in float32.
        indices, codes, recon = parts.tokens(x)
        with where.autocast():
            latent = parts.encoder(x, recon)
        # Quantisation and the CCM's fake quantisation need exact float32 rounding.
        values = quantize(latent.float(), q, "ste")
        bits = parts.code(indices, values, code, rate_grad=ramp)
        with where.autocast():
            decoded = parts.fused.decode_codes(codes, dequantize(values, q))
        loss, mse, bpp = rate_distortion_loss(x, decoded.float(), bits, cfg.lam)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"step {step}: the loss is {float(loss)} (mse {float(mse)}, bpp {float(bpp)}); "
                                     f"lower --lr or raise --step-range")
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(parts.parameters(), cfg.grad_clip)
        scaler.step(optimizer)
        scaler.update()
        step += 1
        step_time = time.monotonic() - t0
        wall += step_time
        tuner.record(step_time)
        bar.update(1)
        loss, mse, bpp = float(loss.detach()), float(mse.detach()), float(bpp.detach())
        if step % cfg.log_every == 0:
            append_csv(run_dir / "train.csv", {
                "step": step, "wall_s": round(wall, 1), "lr": f"{lr:.3g}", "threads": tuner.current,
                "q_step": q, "rate_weight": round(ramp, 4), "loss": round(loss, 6),
                "mse": round(mse, 6), "bpp": round(bpp, 6)})
            bar.set_postfix(loss=f"{loss:.4f}", bpp=f"{bpp:.4f}")
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


# ------------------------------------------------------------------ export

def continuous_bundle(run_dir: Path, base: ModelBundle) -> ContinuousBundle:
    """The continuous component of a run's best.pt (lowest validation loss), checked against its base
    and with the CCM blob loaded once in the native coder, so a bad blob fails here, not in the codec."""
    from .. import _native

    path = run_dir / "best.pt"
    if not path.is_file():
        raise TrainArgumentError(f"{path} missing: the run has not validated yet (train at least --val-every steps)")
    state = load_checkpoint(path)
    if state.get("base") != _base_section(base):
        raise RunMismatchError(f"{path}: trained on {state.get('base')}, not on {_base_section(base)}")
    config = ContinuousConfig.from_dict(state["config"]["continuous"])
    ccm_fields = dict(state["config"]["ccm"])
    ccm_fields["kernels"] = tuple(ccm_fields["kernels"])
    ccm_config = ContinuousCcmConfig(**ccm_fields)
    parts = TrainableContinuous(base.tokenizer(), config, ccm_config, torch.device("cpu"))
    parts.load_state_dict(state["model"])
    blob = parts.ccm.export_int()
    _native.ContinuousCheckerboardCoder(blob, ccm_config.channels, ccm_config.context_planes)
    stored_ccm = asdict(ccm_config)
    stored_ccm["kernels"] = list(ccm_config.kernels)
    return ContinuousBundle(config.to_dict(), stored_ccm, half_state(parts.encoder), half_state(parts.branch),
                            blob, half_state(parts.ccm))


def load_continuous_init(parts: TrainableContinuous, init: ContinuousBundle) -> None:
    """Load a weights file's continuous stream into ``parts``; refused unless its configuration
    is the run's (the shapes would not fit, or would fit and mean something else)."""
    ours = {"continuous": parts.config.to_dict(), "ccm": json.loads(json.dumps(asdict(parts.ccm_config)))}
    theirs = {"continuous": dict(init.config), "ccm": json.loads(json.dumps(dict(init.ccm_config)))}
    for key in ours:
        if ours[key] != theirs[key]:
            raise TrainArgumentError(f"--init-continuous: its {key} configuration {theirs[key]} differs from "
                                     f"this run's {ours[key]}")
    as_float = lambda state: {k: v.float() for k, v in state.items()}  # noqa: E731 (stored as float16)
    parts.encoder.load_state_dict(as_float(init.encoder_state))
    parts.branch.load_state_dict(as_float(init.branch_state))
    parts.ccm.load_state_dict(as_float(init.ccm_state))


def export_continuous(run_dir: Path, base: ModelBundle, out: Path, model_id: str) -> str:
    """Write the base weights plus the run's continuous component as ``model_id``; returns the sha256."""
    bundle = replace(base, model_id=model_id, continuous=continuous_bundle(run_dir, base), sha256="", source="")
    return write_bundle(bundle, out)


def _read_weights_option(path: Path, option: str) -> ModelBundle:
    """The weights file an option names, or TrainArgumentError naming the option."""
    from ..errors import ModelRegistryError

    if not path.is_file():
        raise TrainArgumentError(f"{option}: weights file not found: {path}")
    try:
        return read_bundle(path)
    except ModelRegistryError as exc:
        raise TrainArgumentError(f"{option}: {exc}") from None


def load_continuous_file(path: Path) -> ContinuousBundle:
    """--init-continuous: the continuous stream of a shipped weights file."""
    bundle = _read_weights_option(path, "--init-continuous")
    if bundle.continuous is None:
        raise TrainArgumentError(f"--init-continuous: {path} ({bundle.model_id}) has no continuous stream")
    return bundle.continuous


def load_base(path: Path) -> ModelBundle:
    """--init-weights: a shipped-format weights file (tokenizer, usually with its CCM)."""
    bundle = _read_weights_option(path, "--init-weights")
    if bundle.form != "shipped":
        raise TrainArgumentError(f"--init-weights: {path} is a training run's {bundle.form} file; "
                                 f"give a shipped-format weights file (tvc train ccm --bundle writes one)")
    return bundle


__all__ = ["ContinuousTrainConfig", "TrainableContinuous", "train_continuous", "validate_continuous",
           "continuous_bundle", "export_continuous", "load_base", "load_continuous_file", "sample_step", "rate_weight"]
