"""The continuous stream's networks: encoder branch, quantiser, ControlNet-style fusion, rate.

Not trained and not wired into the codec yet (docs/models.md, "Continuous stream: modules").

- :class:`ContinuousEncoder`: concat(source, token reconstruction) -> a float latent of
  ``channels`` planes at the token grid's spatial size (H/16 x W/16) and ``1 + (T-1)/f``
  latent frames (f = ``temporal_factor``). The decoder has the token reconstruction too, so
  the latent only needs to carry what the tokens miss.
- :func:`quantize` / :func:`dequantize`: the latent in units of a step the GoP header will
  signal; additive uniform noise or straight-through rounding for training, int32 at inference.
- :class:`ControlBranch` + :class:`FusedDecoder`: the dequantised latent (and the FSQ codes)
  make one residual per decoder stage (four scales), each through a 1x1x1 conv whose weight
  and bias start at zero, so an untrained fusion decodes exactly as the tokenizer's decoder.
- :func:`latent_bits`: the rate of a quantised latent under the continuous CCM's mirror, for
  a loss ``D + lambda * R``.

Temporal factor: 2 by default. The issue's calibration found that per-frame 16x16 block
means hold 54 % of the token error's energy and 8-frame means only 15 %, so the latent must
be finer in time than the tokens (f = 8). f = 2 keeps most of that per-frame detail at half
the elements of f = 1 (the CCM also conditions on the previous latent frame, which removes
what neighbouring frames share) and matches the decoder's stage-1 time grid. f = 1, 2, 4, 8
are all built, so training can measure the choice.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelConfigError, TokenizerConfig
from .continuous_ccm import ContinuousContextModel, checkerboard_mask, context_planes
from .haar import patchify, unpatchify
from .layers import CausalTemporalConv, CausalUpsample, ResBlock, SpatialConv
from .tokenizer import TokenizerDecoder, _fold_time, _unfold_time

QUANT_MODES = ("noise", "ste", "round")


@dataclass(frozen=True)
class ContinuousConfig:
    """channels: latent planes C; temporal_factor: source frames per latent frame (1, 2, 4, 8);
    encoder_width / branch_width: hidden channels of the two nets; use_codes: whether the
    branch also sees the FSQ codes of the tokens (aligned to the latent's frames)."""

    channels: int = 8
    temporal_factor: int = 2
    encoder_width: int = 64
    branch_width: int = 64
    use_codes: bool = True

    def __post_init__(self) -> None:
        if not 1 <= self.channels <= 256:
            raise ModelConfigError(f"continuous latent channels must be 1..256, got {self.channels}")
        if self.temporal_factor not in (1, 2, 4, 8):
            raise ModelConfigError(f"temporal_factor must be 1, 2, 4 or 8, got {self.temporal_factor}")
        for name in ("encoder_width", "branch_width"):
            if not 1 <= getattr(self, name) <= 1024:
                raise ModelConfigError(f"{name} must be 1..1024, got {getattr(self, name)}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ContinuousConfig":
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise ModelConfigError(f"unknown continuous config fields: {sorted(unknown)}")
        return cls(**d)

    def latent_frames(self, num_frames: int) -> int:
        if num_frames < 1 or (num_frames - 1) % TokenizerConfig.temporal_factor:
            raise ModelConfigError(f"clip length must be 1 + 8k frames, got {num_frames}")
        return 1 + (num_frames - 1) // self.temporal_factor


def _halvings(factor: int) -> int:
    return int(math.log2(factor))


class ContinuousEncoder(nn.Module):
    """(source, token reconstruction), each (N, 3, T, H, W) in [-1, 1] -> float latent (N, C, T', H/16, W/16)."""

    def __init__(self, config: ContinuousConfig, tokenizer: TokenizerConfig) -> None:
        super().__init__()
        self.config = config
        w, kt = config.encoder_width, tokenizer.temporal_kernel
        # Haar x4 then two stride-2 convs: the token grid's spatial factor 16.
        self.haar_levels = tokenizer.haar_levels
        self.stem = SpatialConv(2 * tokenizer.in_channels * 4**tokenizer.haar_levels, w, 3)
        self.down_s = nn.ModuleList([SpatialConv(w, w, 3, stride=2) for _ in range(2)])
        self.down_t = nn.ModuleList([CausalTemporalConv(w, w, kt, stride=2)
                                     for _ in range(_halvings(config.temporal_factor))])
        self.block = ResBlock(w, kt)
        self.head = nn.Conv3d(w, config.channels, 1)

    def forward(self, source: torch.Tensor, recon: torch.Tensor) -> torch.Tensor:
        x = torch.cat([source, recon], dim=1)
        frames, t = _fold_time(x)
        h = F.silu(self.stem(_unfold_time(patchify(frames, self.haar_levels), t)))
        for conv in self.down_s:
            h = F.silu(conv(h))
        for conv in self.down_t:
            h = F.silu(conv(h))
        return self.head(F.silu(self.block(h)))


def quantize(latent: torch.Tensor, step: float, mode: str) -> torch.Tensor:
    """The latent in units of ``step``: "noise" adds U(-1/2, 1/2) (training, rate proxy), "ste" rounds
    with a straight-through gradient (training), "round" gives the int32 values the coder codes."""
    if not step > 0:
        raise ModelConfigError(f"quantisation step must be > 0, got {step}")
    if mode not in QUANT_MODES:
        raise ModelConfigError(f"quantisation mode must be one of {QUANT_MODES}, got {mode!r}")
    y = latent / step
    if mode == "noise":
        return y + torch.empty_like(y).uniform_(-0.5, 0.5)
    # floor(y + 0.5): the same half-up rule as the integer coder's, not torch.round's half-even.
    rounded = torch.floor(y + 0.5)
    if mode == "ste":
        return y + (rounded - y).detach()
    return rounded.to(torch.int32)


def dequantize(values: torch.Tensor, step: float) -> torch.Tensor:
    return values.float() * step


# ------------------------------------------------------------ step and context planes
# The GoP header signals the step in 1/256 units (docs/bitstream.md, continuous_step).
STEP_UNITS = 256
MAX_STEP_CODE = (1 << 16) - 1


def step_code(step: float) -> int:
    """The header's continuous_step for a step (1/256 units, 1 .. 65535)."""
    if not step > 0:
        raise ModelConfigError(f"quantisation step must be > 0, got {step}")
    return int(min(max(round(step * STEP_UNITS), 1), MAX_STEP_CODE))


def step_of_code(code: int) -> float:
    return code / STEP_UNITS


def step_plane_value(code: int) -> int:
    """floor(16 log2(step)) clamped to [-127, 127], in exact integer arithmetic (code^16 is an
    exact Python integer), so encoder and decoder derive the same plane on any machine."""
    if not 1 <= code <= MAX_STEP_CODE:
        raise ModelConfigError(f"continuous_step must be 1..{MAX_STEP_CODE}, got {code}")
    log16 = (code ** 16).bit_length() - 1 - 16 * 8  # floor(16 log2(code / 256))
    return max(-127, min(127, log16))


def context_plane_count(fsq_levels) -> int:
    """Caller planes Q of the continuous CCM: one per FSQ digit, plus the step plane."""
    return len(fsq_levels) + 1


def token_context(indices: torch.Tensor, fsq_levels, latent_frames: int, temporal_factor: int,
                  code: int) -> torch.Tensor:
    """The continuous CCM's caller planes (N, D + 1, T', h, w), integer-valued floats in [-127, 127].

    indices: the complete token grid (N, 1+k, h, w) both sides have (after dropped tokens are
    filled). Planes 0..D-1: each FSQ digit of the token in the latent frame's token frame
    (align_codes' rule), spread over [-127, 127]; plane D: step_plane_value(code). The codec
    passes them to the C++ coder as int32; training to the mirror."""
    from .fsq import indices_to_digits

    digits = indices_to_digits(indices.long(), fsq_levels)  # (N, t, h, w, D)
    top = torch.tensor([int(v) - 1 for v in fsq_levels], dtype=torch.int64, device=indices.device)
    spread = torch.div((2 * digits - top) * 127, top.clamp(min=1), rounding_mode="floor")
    planes = spread.permute(0, 4, 1, 2, 3)  # (N, D, t, h, w)
    planes = align_codes(planes, latent_frames, temporal_factor)
    n, _, t, h, w = planes.shape
    step = torch.full((n, 1, t, h, w), step_plane_value(code), dtype=torch.int64, device=indices.device)
    return torch.cat([planes, step], dim=1).float()


def align_codes(codes: torch.Tensor, latent_frames: int, temporal_factor: int) -> torch.Tensor:
    """FSQ codes (N, D, 1+k, h, w) -> (N, D, latent_frames, h, w): latent frame i covers source frames
    f(i-1)+1 .. fi, which lie in token frame ceil(i f / 8)."""
    index = [(i * temporal_factor + 7) // 8 for i in range(latent_frames)]
    return codes[:, :, index]


class _ToScale(nn.Module):
    """Branch features at the latent's grid -> one decoder stage's grid, then the zero connection."""

    def __init__(self, width: int, out_channels: int, time_steps: int, space_doublings: int,
                 temporal_kernel: int) -> None:
        super().__init__()
        # time_steps > 0: halve time that many times (causal stride 2); < 0: double it.
        steps: List[nn.Module] = []
        for _ in range(max(time_steps, 0)):
            steps.append(CausalTemporalConv(width, width, temporal_kernel, stride=2))
        for _ in range(max(-time_steps, 0)):
            steps.append(CausalUpsample(width, width, spatial=False))
        self.time = nn.ModuleList(steps)
        self.space_doublings = space_doublings
        self.refine = SpatialConv(width, width, 3)
        self.zero = nn.Conv3d(width, out_channels, 1)
        nn.init.zeros_(self.zero.weight)
        nn.init.zeros_(self.zero.bias)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        for step in self.time:
            h = F.silu(step(h))
        if self.space_doublings:
            s = 2 ** self.space_doublings
            h = F.interpolate(h, scale_factor=(1.0, float(s), float(s)), mode="nearest")
        return self.zero(F.silu(self.refine(h)))


# The decoder stages the branch feeds, coarse to fine: (stage, time factor, space doublings
# from the token grid). Stage 3 runs at T/8 x H/16, stage 2 at T/4 x H/16, stage 1 at
# T/2 x H/8, stage 0 at T x H/4 (tokenizer.py).
_STAGES = ((3, 8, 0), (2, 4, 0), (1, 2, 1), (0, 1, 2))


class ControlBranch(nn.Module):
    """Dequantised latent (N, C, T', h, w) [+ FSQ codes (N, D, 1+k, h, w)] -> four residuals, one per
    decoder stage (3, 2, 1, 0), each zero at initialisation."""

    def __init__(self, config: ContinuousConfig, tokenizer: TokenizerConfig) -> None:
        super().__init__()
        self.config = config
        w, kt = config.branch_width, tokenizer.temporal_kernel
        cin = config.channels + (len(tokenizer.fsq_levels) if config.use_codes else 0)
        self.stem = nn.Conv3d(cin, w, 1)
        self.block = ResBlock(w, kt)
        lat = _halvings(config.temporal_factor)
        self.heads = nn.ModuleList([
            _ToScale(w, tokenizer.decoder_widths[stage], _halvings(tf) - lat, space, kt)
            for stage, tf, space in _STAGES])

    def forward(self, latent: torch.Tensor, codes: Optional[torch.Tensor] = None) -> List[torch.Tensor]:
        x = latent
        if self.config.use_codes:
            if codes is None:
                raise ModelConfigError("this control branch was built with use_codes=True: pass the FSQ codes")
            x = torch.cat([latent, align_codes(codes, latent.shape[2], self.config.temporal_factor)], dim=1)
        h = self.block(F.silu(self.stem(x)))
        return [head(h) for head in self.heads]


class FusedDecoder(nn.Module):
    """The tokenizer's pixel decoder with the control branch's residuals added after each stage.

    It runs the decoder's own modules in the order of ``TokenizerDecoder.decode_codes`` (without
    editing tokenizer.py); tests/test_continuous.py checks that an untrained fusion equals the
    plain decoder exactly, which also catches the two drifting apart."""

    def __init__(self, decoder: TokenizerDecoder, branch: ControlBranch) -> None:
        super().__init__()
        self.decoder = decoder
        self.branch = branch

    def decode_codes(self, codes: torch.Tensor, latent: torch.Tensor) -> torch.Tensor:
        d = self.decoder
        r3, r2, r1, r0 = self.branch(latent, codes)
        h = d.stage3(d.stem(codes)) + r3
        h = d.stage2(d.up2(F.silu(h))) + r2
        h = d.stage1(d.up1(F.silu(h))) + r1
        h = d.stage0(d.up0(F.silu(h))) + r0
        h = d.head(F.silu(h))
        frames, t = _fold_time(h)
        return _unfold_time(unpatchify(frames, d.config.haar_levels), t)

    def forward(self, indices: torch.Tensor, latent: torch.Tensor) -> torch.Tensor:
        """Token indices (N, 1+k, h, w) and dequantised latent (N, C, T', h, w) -> video (N, 3, 1+8k, 16h, 16w)."""
        return self.decode_codes(self.decoder.fsq.indices_to_codes(indices), latent)


def freeze(module: nn.Module) -> nn.Module:
    """Stop ``module`` from training (requires_grad False on every parameter); returns it."""
    for p in module.parameters():
        p.requires_grad_(False)
    return module


def latent_bits(ccm: ContinuousContextModel, values: torch.Tensor,
                context: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Code length in bits of a quantised latent (N, C, T', h, w) under the CCM mirror, coded as the
    integer coder does: frame by frame, anchors (pass 0) then the rest (pass 1), each frame
    conditioned on the previous one. context: (N, Q, T', h, w) caller planes or None."""
    n, c, t, h, w = values.shape
    if c != ccm.config.channels:
        raise ModelConfigError(f"latent has {c} channels, the context model codes {ccm.config.channels}")
    total = values.new_zeros(())
    for f in range(t):
        cur = values[:, :, f]
        prev = values[:, :, f - 1] if f else None
        ctx = context[:, :, f] if context is not None else None
        for p in (0, 1):
            planes = context_planes(ctx, prev, cur, p)
            total = total + ccm.bits(planes, cur, checkerboard_mask(h, w, p).to(values))
    return total


def rate_distortion_loss(source: torch.Tensor, decoded: torch.Tensor, bits: torch.Tensor,
                         lam: float) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(L, D, R) with D the mean squared error on [-1, 1] pixels and R in bits per pixel; L = D + lam * R."""
    n, _, t, h, w = source.shape
    d = F.mse_loss(decoded, source)
    r = bits / (n * t * h * w)
    return d + lam * r, d, r
