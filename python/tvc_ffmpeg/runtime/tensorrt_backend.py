"""TensorRT backend: engines built from the exported ONNX graphs on the target GPU.

UNTESTED ON A GPU. This module is written against the TensorRT Python API (TensorRT >= 10,
or TensorRT-RTX >= 1.4, which has the same builder/runtime API) and cuda-python's runtime
bindings. On the CPU-only development machines only the build half runs (TensorRT-RTX can
parse ONNX and build an engine without a GPU; tests/test_runtime.py does so for both graphs);
deserializing and executing an engine needs a CUDA device and has never been run here.

Engines are tied to the GPU model and the TensorRT version, so they are built on the machine
that runs them, once, and cached on disk under
``<cache>/tensorrt/<role>-<key>.engine`` with ``key`` = sha256 of (model digest, role, GPU
name, compute capability, TensorRT module and version, optimization profile, export format).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Dict, Optional, Tuple

import numpy as np

from ..errors import BackendError, InvalidArgumentError, LimitExceededError
from ..models.config import TokenizerConfig
from ..models.tokenizer import CausalVideoTokenizer
from .base import check_indices, check_video
from .cache import atomic_write, cache_root
from .onnx_export import (DECODER_INPUT, DECODER_OUTPUT, ENCODER_INPUT, ENCODER_OUTPUT, EXPORT_FORMAT,
                          cached_onnx)

log = logging.getLogger(__name__)

TRT_HINT = ("install TensorRT for your CUDA version (e.g. `pip install tensorrt-cu12` from NVIDIA's "
            "index) or TensorRT-RTX (`pip install tensorrt-rtx-cu13-bindings tensorrt-rtx-cu13-libs`)")
CUDA_HINT = "pip install cuda-python"

# Module names that carry the TensorRT Python API, most specific first.
_TRT_MODULES = ("tensorrt", "tensorrt_rtx", "tensorrt_rtx_bindings")

Shape = Tuple[int, ...]


def import_tensorrt():
    """The first importable TensorRT Python module, or BackendError saying what to install."""
    import importlib

    errors = []
    for name in _TRT_MODULES:
        try:
            return importlib.import_module(name)
        except ImportError as exc:  # also covers a wheel whose shared libraries fail to load
            errors.append(f"{name}: {exc}")
    raise BackendError(f"the tensorrt backend needs TensorRT: {TRT_HINT} ({'; '.join(errors)})")


def import_cudart():
    """cuda-python's runtime API (new layout first, then the pre-12.6 one)."""
    try:
        from cuda.bindings import runtime as cudart
    except ImportError:
        try:
            from cuda import cudart  # cuda-python < 12.6
        except ImportError as exc:
            raise BackendError(f"the tensorrt backend needs cuda-python for device memory: {CUDA_HINT} ({exc})") from None
    return cudart


def _cuda(cudart, result, what: str):
    """Unpack a cuda-python (err, value...) tuple, raising BackendError on failure."""
    err, *values = result if isinstance(result, tuple) else (result,)
    if int(err) != 0:
        _, msg = cudart.cudaGetErrorString(err)
        raise BackendError(f"CUDA error in {what}: {msg.decode() if isinstance(msg, bytes) else msg}")
    return values[0] if len(values) == 1 else tuple(values)


def gpu_identity(cudart, device: int) -> Tuple[str, str]:
    """(GPU name, compute capability 'major.minor'), or BackendError when there is no GPU."""
    count = _cuda(cudart, cudart.cudaGetDeviceCount(), "cudaGetDeviceCount (is there an NVIDIA GPU and driver?)")
    if device >= count:
        raise BackendError(f"CUDA device {device} requested, {count} present")
    prop = _cuda(cudart, cudart.cudaGetDeviceProperties(device), "cudaGetDeviceProperties")
    name = prop.name.split(b"\0", 1)[0].decode() if isinstance(prop.name, bytes) else str(prop.name)
    return name, f"{prop.major}.{prop.minor}"


# ----- building (runs without a GPU on TensorRT-RTX) ---------------------------------------

