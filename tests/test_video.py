"""Video IO and colour conversion."""

import io
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest

import tvc_ffmpeg as tvc
from tvc_ffmpeg.video import Frame, VideoInfo, open_input, open_output
from tvc_ffmpeg.video import y4m
from tvc_ffmpeg.video.color import BT601, BT709, resolve_matrix, rgb_to_yuv420, yuv420_to_rgb


def random_frames(w, h, n, seed=0):
    rng = np.random.default_rng(seed)
    ch, cw = (h + 1) // 2, (w + 1) // 2
    return [Frame(rng.integers(16, 236, (h, w), dtype=np.uint8),
                  rng.integers(16, 241, (ch, cw), dtype=np.uint8),
                  rng.integers(16, 241, (ch, cw), dtype=np.uint8), pts=i) for i in range(n)]


@pytest.mark.parametrize("suffix", [".y4m", ".mkv"])
def test_lossless_outputs_round_trip_exactly(tmp_path, suffix):
    info = VideoInfo(width=177, height=99, frame_rate=Fraction(30000, 1001),
                     time_base=Fraction(1001, 30000), colorspace=1, color_range=1)
    frames = random_frames(177, 99, 5)
    path = tmp_path / f"x{suffix}"
    with open_output(path, info) as w:
        for f in frames:
            w.write(f)
    with open_input(path) as r:
        got = list(r)
        assert (r.info.width, r.info.height) == (177, 99)
        assert r.info.frame_rate == Fraction(30000, 1001)
    assert len(got) == 5
    for a, b in zip(frames, got):
        assert np.array_equal(a.y, b.y) and np.array_equal(a.u, b.u) and np.array_equal(a.v, b.v)


def test_mp4_output_refuses_odd_sizes_clearly(tmp_path):
    with pytest.raises(tvc.InvalidArgumentError, match="even"):
        open_output(tmp_path / "x.mp4", VideoInfo(width=177, height=99))


def test_unknown_output_extension(tmp_path):
    with pytest.raises(tvc.InvalidArgumentError, match="output format"):
        open_output(tmp_path / "x.abc", VideoInfo(width=16, height=16))


def test_missing_and_garbage_inputs(tmp_path):
    with pytest.raises(tvc.InvalidArgumentError, match="not found"):
        open_input(tmp_path / "nope.mp4")
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\0" * 1000)
    with pytest.raises(tvc.InvalidDataError):
        with open_input(bad) as r:
            list(r)


def test_y4m_refuses_other_chroma_and_truncation():
    with pytest.raises(tvc.InvalidDataError, match="C444"):
        y4m.read_header(io.BytesIO(b"YUV4MPEG2 W16 H16 F25:1 C444\n"))
    data = io.BytesIO(b"YUV4MPEG2 W4 H4 F25:1 C420jpeg\nFRAME\n" + b"\0" * 10)
    info = y4m.read_header(data)
    with pytest.raises(tvc.InvalidDataError, match="truncated"):
        list(y4m.read_frames(data, info))


def test_pyav_input_converts_other_formats_with_warning(tmp_path, caplog):
    import av

    path = tmp_path / "in444.mkv"
    with av.open(str(path), "w") as c:
        s = c.add_stream("ffv1", rate=25)
        s.width, s.height, s.pix_fmt = 32, 16, "yuv444p"
        for i in range(3):
            f = av.VideoFrame.from_ndarray(np.full((16, 32, 3), 40 * i, np.uint8), format="rgb24")
            for p in s.encode(f.reformat(format="yuv444p")):
                c.mux(p)
        for p in s.encode(None):
            c.mux(p)
    with caplog.at_level("WARNING"), open_input(path) as r:
        frames = list(r)
    assert len(frames) == 3 and frames[0].u.shape == (8, 16)
    assert r.info.chroma_format == 3
    assert "yuv444p" in caplog.text


@pytest.mark.parametrize("matrix", [BT601, BT709])
@pytest.mark.parametrize("color_range", [1, 2])
def test_color_conversion_round_trip(matrix, color_range):
    rng = np.random.default_rng(1)
    # Smooth content: 4:2:0 subsampling is near-lossless on it.
    yy, xx = np.mgrid[0:32, 0:48] / 48.0
    rgb = np.stack([xx, yy, 0.5 * (xx + yy)], -1).astype(np.float32)
    y, u, v = rgb_to_yuv420(rgb, matrix, color_range)
    back = yuv420_to_rgb(y, u, v, matrix, color_range)
    assert np.abs(back - rgb).mean() < 0.01
    if color_range == 1:
        assert y.min() >= 16 and y.max() <= 235


def test_unspecified_matrix_follows_picture_height():
    assert resolve_matrix(2, 480) == BT601
    assert resolve_matrix(2, 720) == BT709
    assert resolve_matrix(1, 144) == BT709
