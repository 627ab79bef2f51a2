"""The continuous checkerboard context model: integer Laplace tables and scale
selection against their numpy references, exact round trips (escapes
included), hostile input, and the float mirror's export and rate."""

from pathlib import Path

import numpy as np
import pytest
import torch

import tvc_ffmpeg as tvc
from tvc_ffmpeg import _native
from tvc_ffmpeg.models.ccm import int_forward_reference
from tvc_ffmpeg.models.continuous_ccm import (
    LAPLACE_RATIOS, NUM_SCALES, ContinuousCcmConfig, ContinuousContextModel, checkerboard_mask,
    context_planes, ladder_scales, laplace_tables_reference, params_reference)

C, Q = 3, 2
CORPUS = Path(__file__).resolve().parent / "corpus" / "continuous"


@pytest.fixture(scope="module")
def model():
    """A mirror with random weights and calibrated activation ranges, whose scale
    outputs sit around index 30 (b ~ 2.3) so a Laplace(2.3) latent fits it."""
    torch.manual_seed(0)
    m = ContinuousContextModel(ContinuousCcmConfig(C, Q, hidden=16))
    with torch.no_grad():
        last = m.layers[-1].conv
        last.weight.mul_(0.3)
        last.bias[:C] = 30.0
        last.bias[C:] = 0.0
    m.train()
    planes = torch.randint(-20, 21, (4, m.config.context_channels, 9, 11)).float()
    with torch.no_grad():
        for _ in range(5):
            m(planes)
    return m.eval()


@pytest.fixture(scope="module")
def coder(model):
    return _native.ContinuousCheckerboardCoder(model.export_int(), C, Q)


def laplace_latent(rng, shape, b=2.3):
    return np.rint(rng.laplace(0.0, b, size=shape)).astype(np.int32)


def token_context(rng, t, h, w):
    return rng.integers(-127, 128, size=(Q, t, h, w)).astype(np.int32)


# ------------------------------------------------------------ integer parts

def test_tables_match_numpy_reference_bit_for_bit():
    cdfs, sizes, offsets, ratios = _native.continuous_laplace_tables()
    ref_cdfs, ref_sizes, ref_offsets = laplace_tables_reference()
    assert cdfs.shape == (NUM_SCALES, 2 * 1024 + 3)
    assert np.array_equal(sizes, ref_sizes) and np.array_equal(offsets, ref_offsets)
    assert np.array_equal(cdfs, ref_cdfs)
    assert list(ratios) == list(LAPLACE_RATIOS)
    # The constants are the documented formula, round(2^30 exp(-1/b_i)).
    assert list(ratios) == [round(2**30 * np.exp(-1 / b)) for b in ladder_scales()]
    # Radii grow with the scale; the largest table stays under the cap.
    assert sizes[0] == 4 and offsets[0] == -1 and sizes[-1] == 1420 and offsets[-1] == -709
    assert np.all(np.diff(sizes) >= 0)


def test_tables_are_close_to_the_discrete_laplace():
    cdfs, sizes, offsets, _ = _native.continuous_laplace_tables()
    for i in (10, 30, 50):
        n, R = sizes[i], -offsets[i]
        p = np.diff(cdfs[i, : n + 1]) / 65536.0
        r = np.exp(-1 / ladder_scales()[i])
        k = np.arange(-R, R + 1)
        exact = (1 - r) / (1 + r) * r ** np.abs(k)
        # Every symbol keeps at least 1/2^16, which costs a little: the excess
        # code length over the exact distribution stays small.
        excess_bits = float(np.sum(exact * np.log2(exact / p[:-1])))
        assert 0 <= excess_bits < 0.01, (i, excess_bits)


def test_scale_and_mean_selection_matches_reference(coder):
    rng = np.random.default_rng(0)
    out = rng.integers(-(1 << 20), (1 << 20) + 1, size=(2 * C, 5, 7)).astype(np.int32)
    out[:, 0, :4] = [-9, -8, 7, 8]  # rounding edges: (o + 8) >> 4 rounds halves up
    index, mean = coder.params(out)
    ref_index, ref_mean = params_reference(out, C)
    assert np.array_equal(index, ref_index) and np.array_equal(mean, ref_mean)
    assert list(mean[0, 0, :4]) == [-1, 0, 0, 1]
    assert index.min() == 0 and index.max() == NUM_SCALES - 1


