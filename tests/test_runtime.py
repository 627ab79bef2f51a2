"""Runtime backends: ONNX export with dynamic axes, exact tokens and close pixels against
torch, TensorRT(-RTX) buildability, input checks, missing-runtime errors.

A small randomly initialised tokenizer (the zero-initialised residual convolutions are
randomised too, so every block is exercised). The graphs are exported once per module at
17x64x64 and run at other sizes, which is what proves the axes are dynamic.
"""

import sys
from fractions import Fraction

import numpy as np
import pytest
import torch

import tvc_ffmpeg as tvc
from tvc_ffmpeg.codec import CodecModel, Decoder, Encoder
from tokenizer_helpers import SMALL
from tvc_ffmpeg.models import CausalVideoTokenizer
from tvc_ffmpeg.runtime import cached_onnx, create_backend, model_digest
from tvc_ffmpeg.runtime.torch_backend import TorchBackend
from tvc_ffmpeg.video import Frame, VideoInfo

# Pixels in [-1, 1]: 1e-4 is 0.013 of an 8-bit level; measured differences are ~1e-7 (docs/runtime.md).
PIXEL_ATOL = 1e-4

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")  # torch's dynamo exporter writes ONNX through it


@pytest.fixture(scope="module")
def tokenizer():
    torch.manual_seed(0)
    tok = CausalVideoTokenizer(SMALL).eval()
    with torch.no_grad():
        for p in tok.parameters():
            if not p.any():
                p.normal_(0.0, 0.05)
    return tok


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("tvc-cache")


@pytest.fixture(scope="module")
def onnx_files(tokenizer, cache_dir):
    return cached_onnx(tokenizer, cache_dir)  # exported with a 17x64x64 example


@pytest.fixture(scope="module")
def backends(tokenizer, onnx_files, cache_dir):
    return (TorchBackend(tokenizer),
            create_backend("onnxruntime", tokenizer, cache_dir=cache_dir, threads=1))


def video(n, t, h, w, seed=0, smooth=True):
    rng = np.random.default_rng(seed)
    if not smooth:
        return rng.uniform(-1, 1, (n, 3, t, h, w)).astype(np.float32)
    yy, xx = np.mgrid[0:h, 0:w]
    out = np.empty((n, 3, t, h, w), np.float32)
    for b in range(n):
        for c in range(3):
            ph = rng.uniform(0, 6.3, 2)
            for i in range(t):
                out[b, c, i] = 0.8 * np.sin(0.2 * (xx + 2 * i) + ph[0]) * np.cos(0.15 * (yy - i) + ph[1])
    return out


def test_graphs_pass_onnx_checker_and_carry_metadata(onnx_files, tokenizer):
    import onnx

    for role, path in (("encoder", onnx_files.encoder), ("decoder", onnx_files.decoder)):
        onnx.checker.check_model(str(path), full_check=True)
        props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
        assert props["tvc.role"] == role
        assert props["tvc.model_digest"] == model_digest(tokenizer)


