"""The TVC bitstream in Python: typed packets and .tvc files.

The byte layout is specified in docs/bitstream.md and implemented once, in the
C++ core; this module only converts between the native dictionaries and frozen
dataclasses, and adds file handling.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from fractions import Fraction
from typing import BinaryIO, Iterator, List, Optional, Tuple, Union

from . import _native
from .errors import InvalidArgumentError, InvalidDataError, ModelMismatchError, error_class

FILE_SIGNATURE: bytes = _native.FILE_SIGNATURE
BITSTREAM_VERSION: Tuple[int, int] = tuple(_native.BITSTREAM_VERSION)  # type: ignore[assignment]

PACKET_SEQUENCE_HEADER = 1
PACKET_GOP = 2
SUBSTREAM_DISCRETE = 1
SUBSTREAM_CONTINUOUS = 2

CHROMA_FORMATS = {0: "4:0:0", 1: "4:2:0", 2: "4:2:2", 3: "4:4:4"}
COLOR_RANGES = {0: "unspecified", 1: "limited", 2: "full"}

PathOrFile = Union[str, "os.PathLike[str]", BinaryIO]


@dataclass(frozen=True)
class SequenceHeader:
    """Stream-wide properties (docs/bitstream.md, "Sequence header")."""

    model_id: str
    weights_sha256: bytes
    width: int
    height: int
    gop_length: int
    frame_rate: Tuple[int, int] = (0, 1)
    time_base: Tuple[int, int] = (1, 1)
    sample_aspect_ratio: Tuple[int, int] = (0, 1)
    color_primaries: int = 2
    color_trc: int = 2
    colorspace: int = 2
    color_range: int = 0
    chroma_format: int = 1
    bit_depth: int = 8
    flags: int = 0
    version_major: int = BITSTREAM_VERSION[0]
    version_minor: int = BITSTREAM_VERSION[1]

    def to_bytes(self) -> bytes:
        return _native.write_sequence_header(dataclasses.asdict(self))

    @classmethod
    def from_bytes(cls, packet: bytes) -> "SequenceHeader":
        d = _native.parse_sequence_header(packet)
        return cls(**{k: tuple(v) if isinstance(v, tuple) else v for k, v in d.items()})

    @property
    def fps(self) -> Optional[Fraction]:
        num, den = self.frame_rate
        return Fraction(num, den) if num else None


@dataclass(frozen=True)
class GopPacket:
    """One group of pictures (docs/bitstream.md, "GoP packet").

    ``substreams`` holds ``(kind, payload)`` pairs; kinds 1 (discrete tokens)
    and 2 (continuous latent) are defined, 128..255 are ignorable extensions.
    """

    gop_index: int
    frame_count: int
    first_pts: int = 0
    quality: int = 0
    mask_pattern: int = 0
    continuous_step: int = 0
    coded_width: int = 0  # picture size the tokenizer coded; the decoder resamples to the
    coded_height: int = 0  # sequence's width x height (equal to them when not resampled)
    flags: int = 0
    substreams: Tuple[Tuple[int, bytes], ...] = field(default_factory=tuple)

    def to_bytes(self) -> bytes:
        d = dataclasses.asdict(self)
        d["substreams"] = [tuple(s) for s in self.substreams]
        return _native.write_gop_packet(d)

    @classmethod
    def from_bytes(cls, packet: bytes, stream: Optional[SequenceHeader] = None) -> "GopPacket":
        """Parses one GoP packet; given the stream's header, also checks the frame
        count against its GoP length and the coded size against its picture size."""
        d = _native.parse_gop_packet(packet, None if stream is None else dataclasses.asdict(stream))
        d["substreams"] = tuple((int(k), bytes(p)) for k, p in d["substreams"])
        return cls(**d)

    def substream(self, kind: int) -> Optional[bytes]:
        for k, payload in self.substreams:
            if k == kind:
                return payload
        return None


@dataclass(frozen=True)
class Record:
    """One record met while reading a .tvc file: a packet or a damaged stretch."""

    offset: int
    packet_offset: int
    packet_size: int
    packet_type: int
    error: Optional[Exception] = None  # the TvcError describing the damage, if any

    @property
    def damaged(self) -> bool:
        return self.error is not None


def _open(target: PathOrFile, mode: str) -> Tuple[BinaryIO, bool]:
    if isinstance(target, (str, os.PathLike)):
        return open(target, mode), True
    return target, False


class TvcWriter:
    """Writes a .tvc file: signature, the sequence header, then GoP packets."""

    def __init__(self, target: PathOrFile, header: SequenceHeader) -> None:
        self.header = header
        self._file, self._owns = _open(target, "wb")
        self._next_index = 0
        self.bytes_written = 0
        self._write(FILE_SIGNATURE)
        self._write(_native.write_record(header.to_bytes()))

    def _write(self, data: bytes) -> None:
        self._file.write(data)
        self.bytes_written += len(data)

    def write_packet(self, packet: GopPacket) -> bytes:
        """Appends one GoP; returns its packet bytes (what an AVPacket would carry)."""
        if packet.gop_index != self._next_index:
            raise InvalidArgumentError(
                f"GoP index {packet.gop_index} written where {self._next_index} was expected"
            )
        if packet.frame_count > self.header.gop_length:
            raise InvalidArgumentError(
                f"GoP of {packet.frame_count} frames exceeds the stream's GoP length "
                f"{self.header.gop_length}"
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
        return data

    def close(self) -> None:
        if self._owns and not self._file.closed:
            self._file.close()

    def __enter__(self) -> "TvcWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class TvcReader:
    """Reads a .tvc file.

    ``header`` is the sequence header. Iterating yields ``(record, packet)``
    pairs in file order: ``packet`` is the parsed :class:`GopPacket`, or None
    when the record is damaged (``record.error`` says how) - a damaged record
    costs only its own GoP.
    """

    def __init__(self, source: PathOrFile) -> None:
        f, owns = _open(source, "rb")
        try:
            self._data = f.read()
        finally:
            if owns:
                f.close()
        raw = _native.scan_records(self._data)
        self.records: List[Record] = [
            Record(
                offset=r["offset"],
                packet_offset=r["packet_offset"],
                packet_size=r["packet_size"],
                packet_type=r["type"],
                error=error_class(r["error"])(r["message"]) if r["error"] else None,
            )
            for r in raw
        ]
        first = self.records[0] if self.records else None
        if first is None or first.damaged or first.packet_type != PACKET_SEQUENCE_HEADER:
            reason = first.error if first is not None and first.error else "it is missing"
            raise InvalidDataError(f"cannot read the sequence header: {reason}")
        self.header = SequenceHeader.from_bytes(self.packet_bytes(first))

    @property
    def size(self) -> int:
        return len(self._data)

    def packet_bytes(self, record: Record) -> bytes:
        return self._data[record.packet_offset : record.packet_offset + record.packet_size]

    def __iter__(self) -> Iterator[Tuple[Record, Optional[GopPacket]]]:
        for record in self.records[1:]:
            if record.damaged:
                yield record, None
                continue
            if record.packet_type == PACKET_SEQUENCE_HEADER:
                if self.packet_bytes(record) != self.packet_bytes(self.records[0]):
                    err = InvalidDataError("repeated sequence header differs from the first")
                    yield dataclasses.replace(record, error=err), None
                continue
            if record.packet_type != PACKET_GOP:
                continue  # unknown packet type with a valid CRC: skipped by the spec
            try:
                packet = GopPacket.from_bytes(self.packet_bytes(record), self.header)
            except InvalidDataError as exc:
                yield dataclasses.replace(record, error=exc), None
                continue
            yield record, packet


def read_header(source: PathOrFile) -> SequenceHeader:
    """The sequence header of a .tvc file."""
    return TvcReader(source).header




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
    "FILE_SIGNATURE",
    "GopPacket",
    "Record",
    "SequenceHeader",
    "TvcReader",
    "TvcWriter",
    "read_header",
    "require_model",
]
