"""Pieces shared by the codec subcommands."""

from __future__ import annotations

import argparse
import sys
from typing import Optional

from ..models.registry import DEFAULT_MODEL_ID
from ..settings import (BACKENDS, DEFAULT_BACKEND, DEFAULT_MAX_GOP_PIXELS, DEFAULT_MAX_PIXELS,
                        DecoderSettings)


def add_model_arguments(p: argparse.ArgumentParser) -> None:
    """The options every codec subcommand shares; they fill the fields of the same names
    of EncoderSettings / DecoderSettings (settings.py)."""
    g = p.add_mutually_exclusive_group()
    g.add_argument("--model", default=None,
                   help=f"shipped model id (default: {DEFAULT_MODEL_ID}, or the stream's when decoding)")
    g.add_argument("--weights", dest="weights_path", default=None,
                   help="weights file instead of a shipped model (a training run's best.pt works)")
    p.add_argument("--backend", default=DEFAULT_BACKEND, choices=BACKENDS,
                   help="runtime for the tokenizer nets: torch (reference), onnxruntime (CPU, or CUDA "
                        "with onnxruntime-gpu), tensorrt (NVIDIA GPU), auto = first of tensorrt, "
                        f"onnxruntime, torch that works here (default: {DEFAULT_BACKEND}; the first "
                        "use of onnxruntime exports the model to ONNX once, about 20 s)")
    p.add_argument("--threads", type=int, default=0,
                   help="CPU threads for the nets (default 0: the runtime's own choice)")
    p.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS,
                   help=f"largest picture (width x height, source or coded) accepted (default "
                        f"{DEFAULT_MAX_PIXELS}, 4096x2304); larger ones are refused before anything "
                        "is allocated")
    p.add_argument("--max-gop-pixels", type=int, default=DEFAULT_MAX_GOP_PIXELS,
                   help=f"most coded pixels in one GoP, frames padded to 1 + 8k (default "
                        f"{DEFAULT_MAX_GOP_PIXELS}: about 10 GB of memory at decode, 1080p at quality 2; "
                        "docs/codec.md has the measured memory)")


def model_fields(args: argparse.Namespace) -> dict:
    """The settings fields add_model_arguments() filled."""
    return {k: getattr(args, k)
            for k in ("model", "weights_path", "backend", "threads", "max_pixels", "max_gop_pixels")}


def decoder_settings(args: argparse.Namespace) -> DecoderSettings:
    return DecoderSettings(**model_fields(args))


def progress(total: Optional[int], desc: str, unit: str = "frame"):
    """A tqdm bar on stderr; quiet when stderr is not a terminal and no total is known."""
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True,
                disable=None if total is None else False, leave=False)
