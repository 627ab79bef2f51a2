"""The one error hierarchy of tvc_ffmpeg.

Every error the library raises is a :class:`TvcError`. Subclasses also inherit
the matching builtin, so ``except ValueError`` keeps working for callers that
do not know this package. Native error codes (``tvc_error`` in
``csrc/include/tvc/tvc.h``) map to exactly one class through ``_BY_CODE``.
"""

from __future__ import annotations

from typing import Dict, Type

# Values of enum tvc_error in tvc.h. tests/test_errors.py checks them against
# the compiled library, so the two cannot drift apart.
TVC_OK = 0
TVC_EAGAIN = -1
TVC_EOF = -2
TVC_EINVAL = -3
TVC_EINVALIDDATA = -4
TVC_ETRUNCATED = -5
TVC_ECRC = -6
TVC_EUNSUPPORTED_VERSION = -7
TVC_EMODEL_MISMATCH = -8
TVC_ENOMEM = -9
TVC_ELIMIT = -10
TVC_EBACKEND = -11
TVC_EINTERNAL = -12


class TvcError(Exception):
    """Base class of every error raised by tvc_ffmpeg."""

    code = TVC_EINTERNAL


class InvalidArgumentError(TvcError, ValueError):
    """A bad argument or setting from the caller."""

    code = TVC_EINVAL


class InvalidDataError(TvcError, ValueError):
    """Malformed or inconsistent stream data."""

    code = TVC_EINVALIDDATA


class TruncatedDataError(InvalidDataError):
    """Stream data ends before it should."""

    code = TVC_ETRUNCATED


class CrcMismatchError(InvalidDataError):
    """A packet's CRC32 does not match its bytes: the packet is damaged."""

    code = TVC_ECRC


class UnsupportedVersionError(InvalidDataError):
    """The stream uses a bitstream version or feature this library does not know."""

    code = TVC_EUNSUPPORTED_VERSION


class ModelMismatchError(TvcError, ValueError):
    """The stream was made with another model or with other weights."""

    code = TVC_EMODEL_MISMATCH


class LimitExceededError(TvcError, ValueError):
    """A size limit (picture size, packet size) was exceeded."""

    code = TVC_ELIMIT


class TvcMemoryError(TvcError, MemoryError):
    """An allocation failed."""

    code = TVC_ENOMEM


class BackendError(TvcError, RuntimeError):
    """The neural-network runtime (torch, ONNX Runtime, TensorRT) failed."""

    code = TVC_EBACKEND


class InternalError(TvcError, RuntimeError):
    """A bug in tvc_ffmpeg: please report it."""

    code = TVC_EINTERNAL


_BY_CODE: Dict[int, Type[TvcError]] = {
    cls.code: cls
    for cls in (
        InvalidArgumentError,
        InvalidDataError,
        TruncatedDataError,
        CrcMismatchError,
        UnsupportedVersionError,
        ModelMismatchError,
        LimitExceededError,
        TvcMemoryError,
        BackendError,
        InternalError,
    )
}


def error_class(code: int) -> Type[TvcError]:
    """The exception class for a native error code (used by the native module)."""
    return _BY_CODE.get(code, InternalError)
