"""tvc_ffmpeg: TVC, a learned token-based video codec for ultra-low bitrates.

Public API (everything else is internal):

- bitstream: :class:`SequenceHeader`, :class:`GopPacket`, :class:`TvcWriter`,
  :class:`TvcReader` (docs/bitstream.md)
- entropy coding: :class:`RansEncoder`, :class:`RansDecoder`, :class:`CdfTable`,
  :func:`pmf_to_cdf`, :func:`logits_to_cdf`
- errors: :class:`TvcError` and its subclasses
- the codec: :class:`Encoder`, :class:`Decoder`, :class:`CodecModel`,
  :func:`open` for .tvc files; frames are :class:`Frame` (8-bit 4:2:0 planes),
  streams are described by :class:`VideoInfo`
"""

from ._version import __version__
from .bitstream import GopPacket, Record, SequenceHeader, TvcReader, TvcWriter, read_header
from .codec import CodecModel, Decoder, Encoder
from .entropy import CdfTable, RansDecoder, RansEncoder, logits_to_cdf, pmf_to_cdf
from .errors import (
    BackendError,
    CrcMismatchError,
    InternalError,
    InvalidArgumentError,
    InvalidDataError,
    LimitExceededError,
    ModelMismatchError,
    TruncatedDataError,
    TvcError,
    TvcMemoryError,
    UnsupportedVersionError,
)
from .files import open
from .video import Frame, VideoInfo, open_input, open_output

__all__ = [
    "__version__",
    "BackendError",
    "CdfTable",
    "CodecModel",
    "Decoder",
    "Encoder",
    "Frame",
    "VideoInfo",
    "CrcMismatchError",
    "GopPacket",
    "InternalError",
    "InvalidArgumentError",
    "InvalidDataError",
    "LimitExceededError",
    "ModelMismatchError",
    "RansDecoder",
    "RansEncoder",
    "Record",
    "SequenceHeader",
    "TruncatedDataError",
    "TvcError",
    "TvcMemoryError",
    "TvcReader",
    "TvcWriter",
    "UnsupportedVersionError",
    "logits_to_cdf",
    "open",
    "open_input",
    "open_output",
    "pmf_to_cdf",
    "read_header",
]
