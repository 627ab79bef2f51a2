"""Choosing and creating a backend by name."""

from __future__ import annotations

import logging
import os
from typing import List, Optional

from ..errors import BackendError, InvalidArgumentError
from ..models.tokenizer import CausalVideoTokenizer
from ..settings import BACKENDS
from .base import Backend

log = logging.getLogger(__name__)

CHOICES = BACKENDS  # settings.py is their one home


def _has_onnxruntime() -> bool:
    try:
        import onnxruntime
    except ImportError:
        return False
    return bool(onnxruntime.get_available_providers())


def _has_tensorrt_gpu() -> bool:
    """TensorRT importable and a CUDA device present (cheap: no engine is built)."""
    from .tensorrt_backend import gpu_identity, import_cudart, import_tensorrt

    try:
        import_tensorrt()
        gpu_identity(import_cudart(), 0)
    except BackendError:
        return False
    return True


def available_backends() -> List[str]:
    """Backends that can run here, in the order ``auto`` tries them."""
    found = []
    if _has_tensorrt_gpu():
        found.append("tensorrt")
    if _has_onnxruntime():
        found.append("onnxruntime")
    return found + ["torch"]


def create_backend(name: str, tokenizer: CausalVideoTokenizer, *, threads: Optional[int] = None,
                   cache_dir: Optional[os.PathLike] = None) -> Backend:
    """A backend for ``tokenizer``. ``auto`` takes the first of tensorrt (with a GPU),
    onnxruntime, torch that works; a named backend that cannot run raises BackendError."""
    if name not in CHOICES:
        raise InvalidArgumentError(f"unknown backend {name!r}; choose one of {', '.join(CHOICES)}")
    if name == "auto":
        for candidate in available_backends():
            try:
                return create_backend(candidate, tokenizer, threads=threads, cache_dir=cache_dir)
            except BackendError as exc:
                log.warning("backend %s unavailable (%s); trying the next", candidate, exc)
        raise BackendError("no backend could be created")  # torch failing is a bug; keep it loud
    if name == "torch":
        from .torch_backend import TorchBackend

        return TorchBackend(tokenizer, threads=threads)
    if name == "onnxruntime":
        from .onnxruntime_backend import OnnxRuntimeBackend

        return OnnxRuntimeBackend.from_tokenizer(tokenizer, cache_dir=cache_dir, threads=threads)
    from .tensorrt_backend import TensorRTBackend

    return TensorRTBackend.from_tokenizer(tokenizer, cache_dir=cache_dir)
