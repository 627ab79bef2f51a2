"""Run a tokenizer over a whole clip, GoP by GoP.

A clip is cut into consecutive GoPs of ``gop_frames`` (= 1 + 8k) frames. A last, shorter
GoP is padded by repeating its final frame up to the next valid length (1 + 8k') and the
padding is cropped after decoding; its tokens count in the raw rate, since they would be
sent. Each GoP is coded independently (its first frame on its own), as in the codec.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Tuple

import numpy as np
import torch


class VideoTokenizer(Protocol):
    """What the codec needs from a tokenizer (ours or the Cosmos adapter)."""

    temporal_factor: int
    spatial_factor: int
    codebook_size: int

    def encode(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]: ...

    def decode(self, indices: torch.Tensor) -> torch.Tensor: ...


@dataclass(frozen=True)
class ClipReconstruction:
    rgb: np.ndarray          # (T, H, W, 3) float32 in [0, 1]
    num_tokens: int
    bits_per_token: float

    def raw_bpp(self) -> float:
        t, h, w, _ = self.rgb.shape
        return self.num_tokens * self.bits_per_token / (t * h * w)


def valid_length(frames: int, temporal_factor: int) -> int:
    """Smallest 1 + k * temporal_factor >= frames: the clip lengths a causal tokenizer takes.
    The one home of this rule (the codec, training and evaluation pad with it)."""
    return 1 + -(-(frames - 1) // temporal_factor) * temporal_factor


def latent_frames(frames: int, temporal_factor: int) -> int:
    """Latent frames of a GoP of ``frames`` frames once padded to :func:`valid_length`."""
    return 1 + (valid_length(frames, temporal_factor) - 1) // temporal_factor


def pad_to_valid_length(frames: np.ndarray, temporal_factor: int) -> np.ndarray:
    """Frames (T, ...) padded in time to :func:`valid_length` by repeating the last one."""
    missing = valid_length(frames.shape[0], temporal_factor) - frames.shape[0]
    if missing == 0:
        return frames
    return np.concatenate([frames, np.repeat(frames[-1:], missing, axis=0)])


@torch.no_grad()
def reconstruct_clip(tokenizer: VideoTokenizer, rgb: np.ndarray, gop_frames: int) -> ClipReconstruction:
    """RGB float (T, H, W, 3) in [0, 1] -> token-only reconstruction of the same shape."""
    tf, sf = tokenizer.temporal_factor, tokenizer.spatial_factor
    if gop_frames < 1 or (gop_frames - 1) % tf:
        raise ValueError(f"GoP length must be 1 + {tf}k frames, got {gop_frames}")
    t, h, w, _ = rgb.shape
    if h % sf or w % sf:
        raise ValueError(f"frame size {w}x{h} must be a multiple of {sf}")
    out = np.empty_like(rgb, dtype=np.float32)
    tokens = 0
    for start in range(0, t, gop_frames):
        part = rgb[start : start + gop_frames]
        n = part.shape[0]
        part = pad_to_valid_length(part, tf)
        x = torch.from_numpy(np.ascontiguousarray(part)).float().permute(3, 0, 1, 2).unsqueeze(0) * 2.0 - 1.0
        indices, _ = tokenizer.encode(x)
        tokens += int(indices.numel())
        y = tokenizer.decode(indices)
        out[start : start + n] = ((y[0, :, :n].permute(1, 2, 3, 0).clamp(-1, 1) + 1.0) / 2.0).numpy()
    return ClipReconstruction(out, tokens, float(np.log2(tokenizer.codebook_size)))
