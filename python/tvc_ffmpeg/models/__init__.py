"""Tokenizer models: configs, FSQ, the causal video tokenizer, the registry, the Cosmos adapter."""

from .config import ModelConfigError, TokenizerConfig
from .cosmos import CosmosCheckpointError, CosmosTokenizer
from .fsq import FSQ
from .gop import ClipReconstruction, VideoTokenizer, reconstruct_clip
from .registry import (
    DEFAULT_MODEL_ID,
    REGISTRY,
    TVC_S_V3,
    ModelEntry,
    ModelRegistryError,
    export_weights,
    load_tokenizer,
    load_tokenizer_file,
)
from .tokenizer import CausalVideoTokenizer, TokenizerDecoder, TokenizerEncoder

__all__ = [
    "CausalVideoTokenizer",
    "ClipReconstruction",
    "CosmosCheckpointError",
    "CosmosTokenizer",
    "DEFAULT_MODEL_ID",
    "FSQ",
    "ModelConfigError",
    "ModelEntry",
    "ModelRegistryError",
    "REGISTRY",
    "TVC_S_V3",
    "TokenizerConfig",
    "TokenizerDecoder",
    "TokenizerEncoder",
    "VideoTokenizer",
    "export_weights",
    "load_tokenizer",
    "load_tokenizer_file",
    "reconstruct_clip",
]
