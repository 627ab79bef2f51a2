import numpy as np
import pytest
import torch

from tokenizer_helpers import make_tiny_cache, moving_pattern, write_lossless_video
from tvc_ffmpeg.data.cache import CacheLayout
from tvc_ffmpeg.data.clips import TRAIN_VIDEOS, VALIDATION_CLIPS, read_yuv420
from tvc_ffmpeg.data.dataset import CropConfig, GopCropSampler
from tvc_ffmpeg.data.motion import camera_motion_clip
from tvc_ffmpeg.metrics import rgb_to_yuv420


@pytest.fixture(scope="module")
def tiny_cache(tmp_path_factory):
    root = tmp_path_factory.mktemp("cache")
    make_tiny_cache(root)
    return CacheLayout(root)


def test_camera_motion_clip_moves_smoothly_and_is_seeded():
    image = moving_pattern(1, 200, 260, seed=5)[0]
    a = camera_motion_clip(image, 9, 64, np.random.default_rng(1))
    b = camera_motion_clip(image, 9, 64, np.random.default_rng(1))
    assert a.shape == (3, 9, 64, 64) and 0.0 <= float(a.min()) and float(a.max()) <= 1.0
    assert torch.equal(a, b)
    step = (a[:, 1:] - a[:, :-1]).abs().mean()
    assert 0.0 < float(step) < 0.2  # frames differ, but by continuous motion, not cuts


def test_validation_frames_are_never_in_the_training_set(tiny_cache):
    sampler = GopCropSampler(tiny_cache, CropConfig(frames=9, size=32), seed=0)
    for clip in VALIDATION_CLIPS:
        full = np.load(tiny_cache.frames_of(clip.name))
        first = TRAIN_VIDEOS[clip.name]
        assert first >= clip.first_frame + clip.num_frames
        assert sampler.videos[clip.name].shape[0] == full.shape[0] - first
        assert np.array_equal(sampler.videos[clip.name][0], full[first])


def test_batches_are_a_function_of_seed_and_step(tiny_cache):
    sampler = GopCropSampler(tiny_cache, CropConfig(frames=9, size=32), seed=3)
    a, b, c = sampler.batch(5, 3), sampler.batch(5, 3), sampler.batch(6, 3)
    assert a.shape == (3, 3, 9, 32, 32)
    assert float(a.min()) >= -1.0 and float(a.max()) <= 1.0
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_read_yuv420_returns_the_exact_planes(tmp_path):
    rgb = moving_pattern(6, 32, 48)
    path = tmp_path / "clip.mkv"
    write_lossless_video(path, rgb)
    clip = read_yuv420(path, first_frame=2, num_frames=3)
    assert clip.y.shape == (3, 32, 48) and clip.u.shape == (3, 16, 24)
    whole = read_yuv420(path)
    assert np.array_equal(whole.y[2:5], clip.y)
    # FFV1 is lossless in YUV: the planes are swscale's conversion, within 1 of ours in luma.
    assert np.abs(whole.y.astype(int) - rgb_to_yuv420(rgb).y.astype(int)).max() <= 1


def test_missing_cache_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        GopCropSampler(CacheLayout(tmp_path), CropConfig(), seed=0)


def test_data_cli_help_exits_cleanly(capsys):
    from tvc_ffmpeg.cli.data import main

    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    assert "cache" in capsys.readouterr().out
