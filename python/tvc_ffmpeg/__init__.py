"""tvc_ffmpeg: TVC, a learned token-based video codec for ultra-low bitrates.

Public API (everything else is internal):

- bitstream: :class:`SequenceHeader`, :class:`GopPacket`, :class:`TvcWriter`,
  :class:`TvcReader`, whose items are :class:`Record` or :class:`Damaged`, and
  :class:`EndOfStream` (docs/bitstream.md)
- entropy coding: :class:`RansEncoder`, :class:`RansDecoder`, :class:`CdfTable`,
  :func:`pmf_to_cdf`, :func:`logits_to_cdf`
- errors: :class:`TvcError` and its subclasses
- the codec: :class:`Encoder`, :class:`Decoder` (configured by :class:`EncoderSettings`,
  :class:`DecoderSettings`), :class:`CodecModel`,
  :func:`open` for .tvc files; frames are :class:`Frame` (8-bit 4:2:0 planes),
  streams are described by :class:`VideoInfo`

``import tvc_ffmpeg`` is cheap: each public name is imported from its module on
first use, so tools that only read containers (``tvc info``, the C API host
parsing a header) never load torch or PyAV.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Dict, List

from ._version import __version__

# Public name -> the submodule (relative to this package) that defines it. This
# table is the one place that says where a public name lives; __all__ is built
# from it so the two cannot disagree.
_LAZY_NAMES: Dict[str, str] = {
    # container (docs/bitstream.md)
    "Damaged": ".bitstream",
    "EndOfStream": ".bitstream",
    "GopPacket": ".bitstream",
    "Record": ".bitstream",
    "SequenceHeader": ".bitstream",
    "TvcReader": ".bitstream",
    "TvcWriter": ".bitstream",
    "read_header": ".bitstream",
    # the codec sessions and files
    "CodecModel": ".codec",
    "Decoder": ".codec",
    "Encoder": ".codec",
    "open": ".files",
    "DecoderSettings": ".settings",
    "EncoderSettings": ".settings",
    # entropy coding (native)
    "CdfTable": ".entropy",
    "RansDecoder": ".entropy",
    "RansEncoder": ".entropy",
    "logits_to_cdf": ".entropy",
    "pmf_to_cdf": ".entropy",
    # errors
    "BackendError": ".errors",
    "CrcMismatchError": ".errors",
    "InternalError": ".errors",
    "InvalidArgumentError": ".errors",
    "InvalidDataError": ".errors",
    "LimitExceededError": ".errors",
    "ModelMismatchError": ".errors",
    "TruncatedDataError": ".errors",
    "TvcError": ".errors",
    "TvcMemoryError": ".errors",
    "UnsupportedVersionError": ".errors",
    # video frames and files
    "Frame": ".video",
    "VideoInfo": ".video",
    "open_input": ".video",
    "open_output": ".video",
}

__all__ = ["__version__", *sorted(_LAZY_NAMES)]

if TYPE_CHECKING:  # static checkers and IDEs see the real names; at run time they load lazily
    from .bitstream import (Damaged, EndOfStream, GopPacket, Record, SequenceHeader, TvcReader, TvcWriter,
                            read_header)
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
    from .settings import DecoderSettings, EncoderSettings
    from .video import Frame, VideoInfo, open_input, open_output


def __getattr__(name: str) -> Any:
    module_name = _LAZY_NAMES.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name, __name__), name)
    # Cache it so the next access is a plain attribute lookup, not a call.
    globals()[name] = value
    return value


def __dir__() -> List[str]:
    return sorted(set(globals()) | set(_LAZY_NAMES))
