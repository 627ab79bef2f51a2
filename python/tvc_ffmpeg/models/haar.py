"""Orthonormal 2-D Haar wavelet patchify and its inverse, frame by frame.

One level turns (N, C, H, W) into (N, 4C, H/2, W/2) holding the LL, LH, HL, HH sub-bands;
the transform is orthonormal, so the inverse is the same butterfly. Written with reshapes
and adds only, so it exports to ONNX without custom ops.
"""

from __future__ import annotations

import torch


def haar_forward(x: torch.Tensor) -> torch.Tensor:
    n, c, h, w = x.shape
    x = x.reshape(n, c, h // 2, 2, w // 2, 2)
    a, b = x[:, :, :, 0, :, 0], x[:, :, :, 0, :, 1]
    cc, d = x[:, :, :, 1, :, 0], x[:, :, :, 1, :, 1]
    ll = (a + b + cc + d) * 0.5
    lh = (a - b + cc - d) * 0.5
    hl = (a + b - cc - d) * 0.5
    hh = (a - b - cc + d) * 0.5
    return torch.cat([ll, lh, hl, hh], dim=1)


def haar_inverse(y: torch.Tensor) -> torch.Tensor:
    n, c4, h, w = y.shape
    c = c4 // 4
    ll, lh, hl, hh = y[:, :c], y[:, c : 2 * c], y[:, 2 * c : 3 * c], y[:, 3 * c :]
    a = (ll + lh + hl + hh) * 0.5
    b = (ll - lh + hl - hh) * 0.5
    cc = (ll + lh - hl - hh) * 0.5
    d = (ll - lh - hl + hh) * 0.5
    top = torch.stack([a, b], dim=-1)  # (n, c, h, w, 2)
    bottom = torch.stack([cc, d], dim=-1)
    x = torch.stack([top, bottom], dim=3)  # (n, c, h, 2, w, 2)
    return x.reshape(n, c, h * 2, w * 2)


def patchify(x: torch.Tensor, levels: int) -> torch.Tensor:
    for _ in range(levels):
        x = haar_forward(x)
    return x


def unpatchify(y: torch.Tensor, levels: int) -> torch.Tensor:
    for _ in range(levels):
        y = haar_inverse(y)
    return y
