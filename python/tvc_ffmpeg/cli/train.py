"""``tvc train tokenizer|ccm|predictor|continuous``: train (or resume) the tokenizer, its context
model, its token predictor, or the continuous stream on top of a frozen tokenizer."""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
from dataclasses import replace
from pathlib import Path
from typing import Optional, Sequence, Tuple

from ..data.cache import CacheLayout
from ..errors import TrainArgumentError
from ..data.dataset import CropConfig
from ..models.config import TokenizerConfig
from ..train.losses import LossWeights
from ..train.loop import TrainConfig, train_tokenizer

log = logging.getLogger(__name__)


def _int_tuple(text: str) -> tuple:
    try:
        return tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def _add_device_args(p: argparse.ArgumentParser, minutes: bool = True) -> None:
    from ..train.device import AMP_CHOICES, DEVICE_CHOICES

    p.add_argument("--device", choices=DEVICE_CHOICES, default="cpu",
                   help="where to train (default cpu; auto = cuda when available). Checkpoints are "
                        "device-independent: a run resumes on either")
    p.add_argument("--amp", choices=AMP_CHOICES, default=None,
                   help="mixed precision on CUDA (bf16 or fp16 autocast); ignored with a warning on CPU")
    if minutes:
        p.add_argument("--minutes", type=float, default=None,
                       help="wall-clock budget of this session in minutes: stops in time to validate and "
                            "checkpoint; the same command continues later")


def _add_data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cache", default=None, help="data cache (default: $TVC_CACHE, else ~/.cache/tvc_ffmpeg)")
    p.add_argument("--pack", type=Path, default=None,
                   help="read the training material from a pack file (tools/pack_training_data.py) "
                        "instead of the cache; it is unpacked once beside itself")


def _resolve_cache(args: argparse.Namespace):
    """The cache a command reads: the unpacked --pack, else --cache / $TVC_CACHE."""
    if args.pack is not None:
        if args.cache is not None:
            raise TrainArgumentError("give --pack or --cache, not both")
        from ..train.pack import unpack_training_data

        return unpack_training_data(args.pack)
    return CacheLayout.resolve(args.cache)


def _device(args: argparse.Namespace):
    from ..train.device import TrainDevice

    if getattr(args, "minutes", None) is not None and not args.minutes > 0:
        raise TrainArgumentError(f"--minutes must be positive, got {args.minutes}")
    return TrainDevice.resolve(args.device, args.amp)


def build_parser(continuous_config: Optional[Tuple[Path, dict]] = None) -> argparse.ArgumentParser:
    """The 'tvc train' parser; ``continuous_config`` (a --config file's path and values) sets the
    defaults of the 'continuous' subcommand."""
    p = argparse.ArgumentParser(prog="tvc train", description="Train a model (docs/models.md has the recipes).")
    sub = p.add_subparsers(dest="what", required=True)
    _add_tokenizer_parser(sub)
    _add_ccm_parser(sub)
    _add_predictor_parser(sub)
    continuous = _add_continuous_parser(sub)
    if continuous_config is not None:
        _apply_config(continuous, *continuous_config)
    return p


