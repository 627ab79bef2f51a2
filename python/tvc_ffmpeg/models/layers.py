"""Building blocks of the causal tokenizer, on channel-first video tensors (N, C, T, H, W).

Convolutions are factorized: spatial (1 x k x k) and temporal (k x 1 x 1). Temporal ones
are causal: the clip is padded at the front by repeating its first frame, so output frame t
sees input frames <= t only, and a clip of 1 + 2m frames downsamples to 1 + m.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SpatialConv(nn.Conv3d):
    def __init__(self, cin: int, cout: int, kernel: int = 3, stride: int = 1) -> None:
        super().__init__(cin, cout, (1, kernel, kernel), stride=(1, stride, stride),
                         padding=(0, kernel // 2, kernel // 2))


class CausalTemporalConv(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int = 3, stride: int = 1) -> None:
        super().__init__()
        self.pad = kernel - 1
        self.conv = nn.Conv3d(cin, cout, (kernel, 1, 1), stride=(stride, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pad:
            x = torch.cat([x[:, :, :1].expand(-1, -1, self.pad, -1, -1), x], dim=2)
        return self.conv(x)


class ResBlock(nn.Module):
    """x + temporal(silu(spatial(silu(x)))); the last conv starts at zero so a new block is identity."""

    def __init__(self, channels: int, temporal_kernel: int) -> None:
        super().__init__()
        self.spatial = SpatialConv(channels, channels, 3)
        self.temporal = CausalTemporalConv(channels, channels, temporal_kernel)
        nn.init.zeros_(self.temporal.conv.weight)
        nn.init.zeros_(self.temporal.conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.temporal(F.silu(self.spatial(F.silu(x))))


class CausalUpsample(nn.Module):
    """x2 in time (and optionally x2 in space) by a 1x1x1 conv and depth-to-space/time.

    Each input frame becomes two; the very first output frame is dropped so 1 + m frames
    become 1 + 2m, mirroring the encoder's causal downsampling.
    """

    def __init__(self, cin: int, cout: int, spatial: bool) -> None:
        super().__init__()
        self.spatial = spatial
        self.cout = cout
        factor = 8 if spatial else 2
        self.proj = nn.Conv3d(cin, cout * factor, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.proj(x)
        n, _, t, h, w = y.shape
        c = self.cout
        if self.spatial:
            y = y.reshape(n, c, 2, 2, 2, t, h, w)
            y = y.permute(0, 1, 5, 2, 6, 3, 7, 4).reshape(n, c, t * 2, h * 2, w * 2)
        else:
            y = y.reshape(n, c, 2, t, h, w).permute(0, 1, 3, 2, 4, 5).reshape(n, c, t * 2, h, w)
        return y[:, :, 1:]
