"""Finite scalar quantization (Mentzer et al. 2023), written from the paper's description.

Each latent channel i is squashed into a bounded interval and rounded to one of
``levels[i]`` values; the code vector is the tuple of rounded values scaled to [-1, 1] and
the token index is that tuple read as a mixed-radix number. The gradient passes straight
through the rounding.

:func:`indices_to_digits` and :func:`digits_to_indices` are the one home of the
index <-> digit conversion: the token coders, the CCM and predictor training and the
predictor all import them, so the digit order cannot differ between two of them.
"""

from __future__ import annotations

from typing import Sequence, Tuple, TypeVar

import numpy as np
import torch
from torch import nn

Grid = TypeVar("Grid", np.ndarray, torch.Tensor)


def fsq_basis(levels: Sequence[int]) -> Tuple[int, ...]:
    """Place values of the mixed-radix token index: (1, L0, L0*L1, ...)."""
    basis, place = [], 1
    for level in levels:
        basis.append(place)
        place *= int(level)
    return tuple(basis)


def _radix(like: Grid, levels: Sequence[int]):
    """(levels, basis) as int64 arrays of the same kind (numpy or torch, same device) as ``like``."""
    lv, basis = [int(v) for v in levels], fsq_basis(levels)
    if isinstance(like, torch.Tensor):
        return (torch.tensor(lv, dtype=torch.int64, device=like.device),
                torch.tensor(basis, dtype=torch.int64, device=like.device))
    return np.array(lv, np.int64), np.array(basis, np.int64)


def indices_to_digits(indices: Grid, levels: Sequence[int]) -> Grid:
    """Token indices (...) -> int64 FSQ digits (..., D), digit d = index // prod(levels[:d]) % levels[d].

    numpy in, numpy out; a torch tensor in, a tensor out. Indices must be >= 0
    (callers replace the -1 of a dropped token first)."""
    if not isinstance(indices, torch.Tensor):
        indices = np.asarray(indices, np.int64)
    lv, basis = _radix(indices, levels)
    idx = indices.long() if isinstance(indices, torch.Tensor) else indices
    return (idx[..., None] // basis) % lv


def digits_to_indices(digits: Grid, levels: Sequence[int]) -> Grid:
    """FSQ digits (..., D) -> int64 token indices (...); the inverse of :func:`indices_to_digits`."""
    if not isinstance(digits, torch.Tensor):
        digits = np.asarray(digits, np.int64)
    _, basis = _radix(digits, levels)
    d = digits.long() if isinstance(digits, torch.Tensor) else digits
    return (d * basis).sum(-1)


class FSQ(nn.Module):
    def __init__(self, levels: Sequence[int], eps: float = 1e-3) -> None:
        super().__init__()
        self.levels_list = tuple(int(v) for v in levels)
        levels_t = torch.tensor(self.levels_list, dtype=torch.int64)
        # Derived from the config, so never stored in checkpoints.
        self.register_buffer("levels", levels_t, persistent=False)
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
        return digits_to_indices(digits.movedim(1, -1), self.levels_list)

    def indices_to_codes(self, indices: torch.Tensor) -> torch.Tensor:
        """(N, ...) int64 token indices -> (N, C, ...) codes in [-1, 1]."""
        digits = indices_to_digits(indices, self.levels_list).movedim(-1, 1)
        v = lambda t: self._channel_view(t, digits.ndim)  # noqa: E731
        return (digits.to(torch.float32) - v(self.half_width)) / v(self.half_width)

    def forward(self, z: torch.Tensor):
        codes = self.quantize(z)
        return self.codes_to_indices(codes.detach()), codes