def _add_tokenizer_parser(sub) -> None:
    t = sub.add_parser("tokenizer", help="train the causal video tokenizer",
                       description="Train the tokenizer; rerunning the same command resumes from "
                                   "RUN_DIR/checkpoint.pt. Writes config.json, train.csv, val.csv, best.pt.")
    d, dc = TrainConfig(), CropConfig()
    m = TokenizerConfig()
    t.add_argument("--run-dir", required=True, type=Path, help="directory of this run (created if missing)")
    t.add_argument("--steps", type=int, default=d.steps, help="total optimizer steps (default %(default)s)")
    t.add_argument("--batch-size", type=int, default=d.batch_size)
    t.add_argument("--lr", type=float, default=d.lr, help="peak learning rate (cosine decay to 10%%)")
    t.add_argument("--seed", type=int, default=d.seed)
    t.add_argument("--crop-frames", type=int, default=dc.frames, help="frames per training GoP (1 + 8k)")
    t.add_argument("--crop-size", type=int, default=dc.size, help="side of square crops in pixels (multiple of 16)")
    t.add_argument("--video-fraction", type=float, default=dc.video_fraction,
                   help="share of crops from real clips, the rest stills in synthetic motion (default %(default)s)")
    t.add_argument("--fsq-levels", type=_int_tuple, default=m.fsq_levels,
                   help="FSQ levels per latent channel, e.g. 8,5,5,5 (codebook = product)")
    t.add_argument("--ms-ssim-weight", type=float, default=LossWeights().ms_ssim)
    t.add_argument("--val-every", type=int, default=d.val_every, help="validate every N steps")
    t.add_argument("--val-gop", type=int, default=d.val_gop_frames, help="GoP length for validation (1 + 8k)")
    t.add_argument("--checkpoint-minutes", type=float, default=d.checkpoint_minutes)
    t.add_argument("--threads", type=int, default=d.threads, help="torch CPU threads")
    _add_data_args(t)
    _add_device_args(t)
    t.add_argument("--fit-steps", action="store_true",
                   help="with --minutes, in a new run: time the first 100 steps, then lower --steps to what "
                        "the budget allows, so the learning-rate schedule ends in this session")
    t.add_argument("--init-weights", type=Path, default=None,
                   help="start a new run from these weights (same model config); ignored when resuming")
    t.add_argument("--no-progress", action="store_true", help="no progress bar (for logs)")


def _add_ccm_parser(sub) -> None:
    from ..train.ccm import CcmTrainConfig

    d = CcmTrainConfig()
    c = sub.add_parser("ccm", help="train the checkerboard context model on a tokenizer's tokens",
                       description="Train the integer checkerboard context model (docs/ccm.md) on the tokens "
                                   "of TOKENIZER; rerunning the same command resumes. Writes tokens.npz, "
                                   "train.csv, ccm.tvcn and result.json into RUN_DIR.")
    c.add_argument("--run-dir", required=True, type=Path, help="directory of this run (created if missing)")
    c.add_argument("--tokenizer", required=True, type=Path,
                   help="tokenizer weights: a shipped-format file or a run's best.pt")
    c.add_argument("--steps", type=int, default=d.steps, help="optimizer steps (default %(default)s)")
    c.add_argument("--hidden", type=int, default=d.hidden, help="hidden width (default %(default)s)")
    c.add_argument("--kernels", type=_int_tuple, default=d.kernels,
                   help="kernel size (1 or 3) per layer, the last one the logit layer unless --digit-heads "
                        "(default 3,3,1)")
    c.add_argument("--prev-frames", type=int, choices=(1, 2), default=d.prev_frames,
                   help="previous latent frames the context sees (2 = CCM v2; default %(default)s)")
    c.add_argument("--digit-heads", action="store_true",
                   help="CCM v2: the layers end in a hidden layer and each FSQ digit gets its own 1x1 logit "
                        "head fed the position's earlier digits")
    c.add_argument("--batch-size", type=int, default=d.batch_size)
    c.add_argument("--lr", type=float, default=d.lr, help="peak learning rate (cosine decay to 0)")
    c.add_argument("--pool-gops", type=int, default=d.pool_gops, help="training GoP crops tokenized once")
    c.add_argument("--gop-frames", type=int, default=d.gop_frames,
                   help="frames per pool crop and validation GoP (1 + 8k; default %(default)s; the codec's "
                        "GoPs have 33)")
    c.add_argument("--video-fraction", type=float, default=d.video_fraction,
                   help="share of pool crops from real clips, the rest stills in synthetic motion "
                        f"(default {d.video_fraction}; 1.0 = real video only)")
    c.add_argument("--val-every", type=int, default=d.val_every)
    c.add_argument("--seed", type=int, default=d.seed)
    _add_data_args(c)
    _add_device_args(c)
    c.add_argument("--bundle", type=Path, default=None, metavar="OUT",
                   help="also write TOKENIZER plus the trained context model to OUT (shipped format; "
                        "TOKENIZER must be shipped-format) and print its sha256")
    c.add_argument("--model-id", default=None,
                   help="model id written into --bundle's file (kebab-case; default: TOKENIZER's id)")


