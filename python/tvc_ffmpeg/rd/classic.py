"""The classic encoders (x264, x265, SVT-AV1, libaom) as RD curves, run by an ``ffmpeg`` binary.

Why one external binary (Debian's ``ffmpeg`` 5.1 by default) for all four rather than
PyAV's bundled FFmpeg: only the Debian build has libaom, DESIGN.md asks for the four to be
run "through the Debian ffmpeg in the same run", one code path keeps the settings
comparable, and the command lines recorded in the CSV can be pasted into a shell to
reproduce any point. Decoding is done in-process with PyAV (FFmpeg's native H.264/HEVC
decoders, libdav1d for AV1), which is also what times it.

Each codec writes its *elementary* stream to a pipe (Annex B for H.264/HEVC, low-overhead
OBUs for AV1), so the byte count is the stream itself: parameter sets and AV1 temporal
delimiters are counted, no container is. The encoders' informational SEI messages (x264
writes its whole option string, about 670 bytes, x265 about 2.2 kB per IDR) carry nothing a
decoder needs and are removed: ``filter_units`` drops SEI NAL units from the H.264 stream,
and x265 is run with ``info=0``.

Every ladder ends at the encoder's floor, "max QP on every frame" (DESIGN.md): the codec's
largest quantizer on every frame, key frames included:

- x264: CRF 51 with ``-qmin 51`` (the adaptive quantizer cannot lower any macroblock),
- x265: constant QP 51 with ``ipratio=1:pbratio=1`` (I, P and B frames all at 51),
- SVT-AV1: constant QP 63 (qindex 255) with fixed, zero qindex offsets for key frames and
  every hierarchy layer,
- libaom: CRF 63 with ``-qmin 63 -qmax 63``.

The key-frame interval is fixed (``gop`` frames, default 32) with scene-cut detection off,
so a 64-frame clip has exactly two key frames for every codec.
"""

from __future__ import annotations

import functools
import io
import logging
import os
import shutil
import subprocess
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from ..errors import BackendError, InvalidArgumentError
from ..metrics import Yuv420Clip
from .interface import CodedClip, Level, SourceClip, timed

log = logging.getLogger(__name__)

DEFAULT_GOP = 32
FLOOR = "floor"  # the level name of each ladder's max-QP-on-every-frame point


@dataclass(frozen=True)
class ClassicSetting:
    """One RD point of a classic encoder: a label and the ffmpeg output options for it."""

    label: str
    args: Tuple[str, ...]


@dataclass(frozen=True)
class ClassicCodec:
    """A classic encoder run through an ``ffmpeg`` binary over a ladder of settings.

    ``common_args`` (preset, key-frame interval, ...) apply to every point; ``settings``
    are the ladder. ``muxer`` is the ffmpeg elementary-stream format that is written
    (and the PyAV demuxer that reads it back).
    """

    name: str
    encoder: str
    muxer: str
    common_args: Tuple[str, ...]
    settings: Tuple[ClassicSetting, ...]
    ffmpeg: str = "ffmpeg"

    @property
    def levels(self) -> Sequence[Level]:
        return [s.label for s in self.settings]

    def setting(self, level: Level) -> ClassicSetting:
        for s in self.settings:
            if s.label == level:
                return s
        raise InvalidArgumentError(f"{self.name}: no setting {level!r}; known: {', '.join(map(str, self.levels))}")

    def command(self, clip: SourceClip, level: Level) -> List[str]:
        """The full ffmpeg command line for one point (input is raw yuv420p on stdin)."""
        rate = clip.frame_rate
        return [
            self.ffmpeg, "-hide_banner", "-nostats", "-loglevel", "error",
            "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{clip.width}x{clip.height}",
            "-r", f"{rate.numerator}/{rate.denominator}", "-i", "pipe:0",
            "-an", "-c:v", self.encoder, "-pix_fmt", "yuv420p",
            *self.common_args, *self.setting(level).args,
            "-f", self.muxer, "pipe:1",
        ]  # fmt: skip

    def encode_decode(self, clip: SourceClip, level: Level) -> CodedClip:
        cmd = self.command(clip, level)
        raw = raw_yuv420(clip.frames)
        stream, enc_s = timed(lambda: _run_ffmpeg(cmd, raw))
        decoded, dec_s = timed(lambda: decode_elementary(stream, self.muxer))
        frames, keyframes = decoded
        if frames.num_frames != clip.num_frames:
            raise BackendError(
                f"{self.name} {level}: {clip.num_frames} frames in, {frames.num_frames} decoded ({' '.join(cmd)})"
            )
        if frames.y.shape != clip.frames.y.shape:
            raise BackendError(f"{self.name} {level}: decoded size {frames.y.shape[1:]} != source {clip.frames.y.shape[1:]}")
        return CodedClip(
            num_bytes=len(stream),
            decoded=frames,
            encode_seconds=enc_s,
            decode_seconds=dec_s,
            keyframes=keyframes,
            settings=" ".join(self.common_args + self.setting(level).args),
            encoder_version=ffmpeg_version(self.ffmpeg),
        )


