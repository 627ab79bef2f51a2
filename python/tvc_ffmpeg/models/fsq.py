"""Finite scalar quantization (Mentzer et al. 2023), written from the paper's description.

Each latent channel i is squashed into a bounded interval and rounded to one of
``levels[i]`` values; the code vector is the tuple of rounded values scaled to [-1, 1] and
the token index is that tuple read as a mixed-radix number. The gradient passes straight
through the rounding.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn


class FSQ(nn.Module):
    def __init__(self, levels: Sequence[int], eps: float = 1e-3) -> None:
        super().__init__()
        self.levels_list = tuple(int(v) for v in levels)
        levels_t = torch.tensor(self.levels_list, dtype=torch.int64)
        basis = torch.cumprod(torch.tensor((1,) + self.levels_list[:-1], dtype=torch.int64), 0)
        # Derived from the config, so never stored in checkpoints.
        self.register_buffer("levels", levels_t, persistent=False)
        self.register_buffer("basis", basis, persistent=False)
        lv = levels_t.to(torch.float32)
        half_l = (lv - 1.0) * (1.0 - eps) / 2.0
        # Even level counts need an offset so the rounded grid is {-L/2, ..., L/2 - 1}.
        offset = torch.where(levels_t % 2 == 0, torch.tensor(0.5), torch.tensor(0.0))
        self.register_buffer("half_l", half_l, persistent=False)
        self.register_buffer("offset", offset, persistent=False)
        self.register_buffer("shift", torch.atanh(offset / half_l), persistent=False)
        self.register_buffer("half_width", (levels_t // 2).to(torch.float32), persistent=False)

    @property
    def dim(self) -> int:
        return len(self.levels_list)

    @property
    def codebook_size(self) -> int:
        n = 1
        for v in self.levels_list:
            n *= v
        return n

    def _channel_view(self, t: torch.Tensor, ndim: int) -> torch.Tensor:
        # (C,) -> (1, C, 1, 1, ...) to broadcast over channel-first tensors.
        return t.view((1, -1) + (1,) * (ndim - 2))

    def quantize(self, z: torch.Tensor) -> torch.Tensor:
        """Channel-first latent (N, C, ...) -> codes in [-1, 1] with straight-through rounding."""
        v = lambda t: self._channel_view(t, z.ndim)  # noqa: E731
        bounded = torch.tanh(z + v(self.shift)) * v(self.half_l) - v(self.offset)
        rounded = bounded + (torch.round(bounded) - bounded).detach()
        return rounded / v(self.half_width)

    def codes_to_indices(self, codes: torch.Tensor) -> torch.Tensor:
        """(N, C, ...) codes -> (N, ...) int64 token indices."""
        v = lambda t: self._channel_view(t, codes.ndim)  # noqa: E731
        digits = torch.round(codes * v(self.half_width) + v(self.half_width)).to(torch.int64)
        return (digits * v(self.basis)).sum(dim=1)

    def indices_to_codes(self, indices: torch.Tensor) -> torch.Tensor:
        """(N, ...) int64 token indices -> (N, C, ...) codes in [-1, 1]."""
        idx = indices.unsqueeze(1)
        v = lambda t: self._channel_view(t, idx.ndim)  # noqa: E731
        digits = torch.div(idx, v(self.basis), rounding_mode="floor") % v(self.levels)
        return (digits.to(torch.float32) - v(self.half_width)) / v(self.half_width)

    def forward(self, z: torch.Tensor):
        codes = self.quantize(z)
        return self.codes_to_indices(codes.detach()), codes
