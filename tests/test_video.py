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


def test_y4m_truncation_is_reported():
    data = io.BytesIO(b"YUV4MPEG2 W4 H4 F25:1 C420jpeg\nFRAME\n" + b"\0" * 10)
    header = y4m.read_header(data)
    with pytest.raises(tvc.InvalidDataError, match="truncated"):
        list(y4m.read_frames(data, header))


@pytest.mark.parametrize("fields, message", [
    ("W16 H16 F0:1", "F0:1"),            # was ZeroDivisionError
    ("W16 H16 F25:0", "F25:0"),
    ("W16 H16 F25", "F25 is not num:den"),
    ("W0 H16", "W0 is out of range"),
    ("W16 H99999", "H99999 is out of range"),
    ("W-5 H16", "W-5 is not a whole number"),
    ("H16", "lacks the picture width W"),
    ("W16 H16 A1:0", "A1:0"),
    ("W16 H16 Ax:1", "Ax:1 is not a whole number"),
    ("W16 H16 Iq", "Iq is not one of"),
    ("W16 H16 C422jpeg", "C422jpeg is not a known colour space"),
    ("W16 H16 W17", "field W twice"),
])
def test_y4m_header_fields_are_checked(fields, message):
    with pytest.raises(tvc.InvalidDataError, match=message):
        y4m.read_header(io.BytesIO(b"YUV4MPEG2 " + fields.encode() + b"\n"))


def test_y4m_header_defaults_and_unknown_values():
    header = y4m.read_header(io.BytesIO(b"YUV4MPEG2 W6 H4 A0:0 I? XCOLORRANGE=LIMITED XYSCSS=420JPEG\n"))
    info = header.info
    assert (info.width, info.height, info.frame_rate, info.sample_aspect_ratio) == (6, 4, 25, (0, 1))
    assert (info.color_range, info.chroma_format, info.bit_depth) == (1, 1, 8)


def test_y4m_header_with_a_wrong_frame_size_says_so():
    # Frames of 16x8 4:2:0 (192 bytes) under a header that claims 16x6 (144 bytes).
    frames = b"".join(b"FRAME\n" + bytes([i]) * 192 for i in range(3))
    data = io.BytesIO(b"YUV4MPEG2 W16 H6 F25:1 C420jpeg\n" + frames)
    header = y4m.read_header(data)
    with pytest.raises(tvc.InvalidDataError) as exc:
        list(y4m.read_frames(data, header))
    text = str(exc.value)
    assert "frame 1: expected FRAME marker after 144 bytes of 16x6 4:2:0 8-bit data" in text
    assert "header's size is probably wrong" in text and "4096" not in text


def _y4m_bytes(tag, planes, width, height, frames=1):
    """A Y4M stream repeating one frame of the given planes (uint8, or uint16 as little-endian)."""
    body = b"".join(p.astype(p.dtype.newbyteorder("<")).tobytes() for p in planes)
    return f"YUV4MPEG2 W{width} H{height} F25:1 Ip A1:1 C{tag}\n".encode() + (b"FRAME\n" + body) * frames


def test_y4m_other_layouts_are_converted_to_8bit_420(tmp_path, caplog):
    w, h = 6, 4  # chroma 4:2:0 is 3x2
    # 10-bit 4:4:4: luma 400 -> 100; chroma columns alternate 400/408 -> mean 404 -> 101.
    y10 = np.full((h, w), 400, np.uint16)
    u10 = np.tile(np.array([400, 408], np.uint16), (h, w // 2))
    v10 = np.full((h, w), 1023, np.uint16)
    path = tmp_path / "in444p10.y4m"
    path.write_bytes(_y4m_bytes("444p10", [y10, u10, v10], w, h, frames=2))
    with caplog.at_level("WARNING"), open_input(path) as r:
        frames = list(r)
    assert len(frames) == 2
    assert (r.info.chroma_format, r.info.bit_depth) == (3, 10)
    f = frames[0]
    assert f.y.shape == (4, 6) and f.u.shape == (2, 3)
    assert (f.y == 100).all() and (f.u == 101).all() and (f.v == 255).all()
    assert caplog.text.count("converting") == 1 and "C444p10" in caplog.text


def test_y4m_422_mono_alpha_and_411_layouts():
    w, h = 5, 3  # odd sizes: 4:2:0 chroma is 3x2, the last row/column replicated
    rows = np.arange(h, dtype=np.uint8)[:, None] * 10
    # 4:2:2 chroma is 3x3: vertical pairs are averaged (rows 0,1 -> 5; row 2 alone -> 20).
    c422 = np.broadcast_to(rows, (h, 3)).astype(np.uint8)
    data = io.BytesIO(_y4m_bytes("422", [np.zeros((h, w), np.uint8), c422, c422], w, h))
    header = y4m.read_header(data)
    assert (header.info.chroma_format, header.info.bit_depth) == (2, 8)
    f = next(y4m.read_frames(data, header))
    assert f.u.tolist() == [[5, 5, 5], [20, 20, 20]]
    # Monochrome 16-bit: luma rounded to 8 bits, chroma neutral.
    data = io.BytesIO(_y4m_bytes("mono16", [np.full((h, w), 0x1280, np.uint16)], w, h))
    header = y4m.read_header(data)
    assert (header.info.chroma_format, header.info.bit_depth) == (0, 16)
    f = next(y4m.read_frames(data, header))
    assert (f.y == 0x13).all() and (f.u == 128).all() and (f.v == 128).all()
    # 4:4:4 with alpha: the alpha plane is skipped, not read as the next frame.
    full = np.full((h, w), 60, np.uint8)
    data = io.BytesIO(_y4m_bytes("444alpha", [full, full, full, np.zeros((h, w), np.uint8)], w, h, frames=2))
    assert len(list(y4m.read_frames(data, y4m.read_header(data)))) == 2
    # 4:1:1 (chroma 2x3): each sample covers two 4:2:0 columns.
    c411 = np.array([[10, 30]] * h, np.uint8)
    data = io.BytesIO(_y4m_bytes("411", [full, c411, c411], w, h))
    f = next(y4m.read_frames(data, y4m.read_header(data)))
    assert f.u.tolist() == [[10, 10, 30], [10, 10, 30]]


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