def build_engine(trt, onnx_path: os.PathLike, input_name: str, profile: Tuple[Shape, Shape, Shape],
                 *, workspace_bytes: Optional[int] = None) -> bytes:
    """Parse an ONNX file and build a serialized engine with one optimization profile
    (min, opt, max shapes of the single dynamic input)."""
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    # TensorRT 8.x needs the explicit-batch flag; 10.x ignores it, TensorRT-RTX lacks it.
    flags = trt.NetworkDefinitionCreationFlag.__members__.get("EXPLICIT_BATCH")
    network = builder.create_network(0 if flags is None else 1 << int(flags))
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        msgs = "; ".join(str(parser.get_error(i).desc()) for i in range(parser.num_errors))
        raise BackendError(f"TensorRT cannot parse {onnx_path}: {msgs}")
    config = builder.create_builder_config()
    if workspace_bytes is not None:
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_bytes))
    opt_profile = builder.create_optimization_profile()
    opt_profile.set_shape(input_name, *profile)
    config.add_optimization_profile(opt_profile)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise BackendError(f"TensorRT failed to build an engine from {onnx_path} (see its log above)")
    return bytes(memoryview(serialized))


def profiles(config: TokenizerConfig, max_frames: int, max_height: int, max_width: int,
             opt: Tuple[int, int, int] = (17, 272, 640)) -> Dict[str, Tuple[Shape, Shape, Shape]]:
    """Optimization profiles of both graphs: from the smallest clip (1 frame of 16x16) to
    the configured maximum, tuned for ``opt`` = (frames, height, width)."""
    tf, sf, c = config.temporal_factor, config.spatial_factor, config.in_channels
    lt = lambda t: 1 + (t - 1) // tf  # noqa: E731
    (ot, oh, ow), mt, mh, mw = opt, max_frames, max_height, max_width
    ot, oh, ow = min(ot, mt), min(oh, mh), min(ow, mw)
    return {
        "encoder": ((1, c, 1, sf, sf), (1, c, ot, oh, ow), (1, c, mt, mh, mw)),
        "decoder": ((1, 1, 1, 1), (1, lt(ot), oh // sf, ow // sf), (1, lt(mt), mh // sf, mw // sf)),
    }


def engine_key(digest: str, role: str, gpu: str, capability: str, trt, profile) -> str:
    ident = {"model": digest, "role": role, "gpu": gpu, "cc": capability, "trt": trt.__name__,
             "trt_version": getattr(trt, "__version__", "?"), "profile": profile, "format": EXPORT_FORMAT}
    return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()


# ----- running (needs a GPU; untested here) -------------------------------------------------

class _Engine:
    """One deserialized engine with its execution context, stream and reusable device buffers."""

    def __init__(self, trt, cudart, data: bytes, input_name: str, output_name: str,
                 jit_cache_path: Optional[Path] = None) -> None:
        self.trt, self.cudart = trt, cudart
        self.input_name, self.output_name = input_name, output_name
        self.stream = None
        self.runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        self.engine = self.runtime.deserialize_cuda_engine(data)
        if self.engine is None:
            raise BackendError("TensorRT could not deserialize the engine (built by another version or GPU?)")
        self.jit_cache_path, self._jit_cache, self._jit_saved = jit_cache_path, None, False
        if hasattr(self.engine, "create_runtime_config"):
            # TensorRT-RTX compiles kernels just in time on first use; its runtime cache keeps
            # them across processes (it validates the blob itself and ignores a mismatched one).
            runtime_config = self.engine.create_runtime_config()
            self._jit_cache = runtime_config.create_runtime_cache()
            if jit_cache_path is not None and jit_cache_path.exists():
                self._jit_cache.deserialize(jit_cache_path.read_bytes())
            runtime_config.set_runtime_cache(self._jit_cache)
            self.context = self.engine.create_execution_context(runtime_config)
        else:
            self.context = self.engine.create_execution_context()
        self.stream = _cuda(cudart, cudart.cudaStreamCreate(), "cudaStreamCreate")
        self.in_dtype = np.dtype(trt.nptype(self.engine.get_tensor_dtype(input_name)))
        self.out_dtype = np.dtype(trt.nptype(self.engine.get_tensor_dtype(output_name)))
        self._buffers: Dict[str, Tuple[int, int]] = {}  # name -> (device pointer, capacity bytes)

    def _buffer(self, name: str, nbytes: int) -> int:
        ptr, cap = self._buffers.get(name, (0, 0))
        if cap < nbytes:  # grow only: sizes vary per GoP, and cudaMalloc is slow
            if ptr:
                _cuda(self.cudart, self.cudart.cudaFree(ptr), "cudaFree")
            ptr = int(_cuda(self.cudart, self.cudart.cudaMalloc(nbytes), f"cudaMalloc({nbytes})"))
            self._buffers[name] = (ptr, nbytes)
        return ptr

    def run(self, x: np.ndarray) -> np.ndarray:
        cudart, ctx = self.cudart, self.context
        x = np.ascontiguousarray(x, dtype=self.in_dtype)
        if not ctx.set_input_shape(self.input_name, tuple(x.shape)):
            raise BackendError(f"TensorRT refused input shape {x.shape}")
        out_shape = tuple(ctx.get_tensor_shape(self.output_name))
        if any(d < 0 for d in out_shape):
            raise BackendError(f"TensorRT left output shape {out_shape} unresolved for input {x.shape}")
        out = np.empty(out_shape, dtype=self.out_dtype)
        d_in = self._buffer(self.input_name, x.nbytes)
        d_out = self._buffer(self.output_name, out.nbytes)
        h2d, d2h = cudart.cudaMemcpyKind.cudaMemcpyHostToDevice, cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost
        _cuda(cudart, cudart.cudaMemcpyAsync(d_in, x.ctypes.data, x.nbytes, h2d, self.stream), "cudaMemcpyAsync H2D")
        ctx.set_tensor_address(self.input_name, d_in)
        ctx.set_tensor_address(self.output_name, d_out)
        if not ctx.execute_async_v3(int(self.stream)):
            raise BackendError("TensorRT execution failed (see its log)")
        _cuda(cudart, cudart.cudaMemcpyAsync(out.ctypes.data, d_out, out.nbytes, d2h, self.stream), "cudaMemcpyAsync D2H")
        _cuda(cudart, cudart.cudaStreamSynchronize(self.stream), "cudaStreamSynchronize")
        if not self._jit_saved:  # after the first run the kernels exist; sessions rarely close()
            self._save_jit_cache()
            self._jit_saved = True
        return out

    def _save_jit_cache(self) -> None:
        if self._jit_cache is not None and self.jit_cache_path is not None:
            blob = self._jit_cache.serialize()
            if blob is not None:
                atomic_write(self.jit_cache_path, bytes(memoryview(blob)))

    def close(self) -> None:
        self._save_jit_cache()
        for ptr, _ in self._buffers.values():
            self.cudart.cudaFree(ptr)
        self._buffers.clear()
        if self.stream is not None:
            self.cudart.cudaStreamDestroy(self.stream)
            self.stream = None


class TensorRTBackend:
    """Runs both halves as TensorRT engines on one GPU; builds (minutes for large models)
    and caches the engines on first use. Inputs beyond the profile's maximum are refused
    with LimitExceededError; raise ``max_frames``/``max_height``/``max_width`` to allow them."""

    name = "tensorrt"

    def __init__(self, encoder_onnx: os.PathLike, decoder_onnx: os.PathLike, config: TokenizerConfig,
                 digest: str, *, cache_dir: Optional[os.PathLike] = None, device: int = 0,
                 max_frames: int = 33, max_height: int = 1088, max_width: int = 1920,
                 workspace_bytes: Optional[int] = None) -> None:
        self.trt = import_tensorrt()
        self.cudart = import_cudart()
        self.config = config
        self.gpu, self.capability = gpu_identity(self.cudart, device)
        _cuda(self.cudart, self.cudart.cudaSetDevice(device), "cudaSetDevice")
        sf, tf = config.spatial_factor, config.temporal_factor
        if max_frames < 1 or (max_frames - 1) % tf or max_height < sf or max_height % sf \
                or max_width < sf or max_width % sf:
            raise InvalidArgumentError(f"engine maxima must be 1 + {tf}k frames and positive multiples "
                                       f"of {sf} pixels, got {max_frames}x{max_height}x{max_width}")
        self.max = (max_frames, max_height, max_width)
        self.profiles = profiles(config, max_frames, max_height, max_width)
        self.onnx = {"encoder": Path(encoder_onnx), "decoder": Path(decoder_onnx)}
        self.digest = digest
        self.cache = cache_root(cache_dir) / "tensorrt"
        self.workspace_bytes = workspace_bytes
        self._engines: Dict[str, _Engine] = {}

    @classmethod
    def from_tokenizer(cls, tokenizer: CausalVideoTokenizer, *, cache_dir: Optional[os.PathLike] = None,
                       **kwargs) -> "TensorRTBackend":
        import_tensorrt()  # fail before a long ONNX export when TensorRT is missing
        import_cudart()
        files = cached_onnx(tokenizer, cache_dir)
        return cls(files.encoder, files.decoder, tokenizer.config, files.digest, cache_dir=cache_dir, **kwargs)

    def engine_path(self, role: str) -> Path:
        key = engine_key(self.digest, role, self.gpu, self.capability, self.trt, self.profiles[role])
        return self.cache / f"{role}-{key[:32]}.engine"

    @staticmethod
    def _jit_path(engine_path: Path) -> Path:
        return engine_path.with_suffix(".jitcache")

    def _engine(self, role: str) -> _Engine:
        eng = self._engines.get(role)
        if eng is not None:
            return eng
        names = {"encoder": (ENCODER_INPUT, ENCODER_OUTPUT), "decoder": (DECODER_INPUT, DECODER_OUTPUT)}[role]
        path = self.engine_path(role)
        data = path.read_bytes() if path.exists() else None
        if data is not None:
            try:
                eng = _Engine(self.trt, self.cudart, data, *names, jit_cache_path=self._jit_path(path))
            except BackendError as exc:  # stale or damaged file: rebuild rather than fail
                log.warning("cached TensorRT engine %s unusable (%s); rebuilding", path, exc)
        if eng is None:
            log.info("building the TensorRT %s engine for %s (once per model, GPU and TensorRT version)",
                     role, self.gpu)
            data = build_engine(self.trt, self.onnx[role], names[0], self.profiles[role],
                                workspace_bytes=self.workspace_bytes)
            atomic_write(path, data)
            eng = _Engine(self.trt, self.cudart, data, *names, jit_cache_path=self._jit_path(path))
        self._engines[role] = eng
        return eng

    def _check_limits(self, frames: int, height: int, width: int) -> None:
        mt, mh, mw = self.max
        if frames > mt or height > mh or width > mw:
            raise LimitExceededError(
                f"clip {frames}x{height}x{width} exceeds the TensorRT engine profile {mt}x{mh}x{mw}; "
                "create the backend with larger max_frames/max_height/max_width")

    def encode(self, x: np.ndarray) -> np.ndarray:
        x = check_video(x, self.config)
        self._check_limits(*x.shape[2:])
        eng = self._engine("encoder")
        return np.concatenate([eng.run(x[i : i + 1]) for i in range(len(x))]).astype(np.int64, copy=False)

    def decode(self, indices: np.ndarray) -> np.ndarray:
        idx = check_indices(indices, self.config)
        tf, sf = self.config.temporal_factor, self.config.spatial_factor
        self._check_limits(1 + tf * (idx.shape[1] - 1), sf * idx.shape[2], sf * idx.shape[3])
        eng = self._engine("decoder")
        return np.concatenate([eng.run(idx[i : i + 1]) for i in range(len(idx))]).astype(np.float32, copy=False)

    def close(self) -> None:
        for eng in self._engines.values():
            eng.close()
        self._engines.clear()
