import shutil
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from tokenizer_helpers import make_tiny_cache, moving_pattern, write_lossless_video
from tvc_ffmpeg.data.cache import CacheLayout
from tvc_ffmpeg.data.clips import TRAIN_VIDEOS, VALIDATION_CLIPS, decode_rgb, read_yuv420
from tvc_ffmpeg.data.dataset import CropConfig, GopCropSampler, PrefetchedBatches
from tvc_ffmpeg.checksum import file_sha256
from tvc_ffmpeg.data.motion import camera_motion_clip
from tvc_ffmpeg.data.packaged_clips import (PACKAGED_CLIPS, PackagedClip, PackagedClipError,
                                            assemble_packaged_clips, fetch_package,
                                            halve_until_fits, packaged_clip_names)
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


def test_prefetched_batches_are_the_samplers_own(tiny_cache):
    # A GPU run makes batches ahead in threads; it must see the data a CPU run sees.
    sampler = GopCropSampler(tiny_cache, CropConfig(frames=9, size=32), seed=3)
    ahead = PrefetchedBatches(sampler, 3, workers=3)
    try:
        for step in (0, 1, 2, 7, 8):  # 7: a loop that resumed or skipped steps
            assert torch.equal(ahead.get(step), sampler.batch(step, 3))
    finally:
        ahead.close()
    assert torch.equal(PrefetchedBatches(sampler, 2, workers=0).get(4), sampler.batch(4, 2))


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


def _deb_with(tmp_path: Path, package: str, files: dict) -> Path:
    """A real .deb (dpkg-deb -b) holding ``files`` (path in package -> RGB clip as FFV1, or raw bytes)."""
    root = tmp_path / f"{package}-root"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        f"Package: {package}\nVersion: 1.0\nArchitecture: all\nMaintainer: t <t@example.org>\n"
        "Description: test\n")
    for member, content in files.items():
        (root / member).parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            (root / member).write_bytes(content)
        else:
            write_lossless_video(root / member, content)
    deb = tmp_path / f"{package}_1.0_all.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "-b", str(root), str(deb)], check=True,
                   capture_output=True)
    return deb


@pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb")
def test_packaged_clips_come_out_of_debs_and_wheels_offline(tmp_path):
    cache = CacheLayout(tmp_path / "cache")
    cache.frames.mkdir(parents=True)
    small = moving_pattern(20, 48, 64, seed=1)
    tall = moving_pattern(18, 600, 40, seed=2)
    deb = _deb_with(tmp_path, "fake-videos", {"usr/share/a/small.mkv": small, "usr/share/a/tall.mkv": tall,
                                              "usr/share/a/broken.mkv": b"not a video at all" * 10})
    wheel = tmp_path / "fake_wheel-1.0-py3-none-any.whl"
    write_lossless_video(tmp_path / "w.mkv", small[:17])
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.write(tmp_path / "w.mkv", "fake/data/w.mkv")
    clips = (
        PackagedClip("small", "debian", "fake-videos", "usr/share/a/small.mkv", "x", "x"),
        PackagedClip("tall", "debian", "fake-videos", "usr/share/a/tall.mkv", "x", "x"),
        PackagedClip("moved", "debian", "fake-videos", "usr/share/a/gone.mkv", "x", "x"),
        PackagedClip("broken", "debian", "fake-videos", "usr/share/a/broken.mkv", "x", "x"),
        PackagedClip("wheel", "pypi", "fake-wheel==1.0", "fake/data/w.mkv", "x", "x"),
        PackagedClip("absent", "debian", "no-such-package", "x.mkv", "x", "x"),
    )

    def fetch(clip, downloads):
        if clip.package == "no-such-package":
            raise PackagedClipError(f"{clip.name}: apt-get download no-such-package failed")
        return deb if clip.registry == "debian" else wheel

    np.save(cache.frames_of("absent"), small)  # left by an earlier assembly
    assembled, missing = assemble_packaged_clips(cache, clips, fetch=fetch)
    assert sorted(assembled) == ["small", "tall", "wheel"]
    assert sorted(missing) == ["absent", "broken", "moved"]
    assert "usr/share/a/gone.mkv" in missing["moved"] and "no-such-package" in missing["absent"]
    small_frames = np.load(cache.frames_of("small"))
    assert small_frames.shape == (20, 48, 64, 3)
    # FFV1 is lossless: the stored frames are exactly what decoding the source clip gives.
    write_lossless_video(tmp_path / "ref.mkv", small)
    assert np.array_equal(small_frames, decode_rgb(tmp_path / "ref.mkv"))
    assert np.load(cache.frames_of("tall")).shape == (18, 300, 20, 3)  # halved below 576 lines
    assert np.load(cache.frames_of("wheel")).shape == (17, 48, 64, 3)
    assert assembled["small"]["sha256"] == file_sha256(cache.videos / "small.mkv")
    assert packaged_clip_names(cache, clips) == ["small", "tall", "wheel"]  # not the stale "absent"


def test_halving_averages_2x2_blocks():
    frames = np.arange(2 * 1200 * 4 * 3, dtype=np.int64).reshape(2, 1200, 4, 3) % 251
    out = halve_until_fits(frames.astype(np.uint8), max_height=576)
    assert out.shape == (2, 300, 1, 3)
    expected = frames[:, :4, :4].mean(axis=(1, 2))  # two halvings: one 4x4 block
    assert np.abs(out[:, 0, 0].astype(float) - expected).max() <= 1.0


def test_sampler_uses_packaged_clips_that_fit_a_crop(tmp_path):
    make_tiny_cache(tmp_path)
    cache = CacheLayout(tmp_path)
    big = PACKAGED_CLIPS[0].name
    tiny = PACKAGED_CLIPS[1].name
    np.save(cache.frames_of(big), moving_pattern(20, 40, 40, seed=4))
    np.save(cache.frames_of(tiny), moving_pattern(20, 24, 40, seed=5))  # lower than a 32-pixel crop
    sampler = GopCropSampler(cache, CropConfig(frames=9, size=32), seed=0)
    assert big in sampler.video_names and tiny not in sampler.video_names
    assert sampler.batch(0, 2).shape == (2, 3, 9, 32, 32)


def test_fetch_finds_downloads_under_a_relative_cache_path(tmp_path, monkeypatch):
    # `tvc data --cache cache` gives a relative path; the wheel must land where it is looked for.
    monkeypatch.chdir(tmp_path)
    downloads = Path("cache") / "downloads"
    downloads.mkdir(parents=True)
    wheel = downloads / "fake_wheel-1.0-py3-none-any.whl"
    wheel.write_bytes(b"")
    clip = PackagedClip("w", "pypi", "fake-wheel==1.0", "a.mkv", "x", "x")
    assert fetch_package(clip, downloads) == wheel.resolve()


def test_fetch_failure_names_the_command_and_the_error(tmp_path, monkeypatch):
    def fake_run(cmd, cwd, capture_output, text):
        assert Path(cwd).is_absolute()
        return subprocess.CompletedProcess(cmd, 100, "", "W: something harmless\nE: Unable to locate package nope\n")

    monkeypatch.setattr(subprocess, "run", fake_run)
    clip = PackagedClip("n", "debian", "nope", "a.mkv", "x", "x")
    with pytest.raises(PackagedClipError, match="apt-get download nope failed: E: Unable to locate package nope"):
        fetch_package(clip, tmp_path / "downloads")
