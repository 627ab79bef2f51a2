"""YUV4MPEG2 (Y4M) reading and writing: raw video through pipes.

Reading accepts the layouts FFmpeg's yuv4mpegpipe writes (4:2:0, 4:2:2, 4:4:4,
4:1:1, 4:4:4 with alpha, monochrome; 8 to 16 bits) and converts them to the
codec's 8-bit 4:2:0, like the PyAV path does for other containers. Writing is
always 8-bit 4:2:0 (C420jpeg).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import BinaryIO, Dict, Iterator, Optional, Tuple

import numpy as np

from ..errors import InvalidDataError
from .frames import RANGE_FULL, RANGE_LIMITED, RANGE_UNSPECIFIED, Frame, VideoInfo

log = logging.getLogger(__name__)

MAGIC = b"YUV4MPEG2"
MAX_HEADER = 4096
MAX_SIDE = 16384  # the largest picture side a .tvc stream can describe (docs/bitstream.md)
FRAME_MARKER = b"FRAME"
_INTERLACING = {"p": "progressive", "t": "top field first", "b": "bottom field first",
                "m": "mixed", "?": "unknown"}


@dataclass(frozen=True)
class Layout:
    """How one frame's samples lie in the file: chroma subsampling and sample size."""

    tag: str            # the C parameter as written, e.g. "444p10"
    chroma_format: int  # as in VideoInfo: 0 = 4:0:0, 1 = 4:2:0, 2 = 4:2:2, 3 = 4:4:4
    sub_x: int          # chroma subsampling factors (0 for monochrome: no chroma planes)
    sub_y: int
    bit_depth: int
    alpha: bool = False

    @property
    def is_native(self) -> bool:
        """True when frames need no conversion (8-bit 4:2:0)."""
        return (self.sub_x, self.sub_y, self.bit_depth, self.alpha) == (2, 2, 8, False)

    @property
    def description(self) -> str:
        kind = {0: "4:0:0 (mono)", 1: "4:2:0", 2: "4:2:2", 3: "4:4:4"}[self.chroma_format]
        if self.sub_x == 4:
            kind = "4:1:1"
        return f"{kind}{' + alpha' if self.alpha else ''} {self.bit_depth}-bit"

    def plane_shapes(self, width: int, height: int) -> Tuple[Tuple[int, int], ...]:
        """(rows, columns) of each plane in file order."""
        if not self.sub_x:
            return ((height, width),)
        chroma = (-(-height // self.sub_y), -(-width // self.sub_x))
        return ((height, width), chroma, chroma) + (((height, width),) if self.alpha else ())

    def frame_bytes(self, width: int, height: int) -> int:
        size = 1 if self.bit_depth == 8 else 2
        return sum(r * c for r, c in self.plane_shapes(width, height)) * size


def _layout(tag: str) -> Optional[Layout]:
    """The Layout of a C parameter, or None when it is not one FFmpeg writes."""
    if tag in ("420", "420jpeg", "420mpeg2", "420paldv"):
        return Layout(tag, 1, 2, 2, 8)
    if tag == "444alpha":
        return Layout(tag, 3, 1, 1, 8, alpha=True)
    if tag == "411":
        # 4:1:1 has as many chroma samples as 4:2:0; the header's chroma field has
        # no 4:1:1 value, and 4:2:0 is the nearest of the four it has.
        return Layout(tag, 1, 4, 1, 8)
    m = re.fullmatch(r"(420|422|444)(?:p(9|10|12|14|16))?", tag)
    if m:
        sub = {"420": (1, 2, 2), "422": (2, 2, 1), "444": (3, 1, 1)}[m.group(1)]
        return Layout(tag, *sub, int(m.group(2) or 8))
    m = re.fullmatch(r"mono(9|10|12|16)?", tag)
    if m:
        return Layout(tag, 0, 0, 0, int(m.group(1) or 8))
    return None


@dataclass(frozen=True)
class Header:
    """A parsed stream header: what the codec sees (info) and how frames are stored."""

    info: VideoInfo
    layout: Layout


def _read_line(f: BinaryIO, what: str) -> Optional[bytes]:
    line = bytearray()
    while len(line) <= MAX_HEADER:
        c = f.read(1)
        if not c:
            if line:
                raise InvalidDataError(f"Y4M {what} ends without a newline")
            return None
        if c == b"\n":
            return bytes(line)
        line += c
    raise InvalidDataError(f"Y4M {what} longer than {MAX_HEADER} bytes")


def _parse_params(fields) -> Dict[str, str]:
    params: Dict[str, str] = {}
    for field in fields:
        if not field:
            continue  # two spaces in a row: tolerated
        key, value = field[:1].decode(errors="replace"), field[1:].decode(errors="replace")
        if key == "X":
            # Extension fields may repeat (XYSCSS=..., XCOLORRANGE=...): keep each by name.
            name, _, val = value.partition("=")
            params["X" + name] = val
        elif key in params:
            raise InvalidDataError(f"Y4M header has the field {key} twice")
        else:
            params[key] = value
    return params


def _count(text: str, field: str, value: str) -> int:
    if not re.fullmatch(r"[0-9]+", text):
        raise InvalidDataError(f"Y4M header field {field}{value} is not a whole number")
    return int(text)


def _ratio(p: Dict[str, str], field: str) -> Optional[Tuple[int, int]]:
    if field not in p:
        return None
    value = p[field]
    num, sep, den = value.partition(":")
    if not sep:
        raise InvalidDataError(f"Y4M header field {field}{value} is not num:den")
    return _count(num, field, value), _count(den, field, value)


def read_header(f: BinaryIO) -> Header:
    """Parse and check the stream header; every field's value is checked here, so
    nothing downstream meets a zero size or rate."""
    line = _read_line(f, "header")
    if line is None or not (line == MAGIC or line.startswith(MAGIC + b" ")):
        raise InvalidDataError("not a Y4M stream (expected 'YUV4MPEG2 ' at the start)")
    p = _parse_params(line.split(b" ")[1:])
    size = {}
    for field in ("W", "H"):
        if field not in p:
            raise InvalidDataError(f"Y4M header lacks the picture {'width W' if field == 'W' else 'height H'}")
        size[field] = _count(p[field], field, p[field])
        if not 1 <= size[field] <= MAX_SIDE:
            raise InvalidDataError(f"Y4M header field {field}{p[field]} is out of range (1..{MAX_SIDE})")
    rate = Fraction(25)
    fps = _ratio(p, "F")
    if fps is not None:
        if fps[0] == 0 or fps[1] == 0:
            raise InvalidDataError(f"Y4M header field F{p['F']}: frame rate num:den needs both > 0")
        rate = Fraction(*fps)
    sar = (0, 1)
    aspect = _ratio(p, "A")
    if aspect is not None and aspect[0]:  # A0:0 (and A0:n) mean "unknown"
        if aspect[1] == 0:
            raise InvalidDataError(f"Y4M header field A{p['A']}: sample aspect ratio has a zero denominator")
        sar = aspect
    interlacing = p.get("I", "p")
    if interlacing not in _INTERLACING:
        raise InvalidDataError(f"Y4M header field I{interlacing} is not one of I{', I'.join(_INTERLACING)}")
    if interlacing in "tbm":
        log.warning("Y4M input is interlaced (%s): its frames are coded as progressive pictures",
                    _INTERLACING[interlacing])
    layout = _layout(p.get("C", "420jpeg"))
    if layout is None:
        raise InvalidDataError(
            f"Y4M header field C{p['C']} is not a known colour space (420jpeg, 420mpeg2, 420paldv, "
            "411, 422, 444, 444alpha, mono, 420p10, 422p12, 444p16, mono10, ...)"
        )
    color_range = {"FULL": RANGE_FULL, "LIMITED": RANGE_LIMITED}.get(
        p.get("XCOLORRANGE", ""), RANGE_UNSPECIFIED)
    info = VideoInfo(width=size["W"], height=size["H"], frame_rate=rate, time_base=1 / rate,
                     sample_aspect_ratio=sar, color_range=color_range,
                     chroma_format=layout.chroma_format, bit_depth=layout.bit_depth)
    return Header(info, layout)


def _frame_marker(f: BinaryIO, index: int, header: Header) -> bool:
    """Read one frame's 'FRAME...' line; False at a clean end of the stream."""
    start = f.read(len(FRAME_MARKER))
    if not start:
        return False
    if start != FRAME_MARKER:
        if index == 0:
            raise InvalidDataError(f"Y4M frame 0: expected 'FRAME' after the header, got {start!r}")
        info = header.info
        raise InvalidDataError(
            f"Y4M frame {index}: expected FRAME marker after "
            f"{header.layout.frame_bytes(info.width, info.height)} bytes of {info.width}x{info.height} "
            f"{header.layout.description} data, got {start!r}; the header's size is probably wrong"
        )
    rest = _read_line(f, f"frame {index} header")
    if rest is None:
        raise InvalidDataError(f"Y4M frame {index} header ends without a newline")
    if rest and not rest.startswith(b" "):
        raise InvalidDataError(f"Y4M frame {index}: expected 'FRAME', got {(start + rest)[:16]!r}")
    return True


def skip_frames(f: BinaryIO, header: Header, count: int) -> int:
    """Moves a seekable file past up to ``count`` frames without reading their samples
    (each frame's 'FRAME' line is read, since it may carry parameters, then its data is
    seeked over); returns the number skipped, fewer at the end of the stream."""
    frame_bytes = header.layout.frame_bytes(header.info.width, header.info.height)
    for index in range(count):
        if not _frame_marker(f, index, header):
            return index
        f.seek(frame_bytes, 1)
    return count


def count_frames(f: BinaryIO, header: Header) -> int:
    """Frames left in a seekable file (from its position). A truncated last frame counts:
    reading it fails as read_frames does."""
    start = f.tell()
    count = skip_frames(f, header, 2**62)
    f.seek(start)
    return count


def read_frames(f: BinaryIO, header: Header, first_index: int = 0) -> Iterator[Frame]:
    """8-bit 4:2:0 Frames; other layouts are converted (see to_420). ``first_index``:
    the number of the frame at the file's position (its pts; after skip_frames)."""
    info, layout = header.info, header.layout
    shapes = layout.plane_shapes(info.width, info.height)
    frame_bytes = layout.frame_bytes(info.width, info.height)
    dtype = np.dtype(np.uint8) if layout.bit_depth == 8 else np.dtype("<u2")
    index = first_index
    while _frame_marker(f, index, header):
        data = f.read(frame_bytes)
        if len(data) != frame_bytes:
            hint = ""
            marker_at = data.find(FRAME_MARKER + b"\n")
            if marker_at >= 0:
                hint = (f"; it holds a FRAME marker at byte {marker_at}, "
                        f"so the header's size {info.width}x{info.height} is probably wrong")
            raise InvalidDataError(
                f"Y4M frame {index} is truncated ({len(data)} of {frame_bytes} bytes){hint}")
        samples = np.frombuffer(data, dtype)
        planes, at = [], 0
        for rows, cols in shapes:
            planes.append(samples[at : at + rows * cols].reshape(rows, cols))
            at += rows * cols
        y, u, v = to_420(planes, layout, info.width, info.height)
        yield Frame(y, u, v, pts=index)
        index += 1


def to_420(planes, layout: Layout, width: int, height: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Planes of any Layout -> 8-bit 4:2:0 (y, u, v), new arrays.

    Chroma is averaged over the samples that one 4:2:0 sample covers (edges
    replicated at odd sizes), or repeated where the source has fewer; samples
    above 8 bits are rounded to 8. Monochrome gets neutral chroma; alpha is dropped.
    """
    if layout.is_native:
        return planes[0].copy(), planes[1].copy(), planes[2].copy()
    shift = layout.bit_depth - 8
    y = _to_8bit(planes[0].astype(np.int64), shift)
    ch, cw = (height + 1) // 2, (width + 1) // 2
    if not layout.sub_x:
        neutral = np.full((ch, cw), 128, np.uint8)
        return y, neutral, neutral.copy()
    return y, _chroma(planes[1], layout, ch, cw, shift), _chroma(planes[2], layout, ch, cw, shift)


def _chroma(plane: np.ndarray, layout: Layout, ch: int, cw: int, shift: int) -> np.ndarray:
    c = plane.astype(np.int64)
    summed = 1
    if layout.sub_x == 1:
        c, summed = _pair_sum(c, axis=1), summed * 2
    elif layout.sub_x == 4:
        c = np.repeat(c, 2, axis=1)
    if layout.sub_y == 1:
        c, summed = _pair_sum(c, axis=0), summed * 2
    return _to_8bit(c[:ch, :cw], shift, summed)


def _pair_sum(c: np.ndarray, axis: int) -> np.ndarray:
    if c.shape[axis] % 2:
        pad = [(0, 0), (0, 0)]
        pad[axis] = (0, 1)
        c = np.pad(c, pad, mode="edge")
    first = c[:, 0::2] if axis == 1 else c[0::2]
    second = c[:, 1::2] if axis == 1 else c[1::2]
    return first + second


def _to_8bit(x: np.ndarray, shift: int, summed: int = 1) -> np.ndarray:
    """Sums of ``summed`` samples of 8 + ``shift`` bits -> rounded 8-bit means."""
    divisor = summed << shift
    return np.clip((x + divisor // 2) // divisor, 0, 255).astype(np.uint8)


def write_header(f: BinaryIO, info: VideoInfo) -> None:
    rate = info.frame_rate
    sar = info.sample_aspect_ratio if info.sample_aspect_ratio[0] else (0, 0)
    extra = {RANGE_FULL: " XCOLORRANGE=FULL", RANGE_LIMITED: " XCOLORRANGE=LIMITED"}.get(info.color_range, "")
    f.write(f"YUV4MPEG2 W{info.width} H{info.height} F{rate.numerator}:{rate.denominator} "
            f"Ip A{sar[0]}:{sar[1]} C420jpeg{extra}\n".encode())


def write_frame(f: BinaryIO, frame: Frame) -> None:
    f.write(b"FRAME\n")
    for plane in (frame.y, frame.u, frame.v):
        f.write(np.ascontiguousarray(plane).tobytes())
