"""Continuous checkerboard context model: float training mirror, export, and
numpy references of the integer parts.

The codec codes the quantised continuous latent with the integer coder in
csrc/core/continuous.hpp (an IntNet predicts a scale index and a mean per
element; the residual ``v - mean`` is coded with a discrete Laplace CDF table
of that scale). This module:

- trains the same net in PyTorch with the fake quantisation of the discrete
  CCM (models/ccm.py: int8 weights and activations, outputs rounded to 1/16)
  and exports the integer blob (``export_int``), so a trained model codes
  with the C++ coder;
- gives the rate of a latent under the model (``bits``): the exact discrete
  Laplace ``p(k) = (1 - r) / (1 + r) * r^|k|`` with ``r = exp(-1 / b)`` for
  the scale ``b`` of the selected index;
- re-implements the table construction and the scale/mean selection in numpy,
  which tests compare with the C++ bit for bit.

Layouts: latents are (channels, frames, height, width) in the coder and
(N, channels, height, width) per latent frame in the mirror.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np
import torch
from torch import nn

from .ccm import INPUT_SCALE, check_layer_shape, fake_quant_layers, int_net_blob
from .config import ModelConfigError

NUM_SCALES = 64
SCALE_MIN = 0.11
SCALE_MAX = 64.0
PRECISION = 16
MAX_RADIUS = 1024
TABLE_STRIDE = 2 * MAX_RADIUS + 3
OUT_SCALE = 16  # net output units per scale-index step and per latent step
# round(2^30 * exp(-1 / b_i)) for the ladder b_i below: the integers the C++
# builds its tables from (csrc/core/continuous.cpp holds the same list).
LAPLACE_RATIOS = (
    120995, 289889, 638594, 1303923, 2485887, 4454280, 7546207, 12152760,
    18695239, 27593624, 39231600, 53923084, 71884723, 93217557, 117899373, 145787570,
    176631063, 210088866, 245752690, 283170975, 321872177, 361385697, 401259414, 441073327,
    480449260, 519056898, 556616610, 592899652, 627726332, 660962707, 692516324, 722331421,
    750383921, 776676494, 801233846, 824098374, 845326256, 864983992, 883145428, 899889217,
    915296706, 929450210, 942431613, 954321281, 965197221, 975134462, 984204615, 992475586,
    1000011406, 1006872163, 1013114010, 1018789227, 1023946335, 1028630241, 1032882399, 1036740995,
    1040241135, 1043415035, 1046292215, 1048899690, 1051262145, 1053402117, 1055340159, 1057095000,
)


def ladder_scales() -> np.ndarray:
    """Laplace scale b_i = 0.11 * (64 / 0.11)^(i / 63) of each table index."""
    return SCALE_MIN * (SCALE_MAX / SCALE_MIN) ** (np.arange(NUM_SCALES) / (NUM_SCALES - 1))


# ------------------------------------------------------------ numpy references

def pmf_to_cdf_reference(counts, precision: int = PRECISION) -> np.ndarray:
    """The count quantiser of csrc/core/cdf.hpp (CountQuantizer) in Python integers."""
    counts = [int(c) for c in counts]
    n, total, s = len(counts), 1 << precision, sum(counts)
    argmax = counts.index(max(counts))
    if s == 0:
        freq = [total // n] * n
        freq[0] += total - (total // n) * n
    else:
        scale = ((total - n) << 32) // s
        parts = [(c * scale) >> 32 for c in counts]
        freq = [1 + p for p in parts]
        freq[argmax] += total - n - sum(parts)
    return np.concatenate([[0], np.cumsum(freq)]).astype(np.int32)


def laplace_tables_reference() -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(cdfs, sizes, offsets) exactly as ``_native.continuous_laplace_tables`` builds them."""
    peak, floor = 1 << 30, (1 << 30) >> 16
    cdfs = np.zeros((NUM_SCALES, TABLE_STRIDE), np.int32)
    sizes = np.zeros(NUM_SCALES, np.int32)
    offsets = np.zeros(NUM_SCALES, np.int32)
    for i, r in enumerate(LAPLACE_RATIOS):
        c = [peak]
        nxt = (peak * r) >> 30
        while len(c) <= MAX_RADIUS and (nxt >= floor or len(c) == 1):
            c.append(nxt)
            nxt = (nxt * r) >> 30
        radius = len(c) - 1
        tail = 0
        while nxt > 0:
            tail += nxt
            nxt = (nxt * r) >> 30
        counts = [c[abs(s - radius)] for s in range(2 * radius + 1)] + [min(2 * tail, 0xFFFFFFFF)]
        cdf = pmf_to_cdf_reference(counts)
        cdfs[i, : len(cdf)] = cdf
        sizes[i], offsets[i] = len(counts), -radius
    return cdfs, sizes, offsets


def params_reference(net_output: np.ndarray, channels: int) -> Tuple[np.ndarray, np.ndarray]:
    """Integer net output (2C, H, W) -> (scale index, mean), as the C++ coder selects them."""
    o = net_output.astype(np.int64)
    index = np.clip((o[:channels] + 8) >> 4, 0, NUM_SCALES - 1)
    mean = (o[channels:] + 8) >> 4
    return index.astype(np.int32), mean.astype(np.int32)