def test_cpp_net_matches_numpy_reference(model):
    blob = model.export_int()
    planes = np.random.default_rng(1).integers(-127, 128, size=(model.config.context_channels, 6, 9))
    assert np.array_equal(_native.int_net_forward(blob, planes.astype(np.int32)), int_forward_reference(blob, planes))


def test_context_planes_match_torch_version(coder):
    rng = np.random.default_rng(2)
    latent = rng.integers(-300, 301, size=(C, 3, 5, 6)).astype(np.int32)
    ctx = token_context(rng, 3, 5, 6)
    for f in range(3):
        for p in (0, 1):
            planes = coder.context(latent, ctx, f, p)
            prev = torch.from_numpy(latent[:, f - 1]).float()[None] if f else None
            mine = context_planes(torch.from_numpy(ctx[:, f]).float()[None], prev,
                                  torch.from_numpy(latent[:, f]).float()[None], p)[0]
            assert np.array_equal(planes, mine.numpy().astype(np.int32)), (f, p)
    # Spot checks of the spec: clamped previous frame, flags, anchors only in pass 1.
    planes = coder.context(latent, ctx, 1, 1)
    assert np.array_equal(planes[Q:Q + C], np.clip(latent[:, 0], -127, 127))
    assert (planes[Q + C] == 127).all()
    assert planes[Q + 2 * C + 1, 0, 0] == 127 and planes[Q + 2 * C + 1, 0, 1] == 0
    assert (coder.context(latent, ctx, 0, 0)[Q:] == 0).all()


# ------------------------------------------------------------ round trips

@pytest.mark.parametrize("shape", [(1, 1, 1), (2, 5, 7), (3, 8, 8), (1, 1, 9)])
def test_round_trip_exact(coder, shape):
    rng = np.random.default_rng(3)
    latent = laplace_latent(rng, (C, *shape))
    ctx = token_context(rng, *shape)
    data = coder.encode(latent, ctx)
    assert np.array_equal(coder.decode(data, ctx, *shape), latent)


def test_values_beyond_the_tables_go_through_the_escape(coder):
    rng = np.random.default_rng(4)
    latent = laplace_latent(rng, (C, 2, 6, 6))
    latent[0, 0, 0, 0] = 1 << 20
    latent[1, 1, 3, 2] = -(1 << 20)
    latent[2, 0, 5, 5] = 5000
    latent[2, 1, 0, 1] = -710  # just past the widest table
    ctx = token_context(rng, 2, 6, 6)
    data = coder.encode(latent, ctx)
    assert np.array_equal(coder.decode(data, ctx, 2, 6, 6), latent)


def test_no_caller_planes():
    torch.manual_seed(1)
    m = ContinuousContextModel(ContinuousCcmConfig(2, 0, hidden=8)).eval()
    coder = _native.ContinuousCheckerboardCoder(m.export_int(), 2, 0)
    latent = laplace_latent(np.random.default_rng(5), (2, 2, 4, 5))
    assert np.array_equal(coder.decode(coder.encode(latent), None, 2, 4, 5), latent)
    with pytest.raises(tvc.InvalidArgumentError, match="context"):
        coder.decode(coder.encode(latent), np.zeros((1, 2, 4, 5), np.int32), 2, 4, 5)


# ------------------------------------------------------------ hostile input

