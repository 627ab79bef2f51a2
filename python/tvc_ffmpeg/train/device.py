"""Where training runs: the device, mixed precision, and device-independent checkpoints.

Every training command takes ``--device {cpu,cuda,auto}`` (default cpu: the runs on shared
CPU machines resume with the same command line and must not change behaviour when a GPU
appears) and ``--amp {bf16,fp16}`` (autocast on CUDA; on CPU a warning and full precision).
Checkpoints always hold CPU tensors and are loaded with ``map_location="cpu"``, so a run
started on a GPU resumes on a CPU and the other way round.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from dataclasses import dataclass
from typing import Any, Optional

import torch

from ..errors import TrainArgumentError

DEVICE_CHOICES = ("cpu", "cuda", "auto")
AMP_CHOICES = ("bf16", "fp16")


@dataclass(frozen=True)
class TrainDevice:
    """The device of a run and its autocast dtype (None: full precision)."""

    device: torch.device
    amp: Optional[torch.dtype] = None

    @classmethod
    def resolve(cls, name: str = "cpu", amp: Optional[str] = None) -> "TrainDevice":
        if name not in DEVICE_CHOICES:
            raise TrainArgumentError(f"--device must be one of {', '.join(DEVICE_CHOICES)}, got {name!r}")
        if amp is not None and amp not in AMP_CHOICES:
            raise TrainArgumentError(f"--amp must be one of {', '.join(AMP_CHOICES)}, got {amp!r}")
        if name == "cuda" and not torch.cuda.is_available():
            raise TrainArgumentError("--device cuda: this torch has no usable CUDA device "
                                     f"(torch {torch.__version__}, CUDA build {torch.version.cuda})")
        if name == "auto":
            name = "cuda" if torch.cuda.is_available() else "cpu"
        device = torch.device(name)
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # crops have one shape: pick the fastest kernels once
        dtype = None
        if amp is not None:
            if device.type != "cuda":
                warnings.warn(f"--amp {amp} ignored on {device.type}: training in float32", stacklevel=2)
            else:
                dtype = torch.bfloat16 if amp == "bf16" else torch.float16
                if dtype == torch.bfloat16 and not torch.cuda.is_bf16_supported():
                    raise TrainArgumentError("--amp bf16: this GPU has no bfloat16; use --amp fp16")
        return cls(device, dtype)

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    @property
    def loader_workers(self) -> int:
        """Threads that make training batches ahead (data.dataset.PrefetchedBatches): none on
        a CPU, whose cores train the model; on a GPU machine all cores but two."""
        if not self.is_cuda:
            return 0
        return max(1, min(12, (os.cpu_count() or 4) - 2))

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.amp is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp)

    def grad_scaler(self) -> "torch.amp.GradScaler":
        """A loss scaler that is active only for fp16 (bf16 has float32's exponent range)."""
        return torch.amp.GradScaler(self.device.type, enabled=self.amp == torch.float16)


def to_cpu(obj: Any) -> Any:
    """A copy of a (nested) state dict with every tensor on the CPU: what checkpoints store."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_cpu(v) for v in obj)
    return obj


def load_checkpoint(path) -> dict:
    """A checkpoint read onto the CPU whatever device wrote it."""
    return torch.load(path, map_location="cpu", weights_only=True)


class OnDevice:
    """Wraps a tokenizer that lives on a device for code that passes CPU tensors
    (validation, token pools): inputs go to the device, results come back to the CPU.
    Always float32, without autocast: tokens and reconstructions are judged as the codec
    (which runs in float32) would make them."""

    def __init__(self, model: torch.nn.Module, where: TrainDevice) -> None:
        self.model = model
        self.where = where
        self.temporal_factor = model.temporal_factor
        self.spatial_factor = model.spatial_factor
        self.codebook_size = model.codebook_size
        self.config = getattr(model, "config", None)

    def encode(self, x: torch.Tensor):
        indices, latent = self.model.encode(x.to(self.where.device))
        return indices.cpu(), latent.cpu()

    def decode(self, indices: torch.Tensor) -> torch.Tensor:
        return self.model.decode(indices.to(self.where.device)).cpu()
