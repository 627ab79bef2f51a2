"""The reference backend: the PyTorch modules themselves, on the CPU."""

from __future__ import annotations

from typing import Optional

import numpy as np
import torch

from ..models.tokenizer import CausalVideoTokenizer
from .base import check_indices, check_video


class TorchBackend:
    """Runs ``tokenizer.encoder`` / ``tokenizer.decoder`` under ``torch.inference_mode``.

    ``threads`` calls ``torch.set_num_threads``, which is process-wide in PyTorch: it is
    left alone when None so that embedding applications keep their own setting.
    """

    name = "torch"

    def __init__(self, tokenizer: CausalVideoTokenizer, threads: Optional[int] = None) -> None:
        self.tokenizer = tokenizer.eval()
        self.config = tokenizer.config
        if threads is not None:
            torch.set_num_threads(int(threads))

    def encode(self, x: np.ndarray) -> np.ndarray:
        x = check_video(x, self.config)
        with torch.inference_mode():
            indices, _ = self.tokenizer.encoder(torch.from_numpy(x))
        return indices.numpy()

    def decode(self, indices: np.ndarray) -> np.ndarray:
        idx = check_indices(indices, self.config)
        with torch.inference_mode():
            y = self.tokenizer.decoder(torch.from_numpy(idx))
        return y.numpy()

    def close(self) -> None:
        pass
