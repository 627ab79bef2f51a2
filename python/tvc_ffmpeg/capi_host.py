"""The Python side of libtvc: the C API of tvc.h hosted on the same Encoder and Decoder
that ``import tvc_ffmpeg`` gives (csrc/capi/ is the C side; docs/capi.md).

libtvc calls the functions and methods below with plain values (ints, bytes, read-only
memoryviews over the caller's planes) while holding the GIL. Every entry point is
guarded: an exception never crosses into C, it becomes one ``tvc_error`` code through
:func:`error_code` (the one table: a :class:`~tvc_ffmpeg.errors.TvcError`'s ``.code``)
and its message goes to the context's log callback. Anything else an entry point returns
is a result: a negative int is a code (TVC_EAGAIN, TVC_EOF, or a failure).

Settings arrive as dicts named after the C structs' fields, with the C "unset" values
(NULL, 0, -1); :func:`encoder_settings` / :func:`decoder_settings` turn them into
EncoderSettings / DecoderSettings, where every default and check lives.

This module imports neither torch nor the codec at import time: a context's ``open``
does, so an early failure (bad settings) is cheap.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import threading
from collections import deque
from fractions import Fraction
from typing import Any, Callable, Deque, Dict, Optional, Tuple

from . import errors
from .errors import InvalidArgumentError, TvcError
from .settings import AUTO_MASK, DecoderSettings, EncoderSettings

log = logging.getLogger(__name__)
PACKAGE_LOGGER = "tvc_ffmpeg"

# tvc.h: enum tvc_log_level, and TVC_NOPTS (= FFmpeg's AV_NOPTS_VALUE).
LOG_ERROR, LOG_WARNING, LOG_INFO, LOG_DEBUG = 0, 1, 2, 3
NOPTS = -(2**63)
PACKET_FLAG_KEY = 1

# The C structs' "unset" value of each settings field: that field then keeps the
# EncoderSettings/DecoderSettings default. mask_pattern has none (0 is pattern 0, the
# default): tvc.h's -1 is "auto".
_UNSET: Dict[str, Any] = {
    "model": None, "weights_path": None, "backend": None, "quality": -1, "bitrate": 0,
    "gop_length": 0, "threads": 0, "max_pixels": 0, "max_gop_pixels": 0, "colour_correction": -1,
}
_C_AUTO_MASK = -1
_NO_UNSET = object()

LogSink = Callable[[int, str], None]


def error_code(exc: BaseException) -> int:
    """The tvc_error of an exception: the one table from Python exceptions to C codes."""
    if isinstance(exc, TvcError):
        return int(exc.code)
    if isinstance(exc, MemoryError):
        return errors.TVC_ENOMEM
    return errors.TVC_EINTERNAL


def tvc_level(levelno: int) -> int:
    """A logging level as enum tvc_log_level."""
    if levelno >= logging.ERROR:
        return LOG_ERROR
    if levelno >= logging.WARNING:
        return LOG_WARNING
    if levelno >= logging.INFO:
        return LOG_INFO
    return LOG_DEBUG


class _Context:
    """What every hosted context has: its log sink and level. While one of its entry
    points runs, it is this thread's active context, which the package's log records go to."""

    def __init__(self, sink: LogSink, log_level: int) -> None:
        self.sink = sink
        self.log_level = log_level

    def emit(self, level: int, message: str) -> None:
        if level <= self.log_level:
            self.sink(level, message)


_active = threading.local()


class _ForwardToContext(logging.Handler):
    """Sends the package's log records to the log callback of the context whose call
    emitted them (records emitted outside any call have no context and are dropped)."""

    def emit(self, record: logging.LogRecord) -> None:
        context: Optional[_Context] = getattr(_active, "context", None)
        if context is None:
            return
        try:
            context.emit(tvc_level(record.levelno), record.getMessage())
        except Exception:  # a log line must never fail the call that logged it
            self.handleError(record)


_handler = _ForwardToContext()
_handler_lock = threading.Lock()


def _install_handler() -> None:
    with _handler_lock:
        logger = logging.getLogger(PACKAGE_LOGGER)
        if _handler not in logger.handlers:
            logger.addHandler(_handler)


def embedded() -> None:
    """Called once by libtvc when it started the interpreter itself (ffmpeg): nobody
    else configures logging there, so the package's records of every level reach the
    contexts' callbacks (each filters by its log_level) and nothing else."""
    logger = logging.getLogger(PACKAGE_LOGGER)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    _install_handler()


