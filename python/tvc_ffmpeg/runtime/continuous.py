"""The continuous stream's nets at run time: the encoder branch and the fused decoder.

``encode(source, recon)``: float32 (N, 3, T, H, W) each in [-1, 1] (the padded coded
picture and its token-only reconstruction) -> float32 latent (N, C, T', H/16, W/16).
``decode(indices, latent)``: int64 token indices (N, 1 + k, h, w) and the dequantised
latent (N, C, T', h, w) -> float32 video (N, 3, 1 + 8k, 16h, 16w), the tokenizer's pixel
decoder with the control branch's residuals (models/continuous.FusedDecoder).

They run on torch for every backend: the ONNX/TensorRT export of the fused graph is not
built yet (docs/runtime.md). A model whose backend is onnxruntime or tensorrt says so in
one log line when it first codes a continuous GoP; its token-only GoPs still use that
backend. Only pixels come out of these nets, never anything the entropy decoder parses.
"""

from __future__ import annotations

import logging
from typing import Optional

import numpy as np
import torch

from ..errors import InvalidArgumentError
from ..models.continuous import FusedDecoder
from ..models.tokenizer import CausalVideoTokenizer
from .base import check_indices, check_video

log = logging.getLogger(__name__)


class TorchContinuousRuntime:
    """The continuous encoder and the fused decoder under ``torch.inference_mode``."""

    name = "torch"

    def __init__(self, tokenizer: CausalVideoTokenizer, parts, threads: Optional[int] = None) -> None:
        self.config = tokenizer.config
        self.parts = parts
        self.fused = FusedDecoder(tokenizer.decoder, parts.branch).eval()
        if threads is not None:
            torch.set_num_threads(int(threads))

    def encode(self, source: np.ndarray, recon: np.ndarray) -> np.ndarray:
        x = check_video(source, self.config)
        r = check_video(recon, self.config)
        if x.shape != r.shape:
            raise InvalidArgumentError(f"source {x.shape} and reconstruction {r.shape} differ in shape")
        with torch.inference_mode():
            latent = self.parts.encoder(torch.from_numpy(x), torch.from_numpy(r))
        return latent.numpy()

    def decode(self, indices: np.ndarray, latent: np.ndarray) -> np.ndarray:
        idx = check_indices(indices, self.config)
        lat = np.ascontiguousarray(latent, dtype=np.float32)
        n, t, h, w = idx.shape
        if lat.ndim != 5 or lat.shape[0] != n or lat.shape[1] != self.parts.config.channels \
                or lat.shape[3:] != (h, w):
            raise InvalidArgumentError(
                f"continuous latent must be ({n}, {self.parts.config.channels}, T', {h}, {w}), got {lat.shape}")
        with torch.inference_mode():
            y = self.fused(torch.from_numpy(idx), torch.from_numpy(lat))
        return y.numpy()

    def close(self) -> None:
        pass


def create_continuous_runtime(backend: str, tokenizer: CausalVideoTokenizer, parts,
                              threads: Optional[int] = None) -> TorchContinuousRuntime:
    """The runtime for ``parts`` under a model whose tokenizer runs on ``backend``."""
    if backend != "torch":
        log.info("backend %s: the continuous encoder and fused decoder run on torch "
                 "(no ONNX export of them yet; docs/runtime.md)", backend)
    return TorchContinuousRuntime(tokenizer, parts, threads=threads)
