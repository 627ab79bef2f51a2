"""YUV 4:2:0 <-> RGB conversion that honours the matrix and the range.

The tokenizer works on RGB; the codec's input and output are YUV. Decoding
converts back with the same matrix and range that the input declared, so a
BT.709 limited-range source comes back as BT.709 limited range.

An unspecified matrix is read as BT.709 for pictures 720 lines high or more
and BT.601 below, the convention of common players.
"""

from __future__ import annotations

from typing import Tuple

import numpy as np

from .frames import RANGE_FULL

# (Kr, Kb) per H.273 MatrixCoefficients code point.
_KR_KB = {
    1: (0.2126, 0.0722),   # BT.709
    4: (0.30, 0.11),       # FCC
    5: (0.299, 0.114),     # BT.470BG (BT.601 625)
    6: (0.299, 0.114),     # SMPTE 170M (BT.601 525)
    7: (0.212, 0.087),     # SMPTE 240M
    9: (0.2627, 0.0593),   # BT.2020 non-constant luminance
}
BT709, BT601 = 1, 6


def resolve_matrix(colorspace: int, height: int) -> int:
    """The matrix actually used for a declared colorspace (see module doc)."""
    if colorspace in _KR_KB:
        return colorspace
    return BT709 if height >= 720 else BT601


def _coefficients(matrix: int) -> Tuple[float, float, float]:
    kr, kb = _KR_KB[matrix]
    return kr, 1.0 - kr - kb, kb


def _scales(full_range: bool) -> Tuple[float, float, float]:
    # (luma offset, luma span, chroma span) in 8-bit code values.
    return (0.0, 255.0, 255.0) if full_range else (16.0, 219.0, 224.0)


def yuv420_to_rgb(y: np.ndarray, u: np.ndarray, v: np.ndarray, matrix: int,
                  color_range: int) -> np.ndarray:
    """8-bit planes -> float32 RGB (H, W, 3) in [0, 1]; chroma upsampled by repetition."""
    h, w = y.shape
    off, ys, cs = _scales(color_range == RANGE_FULL)
    kr, kg, kb = _coefficients(matrix)
    yf = (y.astype(np.float32) - off) / ys
    uf = (np.repeat(np.repeat(u, 2, 0), 2, 1)[:h, :w].astype(np.float32) - 128.0) / cs
    vf = (np.repeat(np.repeat(v, 2, 0), 2, 1)[:h, :w].astype(np.float32) - 128.0) / cs
    r = yf + 2.0 * (1.0 - kr) * vf
    b = yf + 2.0 * (1.0 - kb) * uf
    g = (yf - kr * r - kb * b) / kg
    return np.clip(np.stack([r, g, b], axis=-1), 0.0, 1.0)


def rgb_to_yuv420(rgb: np.ndarray, matrix: int, color_range: int):
    """Float RGB (H, W, 3) in [0, 1] -> 8-bit (y, u, v); chroma is the mean of each 2x2 block."""
    h, w, _ = rgb.shape
    off, ys, cs = _scales(color_range == RANGE_FULL)
    kr, kg, kb = _coefficients(matrix)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    yl = kr * r + kg * g + kb * b
    pb = (b - yl) / (2.0 * (1.0 - kb))
    pr = (r - yl) / (2.0 * (1.0 - kr))
    # Average chroma over 2x2 blocks (edge-replicated for odd sizes).
    ph, pw = h + (h & 1), w + (w & 1)
    def down(c: np.ndarray) -> np.ndarray:
        c = np.pad(c, ((0, ph - h), (0, pw - w)), mode="edge")
        return c.reshape(ph // 2, 2, pw // 2, 2).mean(axis=(1, 3))
    def to8(x: np.ndarray) -> np.ndarray:
        return np.clip(np.rint(x), 0, 255).astype(np.uint8)
    return to8(off + ys * yl), to8(128.0 + cs * down(pb)), to8(128.0 + cs * down(pr))
