"""What a codec must offer to appear as one curve in the rate-distortion comparison.

A codec is anything with a ``name``, a list of ``levels`` (one RD point each) and an
``encode_decode`` method that compresses a whole clip at one level and returns the exact
number of bytes of its coded stream together with the decoded 8-bit 4:2:0 frames. The
classic encoders (:mod:`.classic`) implement it; our own codec plugs in the same way, or
through :class:`FunctionCodec` from a plain ``(clip, level) -> (num_bytes, decoded)``
function::

    from tvc_ffmpeg.rd import FunctionCodec
    ours = FunctionCodec("tvc-s-v3", levels=[1, 2, 3, 4], fn=my_encode_decode)

Bytes are "all bytes of the video stream": every byte a decoder needs (headers included),
no container overhead.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Callable, Protocol, Sequence, Tuple, Union, runtime_checkable

from ..errors import InvalidArgumentError
from ..metrics import Yuv420Clip

Level = Union[int, str]


@dataclass(frozen=True)
class SourceClip:
    """A clip under test: its name, 8-bit 4:2:0 planes and frame rate (for kbps)."""

    name: str
    frames: Yuv420Clip
    frame_rate: Fraction

    def __post_init__(self) -> None:
        y = self.frames.y
        if y.ndim != 3 or y.shape[0] < 1:
            raise InvalidArgumentError(f"clip {self.name!r}: luma must be (T, H, W) with T >= 1, got {y.shape}")
        t, h, w = y.shape
        if h % 2 or w % 2:
            raise InvalidArgumentError(f"clip {self.name!r}: 4:2:0 needs even width and height, got {w}x{h}")
        for plane in (self.frames.u, self.frames.v):
            if plane.shape != (t, h // 2, w // 2):
                raise InvalidArgumentError(f"clip {self.name!r}: chroma plane {plane.shape} does not match luma {y.shape}")
        if self.frame_rate <= 0:
            raise InvalidArgumentError(f"clip {self.name!r}: frame rate must be positive, got {self.frame_rate}")

    @property
    def width(self) -> int:
        return int(self.frames.y.shape[2])

    @property
    def height(self) -> int:
        return int(self.frames.y.shape[1])

    @property
    def num_frames(self) -> int:
        return self.frames.num_frames


@dataclass(frozen=True)
class CodedClip:
    """Result of coding one clip at one level.

    ``encode_seconds``/``decode_seconds`` are NaN when the codec cannot time the two halves
    separately; the harness then still records the wall time of the whole call.
    ``keyframes`` is the number of random-access frames in the stream, where known.
    """

    num_bytes: int
    decoded: Yuv420Clip
    encode_seconds: float = math.nan
    decode_seconds: float = math.nan
    keyframes: int = -1
    settings: str = ""  # the exact encoder settings, for the record
    encoder_version: str = ""


@runtime_checkable
class RdCodec(Protocol):
    """One curve of the comparison."""

    name: str

    @property
    def levels(self) -> Sequence[Level]:
        """The settings to run, one RD point each (any order)."""
        ...

    def encode_decode(self, clip: SourceClip, level: Level) -> CodedClip:
        """Code the whole clip at ``level``; decode it; report the stream's exact size."""
        ...


EncodeDecodeFn = Callable[[Yuv420Clip, Level], Union[Tuple[int, Yuv420Clip], CodedClip]]


@dataclass(frozen=True)
class FunctionCodec:
    """Adapts a plain function ``fn(clip, level) -> (num_bytes, decoded)`` to :class:`RdCodec`.

    If ``fn`` returns a bare tuple, encode and decode times are unknown (NaN) and only the
    wall time of the whole call is recorded; return a :class:`CodedClip` to give both.
    """

    name: str
    level_list: Tuple[Level, ...]
    fn: EncodeDecodeFn = field(repr=False)

    def __init__(self, name: str, levels: Sequence[Level], fn: EncodeDecodeFn) -> None:
        if not name:
            raise InvalidArgumentError("codec name must not be empty")
        if not levels:
            raise InvalidArgumentError(f"codec {name!r}: at least one level is needed")
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "level_list", tuple(levels))
        object.__setattr__(self, "fn", fn)

    @property
    def levels(self) -> Sequence[Level]:
        return self.level_list

    def encode_decode(self, clip: SourceClip, level: Level) -> CodedClip:
        out = self.fn(clip.frames, level)
        if isinstance(out, CodedClip):
            return out
        try:
            num_bytes, decoded = out
        except (TypeError, ValueError) as exc:
            raise InvalidArgumentError(
                f"codec {self.name!r}: encode_decode must return (num_bytes, Yuv420Clip) or CodedClip, got {type(out)}"
            ) from exc
        return CodedClip(num_bytes=int(num_bytes), decoded=decoded, settings=f"level={level}")


def timed(fn: Callable[[], object]) -> Tuple[object, float]:
    """Run ``fn`` and return (result, wall seconds)."""
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start
