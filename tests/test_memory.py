"""Memory of the sessions and runtimes: what they hold, and for how long (issue 11: a 720p
encode with colour correction held the encoder's and the decoder's peaks at once).

Peak resident memory is measured by commands (docs/runtime.md, "Memory"), not here; these
tests assert what decides it: which arrays are alive during the correction's decode, the
run options every ONNX Runtime run gets, and that no step makes a GoP-sized copy it need not.
"""

import weakref
from fractions import Fraction

import numpy as np
import pytest

from tokenizer_helpers import SMALL, small_codec_model
from tvc_ffmpeg.codec import Decoder, Encoder
from tvc_ffmpeg.codec import session as session_module
from tvc_ffmpeg.settings import EncoderSettings
from tvc_ffmpeg.video import Frame, VideoInfo


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return small_codec_model(tmp_path_factory.mktemp("w"))


def clip(n=9, w=48, h=32):
    yy, xx = np.mgrid[0:h, 0:w]
    return [Frame(((3 * xx + 5 * yy + 7 * i) % 200 + 30).astype(np.uint8),
                  np.full((h // 2, w // 2), 100, np.uint8), np.full((h // 2, w // 2), 160, np.uint8), pts=i)
            for i in range(n)]


def info_of(frames):
    return VideoInfo(width=frames[0].width, height=frames[0].height, frame_rate=Fraction(25),
                     time_base=Fraction(1, 25))


# ---------------------------------------------------------------- the encoder's own decode


@pytest.mark.parametrize("bitrate", [None, 20_000])
def test_the_source_gop_is_freed_before_the_colour_correction_decodes(model, monkeypatch, bitrate):
    # The float RGB copy of the GoP (T x H x W x 3 float32: 365 MB at 720p, 33 frames) was held
    # through the correction's decode, on top of the decoder's own peak.
    sources, alive_at_decode = [], []
    source_rgb, decode = Encoder._source_rgb, Decoder.decode

    def tracked_source(self, frames):
        rgb = source_rgb(self, frames)
        sources.append(weakref.ref(rgb))
        return rgb

    def watched_decode(self, packet):
        alive_at_decode.append([ref() is not None for ref in sources])
        return decode(self, packet)

    monkeypatch.setattr(Encoder, "_source_rgb", tracked_source)
    monkeypatch.setattr(Decoder, "decode", watched_decode)
    frames = clip(18)
    enc = Encoder(info_of(frames), EncoderSettings(gop_length=9, quality=2, bitrate=bitrate), model=model)
    packets = [p for f in frames for p in enc.encode(f)] + enc.encode(None)
    assert len(packets) == 2 and len(sources) == 2
    assert alive_at_decode == [[False], [False, False]]


def test_cropped_pixels_are_the_formula_bit_for_bit_in_one_copy():
    rng = np.random.default_rng(1)
    y = rng.uniform(-1.3, 1.3, (1, 3, 9, 32, 48)).astype(np.float32)
    rgb = session_module._cropped_rgb(y, (7, 30, 45))
    view = y[0, :, :7, :30, :45].transpose(1, 2, 3, 0)
    expected = (np.clip(view, -1, 1) + np.float32(1.0)) / np.float32(2.0)
    assert rgb.dtype == np.float32 and rgb.shape == (7, 30, 45, 3)
    assert np.array_equal(rgb, expected)
    assert not np.shares_memory(rgb, y)  # the net's output is not written to


def test_the_nets_input_is_contiguous_and_the_formula_bit_for_bit(model):
    frames = clip(9, w=40, h=30)
    enc = Encoder(info_of(frames), EncoderSettings(gop_length=9), model=model)
    rgb = enc._source_rgb(frames)
    x = enc._padded_input(rgb)
    padded = np.pad(rgb, ((0, 0), (0, 2), (0, 8), (0, 0)), mode="edge")
    expected = padded.transpose(3, 0, 1, 2)[None] * np.float32(2.0) - np.float32(1.0)
    assert x.shape == (1, 3, 9, 32, 48) and x.dtype == np.float32 and x.flags.c_contiguous
    assert np.array_equal(x, expected)


# ---------------------------------------------------------------- ONNX Runtime


def cast_backend(tmp_path):
    """An OnnxRuntimeBackend whose graphs are one Cast node each (video -> indices, indices ->
    video): the runtime's plumbing without a tokenizer export."""
    pytest.importorskip("onnxruntime")
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    from tvc_ffmpeg.runtime.onnx_export import DECODER_INPUT, DECODER_OUTPUT, ENCODER_INPUT, ENCODER_OUTPUT
    from tvc_ffmpeg.runtime.onnxruntime_backend import OnnxRuntimeBackend

    def cast_graph(path, src, dst, src_type, dst_type, rank):
        graph = helper.make_graph(
            [helper.make_node("Cast", [src], [dst], to=dst_type)], "cast",
            [helper.make_tensor_value_info(src, src_type, [None] * rank)],
            [helper.make_tensor_value_info(dst, dst_type, [None] * rank)])
        onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
        return path

    encoder = cast_graph(tmp_path / "enc.onnx", ENCODER_INPUT, ENCODER_OUTPUT, TensorProto.FLOAT,
                         TensorProto.INT64, 5)
    decoder = cast_graph(tmp_path / "dec.onnx", DECODER_INPUT, DECODER_OUTPUT, TensorProto.INT64,
                         TensorProto.FLOAT, 4)
    return OnnxRuntimeBackend(encoder, decoder, SMALL, providers=["CPUExecutionProvider"], threads=1)


def spy_runs(backend, role, monkeypatch):
    """Wraps the ``role`` session's run: returns the list of (role, shrinks, output) it records."""
    session = backend._session(role)
    run, calls = session.run, []

    def spied(names, feed, run_options=None):
        out = run(names, feed, run_options)
        shrinks = run_options is not None and \
            run_options.get_run_config_entry("memory.enable_memory_arena_shrinkage") == "cpu:0"
        calls.append((role, shrinks, out[0]))
        return out

    monkeypatch.setattr(session, "run", spied)
    return calls


def test_runs_hand_their_arena_back_where_the_process_encodes(tmp_path, monkeypatch):
    # Each session's arena keeps its largest run resident for the process's life, so an encoder
    # that also decodes held both graphs' peaks at once. A decode-only process keeps its arena
    # (handing it back costs every run page faults).
    backend = cast_backend(tmp_path)
    idx = np.arange(12, dtype=np.int64).reshape(1, 1, 3, 4)
    decodes = spy_runs(backend, "decoder", monkeypatch)
    backend.decode(idx)
    assert [shrinks for _, shrinks, _ in decodes] == [False]
    encodes = spy_runs(backend, "encoder", monkeypatch)
    backend.encode(np.zeros((1, 3, 9, 16, 16), np.float32))
    backend.decode(idx)
    backend.decode(np.concatenate([idx, idx]))  # a batch of two: one run per item
    assert [shrinks for _, shrinks, _ in encodes] == [True]
    assert [shrinks for _, shrinks, _ in decodes] == [False, True, True, True]


def test_a_batch_of_one_returns_the_runtimes_output_without_a_copy(tmp_path, monkeypatch):
    backend = cast_backend(tmp_path)
    calls = spy_runs(backend, "decoder", monkeypatch)
    idx = np.arange(24, dtype=np.int64).reshape(1, 2, 3, 4)
    out = backend.decode(idx)
    assert out is calls[0][2]
    assert np.array_equal(out, idx.astype(np.float32))
    both = backend.decode(np.stack([idx[0], idx[0] + 1]))  # larger batches: one run per item
    assert both.shape == (2, 2, 3, 4) and np.array_equal(both[1], idx[0] + 1)