def report(context: Optional[_Context], sink: Optional[LogSink], exc: BaseException) -> int:
    """Logs ``exc`` to the context's callback (or ``sink``) and returns its code."""
    message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    try:
        if context is not None:
            context.emit(LOG_ERROR, message)
        elif sink is not None:
            sink(LOG_ERROR, message)
    except Exception:
        pass  # the code still tells the caller what happened
    return error_code(exc)


def _guarded(method: Callable[..., Any]) -> Callable[..., Any]:
    """Runs an entry point with its context active; an exception becomes its code."""

    @functools.wraps(method)
    def run(self: _Context, *args: Any) -> Any:
        previous = getattr(_active, "context", None)
        _active.context = self
        try:
            return method(self, *args)
        except BaseException as exc:  # noqa: BLE001 - nothing may unwind into C
            return report(self, None, exc)
        finally:
            _active.context = previous

    return run


def _from_c(cls: type, c: Dict[str, Any]) -> Any:
    kwargs: Dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        value = c[f.name]
        if f.name == "mask_pattern" and value == _C_AUTO_MASK:
            kwargs[f.name] = AUTO_MASK
        elif f.name == "colour_correction" and value in (0, 1):
            kwargs[f.name] = bool(value)  # a C int flag; other values fail EncoderSettings' check
        elif value != _UNSET.get(f.name, _NO_UNSET):
            kwargs[f.name] = value
    return cls(**kwargs)


def encoder_settings(c: Dict[str, Any]) -> EncoderSettings:
    """TvcEncoderSettings (as a dict of its fields) -> EncoderSettings."""
    return _from_c(EncoderSettings, c)


def decoder_settings(c: Dict[str, Any]) -> DecoderSettings:
    """TvcDecoderSettings (as a dict of its fields) -> DecoderSettings."""
    return _from_c(DecoderSettings, c)


def video_info(c: Dict[str, Any]):
    """TvcVideoInfo (as a dict) -> VideoInfo. frame_rate 0 = 25 fps; time_base 0 = one
    frame per tick (1 / frame_rate)."""
    from .video.frames import VideoInfo

    if c["width"] < 1 or c["height"] < 1:
        raise InvalidArgumentError(f"video.width and video.height must be set (>= 1), got {c['width']}x{c['height']}")
    rates = {}
    for name in ("frame_rate", "time_base", "sample_aspect_ratio"):
        num, den = c[name]
        if num < 0 or den <= 0 or (num == 0 and name != "sample_aspect_ratio" and den != 1):
            raise InvalidArgumentError(f"video.{name} must be num/den with den > 0 and num >= 0, got {num}/{den}")
        rates[name] = (num, den)
    frame_rate = Fraction(*rates["frame_rate"]) if rates["frame_rate"][0] else Fraction(25)
    time_base = Fraction(*rates["time_base"]) if rates["time_base"][0] else 1 / frame_rate
    return VideoInfo(
        width=c["width"], height=c["height"], frame_rate=frame_rate, time_base=time_base,
        sample_aspect_ratio=rates["sample_aspect_ratio"], color_primaries=c["color_primaries"],
        color_trc=c["color_trc"], colorspace=c["colorspace"], color_range=c["color_range"],
        chroma_format=c["chroma_format"], bit_depth=c["bit_depth"],
    )


def _plane(view: memoryview, stride: int, width: int, height: int, name: str):
    import numpy as np

    if stride < width:
        raise InvalidArgumentError(f"picture plane {name}: stride {stride} is less than its width {width}")
    # The caller owns the planes only for the call: copy.
    return np.ndarray((height, width), np.uint8, buffer=view, strides=(stride, 1)).copy()


