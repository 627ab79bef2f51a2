"""The checkerboard context model: the C++ integer net against its numpy
reference, exact coding round trips, and the float mirror's export."""

import numpy as np
import pytest
import torch

import tvc_ffmpeg as tvc
from tvc_ffmpeg import _native
from tvc_ffmpeg.models.ccm import (
    CcmConfig, CheckerboardContextModel, int_forward_reference, quantize_multiplier)

LEVELS = (8, 5, 5, 5)


@pytest.fixture(scope="module")
def trained_ish():
    """A context model whose weights and activation ranges are random but realistic."""
    torch.manual_seed(0)
    m = CheckerboardContextModel(CcmConfig(LEVELS, hidden=16))
    m.train()
    planes = torch.randint(-7, 8, (4, m.config.context_channels, 9, 11)).float()
    with torch.no_grad():
        for _ in range(5):
            m(planes)  # calibrates the activation ranges
    return m.eval()


def random_digits(rng, t, h, w):
    return np.stack([rng.integers(0, n, size=(t, h, w)) for n in LEVELS], -1).astype(np.int32)


def test_cpp_net_matches_numpy_reference_bit_for_bit(trained_ish):
    blob = trained_ish.export_int()
    rng = np.random.default_rng(0)
    planes = rng.integers(-127, 128, size=(trained_ish.config.context_channels, 7, 13)).astype(np.int32)
    assert np.array_equal(_native.int_net_forward(blob, planes), int_forward_reference(blob, planes))


def test_export_matches_float_mirror(trained_ish):
    blob = trained_ish.export_int()
    rng = np.random.default_rng(1)
    coder = _native.CheckerboardCoder(blob, list(LEVELS))
    digits = random_digits(rng, 2, 9, 11)
    planes = coder.context(digits, 1, 1)
    ints = _native.int_net_forward(blob, planes) / 16.0
    with torch.no_grad():
        floats = trained_ish(torch.from_numpy(planes).float()[None])[0].numpy()
    # Rounding of the rescale may move a value by one step of the next layer.
    assert np.median(np.abs(ints - floats)) <= 1 / 16 + 1e-6
    assert np.abs(ints - floats).max() < 1.0


@pytest.mark.parametrize("shape", [(1, 1, 1), (3, 5, 7), (2, 8, 8)])
@pytest.mark.parametrize("pattern", [0, 1, 2, 3])
def test_round_trip_exact(trained_ish, shape, pattern):
    coder = _native.CheckerboardCoder(trained_ish.export_int(), list(LEVELS))
    digits = random_digits(np.random.default_rng(2), *shape)
    data = coder.encode(digits, pattern)
    keep = _native.mask_keep(pattern, *shape)
    expected = np.where(keep[..., None], digits, -1)
    assert np.array_equal(coder.decode(data, *shape, pattern), expected)


def test_mask_patterns_drop_the_documented_share():
    keep = [_native.mask_keep(p, 3, 16, 16) for p in range(4)]
    assert all(k[0].all() for k in keep)  # the first latent frame is always whole
    assert [round(1 - k[1:].mean(), 2) for k in keep] == [0.0, 0.25, 0.5, 0.75]
    with pytest.raises(tvc.InvalidArgumentError):
        _native.mask_keep(4, 1, 1, 1)


def test_unknown_pattern_in_a_stream_is_invalid_data(trained_ish):
    coder = _native.CheckerboardCoder(trained_ish.export_int(), list(LEVELS))
    data = coder.encode(random_digits(np.random.default_rng(8), 2, 4, 4))
    with pytest.raises(tvc.InvalidDataError, match="pattern"):
        coder.decode(data, 2, 4, 4, 9)


