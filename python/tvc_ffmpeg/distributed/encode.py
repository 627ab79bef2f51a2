"""GoP-parallel encoding of one input: ranges out to workers, packets back in order."""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass
from typing import BinaryIO, Callable, Optional, Union

from ..bitstream import TvcWriter
from ..errors import ClusterError, InvalidDataError
from ..settings import EncoderSettings
from ..video import VideoInfo
from .cluster import ray_session, run_in_order
from .plan import InputIndex, index_input, plan_ranges
from .work import encode_range

# Ranges per worker: more ranges balance the load better and lose less to a dead worker;
# each range pays one seek (and decodes from the keyframe before it).
RANGES_PER_WORKER = 4
# Results waiting for their turn, per worker; they are packets only (a few kB per GoP).
WINDOW_PER_WORKER = 2


@dataclass(frozen=True)
class EncodeResult:
    output: str
    frames: int
    info: Optional[VideoInfo]
    bytes: int
    ranges: int

    @property
    def bpp(self) -> float:
        return self.bytes * 8 / (self.info.width * self.info.height * self.frames) if self.frames else 0.0

    @property
    def kbps(self) -> float:
        return self.bytes * 8 * float(self.info.frame_rate) / self.frames / 1000 if self.frames else 0.0


def encode_parallel(source: Union[str, os.PathLike, InputIndex], target: Union[str, os.PathLike, BinaryIO],
                    settings: Optional[EncoderSettings] = None, *, workers: Optional[int] = None,
                    address: Optional[str] = None, max_frames: Optional[int] = None,
                    gops_per_range: Optional[int] = None,
                    progress: Optional[Callable[[int], object]] = None) -> EncodeResult:
    """Encodes ``source`` into ``target`` with its GoP ranges coded by Ray workers.

    ``source`` may be an InputIndex already made (index_input; ``max_frames`` then
    does not apply). ``workers``: processes of a private local cluster; ``address``: a running Ray cluster
    instead ("auto", "ray://head:10001"); in a process that already called ray.init()
    that connection is used. ``source`` must be a file every worker can read; the
    driver (this process) writes ``target``. With a fixed quality the stream is the
    serial encoder's byte for byte; with ``settings.bitrate`` each range gets the budget
    of its frames (docs/distributed.md). ``progress(n)`` is called as frames complete.
    Returns frames, bytes and ranges; with no frames nothing is written (frames == 0)."""
    s = settings if settings is not None else EncoderSettings()
    index = source if isinstance(source, InputIndex) else index_input(source, max_frames)
    if index.frame_count == 0:
        return EncodeResult(os.fspath(target) if not hasattr(target, "write") else "<stream>",
                            0, index.info, 0, 0)
    with ray_session(workers, address) as cpus:
        gops = math.ceil(index.frame_count / s.gop_length)
        per_range = gops_per_range or max(1, math.ceil(gops / (cpus * RANGES_PER_WORKER)))
        ranges = plan_ranges(index, s.gop_length, per_range)
        results = run_in_order(encode_range, ((r, index.info, s) for r in ranges),
                               window=cpus * WINDOW_PER_WORKER)
        writer: Optional[TvcWriter] = None
        try:
            frames = 0
            for result in results:
                if writer is None:
                    writer = TvcWriter(target, result.header)
                elif result.header != _without_flags(writer.header, result.header):
                    raise ClusterError(
                        f"workers disagree on the stream header (GoP {result.first_gop} on): "
                        "they have different models or package versions installed")
                writer.write_packets(result.packets)
                frames += result.frames
                if progress is not None:
                    progress(result.frames)
            if frames != index.frame_count:
                raise InvalidDataError(f"{index.path}: coded {frames} frames of {index.frame_count}")
        except BaseException:
            results.close()
            if writer is not None:
                writer.abort()
            raise
        writer.close()
    return EncodeResult(writer.name, frames, index.info, writer.bytes_written, len(ranges))


def _without_flags(written, made):
    """The header as the worker made it: TvcWriter sets the end-record flag on its copy."""
    return dataclasses.replace(written, flags=made.flags)
