"""What every runtime backend offers, and the input checks they share.

A backend runs the two tokenizer halves on numpy arrays:

* ``encode(x)``: float32 video (N, 3, T, H, W) in [-1, 1], T = 1 + 8k, H and W multiples
  of 16 -> int64 token indices (N, 1 + k, H/16, W/16);
* ``decode(indices)``: int64 indices (N, 1 + k, h, w) -> float32 video (N, 3, 1 + 8k, 16h, 16w).

Inputs are checked here, in Python, before any runtime sees them, so a caller's mistake
is an :class:`InvalidArgumentError` naming the rule, not an ONNX Runtime or TensorRT
traceback about a node deep inside the graph.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from ..errors import InvalidArgumentError
from ..settings import BACKENDS
from ..models.config import TokenizerConfig

BACKEND_NAMES = tuple(b for b in BACKENDS if b != "auto")  # the runtimes "auto" chooses from


@runtime_checkable
class Backend(Protocol):
    """A way to run the tokenizer's encoder and decoder halves."""

    name: str

    def encode(self, x: np.ndarray) -> np.ndarray:
        ...

    def decode(self, indices: np.ndarray) -> np.ndarray:
        ...

    def close(self) -> None:
        ...


def check_video(x: np.ndarray, config: TokenizerConfig) -> np.ndarray:
    """The encoder's input as a C-contiguous float32 array, or InvalidArgumentError."""
    x = np.asarray(x)
    if x.ndim != 5 or x.shape[1] != config.in_channels:
        raise InvalidArgumentError(
            f"video must be (N, {config.in_channels}, T, H, W), got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.floating):
        raise InvalidArgumentError(f"video must be floating point in [-1, 1], got dtype {x.dtype}")
    n, _, t, h, w = x.shape
    tf, sf = config.temporal_factor, config.spatial_factor
    if n < 1:
        raise InvalidArgumentError("video batch is empty")
    if t < 1 or (t - 1) % tf:
        raise InvalidArgumentError(f"frame count must be 1 + {tf}k (1, {1 + tf}, {1 + 2 * tf}, ...), got {t}")
    if h < sf or w < sf or h % sf or w % sf:
        raise InvalidArgumentError(f"height and width must be positive multiples of {sf}, got {h}x{w}")
    return np.ascontiguousarray(x, dtype=np.float32)


def check_indices(indices: np.ndarray, config: TokenizerConfig) -> np.ndarray:
    """The decoder's input as a C-contiguous int64 array, or InvalidArgumentError."""
    idx = np.asarray(indices)
    if idx.ndim != 4:
        raise InvalidArgumentError(f"token indices must be (N, latent frames, h, w), got shape {idx.shape}")
    if not np.issubdtype(idx.dtype, np.integer):
        raise InvalidArgumentError(f"token indices must be integers, got dtype {idx.dtype}")
    if min(idx.shape) < 1:
        raise InvalidArgumentError(f"token grid is empty: {idx.shape}")
    # An out-of-range index would decode to some other code silently (floor/mod on digits).
    lo, hi = int(idx.min()), int(idx.max())
    if lo < 0 or hi >= config.codebook_size:
        raise InvalidArgumentError(
            f"token indices must lie in [0, {config.codebook_size}), got [{lo}, {hi}]")
    return np.ascontiguousarray(idx, dtype=np.int64)