def test_damaged_stream_is_refused(trained_ish):
    coder = _native.CheckerboardCoder(trained_ish.export_int(), list(LEVELS))
    digits = random_digits(np.random.default_rng(3), 3, 6, 6)
    data = coder.encode(digits)
    with pytest.raises(tvc.InvalidDataError):
        coder.decode(data[: len(data) // 2], 3, 6, 6)
    with pytest.raises(tvc.InvalidDataError):
        coder.decode(data + b"\0\0", 3, 6, 6)


def test_rate_equals_model_code_length(trained_ish):
    """The coder spends what the integer model's distributions say, pass by pass."""
    blob = trained_ish.export_int()
    coder = _native.CheckerboardCoder(blob, list(LEVELS))
    digits = random_digits(np.random.default_rng(4), 2, 10, 10)
    ideal = 0.0
    for f in range(2):
        for p in range(2):
            logits = _native.int_net_forward(blob, coder.context(digits, f, p)).astype(np.int64)
            start = 0
            for d, n in enumerate(LEVELS):
                cdf = _native.logits_to_cdf(np.moveaxis(logits[start : start + n], 0, -1))
                freq = np.diff(cdf, axis=-1) / 65536.0
                yy, xx = np.mgrid[0:10, 0:10]
                sel = (yy + xx) % 2 == p
                q = np.take_along_axis(freq, digits[f, :, :, d][..., None], -1)[..., 0]
                ideal += -np.log2(q[sel]).sum()
                start += n
    bits = len(coder.encode(digits)) * 8
    assert ideal <= bits <= ideal * 1.01 + 64


def test_context_planes_follow_the_spec():
    m = CheckerboardContextModel(CcmConfig(LEVELS, hidden=4))
    coder = _native.CheckerboardCoder(m.export_int(), list(LEVELS))
    digits = random_digits(np.random.default_rng(5), 2, 4, 4)
    first = coder.context(digits, 0, 0)
    assert not first.any()  # nothing known before the first anchors
    c = coder.context(digits, 1, 1)
    D = len(LEVELS)
    assert np.array_equal(c[0], 2 * digits[0, :, :, 0] - 7)
    assert (c[D] == 127).all()
    anchors = (np.add.outer(np.arange(4), np.arange(4)) % 2) == 0
    assert np.array_equal(c[2 * D + 1] == 127, anchors)
    assert np.array_equal(c[D + 1][anchors], (2 * digits[1, :, :, 0] - 7)[anchors])
    assert not c[D + 1][~anchors].any()


def test_malformed_blobs_are_refused(trained_ish):
    blob = trained_ish.export_int()
    planes = np.zeros((trained_ish.config.context_channels, 2, 2), np.int32)
    for bad in (b"XXXX" + blob[4:], blob[:-1], blob + b"\0"):
        with pytest.raises(tvc.InvalidDataError):
            _native.int_net_forward(bad, planes)
    with pytest.raises(tvc.InvalidDataError, match="planes"):
        _native.CheckerboardCoder(blob, [8, 5, 5])
    with pytest.raises(tvc.InvalidArgumentError, match="127"):
        _native.int_net_forward(blob, planes + 200)


def test_quantize_multiplier_precision():
    for r in (1e-6, 0.003, 0.5, 1.0, 7.3, 1000.0):
        m, s = quantize_multiplier(r)
        assert 0 < m < 2**31 and 1 <= s <= 62
        assert abs(m / 2**s - r) / r < 1e-6


def test_training_contexts_equal_the_coders():
    from tvc_ffmpeg.train.ccm import context_planes

    m = CheckerboardContextModel(CcmConfig(LEVELS, hidden=4))
    coder = _native.CheckerboardCoder(m.export_int(), list(LEVELS))
    digits = random_digits(np.random.default_rng(6), 3, 5, 6)
    for pattern in range(_native.NUM_MASK_PATTERNS):
        for f in range(3):
            for p in (0, 1):
                assert np.array_equal(context_planes(digits[None], f, p, LEVELS, pattern)[0],
                                      coder.context(digits, f, p, pattern))


def test_training_lowers_the_coded_size_of_structured_tokens():
    from tvc_ffmpeg.train.ccm import code_length_bits

    rng = np.random.default_rng(7)
    # Smooth token fields: each latent frame copies the previous one with few changes.
    base = random_digits(rng, 1, 8, 8)
    grids = []
    for _ in range(16):
        g = np.repeat(base, 3, axis=0).copy()
        g[1:][rng.random(g[1:].shape) < 0.1] = 0
        grids.append(g)
    grids = np.stack(grids)
    torch.manual_seed(0)
    model = CheckerboardContextModel(CcmConfig(LEVELS, hidden=16))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    coder_bits = lambda: sum(len(_native.CheckerboardCoder(model.eval().export_int(), list(LEVELS)).encode(g)) * 8
                             for g in grids)
    before = coder_bits()
    for _ in range(40):
        model.train()
        loss = code_length_bits(model, torch.from_numpy(grids))
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = coder_bits()
    assert after < 0.8 * before
