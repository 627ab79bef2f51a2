"""One measured RD point, and how a codec's run over a clip turns into points.

Rate: ``bpp`` = 8 · bytes / (width · height · frames), over all bytes of the video stream
(no container); ``kbps`` = 8 · bytes / 1000 / (frames / frame rate). Quality: PSNR-Y,
PSNR-YUV (6:1:1), MS-SSIM-Y, PSNR-U, PSNR-V and the colour cast (signed chroma mean shifts
``cast_u``/``cast_v`` and their larger magnitude ``colour_cast``, 8-bit code values over the
clip) from :mod:`tvc_ffmpeg.metrics`, on the decoded 8-bit 4:2:0 planes against the source's
4:2:0 planes (no colour conversion in between).
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, fields
from typing import Iterable, List, Optional, Sequence

from ..errors import InvalidArgumentError
from ..metrics import clip_quality
from .interface import CodedClip, Level, RdCodec, SourceClip, timed

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RdPoint:
    clip: str
    codec: str
    setting: str
    width: int
    height: int
    frames: int
    fps: float
    bytes: int
    bpp: float
    kbps: float
    psnr_y: float
    psnr_yuv: float
    ms_ssim_y: float
    keyframes: int
    encode_s: float
    decode_s: float
    total_s: float
    encoder: str
    args: str
    vmaf: float = math.nan  # only with measure(..., with_vmaf=True)
    # Chroma fidelity (metrics.py); NaN in CSVs written before these columns existed.
    psnr_u: float = math.nan
    psnr_v: float = math.nan
    cast_u: float = math.nan
    cast_v: float = math.nan
    colour_cast: float = math.nan

    @classmethod
    def field_names(cls) -> List[str]:
        return [f.name for f in fields(cls)]

    def as_row(self) -> dict:
        return asdict(self)


def measure(codec: RdCodec, clip: SourceClip, level: Level, with_vmaf: bool = False) -> RdPoint:
    """Code ``clip`` at ``level`` with ``codec`` and measure rate and quality (VMAF optional: slow)."""
    coded, total_s = timed(lambda: codec.encode_decode(clip, level))
    if not isinstance(coded, CodedClip):
        raise InvalidArgumentError(f"codec {codec.name!r}: encode_decode returned {type(coded).__name__}, not CodedClip")
    pixels = clip.width * clip.height * clip.num_frames
    seconds = clip.num_frames / float(clip.frame_rate)
    quality = clip_quality(clip.frames, coded.decoded)
    vmaf = math.nan
    if with_vmaf:
        from .vmaf import vmaf_y

        vmaf = vmaf_y(clip.frames, coded.decoded)
    return RdPoint(
        clip=clip.name,
        codec=codec.name,
        setting=str(level),
        width=clip.width,
        height=clip.height,
        frames=clip.num_frames,
        fps=float(clip.frame_rate),
        bytes=coded.num_bytes,
        bpp=8.0 * coded.num_bytes / pixels,
        kbps=8.0 * coded.num_bytes / 1000.0 / seconds,
        psnr_y=quality.psnr_y,
        psnr_yuv=quality.psnr_yuv,
        ms_ssim_y=quality.ms_ssim_y,
        keyframes=coded.keyframes,
        encode_s=coded.encode_seconds,
        decode_s=coded.decode_seconds,
        total_s=total_s,
        encoder=coded.encoder_version,
        args=coded.settings,
        vmaf=vmaf,
        psnr_u=quality.psnr_u,
        psnr_v=quality.psnr_v,
        cast_u=quality.cast.cast_u,
        cast_v=quality.cast.cast_v,
        colour_cast=quality.colour_cast,
    )


def run_codec(
    codec: RdCodec,
    clip: SourceClip,
    levels: Optional[Sequence[Level]] = None,
    progress=None,
    with_vmaf: bool = False,
) -> List[RdPoint]:
    """Measure every level of ``codec`` on ``clip`` (``progress``: optional callable per point)."""
    out = []
    for level in levels if levels is not None else codec.levels:
        point = measure(codec, clip, level, with_vmaf)
        log.info(
            "%s %s %s: %.5f bpp, PSNR-Y %.2f dB, MS-SSIM-Y %.4f, %d key frames, enc %.1f s",
            clip.name, codec.name, level, point.bpp, point.psnr_y, point.ms_ssim_y, point.keyframes, point.encode_s,
        )  # fmt: skip
        out.append(point)
        if progress is not None:
            progress(point)
    return out


def floor_points(points: Iterable[RdPoint]) -> List[RdPoint]:
    """The lowest-rate point of every (clip, codec), in first-seen order."""
    best: dict = {}
    for p in points:
        key = (p.clip, p.codec)
        if key not in best or p.bpp < best[key].bpp:
            best[key] = p
    return list(best.values())


def is_finite(x: float) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)
