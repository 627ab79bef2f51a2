"""Where exported ONNX files and TensorRT engines live, and what names them.

Files are keyed by a digest of the tokenizer itself (config + every learned tensor), not
by a file name or model id, so retrained weights under an old id never reuse a stale graph.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Optional

import torch

from ..models.tokenizer import CausalVideoTokenizer

CACHE_ENV = "TVC_CACHE_DIR"


def cache_root(override: Optional[os.PathLike] = None) -> Path:
    """``override``, else $TVC_CACHE_DIR, else $XDG_CACHE_HOME/tvc_ffmpeg, else ~/.cache/tvc_ffmpeg."""
    if override is not None:
        return Path(override)
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "tvc_ffmpeg"


def model_digest(tokenizer: CausalVideoTokenizer) -> str:
    """sha256 over the config and the state dict (names, dtypes, shapes, bytes), in key order."""
    h = hashlib.sha256(json.dumps(tokenizer.config.to_dict(), sort_keys=True).encode())
    for name, tensor in sorted(tokenizer.state_dict().items()):
        t = tensor.detach().to("cpu").contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def atomic_write(path: Path, data: bytes) -> None:
    """Write through a temporary file and rename, so a concurrent reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
