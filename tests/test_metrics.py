import math

import numpy as np
import pytest
import torch

from tokenizer_helpers import moving_pattern
from tvc_ffmpeg.metrics import (
    Yuv420Clip,
    clip_quality,
    ms_ssim,
    ms_ssim_y,
    psnr_y,
    psnr_yuv,
    rgb_to_yuv420,
    yuv420_to_rgb,
)


def test_luma_matches_ffmpeg_swscale_bt601():
    """Our RGB -> Y is what FFmpeg (swscale, unspecified matrix = BT.601 TV range) produces."""
    import av

    rgb = moving_pattern(1, 64, 96, seed=3)
    theirs = av.VideoFrame.from_ndarray(rgb[0], format="rgb24").reformat(format="yuv420p").to_ndarray()
    ours = rgb_to_yuv420(rgb)
    diff = np.abs(theirs[:64].astype(int) - ours.y[0].astype(int))
    assert diff.max() <= 1
    # A flat colour makes chroma independent of the subsampling filter.
    flat = np.zeros((1, 16, 16, 3), dtype=np.uint8) + np.array([200, 60, 30], dtype=np.uint8)
    planes = av.VideoFrame.from_ndarray(flat[0], format="rgb24").reformat(format="yuv420p").to_ndarray()
    ours = rgb_to_yuv420(flat)
    assert abs(int(planes[16, 0]) - int(ours.u[0, 0, 0])) <= 1
    assert abs(int(planes[20, 0]) - int(ours.v[0, 0, 0])) <= 1


def test_yuv_rgb_round_trip_is_close():
    rgb = moving_pattern(2, 32, 48)
    back = yuv420_to_rgb(rgb_to_yuv420(rgb))
    again = rgb_to_yuv420(back)
    first = rgb_to_yuv420(rgb)
    assert np.abs(again.y.astype(int) - first.y.astype(int)).max() <= 1


def test_psnr_values():
    ref = Yuv420Clip(np.full((2, 4, 4), 100, np.uint8), np.full((2, 2, 2), 128, np.uint8), np.full((2, 2, 2), 128, np.uint8))
    dist = Yuv420Clip(ref.y + 2, ref.u.copy(), ref.v + 1)
    assert psnr_y(ref, dist) == pytest.approx(10 * math.log10(255**2 / 4))
    py, pv = 10 * math.log10(255**2 / 4), 10 * math.log10(255**2 / 1)
    assert psnr_yuv(ref, ref) == float("inf")
    dist2 = Yuv420Clip(ref.y + 2, ref.u + 1, ref.v + 1)
    assert psnr_yuv(ref, dist2) == pytest.approx((6 * py + 2 * pv) / 8)


def test_ms_ssim_identity_noise_and_small_frames():
    rgb = moving_pattern(3, 144, 176)
    ref = rgb_to_yuv420(rgb)
    assert ms_ssim_y(ref, ref) == pytest.approx(1.0)
    rng = np.random.default_rng(0)
    light = Yuv420Clip(np.clip(ref.y + rng.normal(0, 3, ref.y.shape), 0, 255).astype(np.uint8), ref.u, ref.v)
    heavy = Yuv420Clip(np.clip(ref.y + rng.normal(0, 25, ref.y.shape), 0, 255).astype(np.uint8), ref.u, ref.v)
    assert 1.0 > ms_ssim_y(ref, light) > ms_ssim_y(ref, heavy) > 0.0
    q = clip_quality(ref, light)
    assert q.psnr_y > 35 and q.ms_ssim_y > 0.9


def test_box_window_ms_ssim_is_differentiable():
    x = torch.rand(4, 1, 64, 64, requires_grad=True)
    y = torch.rand(4, 1, 64, 64)
    value = ms_ssim(x, y, window=7, sigma=0.0).mean()
    value.backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