# ------------------------------------------------------------ training mirror

@dataclass(frozen=True)
class ContinuousCcmConfig:
    """channels: latent channels C; context_planes: caller planes Q (e.g. token
    digits); hidden / kernels: as CcmConfig (the last kernel is the output layer)."""

    channels: int
    context_planes: int = 0
    hidden: int = 32
    kernels: Tuple[int, ...] = (3, 3, 1)

    def __post_init__(self) -> None:
        if not 1 <= self.channels <= 256:
            raise ModelConfigError(f"latent channels must be 1..256, got {self.channels}")
        if not 0 <= self.context_planes <= 64:
            raise ModelConfigError(f"context planes must be 0..64, got {self.context_planes}")
        check_layer_shape(self.kernels, self.hidden)

    @property
    def context_channels(self) -> int:
        return self.context_planes + 2 * self.channels + 2

    @property
    def output_channels(self) -> int:
        return 2 * self.channels


def checkerboard_mask(h: int, w: int, pass_index: int) -> torch.Tensor:
    """(H, W) float mask of the positions coded in a pass (0: anchors, (y + x) even)."""
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    return (((yy + xx) % 2) == pass_index).float()


def context_planes(context: Optional[torch.Tensor], prev: Optional[torch.Tensor], cur: torch.Tensor,
                   pass_index: int) -> torch.Tensor:
    """The coder's context planes for a batch of latent frames, in torch.

    context: (N, Q, H, W) caller planes or None; prev: (N, C, H, W) previous
    latent frame or None for a GoP's first; cur: (N, C, H, W) this frame
    (only its anchors are used, in pass 1). Same layout and values as
    ``ContinuousCheckerboardCoder.context``."""
    n, c, h, w = cur.shape
    zeros = cur.new_zeros((n, c, h, w))
    flag = cur.new_full((n, 1, h, w), 127.0 if prev is not None else 0.0)
    prev_planes = prev.clamp(-127, 127) if prev is not None else zeros
    if pass_index == 1:
        anchors = checkerboard_mask(h, w, 0).to(cur)
        anchor_planes = cur.clamp(-127, 127) * anchors
        anchor_flag = (anchors * 127).expand(n, 1, h, w)
    else:
        anchor_planes, anchor_flag = zeros, cur.new_zeros((n, 1, h, w))
    parts = ([context] if context is not None else []) + [prev_planes, flag, anchor_planes, anchor_flag]
    return torch.cat(parts, dim=1)


def _round_half_up_ste(x: torch.Tensor) -> torch.Tensor:
    # floor(x + 0.5), the C++ rule (o + 8) >> 4, with a straight-through gradient.
    return x + (torch.floor(x + 0.5) - x).detach()


class ContinuousContextModel(nn.Module):
    """Context planes (N, Q+2C+2, H, W) -> (scale index, mean) in float, each (N, C, H, W)."""

    def __init__(self, config: ContinuousCcmConfig) -> None:
        super().__init__()
        self.config = config
        self.layers = fake_quant_layers(config.context_channels, config.hidden, config.output_channels,
                                        config.kernels)

    def forward(self, planes: torch.Tensor) -> torch.Tensor:
        """Raw outputs in index / latent units (already rounded to 1/16, as the integer net)."""
        x = planes * INPUT_SCALE
        for layer in self.layers:
            x = layer(x)
        return x

    def params(self, planes: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """(log_r, mean): log of the Laplace ratio r = exp(-1/b) of the selected scale, and the integer mean."""
        out = self(planes)
        c = self.config.channels
        index = _round_half_up_ste(out[:, :c]).clamp(0, NUM_SCALES - 1)
        log_b = math.log(SCALE_MIN) + index * (math.log(SCALE_MAX / SCALE_MIN) / (NUM_SCALES - 1))
        mean = _round_half_up_ste(out[:, c:])
        return -torch.exp(-log_b), mean

    def bits(self, planes: torch.Tensor, latent: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Code length in bits of ``latent`` (N, C, H, W) under the model, at positions where mask (H, W) or
        (N, H, W) is 1 (the pass's positions); the entropy coder's real size is within a few percent."""
        log_r, mean = self.params(planes)
        r = torch.exp(log_r)
        k = (latent - mean).abs()
        # log p(k) = log(1 - r) - log(1 + r) + |k| log r (discrete Laplace, sums to 1 over the integers).
        logp = torch.log1p(-r.clamp(max=1 - 1e-7)) - torch.log1p(r) + k * log_r
        if mask is not None:
            logp = logp * (mask if mask.dim() == 3 else mask[None])[:, None]
        return -logp.sum() / math.log(2.0)

    def export_int(self) -> bytes:
        """The integer network blob (docs/ccm.md) for ``_native.ContinuousCheckerboardCoder``.

        The layers, their quantisation and the blob format are the discrete CCM's
        (a v1 TVCN blob), so its layer-stack exporter is reused as is."""
        return int_net_blob(self.layers)
