"""The TVC bitstream in Python: typed packets and .tvc files.

The byte layout is specified in docs/bitstream.md and implemented once, in the
C++ core; so are the field lists (the binding's tables, from which the frozen
dataclasses here take their fields). This module adds file handling.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import secrets
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, BinaryIO, Callable, Dict, Iterable, Iterator, Optional, Tuple, TypeVar, Union

from . import _native
from .errors import (InvalidArgumentError, InvalidDataError, ModelMismatchError, TruncatedDataError, TvcError,
                     error_class)

log = logging.getLogger(__name__)

FILE_SIGNATURE: bytes = _native.FILE_SIGNATURE
BITSTREAM_VERSION: Tuple[int, int] = tuple(_native.BITSTREAM_VERSION)  # type: ignore[assignment]

PACKET_SEQUENCE_HEADER = 1
PACKET_GOP = 2
PACKET_END_OF_STREAM = 3
# Sequence-header flag: the stream promises an end record (docs/bitstream.md, 2.1).
FLAG_END_RECORD = 1
SUBSTREAM_DISCRETE = 1
SUBSTREAM_CONTINUOUS = 2
# Ignorable extension (docs/bitstream.md): the GoP's DC colour correction (codec/colour.py).
SUBSTREAM_COLOUR = 128

CHROMA_FORMATS = {0: "4:0:0", 1: "4:2:0", 2: "4:2:2", 3: "4:4:4"}
COLOR_RANGES = {0: "unspecified", 1: "limited", 2: "full"}

PathOrFile = Union[str, "os.PathLike[str]", BinaryIO]


_Class = TypeVar("_Class", bound=type)


def _native_fields(names: Tuple[str, ...], defaults: Dict[str, Any]) -> Callable[[_Class], _Class]:
    """Class decorator: a frozen dataclass whose fields are the binding's table
    (csrc/python/module.cpp, in its order, with the C++ struct's defaults), so
    the field list lives in one place. The fields without a default come first
    there, and are the ones a caller must give."""

    def build(cls: _Class) -> _Class:
        annotations: Dict[str, Any] = {}
        for name in names:
            if name in defaults:
                annotations[name] = type(defaults[name])
                setattr(cls, name, defaults[name])  # immutable values: ints, tuples
            else:
                annotations[name] = Any
        cls.__annotations__ = annotations
        return dataclass(frozen=True)(cls)

    return build


def _fields_dict(obj: Any) -> Dict[str, Any]:
    # Shallow, unlike dataclasses.asdict: the native writer takes the values as they are.
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}


@_native_fields(_native.SEQUENCE_HEADER_FIELDS, _native.SEQUENCE_HEADER_DEFAULTS)
class SequenceHeader:
    """Stream-wide properties (docs/bitstream.md, "Sequence header").

    ``SequenceHeader(model_id, weights_sha256, width, height, gop_length, ...)``;
    the fields and their defaults come from ``_native.SEQUENCE_HEADER_FIELDS``.
    """

    def to_bytes(self) -> bytes:
        return _native.write_sequence_header(_fields_dict(self))

    @classmethod
    def from_bytes(cls, packet: bytes) -> "SequenceHeader":
        return cls(**_native.parse_sequence_header(packet))

    @property
    def fps(self) -> Optional[Fraction]:
        num, den = self.frame_rate  # type: ignore[attr-defined]
        return Fraction(num, den) if num else None


@_native_fields(_native.GOP_PACKET_FIELDS, _native.GOP_PACKET_DEFAULTS)
class GopPacket:
    """One group of pictures (docs/bitstream.md, "GoP packet").

    ``GopPacket(gop_index, frame_count, ...)``; the fields come from
    ``_native.GOP_PACKET_FIELDS``. ``coded_width`` x ``coded_height`` is the
    picture size the tokenizer coded (the decoder resamples it to the stream's
    size). ``substreams`` holds ``(kind, payload)`` pairs; kinds 1 (discrete
    tokens) and 2 (continuous latent) are defined, 128..255 are ignorable
    extensions.
    """

    def to_bytes(self) -> bytes:
        return _native.write_gop_packet(_fields_dict(self))

    @classmethod
    def from_bytes(cls, packet: bytes, stream: Optional[SequenceHeader] = None) -> "GopPacket":
        """Parses one GoP packet; given the stream's header, also checks the frame
        count against its GoP length and the coded size against its picture size."""
        return cls(**_native.parse_gop_packet(packet, None if stream is None else _fields_dict(stream)))

    def substream(self, kind: int) -> Optional[bytes]:
        for k, payload in self.substreams:  # type: ignore[attr-defined]
            if k == kind:
                return payload
        return None


@_native_fields(_native.END_OF_STREAM_FIELDS, _native.END_OF_STREAM_DEFAULTS)
class EndOfStream:
    """The end-of-stream packet (type 3, since 2.1): totals of a finished stream,
    ``EndOfStream(gop_count, frame_count)``."""

    def to_bytes(self) -> bytes:
        return _native.write_end_of_stream(_fields_dict(self))

    @classmethod
    def from_bytes(cls, packet: bytes, stream: Optional[SequenceHeader] = None) -> "EndOfStream":
        return cls(**_native.parse_end_of_stream(packet, None if stream is None else _fields_dict(stream)))


@dataclass(frozen=True)
class Record:
    """One GoP read from a .tvc stream, where it was found, and its packet."""

    offset: int  # of the record's sync in the stream
    size: int  # of the whole record (sync, size field, packet)
    packet: GopPacket
    packet_bytes: bytes = field(repr=False, compare=False, default=b"")


@dataclass(frozen=True)
class Damaged:
    """A stretch of a stream that did not decode, and what it costs.

    Met in the place of the GoPs it lost: damaged bytes (``size`` > 0), GoPs
    that are simply missing (``size`` == 0: a gap in ``gop_index``, or a stream
    that ends early), or a GoP dropped because it repeats or comes out of order
    (``gops`` == 0: its frames were already delivered or already counted).
    ``gops``/``frames`` are None where the stream does not say how many were lost.
    """

    offset: int
    size: int
    error: TvcError
    gops: Optional[int]
    frames: Optional[int]
    first_gop: Optional[int] = None  # index of the first GoP lost, when known

    def describe(self) -> str:
        if self.gops is None:
            cost = "an unknown number of GoPs lost"
        elif self.gops == 0:
            cost = "no GoP lost"
        else:
            first = self.first_gop
            which = "" if first is None else (
                f" ({first})" if self.gops == 1 else f" ({first}..{first + self.gops - 1})")
            frames = "" if self.frames is None else f", {self.frames} frame(s)"
            cost = f"{self.gops} GoP(s){which}{frames} lost"
        where = f"{self.size} bytes at byte {self.offset}" if self.size else f"at byte {self.offset}"
        return f"{type(self.error).__name__}: {self.error} [{where}; {cost}]"


@contextmanager
def _writing(name: str) -> Iterator[None]:
    """Re-raises an OSError of a write, flush or close with the target's name:
    ``write()`` on a full disk raises without one, and the CLI's message
    ("cannot write: out.tvc: No space left on device") needs it."""
    try:
        yield
    except OSError as exc:
        # OSError(errno, ...) picks the matching subclass (BrokenPipeError, ...).
        new = OSError(exc.errno, exc.strerror or str(exc), name)
        new.tvc_action = "cannot write"  # type: ignore[attr-defined]
        raise new from exc


def _temporary_name(path: str) -> str:
    # Same directory as the target, so the final rename is atomic and stays on one file system.
    directory, name = os.path.split(os.path.abspath(path))
    return os.path.join(directory, f".{name}.{os.getpid()}.{secrets.token_hex(4)}.part")


class TvcWriter:
    """Writes a .tvc stream: signature, the sequence header, GoP packets and, on a
    successful :meth:`close`, an end-of-stream record with the totals.

    Given a path, it writes to a temporary file in the same directory and renames
    it onto the path only when closed successfully; leaving a ``with`` block by an
    exception (or calling :meth:`abort`) removes it and leaves the path untouched.
    ``end_record=False`` is for live streams that never end: the header then makes
    no promise of an end record.
    """

    def __init__(self, target: PathOrFile, header: SequenceHeader, *, end_record: bool = True) -> None:
        flags = header.flags | FLAG_END_RECORD if end_record else header.flags & ~FLAG_END_RECORD
        self.header = dataclasses.replace(header, flags=flags)
        self._end_record = end_record
        self._path: Optional[str] = None
        self._temporary: Optional[str] = None
        if isinstance(target, (str, os.PathLike)):
            self._path = os.fspath(target)
            if os.path.exists(self._path) and not os.path.isfile(self._path):
                # A device or FIFO is written in place (a directory fails here, naming itself).
                self._file: BinaryIO = open(self._path, "wb")
            else:
                self._temporary = _temporary_name(self._path)
                try:
                    self._file = open(self._temporary, "xb")
                except OSError as exc:
                    # Name the file the user asked for, not the temporary one.
                    raise type(exc)(exc.errno, exc.strerror, self._path) from None
            self._owns = True
        else:
            self._file, self._owns = target, False
        # What an error names: the user's path (never the temporary one), or the open
        # file's own name ("<stdout>" for sys.stdout.buffer).
        name = self._path if self._path is not None else getattr(target, "name", None)
        self.name: str = name if isinstance(name, str) else "<stream>"
        self._next_index = 0
        self._frames = 0
        self._short_gop: Optional[int] = None
        self._closed = False
        self.bytes_written = 0
        try:
            self._write(FILE_SIGNATURE)
            self._write(_native.write_record(self.header.to_bytes()))
        except BaseException:
            self.abort()
            raise

    def _write(self, data: bytes) -> None:
        with _writing(self.name):
            self._file.write(data)
        self.bytes_written += len(data)

    def write_packet(self, packet: GopPacket) -> bytes:
        """Appends one GoP; returns its packet bytes (what an AVPacket would carry)."""
        if self._closed:
            raise InvalidArgumentError("write_packet() on a closed TvcWriter")
        if packet.gop_index != self._next_index:
            raise InvalidArgumentError(
                f"GoP index {packet.gop_index} written where {self._next_index} was expected"
            )
        if packet.frame_count > self.header.gop_length:
            raise InvalidArgumentError(
                f"GoP of {packet.frame_count} frames exceeds the stream's GoP length "
                f"{self.header.gop_length}"
            )
        if self._short_gop is not None:
            raise InvalidArgumentError(
                f"GoP {packet.gop_index} follows GoP {self._short_gop}, which was short: only the "
                "last GoP of a stream may have fewer frames than the GoP length"
            )
        h = self.header
        if not (1 <= packet.coded_width <= 2 * h.width and 1 <= packet.coded_height <= 2 * h.height):
            raise InvalidArgumentError(
                f"coded picture {packet.coded_width}x{packet.coded_height} must be 1x1 up to twice "
                f"the stream's {h.width}x{h.height}"
            )
        data = packet.to_bytes()
        self._write(_native.write_record(data))
        self._next_index += 1
        self._frames += packet.frame_count
        if packet.frame_count < self.header.gop_length:
            self._short_gop = packet.gop_index
        return data

    def write_packets(self, packets: Iterable[GopPacket]) -> None:
        for packet in packets:
            self.write_packet(packet)

    def close(self) -> None:
        """Ends the stream: writes the end record, closes and (for a path) renames into place."""
        if self._closed:
            return
        try:
            if self._end_record:
                self._write(_native.write_record(EndOfStream(self._next_index, self._frames).to_bytes()))
            with _writing(self.name):
                self._file.flush()
                if self._owns:
                    self._file.close()
            if self._temporary is not None:
                os.replace(self._temporary, self._path)  # type: ignore[arg-type]
                self._temporary = None
        except BaseException:
            self.abort()
            raise
        self._closed = True

    def abort(self) -> None:
        """Gives up the stream: nothing more is written, a temporary file is removed."""
        self._closed = True
        if self._owns and not self._file.closed:
            try:
                self._file.close()
            except OSError:
                pass  # e.g. ENOSPC on the final flush: the file is being discarded anyway
        if self._temporary is not None:
            try:
                os.unlink(self._temporary)
            except FileNotFoundError:
                pass
            self._temporary = None

    def __enter__(self) -> "TvcWriter":
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


_CHUNK = 1 << 16


class TvcReader:
    """Reads a .tvc stream record by record from a path, an open binary file,
    ``sys.stdin.buffer`` or a pipe; it never reads ahead more than one record.

    ``header`` (read on construction) is the sequence header. Iterating yields,
    in stream order, a :class:`Record` for each GoP and a :class:`Damaged` for
    everything that did not decode: damaged bytes, GoPs missing from the
    ``gop_index`` sequence (how many, and how many frames, from the next good
    GoP or the end record), repeated or out-of-order GoPs (dropped, so frames
    never come twice or out of order) and a stream that ends early. After the
    iteration, ``end`` is the end record (None without one) and
    ``end_verified`` says whether the end of the stream could be checked.

    ``follow=True`` waits for more data at the end of a file that is still
    being written, until its end record arrives (like ``tail -f``).
    """

    def __init__(self, source: PathOrFile, *, follow: bool = False, poll_seconds: float = 0.1) -> None:
        if isinstance(source, (str, os.PathLike)):
            self._file: BinaryIO = open(source, "rb")
            self._owns = True
        else:
            self._file, self._owns = source, False
        # read1 returns what is there (a pipe's writer may be slow); read would wait for a full chunk.
        self._read = getattr(self._file, "read1", self._file.read)
        self._follow = follow
        self._poll = poll_seconds
        self._scanner = _native.RecordScanner()
        self._eof = False
        self._started = False
        self.end: Optional[EndOfStream] = None
        self.end_verified = False
        try:
            first = self._next_raw()
            if first is None or first["error"] or first["type"] != PACKET_SEQUENCE_HEADER:
                if first is None:
                    reason = "the stream is empty"
                elif first["error"]:
                    reason = first["message"]
                else:
                    reason = f"the first packet has type {first['type']}"
                raise InvalidDataError(f"cannot read the sequence header: {reason}")
            self._header_bytes: bytes = first["packet"]
            self.header = SequenceHeader.from_bytes(self._header_bytes)
        except BaseException:
            self.close()
            raise

    @property
    def size(self) -> int:
        """Bytes read so far (the whole stream's size once iterated)."""
        return self._scanner.position + self._scanner.buffered

    def _next_raw(self) -> Optional[dict]:
        while True:
            raw = self._scanner.next()
            if raw is not None:
                return raw
            if self._scanner.finished:
                return None
            chunk = self._read(_CHUNK)
            if chunk:
                self._scanner.feed(chunk)
            elif self._follow and self.end is None:
                time.sleep(self._poll)
            else:
                self._scanner.finish()

    def __iter__(self) -> Iterator[Union[Record, Damaged]]:
        if self._started:
            raise InvalidArgumentError("a TvcReader can be iterated only once (it reads a stream)")
        self._started = True
        try:
            yield from self._records()
        finally:
            self.close()

    def _records(self) -> Iterator[Union[Record, Damaged]]:
        h = self.header
        expected = 0  # gop_index of the next GoP in order
        frames = 0  # frames of the GoPs delivered or counted as lost so far
        pending: Optional[Damaged] = None  # damage whose cost the next good GoP or the end tells

        def lost_before(index: int, at: int) -> Damaged:
            # GoPs expected..index-1 are gone; every GoP but a stream's last is full.
            n = index - expected
            which = f"GoP {expected}" if n == 1 else f"GoPs {expected}..{index - 1}"
            base = pending or Damaged(at, 0, InvalidDataError(
                f"{which} missing (gop_index jumps from {expected - 1} to {index})"), 0, 0)
            return dataclasses.replace(base, gops=n, frames=n * h.gop_length, first_gop=expected)

        while True:
            raw = self._next_raw()
            if raw is None:
                break
            offset, size = raw["offset"], raw["size"]
            error: Optional[TvcError] = None
            packet: Optional[GopPacket] = None
            if raw["error"]:
                error = error_class(raw["error"])(raw["message"])
            elif raw["type"] == PACKET_SEQUENCE_HEADER:
                if raw["packet"] != self._header_bytes:
                    error = InvalidDataError("repeated sequence header differs from the first")
                else:
                    continue
            elif raw["type"] == PACKET_END_OF_STREAM:
                try:
                    self.end = EndOfStream.from_bytes(raw["packet"], h)
                except InvalidDataError as exc:
                    error = exc
                else:
                    break
            elif raw["type"] == PACKET_GOP:
                try:
                    packet = GopPacket.from_bytes(raw["packet"], h)
                except InvalidDataError as exc:
                    error = exc
            else:
                continue  # unknown packet type with a valid CRC: skipped by the spec
            if packet is None:
                assert error is not None
                # Consecutive damage is one stretch: its cost is known only at the next good GoP.
                if pending is None:
                    pending = Damaged(offset, size, error, None, None)
                else:
                    pending = dataclasses.replace(pending, size=offset + size - pending.offset)
                continue
            index = packet.gop_index
            if index >= expected:
                if index > expected or pending is not None:
                    loss = lost_before(index, offset)
                    frames += loss.frames or 0
                    yield loss
                    pending = None
                expected = index + 1
                frames += packet.frame_count
                yield Record(offset, size, packet, raw["packet"])
                continue
            if pending is not None:
                yield dataclasses.replace(pending, gops=0, frames=0)
                pending = None
            what = "repeated" if index == expected - 1 else f"out of order (after GoP {expected - 1})"
            yield Damaged(offset, size, InvalidDataError(f"GoP {index} {what}: dropped"), 0, 0, index)
        yield from self._finish(expected, frames, pending)

    def _finish(self, expected: int, frames: int, pending: Optional[Damaged]) -> Iterator[Damaged]:
        end_offset = self.size
        if self.end is not None:
            self.end_verified = True
            extra = self._drain()
            gops, missing_frames = self.end.gop_count - expected, self.end.frame_count - frames
            if gops > 0 or pending is not None:
                error = pending.error if pending is not None else TruncatedDataError(
                    f"stream ends early: the end record counts {self.end.gop_count} GoPs and "
                    f"{self.end.frame_count} frames, {gops} GoP(s) are missing")
                base = pending or Damaged(end_offset, 0, error, None, None)
                yield dataclasses.replace(base, gops=max(gops, 0), frames=max(missing_frames, 0),
                                          first_gop=expected if gops > 0 else None)
            elif gops < 0 or missing_frames != 0:
                yield Damaged(end_offset, 0, InvalidDataError(
                    f"the end record counts {self.end.gop_count} GoPs and {self.end.frame_count} frames, "
                    f"the stream has {expected} GoPs and {frames} frames"), 0, 0)
            if extra:
                yield Damaged(end_offset, extra, InvalidDataError(
                    f"{extra} bytes after the end record (not part of the stream)"), 0, 0)
            return
        if pending is not None:
            yield pending  # damage up to the end: how much it cost is not known
        if self.header.flags & FLAG_END_RECORD:
            self.end_verified = True  # verified to be missing
            yield Damaged(end_offset, 0, TruncatedDataError(
                f"stream ends early: its end record is missing (after GoP {expected - 1}); "
                "how many GoPs are missing is not known"), None, None, expected)
        else:
            log.info("the end of the stream could not be verified: it has no end record (a 2.0 "
                     "stream or a live one); %d GoPs, %d frames", expected, frames)

    def _drain(self) -> int:
        # Counts the bytes after the end record (normally none), without keeping them.
        extra = self._scanner.buffered
        while True:
            chunk = self._read(_CHUNK)
            if not chunk:
                return extra
            extra += len(chunk)

    def close(self) -> None:
        if self._owns and not self._file.closed:
            self._file.close()

    def __enter__(self) -> "TvcReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_header(source: PathOrFile) -> SequenceHeader:
    """The sequence header of a .tvc stream (reads only as far as the header)."""
    with TvcReader(source) as reader:
        return reader.header


def require_model(header: SequenceHeader, model_id: str, weights_sha256: bytes) -> None:
    """Refuses a stream made with another model or other weights (ModelMismatchError)."""
    if header.model_id != model_id or header.weights_sha256 != weights_sha256:
        raise ModelMismatchError(
            f"stream was made with model {header.model_id!r} (weights "
            f"{header.weights_sha256.hex()[:12]}...), this decoder has {model_id!r} "
            f"(weights {weights_sha256.hex()[:12]}...)"
        )


__all__ = [
    "BITSTREAM_VERSION",
    "Damaged",
    "EndOfStream",
    "FILE_SIGNATURE",
    "GopPacket",
    "Record",
    "SequenceHeader",
    "TvcReader",
    "TvcWriter",
    "read_header",
    "require_model",
]
