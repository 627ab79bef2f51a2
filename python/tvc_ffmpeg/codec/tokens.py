"""Lossless coding of the kept tokens of a GoP's token grid (discrete substream, kind 1).

Only the tokens the GoP's mask pattern keeps are coded (csrc/core/mask.hpp);
decoding returns -1 at dropped positions, which the predictor fills.

Which scheme a stream uses is fixed by its model: a model that carries a
trained checkerboard context model (CCM) uses :class:`CcmTokenCoder`
(docs/ccm.md), one without uses :class:`TokenCoder`. Both split each token
index into FSQ digits (models/fsq.py, ``indices_to_digits``).

:class:`TokenCoder` codes every digit with a uniform table over levels[i]
symbols, in the order latent frame, row, column, digit: exactly the raw token
rate plus the 4-byte rANS flush.
"""

from __future__ import annotations

from typing import Sequence, Tuple

import numpy as np

from .. import _native
from ..entropy import CdfTable, RansDecoder, RansEncoder
from ..errors import InvalidArgumentError
from ..models.fsq import digits_to_indices, indices_to_digits

PRECISION = 16


def _uniform_cdf(n: int, width: int) -> np.ndarray:
    cdf = np.full(width, 1 << PRECISION, np.int64)
    cdf[: n + 1] = (np.arange(n + 1) * (1 << PRECISION)) // n
    return cdf


class _DigitCoder:
    """Shared by both schemes: the FSQ levels and the input check."""

    def __init__(self, levels: Sequence[int]) -> None:
        self.levels = np.array(levels, np.int64)

    @property
    def codebook_size(self) -> int:
        return int(np.prod(self.levels))

    def _checked(self, indices: np.ndarray) -> np.ndarray:
        grid = np.asarray(indices, np.int64)
        if grid.ndim != 3:
            raise InvalidArgumentError("token grids are (latent frames, height, width)")
        if grid.size and (grid.min() < 0 or grid.max() >= self.codebook_size):
            raise InvalidArgumentError("token index outside the codebook")
        return grid


class TokenCoder(_DigitCoder):
    def __init__(self, levels: Sequence[int]) -> None:
        super().__init__(levels)
        width = int(self.levels.max()) + 1
        cdfs = np.stack([_uniform_cdf(int(n), width) for n in self.levels]).astype(np.int32)
        self.table = CdfTable(cdfs, self.levels.astype(np.int32), np.zeros(len(self.levels), np.int32),
                              precision=PRECISION)

    def encode(self, indices: np.ndarray, pattern: int = 0) -> bytes:
        """Token grid (latent frames, height, width) -> rANS stream of the kept tokens."""
        grid = self._checked(indices)
        digits = indices_to_digits(grid[_native.mask_keep(pattern, *grid.shape)], self.levels)
        dims = np.broadcast_to(np.arange(len(self.levels)), digits.shape)
        enc = RansEncoder(PRECISION)
        enc.encode_indexed(digits.astype(np.int32).ravel(), dims.astype(np.int32).ravel(), self.table)
        return enc.finish()

    def decode(self, data: bytes, shape: Tuple[int, int, int], pattern: int = 0) -> np.ndarray:
        """rANS stream -> token grid; dropped positions are -1. InvalidDataError on damage."""
        keep = _native.mask_keep(pattern, *shape)
        count = int(keep.sum())
        dims = np.tile(np.arange(len(self.levels), dtype=np.int32), count)
        dec = RansDecoder(data, PRECISION)
        digits = dec.decode_indexed(dims, self.table).astype(np.int64).reshape(count, -1)
        dec.finish()
        grid = np.full(shape, -1, np.int64)
        grid[keep] = digits_to_indices(digits, self.levels)
        return grid


class CcmTokenCoder(_DigitCoder):
    """Tokens coded with the integer checkerboard context model (same interface)."""

    def __init__(self, levels: Sequence[int], ccm_blob: bytes) -> None:
        super().__init__(levels)
        self._coder = _native.CheckerboardCoder(ccm_blob, [int(v) for v in levels])

    def encode(self, indices: np.ndarray, pattern: int = 0) -> bytes:
        idx = self._checked(indices)
        digits = indices_to_digits(idx, self.levels).astype(np.int32)
        return self._coder.encode(digits, pattern)

    def decode(self, data: bytes, shape: Tuple[int, int, int], pattern: int = 0) -> np.ndarray:
        t, h, w = shape
        digits = self._coder.decode(data, t, h, w, pattern).astype(np.int64)
        grid = digits_to_indices(digits, self.levels)
        grid[digits[..., 0] < 0] = -1
        return grid