def _add_predictor_parser(sub) -> None:
    from ..train.predictor import PredictorTrainConfig

    d = PredictorTrainConfig()
    c = sub.add_parser("predictor", help="train the token predictor on the context model's token pool",
                       description="Train the spatio-temporal token predictor (docs/models.md) on RUN_DIR/"
                                   "tokens.npz, the token pool that 'tvc train ccm' built there; rerunning "
                                   "resumes. Writes predictor.pt and predictor.csv (exact-token accuracy per "
                                   "mask pattern beside the copy-previous rule).")
    c.add_argument("--run-dir", required=True, type=Path, help="a 'tvc train ccm' run directory")
    c.add_argument("--tokenizer", required=True, type=Path,
                   help="the weights whose tokens the pool holds (shipped format: tokenizer, usually with "
                        "its context model)")
    c.add_argument("--steps", type=int, default=d.steps, help="optimizer steps (default %(default)s)")
    c.add_argument("--width", type=int, default=d.width)
    c.add_argument("--depth", type=int, default=d.depth)
    c.add_argument("--heads", type=int, default=d.heads)
    c.add_argument("--batch-size", type=int, default=d.batch_size)
    c.add_argument("--lr", type=float, default=d.lr, help="peak learning rate (cosine decay to 0)")
    c.add_argument("--val-every", type=int, default=d.val_every)
    c.add_argument("--seed", type=int, default=d.seed)
    _add_device_args(c, minutes=False)
    c.add_argument("--bundle", type=Path, default=None, metavar="OUT",
                   help="also write TOKENIZER's file plus the trained predictor to OUT and print its sha256")


def _float_pair(text: str) -> tuple:
    try:
        a, b = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected two comma-separated numbers A,B, got {text!r}") from None
    return a, b


