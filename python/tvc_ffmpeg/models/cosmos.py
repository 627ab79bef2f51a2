"""Adapter for NVIDIA Cosmos discrete video tokenizers (TorchScript ``encoder.jit``/``decoder.jit``).

Cosmos-0.1-Tokenizer-DV8x16x16 ships two TorchScript files: ``encoder(x) -> (indices, codes)``
with x in [-1, 1], shape (N, 3, 1 + 8k, H, W), and ``decoder(indices) -> x``. Its FSQ has
levels [8, 8, 8, 5, 5, 5] (64,000 codes). This class puts them behind the same interface as
our :class:`CausalVideoTokenizer` (``encode``/``decode``, factors, codebook size: the
``VideoTokenizer`` protocol of models/gop.py), so ``tvc eval tokenizer --cosmos DIR``
measures them like ours. The codec itself (``CodecModel``, the runtime backends) does
not take them yet: it needs a weights bundle with the tokenizer's config and halves it
can export to ONNX. The checkpoints are not distributed with this project; users bring
their own.
"""

from __future__ import annotations

from ..errors import CosmosCheckpointError
import math
import os
from pathlib import Path
from typing import Sequence, Tuple

import torch

COSMOS_DV_FSQ_LEVELS = (8, 8, 8, 5, 5, 5)


class CosmosTokenizer:
    def __init__(
        self,
        encoder_path: os.PathLike,
        decoder_path: os.PathLike,
        temporal_factor: int = 8,
        spatial_factor: int = 16,
        fsq_levels: Sequence[int] = COSMOS_DV_FSQ_LEVELS,
        device: str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        for p in (encoder_path, decoder_path):
            if not Path(p).is_file():
                raise CosmosCheckpointError(f"{p}: no such TorchScript file")
        self.encoder = torch.jit.load(str(encoder_path), map_location=device).eval()
        self.decoder = torch.jit.load(str(decoder_path), map_location=device).eval()
        self.temporal_factor = int(temporal_factor)
        self.spatial_factor = int(spatial_factor)
        self.fsq_levels = tuple(int(v) for v in fsq_levels)
        self.codebook_size = int(math.prod(self.fsq_levels))
        self.device = torch.device(device)
        self.dtype = dtype

    @classmethod
    def from_directory(cls, directory: os.PathLike, device: str = "cpu",
                       dtype: torch.dtype = torch.float32) -> "CosmosTokenizer":
        """``directory`` holding ``encoder.jit`` and ``decoder.jit`` (the Hugging Face layout of DV8x16x16)."""
        d = Path(directory)
        return cls(d / "encoder.jit", d / "decoder.jit", device=device, dtype=dtype)

    def _check_input(self, x: torch.Tensor) -> None:
        if x.ndim != 5 or x.shape[1] != 3:
            raise CosmosCheckpointError(f"expected (N, 3, T, H, W) in [-1, 1], got {tuple(x.shape)}")
        t, h, w = x.shape[2:]
        if (t - 1) % self.temporal_factor:
            raise CosmosCheckpointError(f"clip length must be 1 + {self.temporal_factor}k frames, got {t}")
        if h % self.spatial_factor or w % self.spatial_factor:
            raise CosmosCheckpointError(f"height and width must be multiples of {self.spatial_factor}")

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        self._check_input(x)
        out = self.encoder(x.to(self.device, self.dtype))
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            raise CosmosCheckpointError("encoder must return (indices, codes)")
        indices, codes = out
        n, _, t, h, w = x.shape
        expected = (n, 1 + (t - 1) // self.temporal_factor, h // self.spatial_factor, w // self.spatial_factor)
        if tuple(indices.shape) != expected:
            raise CosmosCheckpointError(f"encoder returned indices {tuple(indices.shape)}, expected {expected}")
        return indices.to(torch.int64).cpu(), codes.float().cpu()

    @torch.no_grad()
    def decode(self, indices: torch.Tensor) -> torch.Tensor:
        if indices.ndim != 4:
            raise CosmosCheckpointError(f"expected indices (N, T', h, w), got {tuple(indices.shape)}")
        if int(indices.min()) < 0 or int(indices.max()) >= self.codebook_size:
            raise CosmosCheckpointError(f"token index out of range [0, {self.codebook_size})")
        return self.decoder(indices.to(self.device)).float().cpu()
