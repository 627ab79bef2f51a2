"""tvc_ffmpeg: TVC, a learned token-based video codec for ultra-low bitrates.

Public API (everything else is internal):

- bitstream: :class:`SequenceHeader`, :class:`GopPacket`, :class:`TvcWriter`,
  :class:`TvcReader` (docs/bitstream.md)
- entropy coding: :class:`RansEncoder`, :class:`RansDecoder`, :class:`CdfTable`,
  :func:`pmf_to_cdf`, :func:`logits_to_cdf`
- errors: :class:`TvcError` and its subclasses
"""

from ._version import __version__
from .bitstream import GopPacket, Record, SequenceHeader, TvcReader, TvcWriter, read_header
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

__all__ = [
    "__version__",
    "BackendError",
    "CdfTable",
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
    "pmf_to_cdf",
    "read_header",
]
