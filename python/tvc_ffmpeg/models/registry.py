"""Shipped tokenizer models: explicit ids -> config, weights file and its sha256.

Weights files live next to this module (``weights/<model id>.pt``) so they load with no
network. A file holds ``{"model_id", "config", "state_dict"}`` with learned tensors only
(stored as float16 to keep the package small; they are widened to float32 on load). The
sha256 of the file is checked before it is unpickled, so a corrupted or swapped file fails
with a clear error rather than decoding garbage.
"""

from __future__ import annotations

from ..checksum import file_sha256
from ..errors import ModelRegistryError
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional

import torch

from .config import TokenizerConfig
from .tokenizer import CausalVideoTokenizer

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"

# tvc-s-v1 (session 1's 3,000-step tokenizer) and tvc-s-v2 (its 4,500-step continuation)
# were replaced before any release by tvc-s-v3, a further continuation (docs/models.md).
# tvc-s-v1's streams used bitstream format 1.0, which this version no longer reads.
TVC_S_V3 = "tvc-s-v3"
DEFAULT_MODEL_ID = TVC_S_V3


@dataclass(frozen=True)
class ModelEntry:
    model_id: str
    config: TokenizerConfig
    weights_file: str
    sha256: Optional[str]  # None until trained weights have been exported and committed

    @property
    def weights_path(self) -> Path:
        return WEIGHTS_DIR / self.weights_file


REGISTRY: Dict[str, ModelEntry] = {
    TVC_S_V3: ModelEntry(
        model_id=TVC_S_V3,
        config=TokenizerConfig(fsq_levels=(8, 5, 5, 5)),
        weights_file=f"{TVC_S_V3}.pt",
        # runs/tvc-s-v3-a/best.pt, step 4500, bundled with its context model (docs/models.md)
        sha256="44067649a37a3651db0109836e0723f831d72d62493a481dfaf139d05cd50dd2",
    ),
}


def get_entry(model_id: str) -> ModelEntry:
    try:
        return REGISTRY[model_id]
    except KeyError:
        raise ModelRegistryError(f"unknown model id {model_id!r}; known: {sorted(REGISTRY)}") from None


def _model_from_state(config: TokenizerConfig, state: Dict[str, torch.Tensor]) -> CausalVideoTokenizer:
    model = CausalVideoTokenizer(config)
    model.load_state_dict({k: v.float() for k, v in state.items()})
    return model.eval()


def load_tokenizer(model_id: str = DEFAULT_MODEL_ID) -> CausalVideoTokenizer:
    """The shipped tokenizer for ``model_id``, in eval mode, weights verified by sha256."""
    entry = get_entry(model_id)
    path = entry.weights_path
    if entry.sha256 is None or not path.exists():
        raise ModelRegistryError(f"{model_id}: no trained weights shipped yet ({path})")
    digest = file_sha256(path)
    if digest != entry.sha256:
        raise ModelRegistryError(f"{path}: sha256 {digest} does not match the registry ({entry.sha256})")
    blob = torch.load(path, map_location="cpu", weights_only=True)
    if blob.get("model_id") != model_id:
        raise ModelRegistryError(f"{path}: holds {blob.get('model_id')!r}, expected {model_id!r}")
    if TokenizerConfig.from_dict(blob["config"]) != entry.config:
        raise ModelRegistryError(f"{path}: config differs from the registry entry of {model_id}")
    return _model_from_state(entry.config, blob["state_dict"])


def load_tokenizer_file(path: os.PathLike) -> CausalVideoTokenizer:
    """Load a tokenizer from a shipped weights file, a run's best.pt, or a run's checkpoint.pt."""
    import json

    path = Path(path)
    blob = torch.load(path, map_location="cpu", weights_only=True)
    if "state_dict" in blob and "config" in blob:  # shipped weights file
        return _model_from_state(TokenizerConfig.from_dict(blob["config"]), blob["state_dict"])
    if "model" in blob and "config" in blob:  # best.pt of a run
        return _model_from_state(TokenizerConfig.from_dict(blob["config"]), blob["model"])
    if "model" in blob:  # checkpoint.pt: the config sits next to it
        config_path = path.parent / "config.json"
        if not config_path.exists():
            raise ModelRegistryError(f"{path}: a training checkpoint needs {config_path}")
        config = TokenizerConfig.from_dict(json.loads(config_path.read_text())["model"])
        return _model_from_state(config, blob["model"])
    raise ModelRegistryError(f"{path}: not a tokenizer weights file or checkpoint")


def export_weights(model: CausalVideoTokenizer, model_id: str, out: os.PathLike) -> str:
    """Write ``model`` as a shipped weights file (float16, learned tensors only); returns its sha256."""
    state = {k: v.detach().to(torch.float16).contiguous() for k, v in model.state_dict().items()}
    torch.save({"model_id": model_id, "config": model.config.to_dict(), "state_dict": state}, out)
    return file_sha256(out)
