"""Classic encoders run on a downscaled picture: what a user does below the encoder's floor.

Nobody runs x265 at max QP on every frame to reach 0.003 bpp: they scale the picture down,
encode it at a normal CRF, and scale it back up after decoding. :class:`ScaledCodec` draws
that curve for any :class:`~.classic.ClassicCodec`:

1. lanczos down to ``1/factor`` of the source size (rounded to even, as 4:2:0 needs),
   with ffmpeg's scale filter (``flags=lanczos``), the same binary that encodes;
2. encode and decode at that size (the wrapped codec's own ladder);
3. lanczos back up to the source size, again with ffmpeg's scale filter;
4. the harness measures at full size against the source planes, and bpp divides the
   elementary stream's bytes by the FULL-size pixel count (:func:`.points.measure` uses the
   source clip's size), so the curves share one rate axis with every other codec.

Pictures below 64x64 (carphone at 1/4 is 44x36) are padded by repeating their edge samples
up to 64x64 and cropped after decoding; the padding's bytes are counted, so the curve is
charged for it, and ``args`` records it. Why: Debian's SVT-AV1 1.4.1 refuses them ("Source
Width must be at least 64"), and Debian's x265 3.5 (preset slow) aborts on them more often
than not ("free(): invalid next size", heap corruption) where the padded picture, one
64x64 coding tree unit, encodes every time (and to fewer bytes: 1292 against 1302 for
carphone at CRF 51 in the one run that got through).
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, replace
from typing import List, Sequence, Tuple

import numpy as np

from ..errors import BackendError, InvalidArgumentError
from ..metrics import Yuv420Clip
from .classic import DEFAULT_GOP, ClassicCodec, _run_ffmpeg, raw_yuv420, svtav1, x265
from .interface import CodedClip, Level, SourceClip, timed

# The smallest picture each encoder is given (width, height); see the module's docstring.
MIN_SIZE = {"libsvtav1": (64, 64), "libx265": (64, 64)}


def scaled_size(width: int, height: int, factor: int) -> Tuple[int, int]:
    """``width/factor`` x ``height/factor``, each rounded to the nearest even number (>= 2)."""
    if factor < 1:
        raise InvalidArgumentError(f"downscale factor must be >= 1, got {factor}")
    even = lambda n: max(2, 2 * int(round(n / factor / 2.0)))  # noqa: E731
    return even(width), even(height)


def lanczos_resize(clip: Yuv420Clip, width: int, height: int, ffmpeg: str) -> Yuv420Clip:
    """Resize 8-bit 4:2:0 planes with ffmpeg's scale filter (lanczos), frame count unchanged."""
    t, h, w = clip.y.shape
    cmd = [
        ffmpeg, "-hide_banner", "-nostats", "-loglevel", "error",
        "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{w}x{h}", "-r", "25", "-i", "pipe:0",
        "-vf", f"scale={width}:{height}:flags=lanczos", "-pix_fmt", "yuv420p",
        "-f", "rawvideo", "pipe:1",
    ]  # fmt: skip
    out = _run_ffmpeg(cmd, raw_yuv420(clip))
    frame_bytes = width * height * 3 // 2
    if len(out) != t * frame_bytes:
        raise BackendError(f"lanczos {w}x{h} -> {width}x{height}: {t} frames in, {len(out) / frame_bytes:g} out")
    frames = np.frombuffer(out, np.uint8).reshape(t, frame_bytes)
    y = frames[:, : width * height].reshape(t, height, width)
    u = frames[:, width * height : width * height * 5 // 4].reshape(t, height // 2, width // 2)
    v = frames[:, width * height * 5 // 4 :].reshape(t, height // 2, width // 2)
    return Yuv420Clip(y.copy(), u.copy(), v.copy())


def pad_to(clip: Yuv420Clip, width: int, height: int) -> Yuv420Clip:
    """Repeat the right and bottom edge samples until the picture is at least width x height."""
    _, h, w = clip.y.shape
    pw, ph = max(0, width - w), max(0, height - h)
    if not pw and not ph:
        return clip
    pw, ph = pw + pw % 2, ph + ph % 2  # keep 4:2:0 sizes even
    luma = np.pad(clip.y, ((0, 0), (0, ph), (0, pw)), mode="edge")
    chroma = [np.pad(p, ((0, 0), (0, ph // 2), (0, pw // 2)), mode="edge") for p in (clip.u, clip.v)]
    return Yuv420Clip(luma, *chroma)


def crop_to(clip: Yuv420Clip, width: int, height: int) -> Yuv420Clip:
    return Yuv420Clip(clip.y[:, :height, :width], clip.u[:, : height // 2, : width // 2], clip.v[:, : height // 2, : width // 2])


@dataclass(frozen=True)
class ScaledCodec:
    """``inner`` run at 1/``factor`` of the source size, lanczos down and up (one curve)."""

    inner: ClassicCodec
    factor: int

    def __post_init__(self) -> None:
        if self.factor < 2:
            raise InvalidArgumentError(f"{self.inner.name}: downscale factor must be >= 2, got {self.factor}")

    @property
    def name(self) -> str:
        return f"{self.inner.name} 1/{self.factor}"

    @property
    def levels(self) -> Sequence[Level]:
        return self.inner.levels

    def encode_decode(self, clip: SourceClip, level: Level) -> CodedClip:
        ffmpeg = self.inner.ffmpeg
        w, h = scaled_size(clip.width, clip.height, self.factor)
        small, down_s = timed(lambda: lanczos_resize(clip.frames, w, h, ffmpeg))
        min_w, min_h = MIN_SIZE.get(self.inner.encoder, (0, 0))
        coded_frames = pad_to(small, min_w, min_h)
        coded_h, coded_w = coded_frames.y.shape[1:]
        coded = self.inner.encode_decode(SourceClip(clip.name, coded_frames, clip.frame_rate), level)
        decoded = crop_to(coded.decoded, w, h)
        up, up_s = timed(lambda: lanczos_resize(decoded, clip.width, clip.height, ffmpeg))
        notes: List[str] = [f"scale={w}x{h}:flags=lanczos"]
        if (coded_w, coded_h) != (w, h):
            notes.append(f"pad={coded_w}x{coded_h}")
        return CodedClip(
            num_bytes=coded.num_bytes,
            decoded=up,
            encode_seconds=coded.encode_seconds + down_s,
            decode_seconds=coded.decode_seconds + up_s,
            keyframes=coded.keyframes,
            settings=" ".join(notes + [coded.settings]),
            encoder_version=coded.encoder_version,
        )


def crf_only(codec: ClassicCodec) -> ClassicCodec:
    """The codec with its CRF sweep only: downscaling, not max QP, is how these reach low rates."""
    return replace(codec, settings=tuple(s for s in codec.settings if str(s.label).startswith("crf=")))


# The downscaled anchors of issue 13: x265 preset slow, SVT-AV1 preset 6 (what a user picks
# for a practical encode), each over a CRF sweep whose top end reaches the lowest rates.
SCALED_CRFS = {"x265": (51, 47, 43, 39, 35), "svtav1": (63, 58, 53, 48, 43)}
SCALED_PRESETS = {"x265": "slow", "svtav1": "6"}
DEFAULT_FACTORS = (2, 4)


def scaled_anchors(
    names: Sequence[str] = ("x265", "svtav1"),
    factors: Sequence[int] = DEFAULT_FACTORS,
    gop: int = DEFAULT_GOP,
    ffmpeg: str = "ffmpeg",
    crfs: Sequence[int] = (),
) -> List[ScaledCodec]:
    """Every named codec at every factor, codec-major ("x265 1/2", "x265 1/4", "SVT-AV1 1/2", ...).

    ``crfs`` replaces the default sweep (tests use two points)."""
    builders = {"x265": lambda c: x265(gop, SCALED_PRESETS["x265"], c, ffmpeg),
                "svtav1": lambda c: svtav1(gop, int(SCALED_PRESETS["svtav1"]), c, ffmpeg)}  # fmt: skip
    out = []
    for name in names:
        if name not in builders:
            raise InvalidArgumentError(f"no downscaled anchor for {name!r}; known: {', '.join(builders)}")
        codec = crf_only(builders[name](tuple(crfs) or SCALED_CRFS[name]))
        out += [ScaledCodec(codec, f) for f in factors]
    return out
