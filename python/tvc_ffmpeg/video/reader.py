"""Reading video: any file PyAV opens, or Y4M from a pipe ('-').

Frames come out as 8-bit 4:2:0. Other pixel formats are converted with one
warning naming the source format (its chroma format and bit depth are kept in
VideoInfo and written to the stream header).
"""

from __future__ import annotations

import logging
import sys
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO, Iterator, Optional, Union

import numpy as np

from ..errors import InvalidArgumentError, InvalidDataError
from . import y4m
from .frames import RANGE_FULL, RANGE_UNSPECIFIED, UNSPECIFIED, Frame, VideoInfo

log = logging.getLogger(__name__)

PathLike = Union[str, Path]


def _source_format(pix_fmt: str):
    """(chroma_format, bit_depth, full_range) of an FFmpeg pixel format name, from
    FFmpeg's own description of it (the chroma format as in VideoInfo: 4:0:0 for
    grey, 4:4:4 for RGB; for YUV, the one of 4:2:0, 4:2:2 and 4:4:4 with as many chroma
    samples, or 4:2:0 when fewer: the stream header has no 4:1:1 or 4:4:0)."""
    import av

    fmt = av.VideoFormat(pix_fmt)
    depth = max(c.bits for c in fmt.components)
    full = pix_fmt.startswith("yuvj")
    if fmt.is_rgb:
        return 3, depth, full
    if len(fmt.components) <= 2:  # grey, grey + alpha
        return 0, depth, full
    share = fmt.chroma_width(64) * fmt.chroma_height(64)  # of 64 * 64 luma samples
    return (3 if share >= 64 * 64 else 2 if share >= 64 * 32 else 1), depth, full


class VideoReader:
    """Iterates Frames; ``info`` describes the stream. Use as a context manager."""

    def __init__(self, info: VideoInfo, frames: Iterator[Frame], closer=None) -> None:
        self.info = info
        self._frames = frames
        self._closer = closer

    def __iter__(self) -> Iterator[Frame]:
        return self._frames

    def close(self) -> None:
        if self._closer is not None:
            self._closer()
            self._closer = None

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _open_y4m(f: BinaryIO, name: str, closer=None, start: int = 0) -> VideoReader:
    try:
        header = y4m.read_header(f)
        skipped = y4m.skip_frames(f, header, start)  # seeks: only a file is given a start
    except BaseException:
        if closer is not None:
            closer()
        raise
    if not header.layout.is_native:
        log.warning("converting %s from Y4M C%s (%s) to 8-bit 4:2:0", name, header.layout.tag,
                    header.layout.description)
    frames = y4m.read_frames(f, header, first_index=skipped) if skipped == start else iter(())
    return VideoReader(header.info, frames, closer)


def _open_pyav(path: PathLike, start: int = 0, start_pts: Optional[int] = None) -> VideoReader:
    import av

    try:
        container = av.open(str(path))
    except (av.error.FileNotFoundError, FileNotFoundError):
        raise InvalidArgumentError(f"input file not found: {path}") from None
    except av.error.FFmpegError as exc:
        raise InvalidDataError(f"cannot open {path} as video: {exc}") from None
    if not container.streams.video:
        container.close()
        raise InvalidDataError(f"{path} has no video stream")
    stream = container.streams.video[0]
    cc = stream.codec_context
    chroma, depth, full = _source_format(cc.pix_fmt or "yuv420p")
    rate = stream.average_rate or stream.guessed_rate or Fraction(25)
    sar = cc.sample_aspect_ratio
    color_range = int(cc.color_range or RANGE_UNSPECIFIED)
    if full and color_range == RANGE_UNSPECIFIED:
        color_range = RANGE_FULL
    info = VideoInfo(
        width=cc.width,
        height=cc.height,
        frame_rate=Fraction(rate),
        time_base=Fraction(stream.time_base) if stream.time_base else 1 / Fraction(rate),
        sample_aspect_ratio=(sar.numerator, sar.denominator) if sar else (0, 1),
        color_primaries=int(cc.color_primaries or UNSPECIFIED),
        color_trc=int(cc.color_trc or UNSPECIFIED),
        colorspace=int(cc.colorspace or UNSPECIFIED),
        color_range=color_range,
        chroma_format=chroma,
        bit_depth=depth,
    )

    def frames() -> Iterator[Frame]:
        warned = False
        index = 0
        try:
            if start_pts is not None:
                # The keyframe at or before start_pts; the frames before it are dropped below.
                container.seek(start_pts, stream=stream, backward=True, any_frame=False)
            for f in container.decode(stream):
                if start_pts is not None and f.pts is not None and f.pts < start_pts:
                    continue
                if start_pts is None and index < start:
                    index += 1  # decoded (it must be) but never converted
                    continue
                if f.format.name != "yuv420p":
                    if not warned:
                        log.warning("converting %s from %s to 8-bit 4:2:0 (yuv420p)", path, f.format.name)
                        warned = True
                    f = f.reformat(format="yuv420p")
                planes = []
                for i, p in enumerate(f.planes):
                    h = p.height
                    w = p.width
                    arr = np.frombuffer(p, np.uint8).reshape(h, p.line_size)[:, :w]
                    planes.append(np.ascontiguousarray(arr))
                pts = f.pts if f.pts is not None else index * info.frame_duration
                yield Frame(planes[0], planes[1], planes[2], pts=int(pts))
                index += 1
        except av.error.FFmpegError as exc:
            raise InvalidDataError(f"decoding {path} failed at frame {index}: {exc}") from None

    return VideoReader(info, frames(), container.close)


def open_input(path: PathLike, *, start: int = 0, start_pts: Optional[int] = None) -> VideoReader:
    """'-' reads Y4M from stdin; a .y4m path is read directly; anything else through PyAV.

    ``start`` skips that many frames of a file: a Y4M file seeks over them; other files
    decode them unless ``start_pts``, the pts of frame ``start``, is given: then the reader
    seeks to the keyframe at or before it and drops the frames before it (the caller checks
    it got the frames it wanted: tvc_ffmpeg.distributed does)."""
    if str(path) == "-":
        if start:
            raise InvalidArgumentError("stdin cannot seek: a start frame needs an input file")
        return _open_y4m(sys.stdin.buffer, "<stdin>")
    p = Path(path)
    if not p.exists():
        raise InvalidArgumentError(f"input file not found: {p}")
    if p.is_dir():
        raise InvalidArgumentError(f"input is a directory, not a video: {p}")
    if p.suffix.lower() == ".y4m":
        f = open(p, "rb")
        return _open_y4m(f, str(p), f.close, start)
    return _open_pyav(p, start, start_pts)
