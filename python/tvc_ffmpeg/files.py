"""``tvc_ffmpeg.open``: .tvc files as frame sources and sinks.

    with tvc_ffmpeg.open("out.tvc", "w", info=reader.info) as f:
        for frame in frames:
            f.write(frame)
    with tvc_ffmpeg.open("out.tvc") as f:
        for frame in f:          # decoded Frames; every loss is reported (f.damage)
            ...
"""

from __future__ import annotations

import logging
from typing import Callable, Iterable, Iterator, List, Optional, Union

from .bitstream import Damaged, PathOrFile, TvcReader, TvcWriter
from .codec import CodecModel, Decoder, Encoder
from .errors import InvalidArgumentError, InvalidDataError
from .settings import DecoderSettings, EncoderSettings
from .video.frames import Frame, VideoInfo

log = logging.getLogger(__name__)


def encode_into(writer: TvcWriter, encoder: Encoder, frames: Iterable[Frame],
                progress: Optional[Callable[[int], object]] = None) -> int:
    """The encode-write-flush loop: encodes ``frames`` into ``writer``, flushes the
    encoder's last GoP into it, and returns the number of frames read.
    ``progress(1)`` is called after each frame (e.g. a progress bar's update)."""
    count = 0
    for frame in frames:
        writer.write_packets(encoder.encode(frame))
        count += 1
        if progress is not None:
            progress(1)
    writer.write_packets(encoder.encode(None))
    return count


class TvcOutput:
    """A .tvc file being written frame by frame (renamed into place on close)."""

    def __init__(self, path: PathOrFile, info: VideoInfo, settings: Optional[EncoderSettings] = None, *,
                 model: Optional[CodecModel] = None) -> None:
        self._encoder = Encoder(info, settings, model=model)
        self._writer: Optional[TvcWriter] = TvcWriter(path, self._encoder.header)

    def write(self, frame: Frame) -> None:
        if self._writer is None:
            raise InvalidArgumentError("write() on a closed .tvc output")
        self._writer.write_packets(self._encoder.encode(frame))

    def close(self) -> None:
        if self._writer is not None:
            writer, self._writer = self._writer, None
            with writer:
                writer.write_packets(self._encoder.encode(None))

    def abort(self) -> None:
        """Drops the output: the target path is left untouched."""
        if self._writer is not None:
            self._writer.abort()
            self._writer = None

    def __enter__(self) -> "TvcOutput":
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class TvcInput:
    """A .tvc stream read as decoded frames, record by record.

    ``source`` is a path, an open binary file (``sys.stdin.buffer``, a pipe) or a
    :class:`TvcReader` already past the header. Every loss is logged as a warning
    and kept in ``damage`` (a list of :class:`Damaged`); ``lost_gops`` and
    ``lost_frames`` sum them (None when some loss has an unknown size).
    """

    def __init__(self, source: Union[PathOrFile, TvcReader], settings: Optional[DecoderSettings] = None, *,
                 model: Optional[CodecModel] = None) -> None:
        self._reader = source if isinstance(source, TvcReader) else TvcReader(source)
        self._decoder = Decoder(self._reader.header, settings, model=model)
        self.info = self._decoder.info
        self.damage: List[Damaged] = []

    @property
    def damaged(self) -> int:
        """Number of losses reported (0 for a clean stream)."""
        return len(self.damage)

    @property
    def lost_gops(self) -> Optional[int]:
        return _total(d.gops for d in self.damage)

    @property
    def lost_frames(self) -> Optional[int]:
        return _total(d.frames for d in self.damage)

    @property
    def end_verified(self) -> bool:
        return self._reader.end_verified

    def _report(self, damaged: Damaged) -> None:
        self.damage.append(damaged)
        log.warning("%s", damaged.describe())

    def __iter__(self) -> Iterator[Frame]:
        for item in self._reader:
            if isinstance(item, Damaged):
                self._report(item)
                continue
            packet = item.packet
            try:
                frames = self._decoder.decode(packet)
            except InvalidDataError as exc:
                # Parsed, but its substreams do not decode: exactly this GoP is lost.
                self._report(Damaged(item.offset, item.size, exc, 1, packet.frame_count, packet.gop_index))
                continue
            yield from frames

    def close(self) -> None:
        self._reader.close()

    def __enter__(self) -> "TvcInput":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _total(counts: Iterable[Optional[int]]) -> Optional[int]:
    total = 0
    for n in counts:
        if n is None:
            return None
        total += n
    return total


def open(path: PathOrFile, mode: str = "r", *, info: Optional[VideoInfo] = None,
         settings: Union[EncoderSettings, DecoderSettings, None] = None,
         model: Optional[CodecModel] = None):
    """Open a .tvc file (a path or an open binary file).

    Mode "r" yields decoded frames (``settings``: DecoderSettings); mode "w" (needs
    ``info``) encodes them as ``settings`` (EncoderSettings: quality, bitrate, GoP length,
    mask pattern, model, backend, ...) say. ``model`` is an already-loaded CodecModel to
    use instead of the one the settings name."""
    if mode not in ("r", "w"):
        raise InvalidArgumentError(f'mode must be "r" or "w", not {mode!r}')
    wanted = DecoderSettings if mode == "r" else EncoderSettings
    if settings is not None and not isinstance(settings, wanted):
        raise InvalidArgumentError(
            f'tvc_ffmpeg.open(..., "{mode}") takes settings={wanted.__name__}(...), not {type(settings).__name__}'
        )
    if mode == "r":
        return TvcInput(path, settings, model=model)
    if info is None:
        raise InvalidArgumentError('tvc_ffmpeg.open(..., "w") needs info=VideoInfo(...)')
    return TvcOutput(path, info, settings, model=model)
