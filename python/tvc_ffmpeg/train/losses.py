"""Reconstruction loss: L1 on RGB plus (1 - MS-SSIM) on luma.

MS-SSIM is taken with a 7x7 box window (cheap to differentiate on a CPU; the reported
metric uses the standard Gaussian) on BT.601 luma because the codec is judged on luma; the L1 term on all
three channels keeps colour right and gives useful gradients before MS-SSIM is informative.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Tuple

import torch

from ..metrics import ms_ssim

_LUMA = (0.299, 0.587, 0.114)


@dataclass(frozen=True)
class LossWeights:
    l1: float = 1.0
    ms_ssim: float = 0.5


def _luma(x01: torch.Tensor) -> torch.Tensor:
    return _LUMA[0] * x01[:, 0:1] + _LUMA[1] * x01[:, 1:2] + _LUMA[2] * x01[:, 2:3]


def reconstruction_loss(pred: torch.Tensor, target: torch.Tensor, weights: LossWeights) -> Tuple[torch.Tensor, Dict[str, float]]:
    """pred/target (N, 3, T, H, W) in [-1, 1]."""
    l1 = (pred - target).abs().mean()
    n, c, t, h, w = pred.shape
    frames = lambda v: ((v + 1.0) / 2.0).permute(0, 2, 1, 3, 4).reshape(n * t, c, h, w)  # noqa: E731
    msssim = ms_ssim(_luma(frames(pred)).float(), _luma(frames(target)).float(), data_range=1.0,
                     window=7, sigma=0.0).mean()
    loss = weights.l1 * l1 + weights.ms_ssim * (1.0 - msssim)
    return loss, {"loss": float(loss.detach()), "l1": float(l1.detach()), "ms_ssim": float(msssim.detach())}
