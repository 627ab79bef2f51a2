"""ONNX Runtime backend: the exported graphs on the CPU execution provider, or on the CUDA
execution provider when the installed onnxruntime build has it (onnxruntime-gpu)."""

from __future__ import annotations

import os
from typing import List, Optional, Sequence

import numpy as np

from ..errors import BackendError
from ..models.config import TokenizerConfig
from ..models.tokenizer import CausalVideoTokenizer
from .base import check_indices, check_video
from .onnx_export import DECODER_INPUT, ENCODER_INPUT, cached_onnx

INSTALL_HINT = "pip install onnxruntime (or onnxruntime-gpu for the CUDA execution provider)"
# Each session has its own CPU memory arena, which keeps its largest run resident for the
# life of the process. An encoder that also decodes (colour correction, mask_pattern="auto")
# held both graphs' peaks at once. So every encoder run, and every decoder run in a process
# that has run the encoder, hands back the chunks it no longer uses; a process that only
# decodes keeps its arena, because handing it back costs each later run 8-20 % in page
# faults (docs/codec.md, "Colour correction").
SHRINK_ARENA_AFTER_RUN = ("memory.enable_memory_arena_shrinkage", "cpu:0")


def import_onnxruntime():
    try:
        import onnxruntime
    except ImportError as exc:
        raise BackendError(f"the onnxruntime backend needs ONNX Runtime: {INSTALL_HINT} ({exc})") from None
    return onnxruntime


def default_providers(ort) -> List[str]:
    """CUDA first when this onnxruntime build offers it; the CPU provider always as fallback."""
    available = ort.get_available_providers()
    chosen = [p for p in ("CUDAExecutionProvider",) if p in available]
    return chosen + ["CPUExecutionProvider"]


class OnnxRuntimeBackend:
    """Runs ``encoder.onnx`` and ``decoder.onnx``; each session is created on first use, so a
    process that only encodes never loads the decoder.

    ``threads`` sets intra-op threads per session (None: ONNX Runtime's default, one per core).
    """

    name = "onnxruntime"

    def __init__(self, encoder_path: os.PathLike, decoder_path: os.PathLike, config: TokenizerConfig,
                 *, providers: Optional[Sequence[str]] = None, threads: Optional[int] = None) -> None:
        self._ort = import_onnxruntime()
        self.config = config
        self.paths = {"encoder": str(encoder_path), "decoder": str(decoder_path)}
        self.providers = list(providers) if providers is not None else default_providers(self._ort)
        self.threads = threads
        self._sessions: dict = {}
        self._run_options = self._ort.RunOptions()
        self._run_options.add_run_config_entry(*SHRINK_ARENA_AFTER_RUN)

    @classmethod
    def from_tokenizer(cls, tokenizer: CausalVideoTokenizer, *, cache_dir: Optional[os.PathLike] = None,
                       providers: Optional[Sequence[str]] = None,
                       threads: Optional[int] = None) -> "OnnxRuntimeBackend":
        """Graphs from the cache, exported from ``tokenizer`` on first use (tens of seconds)."""
        import_onnxruntime()  # fail before a long export when the runtime is missing
        files = cached_onnx(tokenizer, cache_dir)
        return cls(files.encoder, files.decoder, tokenizer.config, providers=providers, threads=threads)

    def _session(self, role: str):
        s = self._sessions.get(role)
        if s is None:
            opts = self._ort.SessionOptions()
            if self.threads is not None:
                opts.intra_op_num_threads = int(self.threads)
                opts.inter_op_num_threads = 1
            try:
                s = self._ort.InferenceSession(self.paths[role], sess_options=opts, providers=self.providers)
            except Exception as exc:  # onnxruntime raises its own untyped exceptions
                raise BackendError(f"ONNX Runtime cannot load {self.paths[role]}: {exc}") from exc
            self._sessions[role] = s
        return s

    def _run(self, role: str, name: str, batch: np.ndarray) -> np.ndarray:
        session = self._session(role)
        try:
            options = self._run_options if "encoder" in self._sessions else None
            if len(batch) == 1:  # the output as ONNX Runtime made it: no GoP-sized copy
                return session.run(None, {name: batch}, options)[0]
            # The graphs have a batch axis of 1; items of a batch run one after another.
            return np.concatenate([session.run(None, {name: batch[i : i + 1]}, options)[0]
                                   for i in range(len(batch))])
        except Exception as exc:
            raise BackendError(f"ONNX Runtime failed in the {role}: {exc}") from exc

    def encode(self, x: np.ndarray) -> np.ndarray:
        return self._run("encoder", ENCODER_INPUT, check_video(x, self.config))

    def decode(self, indices: np.ndarray) -> np.ndarray:
        return self._run("decoder", DECODER_INPUT, check_indices(indices, self.config))

    def close(self) -> None:
        self._sessions.clear()
