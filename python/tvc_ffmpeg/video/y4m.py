"""YUV4MPEG2 (Y4M) reading and writing: raw 4:2:0 video through pipes."""

from __future__ import annotations

from fractions import Fraction
from typing import BinaryIO, Dict, Iterator, Optional

import numpy as np

from ..errors import InvalidDataError
from .frames import RANGE_FULL, RANGE_UNSPECIFIED, Frame, VideoInfo

MAGIC = b"YUV4MPEG2"
MAX_HEADER = 4096
_CHROMA_420 = {"420", "420jpeg", "420mpeg2", "420paldv"}


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
    return {f[:1].decode(): f[1:].decode(errors="replace") for f in fields if f}


def read_header(f: BinaryIO) -> VideoInfo:
    line = _read_line(f, "header")
    if line is None or not line.startswith(MAGIC):
        raise InvalidDataError("not a Y4M stream (expected 'YUV4MPEG2' at the start)")
    p = _parse_params(line.split(b" ")[1:])
    try:
        width, height = int(p["W"]), int(p["H"])
    except (KeyError, ValueError):
        raise InvalidDataError("Y4M header lacks a valid W or H") from None
    chroma = p.get("C", "420jpeg")
    if chroma not in _CHROMA_420:
        raise InvalidDataError(
            f"Y4M colour space C{chroma} is not supported: give 8-bit 4:2:0 (C420jpeg), e.g. "
            "ffmpeg ... -pix_fmt yuv420p -f yuv4mpegpipe -"
        )
    rate = Fraction(25)
    if "F" in p:
        try:
            num, den = (int(x) for x in p["F"].split(":"))
            rate = Fraction(num, den)
        except (ValueError, ZeroDivisionError):
            raise InvalidDataError(f"Y4M frame rate F{p['F']} is not num:den") from None
    sar = (0, 1)
    if "A" in p:
        try:
            a, b = (int(x) for x in p["A"].split(":"))
            sar = (a, b) if b else (0, 1)
        except ValueError:
            pass
    xcolor = p.get("X", "")
    color_range = RANGE_FULL if xcolor == "COLORRANGE=FULL" else RANGE_UNSPECIFIED
    return VideoInfo(width=width, height=height, frame_rate=rate, time_base=1 / rate,
                     sample_aspect_ratio=sar, color_range=color_range)


def read_frames(f: BinaryIO, info: VideoInfo) -> Iterator[Frame]:
    ch, cw = info.chroma_size
    sizes = (info.height * info.width, ch * cw, ch * cw)
    index = 0
    while True:
        line = _read_line(f, "frame header")
        if line is None:
            return
        if not line.startswith(b"FRAME"):
            raise InvalidDataError(f"Y4M frame {index}: expected 'FRAME', got {line[:16]!r}")
        data = f.read(sum(sizes))
        if len(data) != sum(sizes):
            raise InvalidDataError(f"Y4M frame {index} is truncated ({len(data)} of {sum(sizes)} bytes)")
        buf = np.frombuffer(data, np.uint8)
        y = buf[: sizes[0]].reshape(info.height, info.width)
        u = buf[sizes[0] : sizes[0] + sizes[1]].reshape(ch, cw)
        v = buf[sizes[0] + sizes[1] :].reshape(ch, cw)
        yield Frame(y.copy(), u.copy(), v.copy(), pts=index)
        index += 1


def write_header(f: BinaryIO, info: VideoInfo) -> None:
    rate = info.frame_rate
    sar = info.sample_aspect_ratio if info.sample_aspect_ratio[0] else (0, 0)
    extra = " XCOLORRANGE=FULL" if info.color_range == RANGE_FULL else ""
    f.write(f"YUV4MPEG2 W{info.width} H{info.height} F{rate.numerator}:{rate.denominator} "
            f"Ip A{sar[0]}:{sar[1]} C420jpeg{extra}\n".encode())


def write_frame(f: BinaryIO, frame: Frame) -> None:
    f.write(b"FRAME\n")
    for plane in (frame.y, frame.u, frame.v):
        f.write(np.ascontiguousarray(plane).tobytes())