def _add_continuous_parser(sub) -> argparse.ArgumentParser:
    from ..models.continuous import ContinuousConfig
    from ..train.continuous import ContinuousTrainConfig

    d, m = ContinuousTrainConfig(), ContinuousConfig()
    c = sub.add_parser(
        "continuous", help="train the continuous stream (encoder, ControlNet branch, context model) "
                           "on a frozen tokenizer",
        description="Train the continuous stream on top of the frozen tokenizer of --init-weights "
                    "(docs/models.md, 'Continuous stream: training'); rerunning the same command resumes from "
                    "RUN_DIR/checkpoint.pt. Writes config.json, train.csv, val.csv, best.pt; with --bundle, "
                    "also the base weights plus the trained continuous stream (from best.pt) as a weights file.")
    c.add_argument("--run-dir", required=True, type=Path, help="directory of this run (created if missing)")
    c.add_argument("--init-weights", required=True, type=Path,
                   help="shipped-format weights with the tokenizer (and CCM) to build on, e.g. "
                        "python/tvc_ffmpeg/models/weights/tvc-s-v3.pt; needed on every resume too")
    c.add_argument("--init-continuous", type=Path, default=None, metavar="FILE",
                   help="start a new run's continuous stream from FILE's (a shipped weights file with one and "
                        "the same continuous configuration, e.g. tvc-s-v5.pt) instead of from scratch; "
                        "ignored when resuming")
    c.add_argument("--config", type=Path, default=None, metavar="FILE",
                   help="JSON object of option defaults (keys: option names, e.g. {\"lambda\": 0.5, "
                        "\"step-range\": \"0.5,4\"}); options given on the command line win")
    c.add_argument("--steps", type=int, default=d.steps, help="total optimizer steps (default %(default)s)")
    c.add_argument("--lr", type=float, default=d.lr, help="peak learning rate, cosine decay to 10%% "
                                                          "(default %(default)s)")
    c.add_argument("--lambda", dest="lam", type=float, default=d.lam,
                   help="rate weight: loss = MSE on [-1, 1] RGB + LAMBDA * continuous bits per pixel "
                        "(default %(default)s)")
    c.add_argument("--step-range", type=_float_pair, default=(d.step_min, d.step_max), metavar="A,B",
                   help="each batch's quantisation step is drawn log-uniformly in [A, B] (latent units; "
                        "a larger step = fewer bits) (default %s,%s)" % (d.step_min, d.step_max))
    c.add_argument("--rate-warmup", type=int, default=d.rate_warmup,
                   help="steps over which the rate gradient reaching the encoder ramps from 0 to full "
                        "(keeps the latent from collapsing; default %(default)s)")
    c.add_argument("--channels", type=int, default=m.channels, help="continuous latent planes (default %(default)s)")
    c.add_argument("--temporal-factor", type=int, default=m.temporal_factor, choices=(1, 2, 4, 8),
                   help="source frames per latent frame (default %(default)s)")
    c.add_argument("--width", type=int, default=32,
                   help="hidden channels of the continuous encoder and of the branch (default %(default)s)")
    c.add_argument("--batch-size", type=int, default=d.batch_size)
    c.add_argument("--gop-frames", type=int, default=d.crop.frames,
                   help="frames per training crop and validation GoP (1 + 8k; default %(default)s)")
    c.add_argument("--crop-size", type=int, default=d.crop.size,
                   help="side of square training crops in pixels (multiple of 16; default %(default)s)")
    c.add_argument("--seed", type=int, default=d.seed)
    c.add_argument("--threads", type=int, default=d.threads, help="torch CPU threads (default %(default)s)")
    c.add_argument("--val-every", type=int, default=d.val_every,
                   help="validate every N steps (bikes and carphone at steps "
                        f"{', '.join(f'{v:g}' for v in d.val_steps)}; default %(default)s)")
    c.add_argument("--val-frames", type=int, default=d.val_frames,
                   help="validate on each clip's first N frames (at most 64; default %(default)s)")
    c.add_argument("--checkpoint-minutes", type=float, default=d.checkpoint_minutes)
    _add_data_args(c)
    _add_device_args(c)
    c.add_argument("--bundle", type=Path, default=None, metavar="OUT",
                   help="after training, write the base weights plus the continuous stream of best.pt to OUT "
                        "and print its sha256 (rerun with the same --steps to export without training)")
    c.add_argument("--model-id", default=None, help="model id written into --bundle's file (kebab-case, e.g. "
                                                     "tvc-s-v4c)")
    c.add_argument("--no-progress", action="store_true", help="no progress bar (for logs)")
    return c


_MODEL_ID = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")


def _check_model_id(args: argparse.Namespace) -> None:
    if args.model_id is not None and args.bundle is None:
        raise TrainArgumentError("--model-id names the file --bundle writes: give --bundle too")
    if args.model_id is not None and not _MODEL_ID.fullmatch(args.model_id):
        raise TrainArgumentError(f"--model-id must be kebab-case (a-z, 0-9, single dashes), got {args.model_id!r}")


