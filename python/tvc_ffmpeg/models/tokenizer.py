"""The causal video tokenizer (Cosmos-style, small enough to train and run on a CPU).

Encoder: 2-level Haar patchify (x4 in space, 3 -> 48 channels), then convolutional stages
that halve space twice and time three times, ending in an FSQ bottleneck. A clip of
1 + 8k frames of H x W pixels becomes 1 + k latent frames of H/16 x W/16 tokens; latent
frame 0 depends on frame 0 only, latent frame j on frames <= 8j.

Decoder: the mirror image with causal depth-to-space/time upsampling and the inverse Haar.
Encoder and decoder are separate modules so each exports to ONNX on its own:
``TokenizerEncoder(x) -> (indices, codes)`` with x in [-1, 1] (N, 3, T, H, W), as Cosmos'
``encoder.jit``, and ``TokenizerDecoder(indices) -> x``, as Cosmos' ``decoder.jit``.
"""

from __future__ import annotations

from typing import Tuple

import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelConfigError, TokenizerConfig
from .fsq import FSQ
from .haar import patchify, unpatchify
from .layers import CausalTemporalConv, CausalUpsample, ResBlock, SpatialConv


def _blocks(channels: int, count: int, temporal_kernel: int) -> nn.Sequential:
    return nn.Sequential(*[ResBlock(channels, temporal_kernel) for _ in range(count)])


def _fold_time(x: torch.Tensor) -> Tuple[torch.Tensor, int]:
    n, c, t, h, w = x.shape
    return x.permute(0, 2, 1, 3, 4).reshape(n * t, c, h, w), t


def _unfold_time(x: torch.Tensor, t: int) -> torch.Tensor:
    nt, c, h, w = x.shape
    return x.reshape(nt // t, t, c, h, w).permute(0, 2, 1, 3, 4)


def check_clip_shape(x: torch.Tensor, config: TokenizerConfig) -> None:
    if x.ndim != 5 or x.shape[1] != config.in_channels:
        raise ModelConfigError(f"expected (N, {config.in_channels}, T, H, W), got {tuple(x.shape)}")
    config.latent_frames(int(x.shape[2]))
    if x.shape[3] % config.spatial_factor or x.shape[4] % config.spatial_factor:
        raise ModelConfigError(f"height and width must be multiples of {config.spatial_factor}, got {tuple(x.shape)}")


class TokenizerEncoder(nn.Module):
    def __init__(self, config: TokenizerConfig) -> None:
        super().__init__()
        self.config = config
        w, b, kt = config.encoder_widths, config.encoder_blocks, config.temporal_kernel
        haar_channels = config.in_channels * 4**config.haar_levels
        self.stem = SpatialConv(haar_channels, w[0], 3)
        self.stage0 = _blocks(w[0], b[0], kt)
        self.down0_s = SpatialConv(w[0], w[1], 3, stride=2)
        self.down0_t = CausalTemporalConv(w[1], w[1], kt, stride=2)
        self.stage1 = _blocks(w[1], b[1], kt)
        self.down1_s = SpatialConv(w[1], w[2], 3, stride=2)
        self.down1_t = CausalTemporalConv(w[2], w[2], kt, stride=2)
        self.stage2 = _blocks(w[2], b[2], kt)
        self.down2_t = CausalTemporalConv(w[2], w[3], kt, stride=2)
        self.stage3 = _blocks(w[3], b[3], kt)
        self.head = nn.Conv3d(w[3], len(config.fsq_levels), 1)
        self.fsq = FSQ(config.fsq_levels)

    def latent(self, x: torch.Tensor) -> torch.Tensor:
        """Continuous pre-quantization latent (N, len(levels), 1 + k, H/16, W/16)."""
        frames, t = _fold_time(x)
        h = _unfold_time(patchify(frames, self.config.haar_levels), t)
        h = self.stage0(F.silu(self.stem(h)))
        h = F.silu(self.down0_t(F.silu(self.down0_s(h))))
        h = self.stage1(h)
        h = F.silu(self.down1_t(F.silu(self.down1_s(h))))
        h = self.stage2(h)
        h = self.stage3(F.silu(self.down2_t(h)))
        return self.head(F.silu(h))

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """x in [-1, 1] -> (indices (N, 1+k, h, w) int64, codes (N, C, 1+k, h, w) in [-1, 1])."""
        return self.fsq(self.latent(x))


class TokenizerDecoder(nn.Module):
    def __init__(self, config: TokenizerConfig) -> None:
        super().__init__()
        self.config = config
        w, b, kt = config.decoder_widths, config.decoder_blocks, config.temporal_kernel
        haar_channels = config.in_channels * 4**config.haar_levels
        self.fsq = FSQ(config.fsq_levels)
        self.stem = nn.Conv3d(len(config.fsq_levels), w[3], 1)
        self.stage3 = _blocks(w[3], b[3], kt)
        self.up2 = CausalUpsample(w[3], w[2], spatial=False)
        self.stage2 = _blocks(w[2], b[2], kt)
        self.up1 = CausalUpsample(w[2], w[1], spatial=True)
        self.stage1 = _blocks(w[1], b[1], kt)
        self.up0 = CausalUpsample(w[1], w[0], spatial=True)
        self.stage0 = _blocks(w[0], b[0], kt)
        self.head = SpatialConv(w[0], haar_channels, 3)

    def decode_codes(self, codes: torch.Tensor) -> torch.Tensor:
        h = self.stage3(self.stem(codes))
        h = self.stage2(self.up2(F.silu(h)))
        h = self.stage1(self.up1(F.silu(h)))
        h = self.stage0(self.up0(F.silu(h)))
        h = self.head(F.silu(h))
        frames, t = _fold_time(h)
        return _unfold_time(unpatchify(frames, self.config.haar_levels), t)

    def forward(self, indices: torch.Tensor) -> torch.Tensor:
        """Token indices (N, 1+k, h, w) -> video (N, 3, 1+8k, 16h, 16w), nominally in [-1, 1]."""
        return self.decode_codes(self.fsq.indices_to_codes(indices))


class CausalVideoTokenizer(nn.Module):
    """Encoder + decoder; ``forward`` is the training path (codes, straight-through)."""

    def __init__(self, config: TokenizerConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = TokenizerEncoder(config)
        self.decoder = TokenizerDecoder(config)

    @property
    def temporal_factor(self) -> int:
        return self.config.temporal_factor

    @property
    def spatial_factor(self) -> int:
        return self.config.spatial_factor

    @property
    def codebook_size(self) -> int:
        return self.config.codebook_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, codes = self.encoder(x)
        return self.decoder.decode_codes(codes)

    def encode(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        check_clip_shape(x, self.config)
        return self.encoder(x)

    def decode(self, indices: torch.Tensor) -> torch.Tensor:
        return self.decoder(indices)
