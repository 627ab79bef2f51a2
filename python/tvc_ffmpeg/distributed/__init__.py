"""Encoding past one process: GoP ranges of one input, or many inputs, on Ray workers.

    from tvc_ffmpeg.distributed import encode_parallel, encode_batch
    encode_parallel("long.mp4", "long.tvc", EncoderSettings(quality=2), workers=8)
    encode_batch(jobs_from(["clips/"], "out/"), EncoderSettings(), address="auto")

Ray is optional (``pip install "tvc-ffmpeg[ray]"``) and imported only when a job runs.
docs/distributed.md explains ranges, budgets, faults, memory and how to run on a cluster.
"""

from .batch import BatchJob, encode_batch, jobs_from, stream_is_complete
from .cluster import ray_session
from .encode import EncodeResult, encode_parallel
from .plan import FrameRange, InputIndex, index_input, plan_ranges
from .work import FileResult, RangeResult, encode_file, encode_range, read_range

__all__ = [
    "BatchJob",
    "EncodeResult",
    "FileResult",
    "FrameRange",
    "InputIndex",
    "RangeResult",
    "encode_batch",
    "encode_file",
    "encode_parallel",
    "encode_range",
    "index_input",
    "jobs_from",
    "plan_ranges",
    "ray_session",
    "read_range",
    "stream_is_complete",
]