def _read_continuous_config(argv: Sequence[str]) -> Optional[Tuple[Path, dict]]:
    """The --config FILE of a 'continuous' command line, read as a JSON object (None without one)."""
    probe = argparse.ArgumentParser(add_help=False)
    probe.add_argument("--config", type=Path, default=None)
    known, _ = probe.parse_known_args(list(argv))
    if known.config is None:
        return None
    try:
        values = json.loads(known.config.read_text())
    except OSError as exc:
        raise TrainArgumentError(f"--config: cannot read {known.config}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise TrainArgumentError(f"--config: {known.config} is not JSON: {exc}") from None
    if not isinstance(values, dict):
        raise TrainArgumentError(f"--config: {known.config} must hold a JSON object of option values")
    return known.config, values


def _apply_config(parser: argparse.ArgumentParser, path: Path, values: dict) -> None:
    """Make a --config file's values the parser's defaults (typed as on the command line), refusing
    keys that are no option of the command."""
    # argparse has no public list of a parser's actions; _actions is stable across Python versions.
    options = {a.option_strings[0][2:]: a for a in parser._actions if a.option_strings}  # noqa: SLF001
    defaults = {}
    for key, value in values.items():
        name = str(key).replace("_", "-")
        action = options.get(name)
        if action is None or name in ("config", "help", "run-dir"):
            raise TrainArgumentError(f"--config: {path}: unknown option {key!r}")
        if action.type is not None and isinstance(value, (str, int, float)) and not isinstance(value, bool):
            try:
                value = action.type(str(value))
            except (argparse.ArgumentTypeError, ValueError) as exc:
                raise TrainArgumentError(f"--config: {path}: option {key!r}: {exc}") from None
        defaults[action.dest] = value
    parser.set_defaults(**defaults)


def _train_continuous(args: argparse.Namespace) -> int:
    from ..models.config import ModelConfigError
    from ..models.continuous import ContinuousConfig
    from ..train.continuous import (ContinuousTrainConfig, export_continuous, load_base, load_continuous_file,
                                    train_continuous)

    if (args.bundle is None) != (args.model_id is None):
        raise TrainArgumentError("--bundle and --model-id go together")
    _check_model_id(args)
    if args.width < 1:
        raise TrainArgumentError(f"--width must be positive, got {args.width}")
    where = _device(args)
    try:
        config = ContinuousConfig(channels=args.channels, temporal_factor=args.temporal_factor,
                                  encoder_width=args.width, branch_width=args.width)
    except ModelConfigError as exc:
        raise TrainArgumentError(f"--channels: {exc}") from None
    cfg = ContinuousTrainConfig(
        steps=args.steps, batch_size=args.batch_size, lr=args.lr, seed=args.seed, lam=args.lam,
        step_min=args.step_range[0], step_max=args.step_range[1], rate_warmup=args.rate_warmup,
        val_every=args.val_every, val_frames=args.val_frames, checkpoint_minutes=args.checkpoint_minutes,
        threads=args.threads, crop=replace(CropConfig(), frames=args.gop_frames, size=args.crop_size))
    base = load_base(args.init_weights)
    init = load_continuous_file(args.init_continuous) if args.init_continuous is not None else None
    best = train_continuous(args.run_dir, base, config, cfg, _resolve_cache(args), progress=not args.no_progress,
                            where=where, minutes=args.minutes, init=init)
    log.info("done; best weights in %s", best)
    if args.bundle is not None:
        print(f"{args.bundle}: sha256 {export_continuous(args.run_dir, base, args.bundle, args.model_id)}")
    return 0


def _load_tokenizer(path: Path):
    """--tokenizer of ``train ccm`` and ``train predictor``, refused with a clear error."""
    from ..models.registry import ModelRegistryError, load_tokenizer_file

    if not path.exists():
        raise TrainArgumentError(f"tokenizer weights not found: {path}")
    try:
        return load_tokenizer_file(path)
    except ModelRegistryError as exc:
        raise TrainArgumentError(str(exc)) from None


def _check_video_fraction(value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise TrainArgumentError(f"--video-fraction must be in [0, 1], got {value}")


def _train_predictor(args: argparse.Namespace) -> int:
    from ..codec.model import bundle_weights
    from ..train.predictor import PredictorTrainConfig, load_trained_predictor, train_predictor

    if min(args.steps, args.batch_size, args.width, args.depth, args.heads, args.val_every) < 1:
        raise TrainArgumentError("--steps, --batch-size, --width, --depth, --heads and --val-every must be positive")
    if not args.tokenizer.exists():
        raise TrainArgumentError(f"tokenizer weights not found: {args.tokenizer}")
    if not (args.run_dir / "tokens.npz").exists():
        raise TrainArgumentError(f"{args.run_dir / 'tokens.npz'} missing: run 'tvc train ccm' in that directory first")
    where = _device(args)
    levels = _load_tokenizer(args.tokenizer).config.fsq_levels
    cfg = PredictorTrainConfig(steps=args.steps, batch_size=args.batch_size, lr=args.lr, width=args.width,
                               depth=args.depth, heads=args.heads, val_every=args.val_every, seed=args.seed)
    result = train_predictor(args.run_dir, levels, cfg, where=where)
    for key in sorted(k for k in result if k.endswith("_accuracy")):
        base = key.replace("_accuracy", "_copy_previous")
        print(f"{key.split('_')[0]}: {100 * result[key]:.1f} % of dropped tokens exact "
              f"(copy-previous {100 * result[base]:.1f} %)")
    if args.bundle is not None:
        predictor = load_trained_predictor(args.run_dir)
        print(f"{args.bundle}: sha256 {bundle_weights(args.tokenizer, args.bundle, predictor=predictor)}")
    return 0


def _train_ccm(args: argparse.Namespace) -> int:
    from ..codec.model import bundle_weights
    from ..train.ccm import CcmTrainConfig, train_ccm

    if min(args.steps, args.batch_size, args.hidden, args.pool_gops, args.val_every) < 1:
        raise TrainArgumentError("--steps, --batch-size, --hidden, --pool-gops and --val-every must be positive")
    _check_video_fraction(args.video_fraction)
    _check_model_id(args)
    if args.gop_frames < 9 or (args.gop_frames - 1) % 8:
        raise TrainArgumentError(f"--gop-frames must be 1 + 8k frames (9, 17, 25, 33, ...), got {args.gop_frames}")
    where = _device(args)
    tokenizer = _load_tokenizer(args.tokenizer)
    cfg = CcmTrainConfig(steps=args.steps, batch_size=args.batch_size, lr=args.lr, hidden=args.hidden,
                         kernels=tuple(args.kernels), prev_frames=args.prev_frames,
                         digit_heads=args.digit_heads, pool_gops=args.pool_gops, video_fraction=args.video_fraction,
                         gop_frames=args.gop_frames,
                         val_every=args.val_every, seed=args.seed)
    result = train_ccm(args.run_dir, tokenizer, cfg, _resolve_cache(args), where=where, minutes=args.minutes)
    print(f"bits/token on the validation tokens: raw {result['raw_bits_per_token']:.3f}, "
          f"histogram {result['histogram_bits_per_token']:.3f}, CCM {result['val_bits_per_token']:.3f}")
    if args.bundle is not None:
        blob = (args.run_dir / "ccm.tvcn").read_bytes()
        print(f"{args.bundle}: sha256 {bundle_weights(args.tokenizer, args.bundle, ccm_blob=blob, model_id=args.model_id)}")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    config = _read_continuous_config(argv[1:]) if argv[:1] == ["continuous"] else None
    args = build_parser(config).parse_args(argv)
    if args.what == "continuous":
        return _train_continuous(args)
    if args.what == "ccm":
        return _train_ccm(args)
    if args.what == "predictor":
        return _train_predictor(args)
    if args.steps < 1 or args.batch_size < 1:
        raise TrainArgumentError("--steps and --batch-size must be positive")
    if args.crop_size % 16 or (args.crop_frames - 1) % 8:
        raise TrainArgumentError("--crop-size must be a multiple of 16 and --crop-frames 1 + 8k")
    _check_video_fraction(args.video_fraction)
    where = _device(args)
    model_cfg = TokenizerConfig(fsq_levels=args.fsq_levels)
    cfg = TrainConfig(
        steps=args.steps, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
        val_every=args.val_every, val_gop_frames=args.val_gop, checkpoint_minutes=args.checkpoint_minutes,
        threads=args.threads, losses=replace(LossWeights(), ms_ssim=args.ms_ssim_weight),
        crop=replace(CropConfig(), frames=args.crop_frames, size=args.crop_size,
                     video_fraction=args.video_fraction),
    )
    best = train_tokenizer(args.run_dir, model_cfg, cfg, _resolve_cache(args),
                           progress=not args.no_progress, init_weights=args.init_weights,
                           where=where, minutes=args.minutes, fit_steps=args.fit_steps)
    log.info("done; best weights in %s", best)
    return 0


if __name__ == "__main__":
    import sys

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    sys.exit(main())
