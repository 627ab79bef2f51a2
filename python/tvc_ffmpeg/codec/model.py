"""What encoder and decoder must share: the model id, the weights hash, the nets,
and the model's quality ladder."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from fractions import Fraction
from functools import cached_property
from typing import Optional, Tuple

from ..errors import InvalidArgumentError, ModelMismatchError
from ..models import registry
from ..models.bundle import ModelBundle, half_state, read_bundle, write_bundle
from ..models.predictor import TokenPredictor
from ..models.tokenizer import CausalVideoTokenizer
from ..settings import BACKENDS, DEFAULT_BACKEND
from .continuous import ContinuousCoder, ContinuousParts


@dataclass(frozen=True)
class CodecModel:
    """A tokenizer (and, when trained, its context model and token predictor) plus the
    identity written into every stream header. The weights hash covers all of them.

    ``backend`` names the runtime that runs the tokenizer nets (see docs/runtime.md):
    torch, onnxruntime, tensorrt, or auto (the default, settings.DEFAULT_BACKEND), with
    ``threads`` CPU threads (0 = the runtime's default). It changes pixels within a tested
    bound, never what a stream contains beyond the tokens the encoder net chose.
    ``quality_levels[q]`` is quality level q of the model card's ladder (docs/codec.md):
    the size of the picture it codes, relative to the source, and its continuous step code
    (0: tokens only); ``quality_scales`` lists the sizes. ``continuous`` holds the
    continuous stream's nets and coder blob when the weights carry them (codec/continuous.py).
    """

    model_id: str
    weights_sha256: bytes
    tokenizer: CausalVideoTokenizer
    ccm_blob: Optional[bytes] = None
    backend: str = DEFAULT_BACKEND
    predictor: Optional[TokenPredictor] = None
    quality_levels: Tuple[registry.QualityLevel, ...] = registry.DEFAULT_LEVELS
    threads: int = 0
    continuous: Optional[ContinuousParts] = None

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise InvalidArgumentError(f"unknown backend {self.backend!r}; choose one of {', '.join(BACKENDS)}")
        registry.check_ladder(self.quality_levels, self.model_id)
        if self.continuous is None and any(level.step_code for level in self.quality_levels):
            raise InvalidArgumentError(f"{self.model_id}: its quality ladder has continuous steps "
                                       f"but the model has no continuous stream")

    @property
    def quality_scales(self) -> Tuple[Fraction, ...]:
        """The picture scale of each quality level (derived from ``quality_levels``)."""
        return tuple(level.scale for level in self.quality_levels)

    def step_code(self, quality: int) -> int:
        """The continuous step code quality level ``quality`` signals (0: tokens only)."""
        return self.quality_levels[quality].step_code

    @cached_property
    def continuous_runtime(self):
        """The continuous encoder + fused decoder (runtime/continuous.py), created on first use."""
        if self.continuous is None:
            raise InvalidArgumentError(f"model {self.model_id} has no continuous stream")
        from ..runtime.continuous import create_continuous_runtime

        return create_continuous_runtime(self.backend, self.tokenizer, self.continuous,
                                         threads=self.threads or None)

    def continuous_coder(self):
        """The continuous substream's coder (codec/continuous.py), or None without a continuous stream."""
        if self.continuous is None:
            return None
        return ContinuousCoder(self.continuous.ccm_blob, self.continuous.config.channels, self.fsq_levels)

    @cached_property
    def runtime(self):
        """The backend object, created on first use and shared by every session of this model."""
        from ..runtime import create_backend

        return create_backend(self.backend, self.tokenizer, threads=self.threads or None)

    def with_runtime(self, backend: str, threads: int = 0) -> "CodecModel":
        """The same model (same identity) run through another backend or thread count;
        ``self`` when nothing changes, so its runtime is not created twice."""
        if (backend, threads) == (self.backend, self.threads):
            return self
        return replace(self, backend=backend, threads=threads)

    def token_coder(self):
        from .tokens import CcmTokenCoder, TokenCoder

        if self.ccm_blob is not None:
            return CcmTokenCoder(self.fsq_levels, self.ccm_blob)
        return TokenCoder(self.fsq_levels)

    @property
    def fsq_levels(self):
        return tuple(self.tokenizer.config.fsq_levels)

    @property
    def spatial_factor(self) -> int:
        return int(self.tokenizer.spatial_factor)

    @property
    def temporal_factor(self) -> int:
        return int(self.tokenizer.temporal_factor)

    @classmethod
    def _from_bundle(cls, bundle: ModelBundle, backend: str,
                     levels: Optional[Tuple[registry.QualityLevel, ...]] = None,
                     model_id: Optional[str] = None) -> "CodecModel":
        continuous = None
        if bundle.continuous is not None:
            continuous = ContinuousParts.from_bundle(bundle.continuous, bundle.tokenizer_config, bundle.source)
        if levels is None:  # weights given as a file: the default ladder for what they carry
            levels = registry.DEFAULT_CONTINUOUS_LEVELS if continuous is not None else registry.DEFAULT_LEVELS
        return cls(model_id or bundle.model_id, bytes.fromhex(bundle.sha256), bundle.tokenizer(),
                   bundle.ccm_blob, backend, bundle.predictor(), tuple(levels), continuous=continuous)

    @classmethod
    def load(cls, model_id: str = registry.DEFAULT_MODEL_ID, backend: str = DEFAULT_BACKEND) -> "CodecModel":
        """A shipped model, weights verified against the registry's sha256."""
        entry = registry.get_entry(model_id)
        return cls._from_bundle(registry.load_bundle(model_id), backend, entry.levels)

    @classmethod
    def for_stream(cls, model_id: str, backend: str = DEFAULT_BACKEND) -> "CodecModel":
        """The shipped model a stream names; ModelMismatchError (not InvalidArgumentError:
        the id is the stream's, not the caller's) when this install does not have it."""
        if model_id not in registry.REGISTRY:
            raise ModelMismatchError(
                f"stream was made with model {model_id!r}, which this install does not have "
                f"(installed: {', '.join(registry.installed_models())}); give its weights file to decode it"
            )
        return cls.load(model_id, backend)

    @classmethod
    def from_file(cls, path: os.PathLike, model_id: Optional[str] = None,
                  backend: str = DEFAULT_BACKEND) -> "CodecModel":
        """Weights from a file (shipped format or a training run's best.pt/checkpoint.pt).

        The stream records the file's sha256, so only a decoder given the same
        file can decode it. Its quality ladder is registry.DEFAULT_LEVELS, or
        registry.DEFAULT_CONTINUOUS_LEVELS when the file carries the continuous stream. The id defaults to the one stored in the file, or
        'tvc-dev' for training checkpoints. A file that is not a weights file is an
        InvalidArgumentError naming it and what it is not.
        """
        return cls._from_bundle(read_bundle(path), backend, model_id=model_id)


def bundle_weights(weights: os.PathLike, out: os.PathLike, ccm_blob: Optional[bytes] = None,
                   predictor: Optional[TokenPredictor] = None, model_id: Optional[str] = None) -> str:
    """Writes a weights file carrying everything in ``weights`` (a shipped-format file) with its
    CCM and/or token predictor (float16, learned tensors only) replaced, under ``model_id`` if
    given (else the id ``weights`` carries); returns its sha256."""
    blob = read_bundle(weights)
    if blob.form != "shipped":
        raise InvalidArgumentError(f"{weights}: not a shipped-format weights file (export it first)")
    if ccm_blob is not None:
        blob = replace(blob, ccm_blob=ccm_blob)
    if predictor is not None:
        blob = replace(blob, predictor_config=predictor.config, predictor_state=half_state(predictor))
    if model_id is not None:
        blob = replace(blob, model_id=model_id)
    return write_bundle(blob, out)
