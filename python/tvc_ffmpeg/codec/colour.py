"""Closed-loop DC colour correction: substream kind 128 (docs/bitstream.md, docs/codec.md).

The tokenizer's pixel decoder shifts the mean of the chroma planes on clips it was not
trained on (a colour cast: green grass turns brown), and PSNR-Y never sees it. The encoder
therefore decodes its own packet with a real Decoder (exactly what a viewer will get),
measures per plane the mean of source minus decoded over the GoP, and sends the three
offsets in quarter code values. The Decoder adds them to its output planes.

Why quarter code values: the goal is a cast of at most 0.5 code values, and whole code
values would spend all of it on rounding. A fraction of a code value cannot be added to
8-bit samples directly, so it is spread over a 2x2 ordered pattern (one sample in four gets
+1 per quarter): every 2x2 block, and so every even-sized plane, shifts its mean by exactly
the offset, and the pattern is a +-1 ripple no viewer sees at 8 bits.

A payload that does not parse (a valid CRC, so an encoder bug or a later extension this
decoder does not know) is ignored with a logged warning: the GoP's picture is complete
without the correction, and dropping the GoP would cost far more than a small cast.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import List, Optional, Sequence

import numpy as np

from ..bitstream import SUBSTREAM_COLOUR, GopPacket
from ..errors import InvalidDataError
from ..video.frames import RANGE_FULL, Frame

log = logging.getLogger(__name__)

STEPS_PER_CODE_VALUE = 4  # offsets are coded in quarter code values
MAX_OFFSET = 255 * STEPS_PER_CODE_VALUE  # a larger shift than this leaves no picture to correct
# The most a GoP packet grows by its kind-128 substream: kind, size, three 2-byte values.
MAX_CORRECTION_BITS = 8 * (1 + 1 + 3 * 2)
# Which sample of each 2x2 block takes the +1 for the first, second, third quarter (Bayer order:
# the first two quarters land on a diagonal, so the ripple has no stripes).
_DITHER_RANK = np.array([[0, 2], [3, 1]], dtype=np.int16)
# The encoder re-measures after applying and adjusts, because clipping at the range limits
# makes the realised shift smaller than the one asked for.
_REFINE_PASSES = 4
PLANES = ("y", "u", "v")


@dataclass(frozen=True)
class ColourCorrection:
    """Offsets to add to the decoded Y, U and V planes, in quarter code values (signed)."""

    y: int = 0
    u: int = 0
    v: int = 0

    def __post_init__(self) -> None:
        for name in PLANES:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or abs(value) > MAX_OFFSET:
                raise InvalidDataError(f"colour correction {name} must be an integer in "
                                       f"[-{MAX_OFFSET}, {MAX_OFFSET}] quarter code values, got {value!r}")

    @property
    def is_zero(self) -> bool:
        return self.y == 0 and self.u == 0 and self.v == 0

    def code_values(self) -> tuple:
        """(y, u, v) in code values (floats)."""
        return tuple(getattr(self, n) / STEPS_PER_CODE_VALUE for n in PLANES)

    def to_payload(self) -> bytes:
        """Three ``sv`` (zig-zag LEB128): y, u, v."""
        return b"".join(_write_sv(int(getattr(self, n))) for n in PLANES)

    @classmethod
    def from_payload(cls, payload: bytes) -> "ColourCorrection":
        """Parses a kind-128 payload; InvalidDataError unless it is exactly three ``sv`` in range."""
        values, pos = [], 0
        for name in PLANES:
            value, pos = _read_sv(payload, pos, name)
            values.append(value)
        if pos != len(payload):
            raise InvalidDataError(f"colour correction payload has {len(payload) - pos} bytes after its "
                                   "three values")
        return cls(*values)


def _write_sv(value: int) -> bytes:
    zigzag = (value << 1) if value >= 0 else ((-value) << 1) - 1
    out = bytearray()
    while True:
        byte = zigzag & 0x7F
        zigzag >>= 7
        if zigzag:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _read_sv(data: bytes, pos: int, name: str):
    zigzag, shift = 0, 0
    # Values are at most 2 * MAX_OFFSET < 2^14: two LEB128 bytes. A third is malformed.
    for i in range(2):
        if pos + i >= len(data):
            raise InvalidDataError(f"colour correction payload ends inside its {name} value")
        byte = data[pos + i]
        zigzag |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            value = (zigzag >> 1) if not zigzag & 1 else -((zigzag + 1) >> 1)
            if abs(value) > MAX_OFFSET:
                raise InvalidDataError(f"colour correction {name} = {value} is outside "
                                       f"[-{MAX_OFFSET}, {MAX_OFFSET}] quarter code values")
            return value, pos + i + 1
    raise InvalidDataError(f"colour correction {name} value is longer than 2 bytes")


def plane_limits(color_range: int, plane: str) -> tuple:
    """The (lowest, highest) 8-bit code value of ``plane`` in ``color_range`` (unspecified is
    coded as limited range, as video/color.py does)."""
    if color_range == RANGE_FULL:
        return 0, 255
    return (16, 235) if plane == "y" else (16, 240)


def shift_plane(plane: np.ndarray, offset: int, low: int, high: int) -> np.ndarray:
    """``plane`` (uint8) plus ``offset`` quarter code values, dithered 2x2, clipped to [low, high]."""
    whole, quarters = divmod(int(offset), STEPS_PER_CODE_VALUE)  # floor division: quarters in 0..3
    h, w = plane.shape
    rank = np.tile(_DITHER_RANK, ((h + 1) // 2, (w + 1) // 2))[:h, :w]
    shifted = plane.astype(np.int16) + np.int16(whole) + (rank < quarters)
    return np.clip(shifted, low, high).astype(np.uint8)


def apply_correction(frames: Sequence[Frame], correction: ColourCorrection, color_range: int) -> List[Frame]:
    """The frames with ``correction`` added to their planes (new Frame objects)."""
    if correction.is_zero:
        return list(frames)
    limits = {n: plane_limits(color_range, n) for n in PLANES}
    out = []
    for f in frames:
        planes = {n: shift_plane(getattr(f, n), getattr(correction, n), *limits[n]) for n in PLANES}
        out.append(Frame(planes["y"], planes["u"], planes["v"], pts=f.pts, meta=dict(f.meta)))
    return out


def _mean_offsets(source: Sequence[Frame], decoded: Sequence[Frame]) -> np.ndarray:
    """mean(source) - mean(decoded) per plane over every sample of the GoP, code values."""
    out = []
    for n in PLANES:
        src = np.stack([getattr(f, n) for f in source]).mean(dtype=np.float64)
        dec = np.stack([getattr(f, n) for f in decoded]).mean(dtype=np.float64)
        out.append(src - dec)
    return np.array(out)


def measure_correction(source: Sequence[Frame], decoded: Sequence[Frame], color_range: int) -> ColourCorrection:
    """The offsets that bring the decoded GoP's plane means to the source's, in quarter code
    values, accounting for the clipping a decoder applies (closed loop)."""
    if len(source) != len(decoded) or not source:
        raise InvalidDataError(f"colour correction needs the same number of source and decoded frames "
                               f"(got {len(source)} and {len(decoded)})")
    target = _mean_offsets(source, decoded) * STEPS_PER_CODE_VALUE  # quarters, as measured
    steps = np.clip(np.rint(target), -MAX_OFFSET, MAX_OFFSET).astype(np.int64)
    for _ in range(_REFINE_PASSES):
        if not steps.any():
            break
        corrected = apply_correction(decoded, ColourCorrection(*(int(s) for s in steps)), color_range)
        realised = (_mean_offsets(corrected, decoded)) * STEPS_PER_CODE_VALUE  # what the decoder will add
        residual = target - realised
        # Clipping scales the shift down by the share of samples that can still move; dividing
        # by that gain (Newton's step, as the shift is linear in the offset until it clips)
        # settles in one or two passes where plain re-measuring only halves the error each time.
        gain = np.where(steps != 0, realised / np.where(steps != 0, steps, 1), 1.0)
        change = np.rint(residual / np.clip(gain, 0.1, 1.0)).astype(np.int64)
        if not change.any():
            break
        steps = np.clip(steps + change, -MAX_OFFSET, MAX_OFFSET)
    return ColourCorrection(*(int(s) for s in steps))


def correction_of(packet: GopPacket) -> Optional[ColourCorrection]:
    """The packet's colour correction; None without one, or (with a warning) when its payload
    does not parse."""
    payload = packet.substream(SUBSTREAM_COLOUR)
    if payload is None:
        return None
    try:
        return ColourCorrection.from_payload(payload)
    except InvalidDataError as exc:
        log.warning("GoP %d: colour correction ignored: %s", packet.gop_index, exc)
        return None


def with_correction(packet: GopPacket, correction: ColourCorrection) -> GopPacket:
    """``packet`` with a kind-128 substream carrying ``correction`` (unchanged when it is zero)."""
    import dataclasses

    if correction.is_zero:
        return packet
    kept = tuple((k, p) for k, p in packet.substreams if k != SUBSTREAM_COLOUR)
    return dataclasses.replace(packet, substreams=kept + ((SUBSTREAM_COLOUR, correction.to_payload()),))
