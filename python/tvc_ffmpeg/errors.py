"""The one error hierarchy of tvc_ffmpeg.

Every error the library raises is a :class:`TvcError`. Subclasses also inherit
the matching builtin, so ``except ValueError`` keeps working for callers that
do not know this package. Native error codes (``tvc_error`` in
``csrc/include/tvc/tvc.h``) map to exactly one class through ``_BY_CODE``.

Every exception class of the package is defined here, including the narrower
ones that modules raise (``ModelRegistryError``, ``RunMismatchError``, ...);
those modules import them from here, so ``from tvc_ffmpeg.models.registry
import ModelRegistryError`` keeps working. A narrower class carries its base's
native code: it refines the message's context, not the category.

This module imports nothing heavy: ``tvc info`` and the C API host load it
first.
"""

from __future__ import annotations

from typing import Dict, Type

# Values of enum tvc_error in csrc/include/tvc/tvc.h: the one table of native
# codes on the Python side. tests/test_errors.py parses the header's enum and
# compares names and values both ways, so the two cannot drift apart.
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

# The same table by name, built from the constants above rather than written twice.
ERROR_CODES: Dict[str, int] = {
    name: value for name, value in list(globals().items()) if name.startswith("TVC_")
}


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


# ---------------------------------------------------------------- narrower classes
# Raised by one part of the package; each keeps its base's code.


class ModelConfigError(InvalidArgumentError):
    """A model configuration is inconsistent."""


class ModelRegistryError(InvalidArgumentError):
    """Unknown model id, or a weights file that is missing or does not match its hash."""


class CosmosCheckpointError(InvalidArgumentError):
    """The TorchScript files are missing or do not behave like a Cosmos discrete tokenizer."""


class RunMismatchError(InvalidArgumentError):
    """The run directory holds a run with a different model or data configuration."""


class EvalArgumentError(InvalidArgumentError):
    """Conflicting or invalid options of ``tvc eval``."""


class TrainArgumentError(InvalidArgumentError):
    """Invalid options of ``tvc train``."""


class ClusterError(BackendError):
    """Parallel encoding (tvc_ffmpeg.distributed) could not run: Ray is not installed, the
    cluster cannot be reached, a task's workers kept dying, or workers disagree on the
    stream they code. Ray is the runtime the encoder runs on there, hence BackendError."""


class DataAssemblyError(TvcError, RuntimeError):
    """A source of training or validation material could not be fetched or read."""


class FFmpegBuildError(TvcError, RuntimeError):
    """A step of ``tvc ffmpeg build`` failed: which one, and where its log is."""


class PackagedClipError(DataAssemblyError):
    """One packaged clip could not be fetched, found in its package, or decoded.

    A kind of :class:`DataAssemblyError`, so ``tvc data`` reports it the same way."""


# ---------------------------------------------------------------- code -> class
# Only the classes that own a native code; the narrower ones above map to their base.
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
