"""Session settings: the one description of an encoder or a decoder that every entrance fills.

``EncoderSettings`` and ``DecoderSettings`` mirror ``TvcEncoderSettings`` and
``TvcDecoderSettings`` in csrc/include/tvc/tvc.h field for field (the picture's own
properties travel separately, as :class:`~tvc_ffmpeg.VideoInfo`). The ``tvc`` command line,
:func:`tvc_ffmpeg.open`, :class:`~tvc_ffmpeg.Encoder` / :class:`~tvc_ffmpeg.Decoder` and the
C API host all build one of these, so a default or a check lives here and nowhere else.

This module imports neither torch nor the codec: building settings is cheap, and a bad value
fails here, with the field's name, before any model is loaded.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional, Union

from .errors import InvalidArgumentError

if TYPE_CHECKING:
    from .codec.model import CodecModel

# Runtimes for the tokenizer nets (docs/runtime.md). "auto" takes the first of tensorrt (with
# a GPU), onnxruntime (when installed), torch that works here: the default of DESIGN.md
# (ONNX Runtime on CPUs) wherever the [onnx] extra is installed, torch elsewhere. tvc.h's
# NULL backend means the same.
BACKENDS = ("auto", "torch", "onnxruntime", "tensorrt")
DEFAULT_BACKEND = "auto"

# 1 + 4 x 8 frames: five latent frames per GoP. Measured on bikes 0-63 at the same quality as
# GoPs of 17 for 15 % fewer bits (docs/codec.md).
DEFAULT_GOP_LENGTH = 33
MAX_GOP_LENGTH = 1024  # the sequence header's limit (docs/bitstream.md)
# The middle of the shipped ladder (docs/codec.md): a model card's levels are 0..n-1.
DEFAULT_QUALITY = 2
AUTO_MASK = "auto"

# Size limits a session honours before it allocates anything (codec/limits.py explains them
# and docs/codec.md has the decode memory they bound): a picture of at most 4096x2304, and a
# GoP of at most 72 Mi coded pixels (frames padded to 1 + 8k; about 10 GB at decode), which
# admits 1080p at quality 2 and 4K at quality 0 with the default GoP.
DEFAULT_MAX_PIXELS = 4096 * 2304
DEFAULT_MAX_GOP_PIXELS = 72 * 2**20


def _check_backend(backend: str) -> None:
    if backend not in BACKENDS:
        raise InvalidArgumentError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")


def _check_threads(threads: int) -> None:
    if not isinstance(threads, int) or isinstance(threads, bool) or threads < 0:
        raise InvalidArgumentError(f"threads must be an integer >= 0 (0 = library default), got {threads!r}")


def _check_limits(max_pixels: int, max_gop_pixels: int) -> None:
    for name, value in (("max_pixels", max_pixels), ("max_gop_pixels", max_gop_pixels)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise InvalidArgumentError(f"{name} must be a positive integer, got {value!r}")


def _check_model_source(model: Optional[str], weights_path: Optional[Union[str, os.PathLike]]) -> None:
    if model is not None and weights_path is not None:
        raise InvalidArgumentError("give a model id or a weights file, not both")


@dataclass(frozen=True)
class _SessionSettings:
    """The fields encoder and decoder settings share (model, runtime, size limits)."""

    model: Optional[str] = None
    weights_path: Optional[Union[str, os.PathLike]] = None
    backend: str = DEFAULT_BACKEND
    threads: int = 0
    max_pixels: int = DEFAULT_MAX_PIXELS
    max_gop_pixels: int = DEFAULT_MAX_GOP_PIXELS

    def __post_init__(self) -> None:
        _check_model_source(self.model, self.weights_path)
        _check_backend(self.backend)
        _check_threads(self.threads)
        _check_limits(self.max_pixels, self.max_gop_pixels)


@dataclass(frozen=True)
class EncoderSettings(_SessionSettings):
    """How to encode (tvc.h: ``TvcEncoderSettings``).

    - ``model``: shipped model id; None = the default model. ``weights_path``: a weights file
      instead (its sha256 goes into the stream, so only the same file decodes it).
    - ``backend``: runtime of the nets, one of :data:`BACKENDS`; ``threads``: CPU threads of
      the nets, 0 = the runtime's default.
    - ``max_pixels``, ``max_gop_pixels``: pictures and quality levels a decoder with these
      limits would refuse are refused up front (in bitrate mode such levels are skipped).
    - ``quality``: quality level, higher = better (the model's ladder, docs/codec.md).
    - ``bitrate``: target bits per second; None = constant quality. Each GoP's level is then
      chosen to stay within it and ``quality`` is ignored.
    - ``gop_length``: frames per GoP, 1 + k x (the model's temporal factor), at most 1024.
    - ``mask_pattern``: 0..3 drops that share of tokens for the decoder to predict, "auto"
      chooses per GoP.
    - ``colour_correction``: decode each GoP and send the mean offset of Y, U, V between
      source and decoded picture (substream kind 128, a few bytes; codec/colour.py), so the
      decoded colours keep the source's mean. On by default.
    """

    quality: int = DEFAULT_QUALITY
    bitrate: Optional[float] = None
    gop_length: int = DEFAULT_GOP_LENGTH
    mask_pattern: Union[int, str] = 0
    colour_correction: bool = True

    def __post_init__(self) -> None:
        from ._native import NUM_MASK_PATTERNS

        super().__post_init__()
        if not isinstance(self.quality, int) or isinstance(self.quality, bool) or self.quality < 0:
            raise InvalidArgumentError(f"quality must be an integer level >= 0 (higher = better), got {self.quality!r}")
        if self.bitrate is not None:
            try:
                rate = float(self.bitrate)
            except (TypeError, ValueError):
                rate = math.nan
            if not (math.isfinite(rate) and rate > 0):
                raise InvalidArgumentError(f"bitrate must be a finite number of bits per second > 0, got {self.bitrate!r}")
        if not isinstance(self.gop_length, int) or not 1 <= self.gop_length <= MAX_GOP_LENGTH:
            raise InvalidArgumentError(f"gop_length must be 1..{MAX_GOP_LENGTH} frames, got {self.gop_length!r}")
        if not isinstance(self.colour_correction, bool):
            raise InvalidArgumentError(f"colour_correction must be True or False, got {self.colour_correction!r}")
        if self.mask_pattern != AUTO_MASK and self.mask_pattern not in range(NUM_MASK_PATTERNS):
            raise InvalidArgumentError(
                f"mask_pattern must be 0..{NUM_MASK_PATTERNS - 1} or {AUTO_MASK!r}, got {self.mask_pattern!r}"
            )

    def load_model(self) -> "CodecModel":
        """The model these settings name, run through their backend."""
        return _load_model(self.model, self.weights_path, self.backend, self.threads)


@dataclass(frozen=True)
class DecoderSettings(_SessionSettings):
    """How to decode (tvc.h: ``TvcDecoderSettings``).

    - ``model`` / ``weights_path``: None = the model the stream's header names; a weights file
      for streams made with one. Either way the stream's weights hash must match.
    - ``backend``, ``threads``: as for :class:`EncoderSettings`.
    - ``max_pixels``: the largest picture (width x height, of the stream and of any GoP's
      coded picture) the decoder accepts; ``max_gop_pixels``: the most coded pixels of one
      GoP (frames padded to 1 + 8k). Larger ones are refused with LimitExceededError before
      anything is allocated (codec/limits.py).
    """

    def load_model(self, stream_model_id: str) -> "CodecModel":
        """The model for a stream whose header names ``stream_model_id``: a model id the
        caller gave is the caller's mistake when unknown (InvalidArgumentError), the
        stream's is a model mismatch (ModelMismatchError, docs/bitstream.md)."""
        from .codec.model import CodecModel

        if self.model is None and self.weights_path is None:
            model = CodecModel.for_stream(stream_model_id, backend=self.backend)
            return model.with_runtime(self.backend, self.threads)
        return _load_model(self.model, self.weights_path, self.backend, self.threads)


def _load_model(model: Optional[str], weights_path, backend: str, threads: int) -> "CodecModel":
    from .codec.model import CodecModel

    if weights_path is not None:
        loaded = CodecModel.from_file(weights_path, backend=backend)
    elif model is None:
        loaded = CodecModel.load(backend=backend)
    else:
        loaded = CodecModel.load(model, backend=backend)
    return loaded.with_runtime(backend, threads)


__all__ = [
    "AUTO_MASK",
    "BACKENDS",
    "DEFAULT_BACKEND",
    "DEFAULT_GOP_LENGTH",
    "DEFAULT_MAX_GOP_PIXELS",
    "DEFAULT_MAX_PIXELS",
    "DEFAULT_QUALITY",
    "DecoderSettings",
    "EncoderSettings",
]
