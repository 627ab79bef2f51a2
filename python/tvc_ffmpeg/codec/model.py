"""What encoder and decoder must share: the model id, the weights hash, the nets."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Optional, Tuple

import torch

from ..checksum import file_sha256
from ..errors import InvalidArgumentError
from ..models import registry
from ..models.registry import ModelRegistryError
from ..models.predictor import PredictorConfig, TokenPredictor
from ..models.tokenizer import CausalVideoTokenizer


def _read_extras(path: Path) -> Tuple[Optional[bytes], Optional[TokenPredictor]]:
    """The integer CCM and the token predictor stored beside the tokenizer, if any."""
    blob = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(blob, dict):
        return None, None
    ccm = bytes(blob["ccm"].numpy().tobytes()) if "ccm" in blob else None
    predictor = None
    if "predictor" in blob:
        entry = blob["predictor"]
        predictor = TokenPredictor(PredictorConfig.from_dict(entry["config"]))
        predictor.load_state_dict({k: v.float() for k, v in entry["state_dict"].items()})
        predictor.eval()
    return ccm, predictor


@dataclass(frozen=True)
class CodecModel:
    """A tokenizer (and, when trained, its context model) plus the identity
    written into every stream header. The weights hash covers both.

    ``backend`` names the runtime that runs the tokenizer nets (see docs/runtime.md):
    torch, onnxruntime, tensorrt, or auto. It changes pixels within a tested bound, never
    what a stream contains beyond the tokens the encoder net chose.
    """

    model_id: str
    weights_sha256: bytes
    tokenizer: CausalVideoTokenizer
    ccm_blob: Optional[bytes] = None
    backend: str = "torch"
    predictor: Optional[TokenPredictor] = None

    def __post_init__(self) -> None:
        from ..runtime import CHOICES

        if self.backend not in CHOICES:
            raise InvalidArgumentError(f"unknown backend {self.backend!r}; choose one of {', '.join(CHOICES)}")

    @cached_property
    def runtime(self):
        """The backend object, created on first use and shared by every session of this model."""
        from ..runtime import create_backend

        return create_backend(self.backend, self.tokenizer)

    def with_backend(self, backend: str) -> "CodecModel":
        """The same model (same identity) run through another backend."""
        return replace(self, backend=backend)

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
    def load(cls, model_id: str = registry.DEFAULT_MODEL_ID, backend: str = "torch") -> "CodecModel":
        """A shipped model, weights verified against the registry's sha256."""
        try:
            tokenizer = registry.load_tokenizer(model_id)
        except ModelRegistryError as exc:
            raise InvalidArgumentError(str(exc)) from None
        entry = registry.get_entry(model_id)
        ccm, predictor = _read_extras(entry.weights_path)
        return cls(model_id, bytes.fromhex(entry.sha256), tokenizer, ccm, backend, predictor)

    @classmethod
    def from_file(cls, path: os.PathLike, model_id: Optional[str] = None,
                  backend: str = "torch") -> "CodecModel":
        """Weights from a file (shipped format or a training run's best.pt/checkpoint.pt).

        The stream records the file's sha256, so only a decoder given the same
        file can decode it. The id defaults to the one stored in the file, or
        'tvc-dev' for training checkpoints.
        """
        p = Path(path)
        if not p.exists():
            raise InvalidArgumentError(f"weights file not found: {p}")
        try:
            tokenizer = registry.load_tokenizer_file(p)
        except ModelRegistryError as exc:
            raise InvalidArgumentError(str(exc)) from None
        if model_id is None:
            blob = torch.load(p, map_location="cpu", weights_only=True)
            model_id = blob.get("model_id", "tvc-dev") if isinstance(blob, dict) else "tvc-dev"
        ccm, predictor = _read_extras(p)
        return cls(model_id, bytes.fromhex(file_sha256(p)), tokenizer, ccm, backend, predictor)


def bundle_weights(weights: os.PathLike, out: os.PathLike, ccm_blob: Optional[bytes] = None,
                   predictor: Optional[TokenPredictor] = None) -> str:
    """Writes a weights file carrying the tokenizer plus a CCM and/or a token
    predictor (float16, learned tensors only); returns its sha256."""
    import numpy as np

    blob = torch.load(weights, map_location="cpu", weights_only=True)
    if not (isinstance(blob, dict) and "state_dict" in blob and "config" in blob):
        raise InvalidArgumentError(f"{weights}: not a shipped-format weights file (export it first)")
    if ccm_blob is not None:
        blob["ccm"] = torch.from_numpy(np.frombuffer(ccm_blob, np.uint8).copy())
    if predictor is not None:
        blob["predictor"] = {
            "config": predictor.config.to_dict(),
            "state_dict": {k: v.detach().to(torch.float16) for k, v in predictor.state_dict().items()},
        }
    torch.save(blob, out)
    return file_sha256(out)
