"""Writing video: Y4M to a file or a pipe ('-'), or any container PyAV writes.

Encoders by extension: .y4m raw; .mkv FFV1 (lossless, any size); .mp4/.mov
libx264 at CRF 16 (needs even width and height, a limit of 4:2:0 H.264). The
stream is tagged with the colour properties of the source.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path
from typing import Iterator, Union

import numpy as np

from ..errors import InvalidArgumentError
from . import y4m
from .frames import Frame, VideoInfo

PathLike = Union[str, Path]
_ENCODERS = {".mkv": ("ffv1", {}), ".mp4": ("libx264", {"crf": "16"}), ".mov": ("libx264", {"crf": "16"})}


STDOUT_NAME = "<stdout>"  # the file name an error on standard output carries


@contextmanager
def _writing(name: str) -> Iterator[None]:
    """Re-raise an OSError from writing the output with its file name and the action,
    so the CLI can say "cannot write: out.y4m: No space left on device" (a write()
    on a full disk raises without a file name, and PyAV's errors carry none)."""
    try:
        yield
    except OSError as exc:
        # OSError(errno, ...) picks the matching subclass (BrokenPipeError, ...).
        new = OSError(exc.errno, exc.strerror or str(exc), exc.filename if exc.filename else name)
        new.tvc_action = "cannot write"
        raise new from exc


class VideoWriter:
    def write(self, frame: Frame) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Y4mWriter(VideoWriter):
    def __init__(self, f, info: VideoInfo, owns: bool, name: str) -> None:
        self._f, self._owns, self._name = f, owns, name
        with _writing(name):
            y4m.write_header(f, info)

    def write(self, frame: Frame) -> None:
        with _writing(self._name):
            y4m.write_frame(self._f, frame)

    def close(self) -> None:
        if self._f is None:
            return
        f, self._f = self._f, None
        with _writing(self._name):
            if self._owns:
                f.close()
            else:
                f.flush()


class PyAVWriter(VideoWriter):
    def __init__(self, path: Path, info: VideoInfo) -> None:
        import av

        codec, options = _ENCODERS[path.suffix.lower()]
        if codec == "libx264" and (info.width % 2 or info.height % 2):
            raise InvalidArgumentError(
                f"{path.suffix} output uses H.264 4:2:0, which needs even sizes; "
                f"{info.width}x{info.height} is odd: write .mkv (FFV1) or .y4m instead"
            )
        self._av = av
        self._name = str(path)
        with _writing(self._name):
            self._container = av.open(self._name, "w")
        rate = Fraction(info.frame_rate).limit_denominator(1_000_000)
        self._stream = self._container.add_stream(codec, rate=rate)
        self._stream.width, self._stream.height = info.width, info.height
        self._stream.pix_fmt = "yuv420p"
        self._stream.options = dict(options)
        cc = self._stream.codec_context
        cc.color_range = info.color_range
        cc.colorspace = info.colorspace
        cc.color_primaries = info.color_primaries
        cc.color_trc = info.color_trc
        if info.sample_aspect_ratio[0]:
            cc.sample_aspect_ratio = Fraction(*info.sample_aspect_ratio)
        self._info = info
        self._index = 0

    def write(self, frame: Frame) -> None:
        f = self._av.VideoFrame(frame.width, frame.height, "yuv420p")
        for plane, data in zip(f.planes, (frame.y, frame.u, frame.v)):
            buf = np.zeros((plane.height, plane.line_size), np.uint8)
            buf[:, : data.shape[1]] = data
            plane.update(buf)
        f.pts = self._index
        f.time_base = 1 / Fraction(self._stream.average_rate or self._info.frame_rate)
        f.color_range = self._info.color_range
        f.colorspace = self._info.colorspace
        self._index += 1
        with _writing(self._name):
            for packet in self._stream.encode(f):
                self._container.mux(packet)

    def close(self) -> None:
        if self._container is not None:
            container, self._container = self._container, None
            with _writing(self._name):
                try:
                    for packet in self._stream.encode(None):
                        container.mux(packet)
                finally:
                    container.close()


def open_output(path: PathLike, info: VideoInfo) -> VideoWriter:
    """'-' writes Y4M to stdout; the extension picks the format otherwise."""
    if str(path) == "-":
        return Y4mWriter(sys.stdout.buffer, info, owns=False, name=STDOUT_NAME)
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".y4m":
        with _writing(str(p)):
            f = open(p, "wb")
        return Y4mWriter(f, info, owns=True, name=str(p))
    if suffix in _ENCODERS:
        return PyAVWriter(p, info)
    raise InvalidArgumentError(
        f"cannot tell the output format of {p.name}: use .y4m, .mkv (FFV1), .mp4 or .mov "
        "(H.264), or '-' for Y4M on stdout"
    )
