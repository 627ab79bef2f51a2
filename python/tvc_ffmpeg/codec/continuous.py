"""The continuous substream (kind 2): what encoder and decoder share to code it.

A GoP whose header signals ``continuous_step`` = code > 0 carries, besides its tokens,
the quantised continuous latent (models/continuous.py) of its padded coded picture:
int32 values, C channels x T' latent frames x h x w (the token grid's h x w), coded
losslessly by the integer continuous checkerboard context model in the C++ core
(docs/ccm.md, "Continuous context model"; docs/bitstream.md, "Continuous substream").
Its context planes come from the complete token grid (after dropped tokens are filled),
which both sides have, and from the step (``context_of``), so the same bytes give the
same values on any machine.

:class:`ContinuousParts` holds the model's continuous nets and coder blob;
:class:`ContinuousCoder` checks shapes and values around the native coder and names the
GoP when a payload is damaged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence, Tuple

import numpy as np
import torch

from .. import _native
from ..errors import InvalidArgumentError, InvalidDataError
from ..models.continuous import (ContinuousConfig, ContinuousEncoder, ControlBranch, context_plane_count,
                                 step_of_code, token_context)
from ..models.gop import valid_length


@dataclass(frozen=True, eq=False)
class ContinuousParts:
    """A model's continuous stream: config, encoder branch, control branch (eval, float32)
    and the integer CCM blob the coder runs."""

    config: ContinuousConfig
    encoder: ContinuousEncoder = field(repr=False)
    branch: ControlBranch = field(repr=False)
    ccm_blob: bytes = field(repr=False)

    @classmethod
    def from_bundle(cls, bundle, tokenizer_config, source: str = "") -> "ContinuousParts":
        """From a ModelBundle's ``continuous`` entry (models/bundle.ContinuousBundle)."""
        encoder, branch, _ccm = bundle.modules(tokenizer_config, source)
        return cls(encoder.config, encoder, branch, bundle.ccm_blob)

    def latent_frames(self, frame_count: int, temporal_factor: int) -> int:
        """T' of a GoP of ``frame_count`` frames (padded to the tokenizer's 1 + 8k first)."""
        return self.config.latent_frames(valid_length(frame_count, temporal_factor))


def context_of(grid: np.ndarray, fsq_levels: Sequence[int], latent_frames: int, temporal_factor: int,
               code: int) -> np.ndarray:
    """The coder's caller planes (Q, T', h, w) int32 for a complete token grid (1+k, h, w):
    models/continuous.token_context, computed in exact integers (digits and the step plane)."""
    planes = token_context(torch.from_numpy(np.asarray(grid, np.int64))[None], fsq_levels,
                           latent_frames, temporal_factor, code)
    return np.ascontiguousarray(planes[0].numpy().astype(np.int32))


def dequantized(values: np.ndarray, code: int) -> np.ndarray:
    """int32 values -> the float32 latent the control branch takes (values x step)."""
    return values.astype(np.float32) * np.float32(step_of_code(code))


class ContinuousCoder:
    """The native continuous coder for one model: ``encode(values, context) -> bytes`` and
    ``decode(data, context, what) -> values``; C = the model's latent channels and
    Q = one plane per FSQ digit plus the step plane."""

    def __init__(self, ccm_blob: bytes, channels: int, fsq_levels: Sequence[int]) -> None:
        self.channels = int(channels)
        self.context_planes = context_plane_count(fsq_levels)
        self._coder = _native.ContinuousCheckerboardCoder(ccm_blob, self.channels, self.context_planes)

    def _check_context(self, context: np.ndarray) -> Tuple[int, int, int]:
        ctx = np.asarray(context)
        if ctx.ndim != 4 or ctx.shape[0] != self.context_planes or ctx.dtype != np.int32:
            raise InvalidArgumentError(
                f"continuous context must be int32 ({self.context_planes}, T', h, w), "
                f"got {ctx.dtype} {ctx.shape}")
        return ctx.shape[1], ctx.shape[2], ctx.shape[3]

    def encode(self, values: np.ndarray, context: np.ndarray) -> bytes:
        """int32 values (C, T', h, w) -> the kind-2 payload; InvalidArgumentError when the
        shapes disagree or a value is outside what the coder codes."""
        v = np.asarray(values)
        frames, height, width = self._check_context(context)
        if v.dtype != np.int32 or v.shape != (self.channels, frames, height, width):
            raise InvalidArgumentError(
                f"continuous latent must be int32 ({self.channels}, {frames}, {height}, {width}) "
                f"to match its context, got {v.dtype} {v.shape}")
        return self._coder.encode(np.ascontiguousarray(v), np.ascontiguousarray(context))

    def decode(self, data: bytes, context: np.ndarray, what: str) -> np.ndarray:
        """The kind-2 payload -> int32 values (C, T', h, w). A damaged payload (a value out
        of range, an escape that runs off the end, a rANS stream that does not end in its
        initial state with every byte read) is an InvalidDataError naming ``what``."""
        frames, height, width = self._check_context(context)
        try:
            return self._coder.decode(bytes(data), np.ascontiguousarray(context), frames, height, width)
        except InvalidDataError as exc:
            # Keep the class (TruncatedDataError stays one); add which GoP it cost.
            raise type(exc)(f"{what}: continuous substream is damaged ({exc})") from None
