"""Runtime backends for the tokenizer nets: torch (reference), ONNX Runtime, TensorRT.

``create_backend(name, tokenizer)`` gives an object with ``encode(video) -> indices`` and
``decode(indices) -> video`` on numpy arrays; see docs/runtime.md. The heavy runtimes
(onnxruntime, tensorrt, cuda-python) are imported only when their backend is created.
"""

from .base import BACKEND_NAMES, Backend, check_indices, check_video
from .cache import cache_root, model_digest
from .onnx_export import OnnxFiles, cached_onnx, export_decoder, export_encoder, export_onnx
from .factory import CHOICES, available_backends, create_backend

__all__ = [
    "BACKEND_NAMES", "CHOICES", "Backend", "OnnxFiles", "available_backends", "cache_root",
    "cached_onnx", "check_indices", "check_video", "create_backend", "export_decoder",
    "export_encoder", "export_onnx", "model_digest",
]