@pytest.mark.parametrize("shape", [(1, 9, 48, 80), (1, 1, 32, 32), (2, 25, 16, 112), (1, 17, 64, 64)])
@pytest.mark.parametrize("smooth", [True, False])
def test_encoder_tokens_equal_torch_at_other_sizes(backends, shape, smooth):
    ref, onnx_rt = backends
    n, t, h, w = shape
    x = video(n, t, h, w, seed=t + h, smooth=smooth)
    a, b = ref.encode(x), onnx_rt.encode(x)
    assert b.dtype == np.int64 and b.shape == (n, 1 + (t - 1) // 8, h // 16, w // 16)
    assert np.array_equal(a, b)


@pytest.mark.parametrize("shape", [(1, 2, 3, 5), (1, 1, 1, 1), (2, 4, 2, 7)])
def test_decoder_pixels_close_to_torch(backends, shape):
    ref, onnx_rt = backends
    idx = np.random.default_rng(sum(shape)).integers(0, SMALL.codebook_size, shape)
    a, b = ref.decode(idx), onnx_rt.decode(idx)
    n, lt, h, w = shape
    assert b.dtype == np.float32 and b.shape == (n, 3, 1 + 8 * (lt - 1), 16 * h, 16 * w)
    assert np.abs(a - b).max() <= PIXEL_ATOL


def test_cache_reuses_exported_graphs(tokenizer, onnx_files, cache_dir):
    before = onnx_files.encoder.stat().st_mtime_ns, onnx_files.decoder.stat().st_mtime_ns
    again = cached_onnx(tokenizer, cache_dir)
    assert again == onnx_files
    assert (again.encoder.stat().st_mtime_ns, again.decoder.stat().st_mtime_ns) == before


BAD_VIDEO = [
    (np.zeros((3, 17, 64, 64), np.float32), "shape"),          # rank 4
    (np.zeros((1, 1, 17, 64, 64), np.float32), "shape"),       # one channel
    (np.zeros((1, 3, 16, 64, 64), np.float32), r"1 \+ 8k"),     # frame count
    (np.zeros((1, 3, 17, 60, 64), np.float32), "multiples of 16"),
    (np.zeros((1, 3, 17, 64, 8), np.float32), "multiples of 16"),
    (np.zeros((1, 3, 17, 64, 64), np.uint8), "floating"),
]


@pytest.mark.parametrize("x, words", BAD_VIDEO)
def test_bad_video_is_invalid_argument(backends, x, words):
    for backend in backends:
        with pytest.raises(tvc.InvalidArgumentError, match=words):
            backend.encode(x)


@pytest.mark.parametrize("idx, words", [
    (np.zeros((2, 2, 3), np.int64), "shape"),
    (np.full((1, 2, 2, 2), 1000, np.int64), r"\[0, 1000\)"),
    (np.full((1, 2, 2, 2), -1, np.int64), r"\[0, 1000\)"),
    (np.zeros((1, 2, 2, 2), np.float32), "integers"),
    (np.zeros((1, 0, 2, 2), np.int64), "empty"),
])
def test_bad_indices_are_invalid_argument(backends, idx, words):
    for backend in backends:
        with pytest.raises(tvc.InvalidArgumentError, match=words):
            backend.decode(idx)


def test_unknown_backend_name(tokenizer):
    with pytest.raises(tvc.InvalidArgumentError, match="onnxruntime"):
        create_backend("onnx", tokenizer)
    with pytest.raises(tvc.InvalidArgumentError, match="unknown backend"):
        CodecModel("m", b"\0" * 32, tokenizer, backend="cuda")


def test_auto_picks_a_backend_that_runs_here(tokenizer, cache_dir, backends):
    from tvc_ffmpeg.runtime import available_backends

    found = available_backends()
    assert found[-1] == "torch" and "onnxruntime" in found
    b = create_backend("auto", tokenizer, cache_dir=cache_dir)
    assert b.name == found[0]
    x = video(1, 9, 32, 48, seed=9)
    assert np.array_equal(b.encode(x), backends[0].encode(x))


def test_missing_onnxruntime_names_the_package(tokenizer, cache_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # makes `import onnxruntime` fail
    with pytest.raises(tvc.BackendError, match="pip install onnxruntime"):
        create_backend("onnxruntime", tokenizer, cache_dir=cache_dir)


def test_missing_tensorrt_names_the_packages(tokenizer, cache_dir, monkeypatch):
    for name in ("tensorrt", "tensorrt_rtx", "tensorrt_rtx_bindings"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(tvc.BackendError, match="tensorrt-rtx-cu13-bindings"):
        create_backend("tensorrt", tokenizer, cache_dir=cache_dir)


def test_missing_cuda_python_names_the_package(monkeypatch):
    from tvc_ffmpeg.runtime.tensorrt_backend import import_cudart

    for name in ("cuda", "cuda.bindings", "cuda.bindings.runtime", "cuda.cudart"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(tvc.BackendError, match="pip install cuda-python"):
        import_cudart()


def test_tensorrt_without_gpu_is_backend_error(tokenizer, onnx_files, cache_dir):
    """Where TensorRT and cuda-python are installed but no GPU answers (this machine)."""
    from tvc_ffmpeg.runtime import tensorrt_backend as trb

    try:
        trb.import_tensorrt()
        cudart = trb.import_cudart()
    except tvc.BackendError as exc:
        pytest.skip(str(exc))
    if int(cudart.cudaGetDeviceCount()[0]) == 0:
        pytest.skip("a GPU is present")
    with pytest.raises(tvc.BackendError, match="CUDA error"):
        trb.TensorRTBackend(onnx_files.encoder, onnx_files.decoder, SMALL, onnx_files.digest,
                            cache_dir=cache_dir)


def test_tensorrt_parses_and_builds_both_graphs(onnx_files):
    """TensorRT-RTX builds engines without a GPU (running them needs one: untested here)."""
    from tvc_ffmpeg.runtime import tensorrt_backend as trb

    try:
        trt = trb.import_tensorrt()
    except tvc.BackendError as exc:
        pytest.skip(str(exc))
    prof = trb.profiles(SMALL, max_frames=33, max_height=128, max_width=160, opt=(17, 64, 64))
    assert prof["decoder"] == ((1, 1, 1, 1), (1, 3, 4, 4), (1, 5, 8, 10))
    for role, path, name in (("encoder", onnx_files.encoder, "video"),
                             ("decoder", onnx_files.decoder, "indices")):
        engine = trb.build_engine(trt, path, name, prof[role])
        assert len(engine) > 10_000, role


def test_engine_key_separates_gpu_version_and_profile():
    from types import SimpleNamespace

    from tvc_ffmpeg.runtime.tensorrt_backend import engine_key

    trt_a = SimpleNamespace(__name__="tensorrt", __version__="10.3.0")
    trt_b = SimpleNamespace(__name__="tensorrt", __version__="10.4.0")
    prof = ((1, 3, 1, 16, 16), (1, 3, 17, 272, 640), (1, 3, 33, 1088, 1920))
    base = engine_key("d", "encoder", "NVIDIA H100", "9.0", trt_a, prof)
    assert base == engine_key("d", "encoder", "NVIDIA H100", "9.0", trt_a, prof)
    others = [engine_key("e", "encoder", "NVIDIA H100", "9.0", trt_a, prof),
              engine_key("d", "decoder", "NVIDIA H100", "9.0", trt_a, prof),
              engine_key("d", "encoder", "NVIDIA L4", "8.9", trt_a, prof),
              engine_key("d", "encoder", "NVIDIA H100", "9.0", trt_b, prof),
              engine_key("d", "encoder", "NVIDIA H100", "9.0", trt_a, prof[:2] + ((1, 3, 65, 1088, 1920),))]
    assert base not in others and len(set(others)) == len(others)


def test_codec_sessions_through_onnxruntime(tokenizer, onnx_files, cache_dir, monkeypatch):
    """Same packets as torch; decoded planes within one 8-bit level (rounding of close floats)."""
    monkeypatch.setenv("TVC_CACHE_DIR", str(cache_dir))
    w, h, n = 72, 40, 20
    info = VideoInfo(width=w, height=h, frame_rate=Fraction(25), time_base=Fraction(1, 25))
    rng = np.random.default_rng(5)
    base = rng.integers(0, 256, (h, w), dtype=np.uint8)
    frames = [Frame(np.roll(base, i, 1), np.full((h // 2, w // 2), 100, np.uint8),
                    np.full((h // 2, w // 2), 150, np.uint8), pts=i) for i in range(n)]
    outs = {}
    for name in ("torch", "onnxruntime"):
        model = CodecModel("tvc-test", b"\1" * 32, tokenizer, backend=name)
        enc = Encoder(info, model=model)
        packets = [p.to_bytes() for f in frames for p in enc.encode(f)] + [p.to_bytes() for p in enc.encode(None)]
        dec = Decoder(enc.header, model=model)
        from tvc_ffmpeg.bitstream import GopPacket

        decoded = [f for p in packets for f in dec.decode(GopPacket.from_bytes(p, enc.header))]
        outs[name] = (packets, decoded)
        assert model.runtime.name == name
    assert outs["torch"][0] == outs["onnxruntime"][0]
    a, b = outs["torch"][1], outs["onnxruntime"][1]
    assert len(a) == len(b) == n
    for fa, fb in zip(a, b):
        for pa, pb in ((fa.y, fb.y), (fa.u, fb.u), (fa.v, fb.v)):
            assert np.abs(pa.astype(int) - pb.astype(int)).max() <= 1


def test_cli_options_fill_the_settings_and_reach_the_model(tokenizer, tmp_path):
    import argparse

    from tvc_ffmpeg.cli._common import add_model_arguments, decoder_settings, model_fields
    from tvc_ffmpeg.models import export_weights
    from tvc_ffmpeg.settings import DEFAULT_BACKEND, DecoderSettings, EncoderSettings

    export_weights(tokenizer, "tvc-test", tmp_path / "w.pt")
    p = argparse.ArgumentParser()
    add_model_arguments(p)
    assert p.parse_args([]).backend == DEFAULT_BACKEND == EncoderSettings().backend == DecoderSettings().backend
    args = p.parse_args(["--weights", str(tmp_path / "w.pt"), "--backend", "onnxruntime", "--threads", "1"])
    model = EncoderSettings(**model_fields(args)).load_model()
    assert (model.backend, model.threads) == ("onnxruntime", 1)
    assert decoder_settings(args) == DecoderSettings(weights_path=str(tmp_path / "w.pt"), backend="onnxruntime",
                                                     threads=1)
    limited = p.parse_args(["--max-pixels", "4096", "--max-gop-pixels", "100000"])
    assert (decoder_settings(limited).max_pixels, decoder_settings(limited).max_gop_pixels) == (4096, 100000)
    with pytest.raises(SystemExit):
        p.parse_args(["--backend", "cuda"])


# ----- the TensorRT backend's control flow, against a fake TensorRT + CUDA -----------------
# No GPU here, so the real runtime path cannot run. These fakes mirror the slice of the
# TensorRT and cuda-python APIs the backend calls; "device memory" is host memory and the
# "engine" runs the ONNX file through ONNX Runtime. They check our logic (engine cache and
# keys, rebuilds, shapes, buffers, limits, cleanup), not TensorRT.

class _FakeCudart:
    class cudaMemcpyKind:
        cudaMemcpyHostToDevice, cudaMemcpyDeviceToHost = 1, 2

    def __init__(self):
        self.mem = {}

    def cudaGetDeviceCount(self):
        return (0, 1)

    def cudaGetDeviceProperties(self, device):
        from types import SimpleNamespace

        return (0, SimpleNamespace(name=b"Fake GPU\0\0\0", major=9, minor=0))

    def cudaSetDevice(self, device):
        return (0,)

    def cudaStreamCreate(self):
        return (0, 7)

    def cudaStreamSynchronize(self, stream):
        return (0,)

    def cudaStreamDestroy(self, stream):
        return (0,)

    def cudaMalloc(self, n):
        buf = np.empty(n, np.uint8)
        self.mem[buf.ctypes.data] = buf
        return (0, buf.ctypes.data)

    def cudaFree(self, ptr):
        self.mem.pop(ptr)
        return (0,)

    def cudaMemcpyAsync(self, dst, src, n, kind, stream):
        import ctypes

        ctypes.memmove(dst, src, n)
        return (0,)

    def cudaGetErrorString(self, err):
        return (0, b"fake")


def _fake_trt(builds):
    import json
    from types import SimpleNamespace

    def view(ptr, shape, dtype):
        import ctypes

        n = int(np.prod(shape)) * np.dtype(dtype).itemsize
        return np.frombuffer((ctypes.c_char * n).from_address(ptr), dtype=dtype).reshape(shape)

    class Logger:
        WARNING = 2

        def __init__(self, level=None):
            pass

    class Net:
        path = None

    class Parser:
        num_errors = 0

        def __init__(self, net, logger):
            self.net = net

        def parse_from_file(self, path):
            self.net.path = path
            return True

    class Profile:
        def set_shape(self, name, lo, opt, hi):
            self.shapes = (name, lo, opt, hi)

    class Builder:
        def __init__(self, logger):
            pass

        def create_network(self, flags):
            return Net()

        def create_builder_config(self):
            return SimpleNamespace(add_optimization_profile=lambda p: None)

        def create_optimization_profile(self):
            return Profile()

        def build_serialized_network(self, net, config):
            builds.append(net.path)
            return json.dumps({"onnx": net.path}).encode()

    class Context:
        def __init__(self, path):
            self.session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
            self.inp = self.session.get_inputs()[0].name
            self.out = self.session.get_outputs()[0].name
            self.addr, self.shape = {}, None

        def set_input_shape(self, name, shape):
            self.shape = shape
            return True

        def get_tensor_shape(self, name):
            if self.inp == "video":
                n, c, t, h, w = self.shape
                return (n, 1 + (t - 1) // 8, h // 16, w // 16)
            n, t, h, w = self.shape
            return (n, 3, 1 + 8 * (t - 1), 16 * h, 16 * w)

        def set_tensor_address(self, name, ptr):
            self.addr[name] = ptr

        def execute_async_v3(self, stream):
            dt_in, dt_out = (np.float32, np.int64) if self.inp == "video" else (np.int64, np.float32)
            x = view(self.addr[self.inp], self.shape, dt_in).copy()
            y = self.session.run(None, {self.inp: x})[0]
            view(self.addr[self.out], y.shape, dt_out)[...] = y
            return True

    class Engine:
        def __init__(self, path):
            self.path = path

        def get_tensor_dtype(self, name):
            is_video = name == "video"
            return "f32" if is_video else "i64"

        def create_execution_context(self):
            return Context(self.path)

    class Runtime:
        def __init__(self, logger):
            pass

        def deserialize_cuda_engine(self, data):
            try:
                return Engine(json.loads(data)["onnx"])
            except ValueError:
                return None

    return SimpleNamespace(
        __name__="faketrt", __version__="0.0", Logger=Logger, Builder=Builder,
        OnnxParser=Parser, Runtime=Runtime, NetworkDefinitionCreationFlag=SimpleNamespace(__members__={}),
        MemoryPoolType=SimpleNamespace(WORKSPACE=0), nptype=lambda t: {"f32": np.float32, "i64": np.int64}[t],
    )


def test_tensorrt_backend_logic_against_fakes(tokenizer, onnx_files, cache_dir, backends, monkeypatch):
    from tvc_ffmpeg.runtime import tensorrt_backend as trb

    builds = []
    fake, cudart = _fake_trt(builds), _FakeCudart()
    monkeypatch.setattr(trb, "import_tensorrt", lambda: fake)
    monkeypatch.setattr(trb, "import_cudart", lambda: cudart)

    def make():
        return trb.TensorRTBackend.from_tokenizer(tokenizer, cache_dir=cache_dir,
                                                  max_frames=17, max_height=64, max_width=96)

    b = make()
    x = video(2, 9, 48, 80, seed=3)
    assert np.array_equal(b.encode(x), backends[0].encode(x))
    idx = backends[0].encode(video(1, 17, 32, 64, seed=4))
    assert np.abs(b.decode(idx) - backends[0].decode(idx)).max() <= PIXEL_ATOL
    assert len(builds) == 2 and len(list(b.cache.glob("*.engine"))) == 2
    assert "Fake GPU" == b.gpu and b.capability == "9.0"
    with pytest.raises(tvc.LimitExceededError, match="max_frames"):
        b.encode(video(1, 25, 32, 32))
    with pytest.raises(tvc.InvalidArgumentError):
        b.encode(video(1, 9, 40, 32))
    b.close()
    assert cudart.mem == {}  # every buffer freed

    b2 = make()  # engines come from the cache now
    assert np.array_equal(b2.encode(x), backends[0].encode(x)) and len(builds) == 2
    b2.engine_path("decoder").write_bytes(b"not an engine")  # damaged cache: rebuilt, not fatal
    b2.decode(idx)
    assert len(builds) == 3
    b2.close()
    with pytest.raises(tvc.InvalidArgumentError, match="multiples"):
        trb.TensorRTBackend(onnx_files.encoder, onnx_files.decoder, SMALL, "d", max_height=100)
