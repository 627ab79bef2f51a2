"""Validation: token-only reconstruction quality on the held-out clips (also `tvc eval`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

from ..data.cache import CacheLayout
from ..data.clips import VALIDATION_CLIPS, ValidationClip, load_validation_clip
from ..metrics import Yuv420Clip, clip_quality, rgb_to_yuv420, yuv420_to_rgb

import numpy as np


def decoded_validation_path(cache: CacheLayout, clip: ValidationClip):
    """Where a training pack leaves a validation clip's planes already decoded (train/pack.py)."""
    return cache.root / "validation" / f"{clip.name}-{clip.first_frame}-{clip.num_frames}.npz"


def validation_yuv(clip: ValidationClip, cache: CacheLayout) -> Yuv420Clip:
    """A validation clip's planes: from an unpacked training pack when it holds them (so a
    machine without PyAV can validate), else decoded from the clip by the codec's reader."""
    path = decoded_validation_path(cache, clip)
    if path.is_file():
        with np.load(path) as planes:
            return Yuv420Clip(planes["y"], planes["u"], planes["v"])
    return load_validation_clip(clip, cache)
from ..models.gop import VideoTokenizer, reconstruct_clip


@dataclass(frozen=True)
class ValidationResult:
    clip: str
    frames: int
    psnr_y: float
    psnr_yuv: float
    ms_ssim_y: float
    raw_bpp: float
    # Chroma fidelity (metrics.py), printed by tvc eval tokenizer.
    psnr_u: float = float("nan")
    psnr_v: float = float("nan")
    cast_u: float = float("nan")
    cast_v: float = float("nan")


class ValidationSet:
    """Validation clips decoded once and kept in memory (they are small)."""

    def __init__(self, cache: CacheLayout, clips: Sequence[ValidationClip] = VALIDATION_CLIPS) -> None:
        self.clips: List[ValidationClip] = list(clips)
        self.yuv: Dict[str, Yuv420Clip] = {c.name: validation_yuv(c, cache) for c in self.clips}

    def evaluate(self, tokenizer: VideoTokenizer, gop_frames: int) -> List[ValidationResult]:
        results = []
        for clip in self.clips:
            ref = self.yuv[clip.name]
            rec = reconstruct_clip(tokenizer, yuv420_to_rgb(ref), gop_frames)
            q = clip_quality(ref, rgb_to_yuv420(rec.rgb))
            results.append(ValidationResult(clip.name, ref.num_frames, q.psnr_y, q.psnr_yuv, q.ms_ssim_y, rec.raw_bpp(),
                                            q.psnr_u, q.psnr_v, q.cast.cast_u, q.cast.cast_v))
        return results


def validate_tokenizer(tokenizer: VideoTokenizer, gop_frames: int = 17,
                       cache: Optional[CacheLayout] = None) -> List[ValidationResult]:
    return ValidationSet(cache or CacheLayout.resolve()).evaluate(tokenizer, gop_frames)
