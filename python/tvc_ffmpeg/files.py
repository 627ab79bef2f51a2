"""``tvc_ffmpeg.open``: .tvc files as frame sources and sinks.

    with tvc_ffmpeg.open("out.tvc", "w", info=reader.info) as f:
        for frame in frames:
            f.write(frame)
    with tvc_ffmpeg.open("out.tvc") as f:
        for frame in f:          # decoded Frames; damaged GoPs are skipped with a warning
            ...
"""

from __future__ import annotations

import logging
import os
from typing import Iterator, Optional, Union

from .bitstream import TvcReader, TvcWriter
from .codec import CodecModel, Decoder, Encoder
from .codec.session import DEFAULT_GOP_LENGTH, DEFAULT_QUALITY
from .errors import InvalidArgumentError, InvalidDataError
from .video.frames import Frame, VideoInfo

log = logging.getLogger(__name__)


class TvcOutput:
    """A .tvc file being written frame by frame."""

    def __init__(self, path: Union[str, os.PathLike], info: VideoInfo, model: Optional[CodecModel],
                 gop_length: int, quality: int, target_bitrate: Optional[float]) -> None:
        self._encoder = Encoder(info, model, gop_length, quality, target_bitrate=target_bitrate)
        self._writer = TvcWriter(path, self._encoder.header)

    def write(self, frame: Frame) -> None:
        for packet in self._encoder.encode(frame):
            self._writer.write_packet(packet)

    def close(self) -> None:
        if self._writer is not None:
            for packet in self._encoder.encode(None):
                self._writer.write_packet(packet)
            self._writer.close()
            self._writer = None

    def __enter__(self) -> "TvcOutput":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class TvcInput:
    """A .tvc file read as decoded frames."""

    def __init__(self, path: Union[str, os.PathLike], model: Optional[CodecModel]) -> None:
        self._reader = TvcReader(path)
        self._decoder = Decoder(self._reader.header, model)
        self.info = self._decoder.info
        self.damaged = 0

    def __iter__(self) -> Iterator[Frame]:
        for record, packet in self._reader:
            if packet is None:
                self.damaged += 1
                log.warning("skipping damaged data at byte %d: %s", record.offset, record.error)
                continue
            try:
                frames = self._decoder.decode(packet)
            except InvalidDataError as exc:
                self.damaged += 1
                log.warning("skipping GoP %d: %s", packet.gop_index, exc)
                continue
            yield from frames

    def close(self) -> None:
        pass

    def __enter__(self) -> "TvcInput":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open(path: Union[str, os.PathLike], mode: str = "r", *, info: Optional[VideoInfo] = None,
         model: Optional[CodecModel] = None, gop_length: int = DEFAULT_GOP_LENGTH,
         quality: int = DEFAULT_QUALITY, target_bitrate: Optional[float] = None):
    """Open a .tvc file: mode "r" yields decoded frames, mode "w" (needs ``info``) encodes
    them at ``quality`` (0..3, higher = better) or at ``target_bitrate`` bits per second."""
    if mode == "r":
        return TvcInput(path, model)
    if mode == "w":
        if info is None:
            raise InvalidArgumentError('tvc_ffmpeg.open(..., "w") needs info=VideoInfo(...)')
        return TvcOutput(path, info, model, gop_length, quality, target_bitrate)
    raise InvalidArgumentError(f'mode must be "r" or "w", not {mode!r}')
