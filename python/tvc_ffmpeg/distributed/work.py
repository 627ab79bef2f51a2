"""What a worker runs: one frame range, or one whole file, coded with the serial codec.

Plain functions (no Ray here), so they run the same in a Ray worker, in a test, or in
the driver itself. A worker process keeps the model it loaded for the next task.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional, Tuple

from typing import TYPE_CHECKING

from ..bitstream import GopPacket, SequenceHeader, TvcWriter
from ..errors import InvalidDataError
from ..settings import EncoderSettings
from ..video import Frame, VideoInfo, open_input
from .plan import FrameRange

if TYPE_CHECKING:
    from ..codec import CodecModel

# The codec (and torch) are imported inside the functions: the driver imports this module
# to name the tasks, and stays light (bench/distributed.py measures its memory).

# One model per settings per worker process: loading costs seconds, a GoP far less.
_MODELS: Dict[EncoderSettings, "CodecModel"] = {}


def model_for(settings: EncoderSettings) -> "CodecModel":
    model = _MODELS.get(settings)
    if model is None:
        model = _MODELS[settings] = settings.load_model()
    return model


@dataclass(frozen=True)
class RangeResult:
    """A range's packets (GoP ``first_gop`` on) and the stream header its worker made
    (the driver checks that every worker agrees on it)."""

    first_gop: int
    frames: int
    header: SequenceHeader
    packets: Tuple[GopPacket, ...]


def read_range(r: FrameRange) -> Iterator[Frame]:
    """Exactly the frames of ``r``, the ones the serial reader numbers r.start.. r.stop-1.

    With timestamps the reader seeks to the keyframe before the range; when the first
    frame after the seek is not the one indexed (a demuxer that seeks by decode time
    can land past it) the range is decoded from the start instead."""
    if r.pts is not None:
        with open_input(r.path, start=r.start, start_pts=r.pts[0]) as reader:
            frames = itertools.islice(reader, r.frames)
            first = next(frames, None)
            if first is not None and first.pts == r.pts[0]:
                yield first
                for i, frame in enumerate(frames, 1):
                    if frame.pts != r.pts[i]:
                        raise InvalidDataError(
                            f"{r.path}: frame {r.start + i} has pts {frame.pts}, its packets said {r.pts[i]}")
                    yield frame
                return
    with open_input(r.path, start=r.start) as reader:
        yield from itertools.islice(reader, r.frames)


def encode_range(r: FrameRange, info: VideoInfo, settings: EncoderSettings) -> RangeResult:
    """Codes the GoPs of one range as the serial encoder codes them (quality mode: the
    same bytes; bitrate mode: the range has its own budget, docs/distributed.md)."""
    from ..codec import Encoder

    model = model_for(settings)
    with Encoder(info, settings, model=model, first_gop_index=r.first_gop) as enc:
        packets: List[GopPacket] = []
        count = 0
        for frame in read_range(r):
            packets += enc.encode(frame)
            count += 1
        packets += enc.encode(None)
        header = enc.header
    if count != r.frames:
        raise InvalidDataError(f"{r.path} ends at frame {r.start + count}, its index counted {r.stop}")
    return RangeResult(r.first_gop, count, header, tuple(packets))


@dataclass(frozen=True)
class FileResult:
    """One file of a batch job: ``error`` is None when it was coded (or skipped: ``skipped``)."""

    input: str
    output: str
    frames: int = 0
    width: int = 0
    height: int = 0
    frame_rate: float = 0.0
    bytes: int = 0
    seconds: float = 0.0
    attempts: int = 0
    skipped: bool = False
    error: Optional[str] = None

    @property
    def bpp(self) -> float:
        pixels = self.width * self.height * self.frames
        return self.bytes * 8 / pixels if pixels else 0.0

    @property
    def kbps(self) -> float:
        return self.bytes * 8 * self.frame_rate / self.frames / 1000 if self.frames else 0.0


def encode_file(source: str, target: str, settings: EncoderSettings) -> FileResult:
    """Codes one whole file serially into ``target`` (written under a temporary name and
    renamed on success, so a killed worker leaves no half file under the real name)."""
    from ..codec import Encoder
    from ..files import encode_into

    began = time.perf_counter()
    model = model_for(settings)
    with open_input(source) as reader, Encoder(reader.info, settings, model=model) as enc, \
            TvcWriter(target, enc.header) as writer:
        frames = encode_into(writer, enc, reader)
        if frames == 0:
            writer.abort()
            raise InvalidDataError(f"{source} has no frames")
        writer.close()
        info = reader.info
    return FileResult(source, target, frames, info.width, info.height, float(info.frame_rate),
                      writer.bytes_written, time.perf_counter() - began)
