"""Picture resampling between the source size and the size the tokenizer codes.

Quality levels below the top code a smaller picture than the source (fewer
tokens, far fewer bits) and the top level a larger one (more tokens per source
pixel, more detail); the decoder scales back to the source size. Only pixels
pass through here, never anything the entropy decoder reads, so the float
filter cannot desynchronise a stream (DESIGN.md, "The rule").
"""

from __future__ import annotations

from fractions import Fraction
from typing import Tuple

import numpy as np
import torch
import torch.nn.functional as F

MAX_SIDE = 16384  # docs/bitstream.md: pictures are at most 16384 pixels a side


def scaled_size(width: int, height: int, scale: Fraction) -> Tuple[int, int]:
    """(width, height) times ``scale``, each rounded to the nearest integer (halves
    up), at least 1 and at most twice the source and 16384 (integer arithmetic only)."""

    def side(n: int) -> int:
        nearest = (2 * n * scale.numerator + scale.denominator) // (2 * scale.denominator)
        return max(1, min(nearest, 2 * n, MAX_SIDE))

    return side(width), side(height)


def resize_rgb(rgb: np.ndarray, height: int, width: int) -> np.ndarray:
    """(T, H, W, 3) float32 RGB in [0, 1] -> (T, height, width, 3): bicubic with an
    antialiasing prefilter when shrinking; a no-op at the same size."""
    if rgb.shape[1:3] == (height, width):
        return rgb
    x = torch.from_numpy(np.ascontiguousarray(rgb)).permute(0, 3, 1, 2)
    with torch.no_grad():
        y = F.interpolate(x, size=(height, width), mode="bicubic", antialias=True, align_corners=False)
    return y.clamp_(0.0, 1.0).permute(0, 2, 3, 1).contiguous().numpy()
