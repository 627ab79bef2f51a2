"""Cutting one input into GoP-aligned frame ranges that workers read on their own.

The driver indexes the input once without decoding it (a Y4M file: its frame markers;
any other file: its video packets' timestamps), so every range knows where it starts:
its first frame's number and, for containers, that frame's pts to seek to.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple, Union

from ..errors import InvalidArgumentError, InvalidDataError
from ..video import VideoInfo, open_input
from ..video import y4m

PathLike = Union[str, os.PathLike]


@dataclass(frozen=True)
class InputIndex:
    """Where the frames of an input are: ``frame_count`` frames; ``pts``, for a container
    whose packets all carry one, the presentation timestamps of its frames in order
    (None for Y4M, whose frames are found by counting, and for containers without them,
    whose ranges are then decoded from the start)."""

    path: str
    info: VideoInfo
    frame_count: int
    pts: Optional[Tuple[int, ...]] = None


@dataclass(frozen=True)
class FrameRange:
    """Frames ``start`` .. ``stop - 1`` of ``path``, which are GoPs ``first_gop`` on.
    ``pts``: their timestamps when the input was indexed by them (see InputIndex)."""

    path: str
    start: int
    stop: int
    first_gop: int
    pts: Optional[Tuple[int, ...]] = None

    @property
    def frames(self) -> int:
        return self.stop - self.start


def index_input(path: PathLike, max_frames: Optional[int] = None) -> InputIndex:
    """Indexes a video file (not '-': every worker must open the input itself)."""
    name = os.fspath(path)
    if name == "-":
        raise InvalidArgumentError("parallel encoding needs an input file every worker can read, not '-' (stdin)")
    with open_input(name) as reader:  # checks the file exists and is a video; gives its info
        info = reader.info
    if Path(name).suffix.lower() == ".y4m":
        with open(name, "rb") as f:
            count = y4m.count_frames(f, y4m.read_header(f))
        pts = None
    else:
        pts = _packet_pts(name)
        count = len(pts) if pts is not None else _decoded_count(name)
    if max_frames is not None:
        count = min(count, max_frames)
        pts = pts[:count] if pts is not None else None
    return InputIndex(name, info, count, pts)


def _packet_pts(path: str) -> Optional[Tuple[int, ...]]:
    """The sorted pts of the video stream's packets (demuxed, not decoded); None when a
    packet has none."""
    import av

    with av.open(path) as container:
        stream = container.streams.video[0]
        found = []
        try:
            for packet in container.demux(stream):
                if packet.size == 0 or packet.is_discard:
                    continue  # the demuxer's end marker; samples an edit list cuts away
                if packet.pts is None:
                    return None
                found.append(int(packet.pts))
        except av.error.FFmpegError as exc:
            raise InvalidDataError(f"reading {path} failed: {exc}") from None
    found.sort()
    return tuple(found)


def _decoded_count(path: str) -> int:
    with open_input(path) as reader:
        return sum(1 for _ in reader)


def plan_ranges(index: InputIndex, gop_length: int, gops_per_range: int) -> List[FrameRange]:
    """Consecutive ranges of ``gops_per_range`` GoPs (the last may be shorter) covering
    every frame of ``index`` once."""
    if gops_per_range < 1:
        raise InvalidArgumentError(f"gops_per_range must be at least 1, got {gops_per_range}")
    step = gop_length * gops_per_range
    ranges = []
    for start in range(0, index.frame_count, step):
        stop = min(start + step, index.frame_count)
        pts = index.pts[start:stop] if index.pts is not None else None
        ranges.append(FrameRange(index.path, start, stop, start // gop_length, pts))
    return ranges