def raw_yuv420(clip: Yuv420Clip) -> bytes:
    """The clip as raw yuv420p bytes (planar Y, U, V per frame)."""
    t = clip.num_frames
    planes = [p.reshape(t, -1) for p in (clip.y, clip.u, clip.v)]
    return np.ascontiguousarray(np.concatenate(planes, axis=1), dtype=np.uint8).tobytes()


def decode_elementary(stream: bytes, demuxer: str) -> Tuple[Yuv420Clip, int]:
    """Decode an elementary stream with PyAV; returns the planes and the number of key frames."""
    import av

    ys, us, vs = [], [], []
    keyframes = 0
    try:
        with av.open(io.BytesIO(stream), format=demuxer) as container:
            for frame in container.decode(video=0):
                if frame.format.name != "yuv420p":
                    raise BackendError(f"decoded {demuxer} frame is {frame.format.name}, expected yuv420p")
                keyframes += int(frame.key_frame)
                h, w = frame.height, frame.width
                planes = frame.to_ndarray()  # (3H/2, W) for yuv420p
                ys.append(planes[:h])
                us.append(planes[h : h + h // 4].reshape(h // 2, w // 2))
                vs.append(planes[h + h // 4 :].reshape(h // 2, w // 2))
    except av.error.FFmpegError as exc:
        raise BackendError(f"could not decode the {demuxer} stream: {exc}") from exc
    if not ys:
        raise BackendError(f"the {demuxer} stream decoded to no frames")
    return Yuv420Clip(np.stack(ys), np.stack(us), np.stack(vs)), keyframes


def _run_ffmpeg(cmd: List[str], raw: bytes) -> bytes:
    try:
        proc = subprocess.run(cmd, input=raw, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    except FileNotFoundError as exc:
        raise BackendError(f"ffmpeg binary {cmd[0]!r} not found (install Debian's ffmpeg or pass --ffmpeg)") from exc
    if proc.returncode != 0:
        tail = proc.stderr.decode(errors="replace")[-2000:]
        raise BackendError(f"ffmpeg failed (exit {proc.returncode}): {' '.join(cmd)}\n{tail}")
    if proc.stderr:
        # SVT-AV1 prints its banner on stderr whatever the log level; keep it out of sight.
        log.debug("ffmpeg stderr: %s", proc.stderr.decode(errors="replace")[-2000:])
    if not proc.stdout:
        raise BackendError(f"ffmpeg wrote an empty stream: {' '.join(cmd)}")
    return proc.stdout


@functools.lru_cache(maxsize=None)
def ffmpeg_version(ffmpeg: str) -> str:
    """First line of ``ffmpeg -version`` (e.g. 'ffmpeg version 5.1.9-0+deb12u1 ...')."""
    try:
        out = subprocess.run([ffmpeg, "-version"], capture_output=True, check=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise BackendError(f"cannot run {ffmpeg!r} -version: {exc}") from exc
    first = out.splitlines()[0] if out else ""
    return " ".join(first.split()[:3])


@functools.lru_cache(maxsize=None)
def available_encoders(ffmpeg: str) -> frozenset:
    """Names of the video encoders an ffmpeg binary has."""
    try:
        out = subprocess.run([ffmpeg, "-hide_banner", "-encoders"], capture_output=True, check=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise BackendError(f"cannot run {ffmpeg!r} -encoders: {exc}") from exc
    names = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].startswith("V") and len(parts[0]) == 6:
            names.add(parts[1])
    return frozenset(names)


def default_ffmpeg() -> str:
    """``$TVC_FFMPEG``, else the ``ffmpeg`` on PATH."""
    path = os.environ.get("TVC_FFMPEG") or shutil.which("ffmpeg")
    if not path:
        raise BackendError("no ffmpeg binary: install Debian's ffmpeg (apt-get install ffmpeg) or set TVC_FFMPEG")
    return path


# ----------------------------------------------------------------------------- ladders


def _gop_check(gop: int) -> None:
    if gop < 1:
        raise InvalidArgumentError(f"gop must be >= 1, got {gop}")


def x264(gop: int = DEFAULT_GOP, preset: str = "veryslow", crfs: Sequence[int] = (51, 47, 43, 39, 35, 31), ffmpeg: str = "ffmpeg") -> ClassicCodec:
    _gop_check(gop)
    common = ("-preset", preset, "-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0",
              "-bsf:v", "filter_units=remove_types=6")  # fmt: skip
    ladder = [ClassicSetting(FLOOR, ("-crf", "51", "-qmin", "51"))]
    ladder += [ClassicSetting(f"crf={c}", ("-crf", str(c))) for c in crfs]
    return ClassicCodec("x264", "libx264", "h264", common, tuple(ladder), ffmpeg)


def x265(gop: int = DEFAULT_GOP, preset: str = "veryslow", crfs: Sequence[int] = (51, 47, 43, 39, 35, 31), ffmpeg: str = "ffmpeg") -> ClassicCodec:
    _gop_check(gop)
    base = f"keyint={gop}:min-keyint={gop}:scenecut=0:info=0:log-level=error"
    common = ("-preset", preset)
    ladder = [ClassicSetting(FLOOR, ("-x265-params", f"{base}:qp=51:ipratio=1:pbratio=1"))]
    ladder += [ClassicSetting(f"crf={c}", ("-x265-params", f"{base}:crf={c}")) for c in crfs]
    return ClassicCodec("x265", "libx265", "hevc", common, tuple(ladder), ffmpeg)


def svtav1(gop: int = DEFAULT_GOP, preset: int = 4, crfs: Sequence[int] = (63, 58, 53, 48, 43, 38), ffmpeg: str = "ffmpeg") -> ClassicCodec:
    _gop_check(gop)
    # -g sets SVT-AV1's key-frame interval; its scene-change detection is off by default.
    common = ("-preset", str(preset), "-g", str(gop))
    flat = "rc=0:use-fixed-qindex-offsets=1:key-frame-qindex-offset=0:qindex-offsets=0,0,0,0,0,0"
    # Between the floor and CRF 63 the rate roughly doubles (about 1.5x on bikes): one
    # flat-QP point at 61 fills the gap, which is where our codec operates.
    ladder = [ClassicSetting(FLOOR, ("-qp", "63", "-svtav1-params", flat)),
              ClassicSetting("flat-qp=61", ("-qp", "61", "-svtav1-params", flat))]  # fmt: skip
    ladder += [ClassicSetting(f"crf={c}", ("-crf", str(c))) for c in crfs]
    return ClassicCodec("SVT-AV1", "libsvtav1", "obu", common, tuple(ladder), ffmpeg)


def libaom(gop: int = DEFAULT_GOP, cpu_used: int = 4, crfs: Sequence[int] = (63, 58, 53, 48, 43, 38), ffmpeg: str = "ffmpeg") -> ClassicCodec:
    _gop_check(gop)
    common = ("-cpu-used", str(cpu_used), "-g", str(gop), "-keyint_min", str(gop), "-b:v", "0")
    # CRF 63 with a raised minimum quantizer fills the gap between the floor and plain CRF 63.
    ladder = [ClassicSetting(FLOOR, ("-crf", "63", "-qmin", "63", "-qmax", "63")),
              ClassicSetting("crf=63,qmin=60", ("-crf", "63", "-qmin", "60", "-qmax", "63"))]  # fmt: skip
    ladder += [ClassicSetting(f"crf={c}", ("-crf", str(c))) for c in crfs]
    return ClassicCodec("libaom", "libaom-av1", "obu", common, tuple(ladder), ffmpeg)


CLASSIC_BUILDERS: Dict[str, object] = {"x264": x264, "x265": x265, "svtav1": svtav1, "libaom": libaom}


# The speed/effort knob of each builder: x264/x265 preset names, SVT-AV1 preset 0-13,
# libaom cpu-used 0-8.
_EFFORT_ARG = {"x264": ("preset", str), "x265": ("preset", str), "svtav1": ("preset", int), "libaom": ("cpu_used", int)}


def classic_codecs(
    names: Sequence[str], gop: int = DEFAULT_GOP, ffmpeg: str = "", presets: Optional[Mapping[str, str]] = None
) -> List[ClassicCodec]:
    """Build the named classic codecs (keys of ``CLASSIC_BUILDERS``), checking ffmpeg has them.

    ``presets`` overrides the effort setting per codec name, e.g. ``{"x264": "medium",
    "libaom": "6"}`` (x264/x265 preset, SVT-AV1 preset number, libaom cpu-used).
    """
    binary = ffmpeg or default_ffmpeg()
    presets = dict(presets or {})
    unknown = set(presets) - set(names)
    if unknown:
        raise InvalidArgumentError(f"preset given for codecs not run: {', '.join(sorted(unknown))}")
    # Argument errors first: they need no ffmpeg, and must not hide behind a missing one.
    for name in names:
        if name not in CLASSIC_BUILDERS:
            raise InvalidArgumentError(f"unknown classic codec {name!r}; known: {', '.join(CLASSIC_BUILDERS)}")
    have = available_encoders(binary)
    out = []
    for name in names:
        builder = CLASSIC_BUILDERS[name]
        kwargs = {}
        if name in presets:
            key, kind = _EFFORT_ARG[name]
            try:
                kwargs[key] = kind(presets[name])
            except ValueError as exc:
                raise InvalidArgumentError(f"{name}: bad preset {presets[name]!r}") from exc
        codec = builder(gop=gop, ffmpeg=binary, **kwargs)  # type: ignore[operator]
        if codec.encoder not in have:
            raise BackendError(f"{binary} has no {codec.encoder} encoder (needed for {name})")
        out.append(codec)
    return out