def test_damaged_payloads_raise_invalid_data(coder):
    rng = np.random.default_rng(7)
    latent = laplace_latent(rng, (C, 2, 6, 6))
    ctx = token_context(rng, 2, 6, 6)
    data = coder.encode(latent, ctx)
    with pytest.raises(tvc.InvalidDataError):
        coder.decode(data[: len(data) // 2], ctx, 2, 6, 6)
    with pytest.raises(tvc.InvalidDataError):
        coder.decode(data + b"\0\0", ctx, 2, 6, 6)
    with pytest.raises(tvc.InvalidDataError):
        coder.decode(b"", ctx, 2, 6, 6)
    refused = 0
    for k in range(60):
        bad = bytearray(data)
        bad[int(rng.integers(len(bad)))] ^= 1 << int(rng.integers(8))
        try:
            coder.decode(bytes(bad), ctx, 2, 6, 6)
        except tvc.InvalidDataError:
            refused += 1
    assert refused >= 50  # the rest decode to other values; the packet CRC catches those
    # Random bytes never crash, hang or overflow.
    for k in range(200):
        junk = rng.integers(0, 256, size=2 * int(rng.integers(2, 40)), dtype=np.uint8).tobytes()
        try:
            coder.decode(junk, ctx, 2, 6, 6)
        except tvc.InvalidDataError:
            pass


def test_size_limits_come_before_allocation(coder, model):
    ctx = np.zeros((Q, 1, 1, 1), np.int32)
    with pytest.raises(tvc.LimitExceededError, match="limit"):
        coder.decode(b"\0\0\1\0", None, 64, 1024, 1024)
    with pytest.raises(tvc.LimitExceededError):
        coder.decode(b"\0\0\1\0", None, 1, 1, 2000)
    with pytest.raises(tvc.InvalidArgumentError, match="positive"):
        coder.decode(b"\0\0\1\0", ctx, 0, 1, 1)
    with pytest.raises(tvc.InvalidArgumentError, match="channels"):
        _native.ContinuousCheckerboardCoder(model.export_int(), 300, 0)


def test_bad_arguments_are_refused(coder, model):
    rng = np.random.default_rng(8)
    latent = laplace_latent(rng, (C, 1, 4, 4))
    ctx = token_context(rng, 1, 4, 4)
    big = latent.copy()
    big[0, 0, 0, 0] = (1 << 20) + 1
    with pytest.raises(tvc.InvalidArgumentError, match="2\\^20"):
        coder.encode(big, ctx)
    with pytest.raises(tvc.InvalidArgumentError, match="127"):
        coder.encode(latent, ctx * 0 + 128)
    with pytest.raises(tvc.InvalidArgumentError, match="shape"):
        coder.encode(latent[:2], ctx)
    with pytest.raises(tvc.InvalidArgumentError, match="integer"):
        coder.encode(latent.astype(np.float32), ctx)
    with pytest.raises(tvc.InvalidDataError, match="context planes"):
        _native.ContinuousCheckerboardCoder(model.export_int(), C + 1, Q)
    with pytest.raises(tvc.InvalidDataError):
        _native.ContinuousCheckerboardCoder(model.export_int()[:-1], C, Q)


def test_fuzz_seeds_are_committed():
    # The replay itself runs in tests/test_native.py::test_fuzz_corpus_replay.
    assert len(list(CORPUS.iterdir())) >= 10


# ------------------------------------------------------------ mirror

def test_export_matches_float_mirror(model, coder):
    rng = np.random.default_rng(9)
    latent = laplace_latent(rng, (C, 2, 9, 11))
    planes = coder.context(latent, token_context(rng, 2, 9, 11), 1, 1)
    ints = _native.int_net_forward(model.export_int(), planes) / 16.0
    with torch.no_grad():
        floats = model(torch.from_numpy(planes).float()[None])[0].numpy()
    assert np.median(np.abs(ints - floats)) <= 1 / 16 + 1e-6
    assert np.abs(ints - floats).max() < 1.0


def test_mirror_rate_matches_coded_size(model, coder):
    rng = np.random.default_rng(10)
    t, h, w = 2, 16, 16
    latent = laplace_latent(rng, (C, t, h, w))
    ctx = token_context(rng, t, h, w)
    coded_bits = 8 * len(coder.encode(latent, ctx))
    mirror_bits = 0.0
    with torch.no_grad():
        for f in range(t):
            for p in (0, 1):
                planes = torch.from_numpy(coder.context(latent, ctx, f, p)).float()[None]
                mirror_bits += float(model.bits(planes, torch.from_numpy(latent[:, f]).float()[None],
                                                checkerboard_mask(h, w, p)))
    assert mirror_bits > 2.0 * latent.size  # a real rate, not a degenerate model
    assert abs(coded_bits - mirror_bits) / mirror_bits < 0.03, (coded_bits, mirror_bits)
