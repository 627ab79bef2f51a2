"""Synthetic camera motion over a still photograph: unlimited clips with known, smooth motion.

A virtual camera looks at the photograph through a square window whose centre, scale and
angle change linearly (plus a small random acceleration) from frame to frame. Frames are
resampled with bicubic interpolation, so motion is sub-pixel; the photograph is first
downscaled with an antialiasing filter to about the camera's scale so zoomed-out views do
not alias.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class MotionRange:
    """Largest per-frame motion drawn (uniformly, symmetric around zero)."""

    max_speed_px: float = 4.0      # translation, output pixels per frame
    max_zoom: float = 0.012        # relative scale change per frame
    max_rotation_deg: float = 0.6  # rotation per frame
    max_accel_px: float = 0.25     # change of translation speed per frame
    max_scale: float = 3.0         # photograph pixels per output pixel at the start


def camera_motion_clip(
    image: np.ndarray, frames: int, size: int, rng: np.random.Generator, motion: MotionRange = MotionRange()
) -> torch.Tensor:
    """RGB uint8 photograph (H, W, 3) -> clip (3, frames, size, size) float in [0, 1]."""
    img = torch.from_numpy(image).permute(2, 0, 1).unsqueeze(0).float() / 255.0
    h, w = img.shape[-2:]
    # The camera never sees outside the photograph at the start: bound scale by image size.
    max_scale = min(motion.max_scale, 0.9 * min(h, w) / size)
    scale = float(rng.uniform(min(1.0, max_scale), max(1.0, max_scale)))
    if scale > 1.3:
        img = F.interpolate(img, scale_factor=1.0 / scale, mode="bilinear", antialias=True, align_corners=False)
        h, w = img.shape[-2:]
        scale = 1.0
    half = size * scale / 2.0
    cy = float(rng.uniform(half, h - half)) if h > 2 * half else h / 2.0
    cx = float(rng.uniform(half, w - half)) if w > 2 * half else w / 2.0
    vy, vx = rng.uniform(-motion.max_speed_px, motion.max_speed_px, size=2)
    ay, ax = rng.uniform(-motion.max_accel_px, motion.max_accel_px, size=2)
    zoom = float(rng.uniform(-motion.max_zoom, motion.max_zoom))
    spin = math.radians(float(rng.uniform(-motion.max_rotation_deg, motion.max_rotation_deg)))
    angle0 = math.radians(float(rng.uniform(-3.0, 3.0)))

    t = torch.arange(frames, dtype=torch.float32)
    centre_y = cy + vy * t + 0.5 * ay * t * t
    centre_x = cx + vx * t + 0.5 * ax * t * t
    scales = scale * torch.exp(zoom * t)
    angles = angle0 + spin * t
    # Output pixel offsets from the window centre, in output pixels.
    offs = torch.arange(size, dtype=torch.float32) - (size - 1) / 2.0
    oy, ox = torch.meshgrid(offs, offs, indexing="ij")
    cos, sin = torch.cos(angles).view(-1, 1, 1), torch.sin(angles).view(-1, 1, 1)
    s = scales.view(-1, 1, 1)
    src_x = centre_x.view(-1, 1, 1) + s * (cos * ox - sin * oy)
    src_y = centre_y.view(-1, 1, 1) + s * (sin * ox + cos * oy)
    # grid_sample wants coordinates normalised to [-1, 1] (align_corners=False convention).
    grid = torch.stack([(src_x + 0.5) / w * 2.0 - 1.0, (src_y + 0.5) / h * 2.0 - 1.0], dim=-1)
    out = F.grid_sample(img.expand(frames, -1, -1, -1), grid, mode="bicubic",
                        padding_mode="reflection", align_corners=False)
    return out.clamp(0.0, 1.0).permute(1, 0, 2, 3).contiguous()
