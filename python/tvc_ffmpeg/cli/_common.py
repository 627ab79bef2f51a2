"""Pieces shared by the codec subcommands."""

from __future__ import annotations

import argparse
import sys
from typing import Optional

from ..codec import CodecModel
from ..models.registry import DEFAULT_MODEL_ID
from ..runtime import CHOICES


def add_model_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--model", default=None,
                   help=f"shipped model id (default: {DEFAULT_MODEL_ID}, or the stream's when decoding)")
    g.add_argument("--weights", default=None,
                   help="weights file instead of a shipped model (a training run's best.pt works)")
    p.add_argument("--backend", default="torch", choices=CHOICES,
                   help="runtime for the tokenizer nets: torch (reference), onnxruntime (CPU, or CUDA "
                        "with onnxruntime-gpu), tensorrt (NVIDIA GPU), auto = first of tensorrt, "
                        "onnxruntime, torch that works here (default: torch)")


def load_model(args: argparse.Namespace, default_id: str = DEFAULT_MODEL_ID) -> CodecModel:
    """The model of --weights, else --model, else ``default_id`` (for decoding: the stream's).

    A --model this install lacks is the user's mistake (InvalidArgumentError); a stream's
    model id it lacks is a model mismatch (ModelMismatchError, docs/bitstream.md)."""
    backend = getattr(args, "backend", "torch")
    if args.weights:
        return CodecModel.from_file(args.weights, backend=backend)
    if args.model is None:
        return CodecModel.for_stream(default_id, backend=backend)
    return CodecModel.load(args.model, backend=backend)


def progress(total: Optional[int], desc: str, unit: str = "frame"):
    """A tqdm bar on stderr; quiet when stderr is not a terminal and no total is known."""
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True,
                disable=None if total is None else False, leave=False)
