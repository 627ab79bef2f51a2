"""Filling the tokens a mask pattern dropped.

``copy_previous`` is the baseline predictor: a dropped token takes the value
of the same position in the previous latent frame (already complete, since
latent frame 0 is always kept whole and frames are filled in order). The
learned spatio-temporal transformer predictor replaces it when a model ships
one; both only produce tokens for the pixel decoder, never anything parsed.
"""

from __future__ import annotations

import numpy as np
import torch

from ..models.predictor import copy_hint


def copy_previous(grid: np.ndarray) -> np.ndarray:
    """Token grid (T, H, W) with -1 at dropped positions -> a complete grid."""
    out = np.array(grid, np.int64, copy=True)
    if (out[0] < 0).any():
        raise ValueError("latent frame 0 must be complete")
    return copy_hint(torch.from_numpy(out)[None])[0].numpy()


def fill_dropped(grid: np.ndarray, predictor=None, steps: int = 2) -> np.ndarray:
    """Fill dropped tokens (-1): the model's predictor if it has one, else copy-previous.
    Encoder (choosing a mask) and decoder call this same function."""
    if (grid >= 0).all():
        return grid
    if predictor is None:
        return copy_previous(grid)
    with torch.no_grad():
        return predictor.fill(torch.from_numpy(np.asarray(grid, np.int64))[None], steps=steps)[0].numpy()
