"""Models: configs, FSQ, the causal video tokenizer, the weights bundle, the registry, the Cosmos adapter."""

from .bundle import COMPONENTS, ModelBundle, read_bundle, write_bundle
from .config import ModelConfigError, TokenizerConfig
from .cosmos import CosmosCheckpointError, CosmosTokenizer
from .fsq import FSQ, digits_to_indices, indices_to_digits
from .gop import ClipReconstruction, VideoTokenizer, latent_frames, reconstruct_clip, valid_length
from .registry import (
    DEFAULT_MODEL_ID,
    REGISTRY,
    TVC_S_V3,
    TVC_S_V4,
    TVC_S_V5,
    TVC_S_V6,
    DEFAULT_QUALITY_SCALES,
    ModelEntry,
    ModelRegistryError,
    export_weights,
    installed_models,
    load_bundle,
    load_tokenizer,
    load_tokenizer_file,
)
from .tokenizer import CausalVideoTokenizer, TokenizerDecoder, TokenizerEncoder

__all__ = [
    "COMPONENTS",
    "CausalVideoTokenizer",
    "ClipReconstruction",
    "CosmosCheckpointError",
    "CosmosTokenizer",
    "DEFAULT_MODEL_ID",
    "DEFAULT_QUALITY_SCALES",
    "FSQ",
    "ModelConfigError",
    "ModelBundle",
    "ModelEntry",
    "ModelRegistryError",
    "REGISTRY",
    "TVC_S_V3",
    "TVC_S_V4",
    "TVC_S_V5",
    "TVC_S_V6",
    "TokenizerConfig",
    "TokenizerDecoder",
    "TokenizerEncoder",
    "VideoTokenizer",
    "digits_to_indices",
    "export_weights",
    "indices_to_digits",
    "installed_models",
    "latent_frames",
    "load_bundle",
    "load_tokenizer",
    "load_tokenizer_file",
    "read_bundle",
    "reconstruct_clip",
    "valid_length",
    "write_bundle",
]
