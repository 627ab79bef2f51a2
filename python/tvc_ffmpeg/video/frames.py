"""Frames and stream properties as the codec sees them."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Tuple

import numpy as np

from ..errors import InvalidArgumentError

# ITU-T H.273 code points (= FFmpeg's AVCOL_* values) used below.
UNSPECIFIED = 2
RANGE_UNSPECIFIED, RANGE_LIMITED, RANGE_FULL = 0, 1, 2


@dataclass(frozen=True)
class VideoInfo:
    """Properties of a video stream, carried from input to .tvc header to output."""

    width: int
    height: int
    frame_rate: Fraction = Fraction(25)
    time_base: Fraction = Fraction(1, 25)
    sample_aspect_ratio: Tuple[int, int] = (0, 1)
    color_primaries: int = UNSPECIFIED
    color_trc: int = UNSPECIFIED
    colorspace: int = UNSPECIFIED
    color_range: int = RANGE_UNSPECIFIED
    chroma_format: int = 1  # of the source: 0 = 4:0:0, 1 = 4:2:0, 2 = 4:2:2, 3 = 4:4:4
    bit_depth: int = 8      # of the source

    def __post_init__(self) -> None:
        if self.width < 1 or self.height < 1:
            raise InvalidArgumentError(f"picture size must be at least 1x1, got {self.width}x{self.height}")
        if self.frame_rate <= 0 or self.time_base <= 0:
            raise InvalidArgumentError("frame rate and time base must be positive")

    @property
    def chroma_size(self) -> Tuple[int, int]:
        """(height, width) of the 4:2:0 chroma planes."""
        return (self.height + 1) // 2, (self.width + 1) // 2

    @property
    def frame_duration(self) -> int:
        """One frame in time_base units (rounded; exact for the usual rates)."""
        return max(1, round(1 / (self.frame_rate * self.time_base)))


@dataclass
class Frame:
    """One 8-bit 4:2:0 picture: full-size y, half-size u and v (rounded up)."""

    y: np.ndarray
    u: np.ndarray
    v: np.ndarray
    pts: int = 0
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("y", "u", "v"):
            plane = getattr(self, name)
            if not isinstance(plane, np.ndarray) or plane.dtype != np.uint8 or plane.ndim != 2:
                raise InvalidArgumentError(f"frame plane {name} must be a 2-D uint8 array")
        h, w = self.y.shape
        want = ((h + 1) // 2, (w + 1) // 2)
        if self.u.shape != want or self.v.shape != want:
            raise InvalidArgumentError(
                f"chroma planes of a {w}x{h} 4:2:0 frame must be {want[1]}x{want[0]}, "
                f"got {self.u.shape[1]}x{self.u.shape[0]} and {self.v.shape[1]}x{self.v.shape[0]}"
            )

    @property
    def width(self) -> int:
        return int(self.y.shape[1])

    @property
    def height(self) -> int:
        return int(self.y.shape[0])
