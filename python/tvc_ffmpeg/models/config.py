"""Typed, frozen configurations of the tokenizer family.

Every field is explicit (no ``**kwargs`` passthrough), so a misspelt option fails at
construction instead of silently meaning "default".
"""

from __future__ import annotations

from ..errors import ModelConfigError
import math
from dataclasses import asdict, dataclass
from typing import ClassVar, Tuple


@dataclass(frozen=True)
class TokenizerConfig:
    """A causal video tokenizer: Haar patchify -> encoder -> FSQ -> decoder -> inverse Haar.

    Widths are given per resolution stage, from fine to coarse:
    stage 0 runs at H/4 (after the 2-level Haar patchify) and full frame rate, stage 1 at
    H/8 and T/2, stage 2 at H/16 and T/4, stage 3 at H/16 and T/8 (the latent grid).
    """

    fsq_levels: Tuple[int, ...] = (8, 5, 5, 5)
    haar_levels: int = 2
    encoder_widths: Tuple[int, int, int, int] = (64, 128, 192, 256)
    encoder_blocks: Tuple[int, int, int, int] = (0, 1, 1, 2)
    decoder_widths: Tuple[int, int, int, int] = (64, 128, 192, 256)
    decoder_blocks: Tuple[int, int, int, int] = (1, 2, 2, 2)
    temporal_kernel: int = 3
    in_channels: int = 3

    # Fixed by the architecture (Haar x4, two stride-2 convs; three stride-2 temporal steps).
    temporal_factor: ClassVar[int] = 8
    spatial_factor: ClassVar[int] = 16

    def __post_init__(self) -> None:
        if self.haar_levels != 2:
            raise ModelConfigError("haar_levels must be 2 (spatial factor 16 = 4 by Haar x 4 by convs)")
        if not self.fsq_levels or any(level < 2 for level in self.fsq_levels):
            raise ModelConfigError(f"fsq_levels must be a non-empty tuple of ints >= 2, got {self.fsq_levels}")
        for name in ("encoder_widths", "encoder_blocks", "decoder_widths", "decoder_blocks"):
            if len(getattr(self, name)) != 4:
                raise ModelConfigError(f"{name} needs 4 entries (one per stage)")
        if self.temporal_kernel < 1:
            raise ModelConfigError("temporal_kernel must be >= 1")

    @property
    def codebook_size(self) -> int:
        return int(math.prod(self.fsq_levels))

    @property
    def bits_per_token(self) -> float:
        return math.log2(self.codebook_size)

    def latent_frames(self, num_frames: int) -> int:
        if num_frames < 1 or (num_frames - 1) % self.temporal_factor:
            raise ModelConfigError(f"clip length must be 1 + {self.temporal_factor}k frames, got {num_frames}")
        return 1 + (num_frames - 1) // self.temporal_factor

    def raw_token_bpp(self, num_frames: int, height: int, width: int) -> float:
        """Raw token rate of one GoP: tokens * log2(codebook) / pixels, before entropy coding."""
        tokens = self.latent_frames(num_frames) * (height // self.spatial_factor) * (width // self.spatial_factor)
        return tokens * self.bits_per_token / (num_frames * height * width)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TokenizerConfig":
        known = {k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items()}
        fields = set(cls.__dataclass_fields__)
        unknown = set(known) - fields
        if unknown:
            raise ModelConfigError(f"unknown config keys {sorted(unknown)}")
        return cls(**known)