class EncoderHost(_Context):
    """A TvcEncoder: Encoder + a queue of finished packets."""

    def __init__(self, settings: Dict[str, Any], video: Dict[str, Any], sink: LogSink, log_level: int) -> None:
        super().__init__(sink, log_level)
        self.settings = settings
        self.video = video
        self.encoder = None
        self._packets: Deque[Tuple[bytes, int, int, int]] = deque()
        self._flushed = False

    @_guarded
    def open(self) -> int:
        from .codec import Encoder

        info = video_info(self.video)
        self.encoder = Encoder(info, encoder_settings(self.settings))
        self._frame_duration = info.frame_duration
        self._header = self.encoder.header.to_bytes()
        return 0

    @_guarded
    def header(self) -> bytes:
        return self._header

    @_guarded
    def send_frame(self, picture: Optional[tuple]) -> int:
        from .video.frames import Frame

        if self._flushed:
            raise InvalidArgumentError("encoder already flushed: no frame can be sent after NULL")
        if picture is None:
            self._flushed = True
            self._queue(self.encoder.encode(None))
            return 0
        y, ys, u, us, v, vs, width, height, pts = picture
        info = self.encoder.info
        if (width, height) != (info.width, info.height):
            raise InvalidArgumentError(f"picture is {width}x{height}, the encoder was opened for {info.width}x{info.height}")
        cw, ch = (width + 1) // 2, (height + 1) // 2
        frame = Frame(_plane(y, ys, width, height, "0 (Y)"), _plane(u, us, cw, ch, "1 (U)"),
                      _plane(v, vs, cw, ch, "2 (V)"), pts=pts)
        self._queue(self.encoder.encode(frame))
        return 0

    def _queue(self, packets) -> None:
        for p in packets:
            duration = p.frame_count * self._frame_duration
            self._packets.append((p.to_bytes(), p.first_pts, duration, PACKET_FLAG_KEY))

    @_guarded
    def receive_packet(self):
        if self._packets:
            return self._packets.popleft()
        return errors.TVC_EOF if self._flushed else errors.TVC_EAGAIN

    @_guarded
    def close(self) -> int:
        if self.encoder is not None:
            self.encoder.close()
        self._packets.clear()
        return 0


class DecoderHost(_Context):
    """A TvcDecoder: Decoder + GoP order checks + a queue of decoded frames."""

    def __init__(self, settings: Dict[str, Any], header: bytes, sink: LogSink, log_level: int) -> None:
        super().__init__(sink, log_level)
        self.settings = settings
        self.header_bytes = header
        self.decoder = None
        self._frames: Deque[tuple] = deque()
        self._expected = 0  # gop_index of the next GoP in order; None: any (after a flush)
        self._flushed = False

    @_guarded
    def open(self) -> int:
        from .bitstream import SequenceHeader
        from .codec import Decoder

        settings = decoder_settings(self.settings)  # the caller's mistakes first
        self.decoder = Decoder(SequenceHeader.from_bytes(self.header_bytes), settings)
        return 0

    @_guarded
    def video_info(self) -> tuple:
        h = self.decoder.header
        return (h.width, h.height, *h.frame_rate, *h.time_base, *h.sample_aspect_ratio,
                h.color_primaries, h.color_trc, h.colorspace, h.color_range, h.chroma_format, h.bit_depth)

    @_guarded
    def send_packet(self, data: Optional[bytes], pts: int) -> int:
        from .bitstream import GopPacket

        if data is None:
            self._flushed = True
            return 0
        if self._flushed:
            raise InvalidArgumentError("decoder already flushed: call tvc_decoder_flush() before sending again")
        packet = GopPacket.from_bytes(data, self.decoder.header)
        index = packet.gop_index
        if self._expected is None:
            self._expected = index  # after tvc_decoder_flush() (a seek) any GoP may come first
        # The order rules of the .tvc reader (docs/bitstream.md): a repeat or a GoP out of
        # order is dropped (its frames were delivered or counted), a gap is only reported.
        if index < self._expected:
            what = "repeated" if index == self._expected - 1 else f"out of order (after GoP {self._expected - 1})"
            log.warning("GoP %d %s: dropped", index, what)
            return 0
        if index > self._expected:
            which = f"GoP {self._expected}" if index == self._expected + 1 else f"GoPs {self._expected}..{index - 1}"
            log.warning("%s missing (gop_index jumps from %d to %d)", which, self._expected - 1, index)
        self._expected = index + 1  # also when decoding fails below: its loss is reported once
        shift = 0 if pts == NOPTS else pts - packet.first_pts
        for f in self.decoder.decode(packet):
            self._frames.append((f.y, f.u, f.v, f.pts + shift))
        return 0

    @_guarded
    def receive_frame(self):
        import numpy as np

        if self._frames:
            y, u, v, pts = self._frames.popleft()
            return (np.ascontiguousarray(y), np.ascontiguousarray(u), np.ascontiguousarray(v), pts)
        return errors.TVC_EOF if self._flushed else errors.TVC_EAGAIN

    @_guarded
    def flush(self) -> int:
        self._frames.clear()
        self._expected = None
        self._flushed = False
        return 0

    @_guarded
    def close(self) -> int:
        self._frames.clear()
        return 0


_install_handler()

__all__ = ["DecoderHost", "EncoderHost", "decoder_settings", "encoder_settings", "error_code", "video_info"]
