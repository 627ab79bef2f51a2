"""RD harness: BD-rate on curves with known answers, a classic encoder on a tiny clip, CSV/plots."""

from __future__ import annotations

import importlib.util
import math
import shutil
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from tvc_ffmpeg.errors import BackendError, InvalidArgumentError
from tvc_ffmpeg.metrics import Yuv420Clip
from tvc_ffmpeg.settings import EncoderSettings
from tvc_ffmpeg.rd import (
    FLOOR,
    FunctionCodec,
    RdCodec,
    RdPoint,
    SourceClip,
    bd_rate,
    classic_codecs,
    floor_points,
    markdown_report,
    pareto_front,
    quality_at_rate,
    read_csv,
    run_codec,
    write_csv,
    x264,
)
from tvc_ffmpeg.rd.bdrate import Pchip

ROOT = Path(__file__).resolve().parents[1]
needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs an ffmpeg binary")

# A plausible RD curve: bpp and PSNR-Y (dB), quality rising with rate, uneven spacing.
RATES = np.array([0.005, 0.008, 0.013, 0.022, 0.04, 0.07])
PSNR = np.array([29.0, 31.1, 32.9, 34.8, 36.9, 38.6])


def tiny_clip(frames: int = 8, width: int = 64, height: int = 48) -> SourceClip:
    """A moving sinusoidal pattern with mild noise, 8-bit 4:2:0."""
    rng = np.random.default_rng(0)
    t = np.arange(frames)[:, None, None]
    yy, xx = np.mgrid[0:height, 0:width]
    luma = 128 + 60 * np.sin((xx[None] + 2 * t) / 6.0) * np.cos((yy[None] - t) / 9.0)
    luma = luma + rng.normal(0, 2, luma.shape)
    cy, cx = np.mgrid[0 : height // 2, 0 : width // 2]
    u = 128 + 20 * np.sin((cx[None] + t) / 5.0) + 0 * cy[None]
    v = 128 + 20 * np.cos((cy[None] - t) / 4.0) + 0 * cx[None]
    to8 = lambda a: np.clip(np.rint(a), 0, 255).astype(np.uint8)  # noqa: E731
    return SourceClip("tiny", Yuv420Clip(to8(luma), to8(u), to8(v)), Fraction(25))


# ------------------------------------------------------------------------------ BD-rate


def test_bd_rate_identical_curves_is_zero():
    assert bd_rate(RATES, PSNR, RATES, PSNR) == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("factor", [0.8, 1.25, 0.5])
def test_bd_rate_of_constant_rate_factor_is_that_factor(factor):
    # Same quality at factor x the rate everywhere: BD-rate is exactly (factor - 1).
    assert bd_rate(RATES, PSNR, RATES * factor, PSNR) == pytest.approx((factor - 1) * 100, abs=1e-9)


def test_bd_rate_uses_only_the_overlapping_quality_range():
    # log-rate linear in quality (PCHIP reproduces lines exactly, so a sub-range of points
    # interpolates the same line). The test curve covers only the upper half at 0.9x the
    # rate and diverges (much cheaper) above the anchor's range, which must not count.
    rates = 10 ** (-3.0 + 0.08 * (PSNR - 25.0))
    upper = slice(3, None)
    test_q = np.r_[PSNR[upper], 45.0]
    test_r = np.r_[rates[upper] * 0.9, 1e-4]
    assert bd_rate(rates, PSNR, test_r[:-1], test_q[:-1]) == pytest.approx(-10.0, abs=1e-9)
    assert bd_rate(rates, PSNR, rates[upper] * 0.9, PSNR[upper]) == pytest.approx(-10.0, abs=1e-9)


def test_bd_rate_is_antisymmetric_in_log_domain():
    test_rates = RATES * np.array([0.7, 0.75, 0.8, 0.85, 0.9, 0.95])
    forward = 1 + bd_rate(RATES, PSNR, test_rates, PSNR) / 100
    backward = 1 + bd_rate(test_rates, PSNR, RATES, PSNR) / 100
    assert forward * backward == pytest.approx(1.0, rel=1e-9)
    assert forward < 1.0


def test_bd_rate_refuses_disjoint_curves():
    with pytest.raises(InvalidArgumentError, match="overlap"):
        bd_rate(RATES, PSNR, RATES, PSNR + 20.0)


def test_bd_rate_refuses_bad_rates():
    with pytest.raises(InvalidArgumentError):
        bd_rate(RATES, PSNR, np.r_[0.0, RATES[1:]], PSNR)


def test_pchip_matches_scipy_and_integrates_exactly():
    interpolate = pytest.importorskip("scipy.interpolate")
    x, y = PSNR, np.log10(RATES)
    ours = Pchip.fit(x, y)
    ref = interpolate.PchipInterpolator(x, y)
    q = np.linspace(x[0], x[-1], 101)
    np.testing.assert_allclose(ours(q), ref(q), rtol=0, atol=1e-12)
    assert ours.integral(30.0, 37.5) == pytest.approx(float(ref.integrate(30.0, 37.5)), abs=1e-12)


def test_pareto_front_drops_dominated_points():
    rates = [0.010, 0.009, 0.020, 0.030, 0.025]
    quality = [30.0, 30.5, 32.0, 33.0, 33.5]
    r, q = pareto_front(rates, quality)
    np.testing.assert_allclose(r, [0.009, 0.020, 0.025])
    np.testing.assert_allclose(q, [30.5, 32.0, 33.5])


def test_quality_at_rate_hits_the_points_and_is_nan_outside():
    assert quality_at_rate(RATES, PSNR, RATES[2]) == pytest.approx(PSNR[2])
    assert PSNR[2] < quality_at_rate(RATES, PSNR, 0.017) < PSNR[3]
    assert math.isnan(quality_at_rate(RATES, PSNR, 0.001))


# ------------------------------------------------------------------------ classic codecs


@needs_ffmpeg
def test_x264_on_tiny_clip_gives_all_frames_and_sane_rate_and_quality():
    clip = tiny_clip()
    codec = x264(gop=4, preset="ultrafast", crfs=(20,))
    points = run_codec(codec, clip)
    assert [p.setting for p in points] == [FLOOR, "crf=20"]
    floor, good = points
    for p in points:
        assert p.frames == 8 and (p.width, p.height) == (64, 48)
        assert p.keyframes == 2  # fixed key-frame interval 4 over 8 frames
        assert 0 < p.bpp < 12.0  # below raw 4:2:0 (12 bpp)
        assert p.bpp == pytest.approx(8 * p.bytes / (64 * 48 * 8))
        assert p.kbps == pytest.approx(8 * p.bytes / 1000 / (8 / 25))
        assert p.encode_s > 0 and p.decode_s > 0
    assert floor.bpp < good.bpp
    assert good.psnr_y > 35.0 and good.ms_ssim_y > 0.95
    assert 15.0 < floor.psnr_y < good.psnr_y


@needs_ffmpeg
def test_every_classic_floor_runs_on_tiny_clip():
    clip = tiny_clip(frames=4, width=64, height=64)  # SVT-AV1 needs 64 or more rows
    for codec in classic_codecs(["x265", "svtav1", "libaom"], gop=2):
        (p,) = run_codec(codec, clip, levels=[FLOOR])
        assert p.frames == 4 and p.keyframes == 2, codec.name
        assert 0 < p.bpp < 12.0 and p.psnr_y > 10.0, codec.name


def test_unknown_codec_and_level_are_clear_errors():
    with pytest.raises(InvalidArgumentError, match="unknown classic codec"):
        classic_codecs(["mpeg1"], ffmpeg=shutil.which("ffmpeg") or "ffmpeg")
    with pytest.raises(InvalidArgumentError, match="no setting"):
        x264().setting("crf=99")


@needs_ffmpeg
def test_preset_override_reaches_the_command_line():
    (codec,) = classic_codecs(["x264"], presets={"x264": "medium"})
    cmd = codec.command(tiny_clip(frames=1), FLOOR)
    assert cmd[cmd.index("-preset") + 1] == "medium"
    assert cmd[cmd.index("-g") + 1] == "32" and cmd[-2:] == ["h264", "pipe:1"]
    with pytest.raises(InvalidArgumentError, match="bad preset"):
        classic_codecs(["libaom"], presets={"libaom": "fast"})
    with pytest.raises(InvalidArgumentError, match="not run"):
        classic_codecs(["x264"], presets={"x265": "slow"})


def test_missing_ffmpeg_binary_is_a_backend_error():
    codec = x264(gop=4, preset="ultrafast", ffmpeg="/nonexistent/ffmpeg")
    with pytest.raises(BackendError, match="not found"):
        codec.encode_decode(tiny_clip(frames=2), FLOOR)


# ---------------------------------------------------------------- our-codec interface


def _quantizing_codec(clip: Yuv420Clip, level: int):
    """A stand-in for our codec: drops low bits, 'costs' one byte per 64 luma samples per level."""
    step = 2 ** (6 - level)
    q = lambda a: ((a // step) * step + step // 2).astype(np.uint8)  # noqa: E731
    return clip.y.size // 64 * level, Yuv420Clip(q(clip.y), q(clip.u), q(clip.v))


def test_function_codec_is_an_rd_codec_and_gives_a_curve():
    ours = FunctionCodec("ours", levels=[1, 2, 3], fn=_quantizing_codec)
    assert isinstance(ours, RdCodec)
    points = run_codec(ours, tiny_clip())
    assert [p.setting for p in points] == ["1", "2", "3"]
    assert [p.bpp for p in points] == pytest.approx([1 / 8, 2 / 8, 3 / 8])
    assert points[0].psnr_y < points[1].psnr_y < points[2].psnr_y
    assert math.isnan(points[0].encode_s) and points[0].total_s > 0


def test_function_codec_refuses_a_bad_return_value():
    bad = FunctionCodec("bad", levels=[1], fn=lambda clip, level: 42)
    with pytest.raises(InvalidArgumentError, match="num_bytes"):
        run_codec(bad, tiny_clip(frames=1))


def test_source_clip_refuses_odd_size():
    y = np.zeros((1, 5, 4), np.uint8)
    with pytest.raises(InvalidArgumentError, match="even"):
        SourceClip("odd", Yuv420Clip(y, np.zeros((1, 2, 2), np.uint8), np.zeros((1, 2, 2), np.uint8)), Fraction(25))


# ------------------------------------------------------------------ CSV, tables, plots


def _synthetic_points():
    points = []
    for codec, factor in (("x265", 1.0), ("x264", 1.3), ("aom", 0.85)):
        for i, (r, q) in enumerate(zip(RATES * factor, PSNR)):
            points.append(
                RdPoint("clipA", codec, f"q{i}", 64, 48, 8, 25.0, int(r * 64 * 48), r, r * 64 * 48 * 25 / 1000,
                        q, q + 1.5, 0.9 + q / 1000, 2, 0.1, 0.01, 0.12, "ffmpeg version test", "-crf 30")  # fmt: skip
            )
    return points


def test_csv_round_trip_and_report(tmp_path):
    points = _synthetic_points()
    write_csv(points, tmp_path / "rd.csv")
    back = read_csv(tmp_path / "rd.csv")
    assert len(back) == len(points)
    for a, b in zip(points, back):
        assert a.codec == b.codec and a.bytes == b.bytes and a.keyframes == b.keyframes
        assert b.bpp == pytest.approx(a.bpp, rel=1e-5) and b.psnr_y == pytest.approx(a.psnr_y, rel=1e-5)
    assert {p.codec: p.setting for p in floor_points(points)} == {"x265": "q0", "x264": "q0", "aom": "q0"}
    md = markdown_report(back, anchor="x265", at_bpp=[0.01], command="test")
    assert "| clipA | x264 | +30.0 % |" in md
    assert "| clipA | aom | -15.0 % |" in md


def test_report_refuses_missing_anchor():
    with pytest.raises(InvalidArgumentError, match="anchor"):
        markdown_report(_synthetic_points(), anchor="vvc", at_bpp=[0.01], command="test")


def test_plot_writes_png(tmp_path):
    pytest.importorskip("matplotlib")
    from tvc_ffmpeg.rd.plot import plot_all

    (png,) = plot_all(_synthetic_points(), tmp_path)
    assert png.name == "rd_clipA.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bench_cli_renders_from_csv(tmp_path):
    spec = importlib.util.spec_from_file_location("bench_rd", ROOT / "bench" / "rd.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    write_csv(_synthetic_points(), tmp_path / "in.csv")
    out = tmp_path / "out"
    assert bench.main(["--from-csv", str(tmp_path / "in.csv"), "--out", str(out), "--no-plots"]) == 0
    assert "BD-rate" in (out / "rd.md").read_text()
    assert bench.main(["--from-csv", str(tmp_path / "in.csv"), "--out", str(out), "--anchor", "nope"]) == 1


@pytest.mark.slow  # importing vmaf-torch (pandas) and its first run take ~15 s here
def test_vmaf_is_higher_for_the_better_copy():
    pytest.importorskip("vmaf_torch")
    from tvc_ffmpeg.rd.vmaf import vmaf_y

    clip = tiny_clip(frames=3, width=64, height=64).frames
    rng = np.random.default_rng(1)
    noisy = lambda s: Yuv420Clip(  # noqa: E731
        np.clip(clip.y + rng.normal(0, s, clip.y.shape), 0, 255).astype(np.uint8), clip.u, clip.v
    )
    light, heavy = vmaf_y(clip, noisy(2.0)), vmaf_y(clip, noisy(20.0))
    assert 0.0 <= heavy < light <= 100.0


def test_bench_cli_loads_an_extra_codec(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("bench_rd", ROOT / "bench" / "rd.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    (tmp_path / "my_rd_entry.py").write_text(
        "from tvc_ffmpeg.rd import FunctionCodec\n"
        "CODEC = FunctionCodec('ours', levels=[1], fn=lambda clip, level: (1, clip))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert bench.load_extra_codec("my_rd_entry:CODEC").name == "ours"
    with pytest.raises(InvalidArgumentError, match="not an RdCodec"):
        bench.load_extra_codec("tvc_ffmpeg.rd.classic:x264")
    with pytest.raises(InvalidArgumentError, match="MODULE:NAME"):
        bench.load_extra_codec("no_colon")


@needs_ffmpeg
@pytest.mark.parametrize("name", ["x264", "x265", "svtav1", "libaom"])
def test_byte_count_is_the_sum_of_demuxed_packet_sizes(name):
    import io

    import av

    from tvc_ffmpeg.rd.classic import _run_ffmpeg, raw_yuv420

    clip = tiny_clip(frames=4, width=64, height=64)
    (codec,) = classic_codecs([name], gop=2)
    stream = _run_ffmpeg(codec.command(clip, FLOOR), raw_yuv420(clip.frames))
    with av.open(io.BytesIO(stream), format=codec.muxer) as container:
        sizes = [p.size for p in container.demux(video=0)]
    assert sum(sizes) == len(stream)


def test_tvc_itself_as_an_rd_codec(tmp_path):
    import torch
    from fractions import Fraction

    from tvc_ffmpeg.models import CausalVideoTokenizer, TokenizerConfig, export_weights
    from tvc_ffmpeg.rd.interface import RdCodec, SourceClip
    from tvc_ffmpeg.rd.ours import TvcRdCodec
    from tvc_ffmpeg.metrics import Yuv420Clip

    torch.manual_seed(0)
    cfg = TokenizerConfig(fsq_levels=(8, 5, 5, 5), encoder_widths=(16, 16, 24, 32), encoder_blocks=(0, 0, 1, 1),
                          decoder_widths=(16, 16, 24, 32), decoder_blocks=(0, 1, 1, 1))
    weights = tmp_path / "w.pt"
    export_weights(CausalVideoTokenizer(cfg).eval(), "tvc-test", weights)
    rng = np.random.default_rng(0)
    clip = SourceClip("noise", Yuv420Clip(rng.integers(0, 256, (9, 32, 48), dtype=np.uint8),
                                          rng.integers(0, 256, (9, 16, 24), dtype=np.uint8),
                                          rng.integers(0, 256, (9, 16, 24), dtype=np.uint8)), Fraction(25))
    codec = TvcRdCodec(EncoderSettings(weights_path=str(weights), backend="torch"))
    assert isinstance(codec, RdCodec)
    sizes = []
    for level in codec.levels:
        out = codec.encode_decode(clip, level)
        assert out.decoded.y.shape == (9, 32, 48)
        sizes.append(out.num_bytes)
    assert sizes == sorted(sizes)  # higher quality level, more bytes


# ------------------------------------------------------- downscaled anchors (issue 13)


def test_scaled_size_is_even_and_about_one_nth():
    from tvc_ffmpeg.rd.scaled import scaled_size

    assert scaled_size(640, 272, 2) == (320, 136)
    assert scaled_size(640, 272, 4) == (160, 68)
    assert scaled_size(176, 144, 4) == (44, 36)
    assert scaled_size(66, 50, 4) == (16, 12)  # 16.5 x 12.5 rounded to even
    assert scaled_size(6, 6, 8) == (2, 2)  # never below 2 (4:2:0)
    with pytest.raises(InvalidArgumentError, match="factor"):
        scaled_size(64, 48, 0)


def test_pad_and_crop_round_trip_with_edge_samples():
    from tvc_ffmpeg.rd.scaled import crop_to, pad_to

    clip = tiny_clip(frames=2, width=44, height=36).frames
    padded = pad_to(clip, 64, 64)
    assert padded.y.shape == (2, 64, 64) and padded.u.shape == (2, 32, 32)
    np.testing.assert_array_equal(padded.y[:, :36, 63], padded.y[:, :36, 43])  # edge repeated
    back = crop_to(padded, 44, 36)
    for a, b in zip((back.y, back.u, back.v), (clip.y, clip.u, clip.v)):
        np.testing.assert_array_equal(a, b)
    assert pad_to(clip, 16, 16) is clip  # already large enough: untouched


@needs_ffmpeg
def test_lanczos_resize_keeps_frames_and_flat_pictures():
    from tvc_ffmpeg.rd.scaled import lanczos_resize

    flat = Yuv420Clip(np.full((3, 48, 64), 90, np.uint8), np.full((3, 24, 32), 100, np.uint8),
                      np.full((3, 24, 32), 160, np.uint8))  # fmt: skip
    small = lanczos_resize(flat, 32, 24, shutil.which("ffmpeg"))
    assert small.y.shape == (3, 24, 32) and small.u.shape == (3, 12, 16)
    assert set(np.unique(small.y)) == {90} and set(np.unique(small.v)) == {160}


@needs_ffmpeg
def test_downscaled_x265_decodes_at_full_size_and_counts_full_size_pixels():
    from tvc_ffmpeg.rd import scaled_anchors

    clip = tiny_clip(frames=8, width=128, height=128)  # 1/2 is 64x64: no padding
    (codec,) = scaled_anchors(["x265"], [2], gop=4, ffmpeg=shutil.which("ffmpeg"), crfs=(45, 30))
    assert codec.name == "x265 1/2" and list(codec.levels) == ["crf=45", "crf=30"]
    coded = codec.encode_decode(clip, "crf=30")
    assert coded.decoded.y.shape == (8, 128, 128) and coded.decoded.u.shape == (8, 64, 64)
    assert coded.settings.startswith("scale=64x64:flags=lanczos -preset slow ")
    assert coded.keyframes == 2
    low, high = run_codec(codec, clip)
    for p in (low, high):
        assert (p.width, p.height, p.frames) == (128, 128, 8)
        assert p.bpp == pytest.approx(8 * p.bytes / (128 * 128 * 8))  # over the FULL-size pixels
    assert low.bytes < high.bytes and low.psnr_y < high.psnr_y
    assert high.bytes == coded.num_bytes  # deterministic encoder, same point
    # The same CRF at full size costs more bytes than at half size.
    (full,) = run_codec(x265_full(), clip, levels=["crf=30"])
    assert full.bytes > high.bytes


def x265_full():
    from tvc_ffmpeg.rd import x265

    return x265(gop=4, preset="slow", crfs=(30,), ffmpeg=shutil.which("ffmpeg"))


@needs_ffmpeg
@pytest.mark.parametrize("name, label", [("svtav1", "SVT-AV1 1/2"), ("x265", "x265 1/2")])
def test_downscaled_anchor_pads_below_64x64(name, label):
    from tvc_ffmpeg.rd import scaled_anchors

    # 1/2 is 32x32: Debian's SVT-AV1 1.4 refuses it, its x265 3.5 may abort on it.
    clip = tiny_clip(frames=4, width=64, height=64)
    (codec,) = scaled_anchors([name], [2], gop=2, ffmpeg=shutil.which("ffmpeg"), crfs=(50,))
    coded = codec.encode_decode(clip, "crf=50")
    assert codec.name == label
    assert "scale=32x32:flags=lanczos pad=64x64" in coded.settings
    assert coded.decoded.y.shape == (4, 64, 64) and coded.keyframes == 2


def test_scaled_anchors_refuse_unknown_codec_and_factor():
    from tvc_ffmpeg.rd import scaled_anchors

    with pytest.raises(InvalidArgumentError, match="no downscaled anchor"):
        scaled_anchors(["x264"], [2])
    with pytest.raises(InvalidArgumentError, match="factor"):
        scaled_anchors(["x265"], [1])


# --------------------------------------------------------------- the classic envelope


def _line(lo_rate, hi_rate, q0, slope, n=5):
    """Points on quality = q0 + slope * log10(rate / lo_rate): PCHIP reproduces it exactly."""
    r = np.geomspace(lo_rate, hi_rate, n)
    return r, q0 + slope * np.log10(r / lo_rate)


def test_envelope_of_two_crossing_lines_is_their_maximum():
    from tvc_ffmpeg.rd import lower_envelope

    # A: 30 dB at 0.001 bpp, +10 dB per decade; B: 25 dB at 0.001, +20 per decade, over
    # 0.002-0.1. They cross at 10^0.5 x 0.001 = 0.00316 bpp (35 dB).
    ra, qa = _line(0.001, 0.1, 30.0, 10.0)
    rb, qb = _line(0.002, 0.1, 25.0 + 20 * np.log10(2), 20.0)
    dominated = ([0.005, 0.05], [20.0, 30.0])  # below both everywhere: no part of the envelope
    env = lower_envelope({"A": (ra, qa), "B": (rb, qb), "C": dominated}, "psnr_y")
    best = lambda r: max(30 + 10 * np.log10(r / 0.001), 25 + 20 * np.log10(r / 0.001) if r >= 0.002 else -1)  # noqa: E731
    for rate in (0.001, 0.0015, 0.0025, 0.006, 0.02, 0.07, 0.1):
        assert env.quality_at(rate) == pytest.approx(best(rate), abs=1e-3), rate
    assert env.source_at(0.0015) == "A" and env.source_at(0.02) == "B"
    assert "C" not in env.source
    assert math.isnan(env.quality_at(0.0009)) and env.source_at(0.0009) == ""  # no extrapolation
    assert np.all(np.diff(env.rates) > 0) and np.all(np.diff(env.quality) > 0)


def test_envelope_keeps_a_lone_point_above_the_curves():
    from tvc_ffmpeg.rd import lower_envelope

    ra, qa = _line(0.001, 0.1, 30.0, 10.0)
    env = lower_envelope({"A": (ra, qa), "floor only": ([0.01], [45.0])})
    assert env.quality_at(0.01) == pytest.approx(45.0)
    assert env.source_at(0.01) == "floor only"
    assert env.quality_at(0.1) == pytest.approx(50.0)


def test_bd_rate_against_the_envelope_known_answers():
    from tvc_ffmpeg.rd import bd_rate_vs_envelope, lower_envelope

    ra, qa = _line(0.001, 0.1, 30.0, 10.0)
    rb, qb = _line(0.002, 0.1, 25.0 + 20 * np.log10(2), 20.0)
    env = lower_envelope({"A": (ra, qa), "B": (rb, qb)})
    same = bd_rate_vs_envelope(env, env.rates, env.quality)
    assert same.percent == pytest.approx(0.0, abs=1e-9)
    for factor in (0.5, 1.25, 3.0):
        shifted = bd_rate_vs_envelope(env, env.rates * factor, env.quality)
        assert shifted.percent == pytest.approx((factor - 1) * 100, abs=1e-6)
    # A sparse curve on A alone, at 2x A's rate, over A's dominant range (30-35 dB).
    r, q = _line(0.001, 0.003, 30.0, 10.0, n=4)
    assert bd_rate_vs_envelope(env, 2 * r, q).percent == pytest.approx(100.0, abs=1e-6)


def test_bd_rate_against_the_envelope_says_when_ranges_do_not_overlap():
    from tvc_ffmpeg.rd import bd_rate_vs_envelope, lower_envelope

    env = lower_envelope({"A": _line(0.001, 0.1, 30.0, 10.0)})
    below = bd_rate_vs_envelope(env, [0.0002, 0.0005], [20.0, 24.0])
    assert math.isnan(below.percent) and not below.defined
    assert "no overlap" in below.note and "below" in below.note
    assert below.test_range == (20.0, 24.0) and below.envelope_range == pytest.approx((30.0, 50.0))


def _point(clip, codec, setting, bpp, psnr, msssim, vmaf=math.nan):
    return RdPoint(clip, codec, setting, 64, 48, 8, 25.0, int(bpp * 64 * 48), bpp, bpp * 64 * 48 * 25 / 1000,
                   psnr, psnr + 2.0, msssim, 2, 0.1, 0.01, 0.12, "", "", vmaf)  # fmt: skip


def _envelope_run_points(vmaf=False):
    pts = []
    for codec, factor, bonus in (("x265", 1.0, 0.0), ("x265 1/2", 0.6, -1.0), ("SVT-AV1 1/4", 0.4, -3.0)):
        for i, (r, q) in enumerate(zip(RATES * factor, PSNR + bonus)):
            pts.append(_point("clipA", codec, f"crf={i}", r, q, 0.8 + q / 500, q * 2 if vmaf else math.nan))
    for i, (r, q) in enumerate([(0.0005, 24.0), (0.004, 28.5), (0.009, 31.0)]):
        pts.append(_point("clipA", "TVC", str(i), r, q, 0.8 + q / 500, q * 2 if vmaf else math.nan))
    return pts


def test_report_sets_tvc_beside_the_envelope():
    from tvc_ffmpeg.rd.report import envelope_tables

    md = envelope_tables(_envelope_run_points())
    assert "| clipA | TVC | 0 | 0.0005 | 24.00 (below every classic curve)" in md
    assert "none reaches this rate |" in md
    high = envelope_tables(_envelope_run_points() + [_point("clipA", "TVC", "3", 1.0, 45.0, 0.99)])
    assert "| clipA | TVC | 3 | 1.0000 | 45.00 (above every classic curve)" in high
    row = next(line for line in md.splitlines() if line.startswith("| clipA | TVC | 2 |"))
    assert "31.00 (" in row and "33.00 (" in row  # PSNR-Y and PSNR-YUV, each with the envelope's value
    bd = next(line for line in md.splitlines() if line.startswith("| clipA | TVC |") and "%" in line)
    assert bd.count("%") == 3 and "VMAF" not in md  # PSNR-Y, PSNR-YUV, MS-SSIM-Y; no VMAF measured
    assert "| clipA | x265 1/2 |" not in md  # classic curves are the envelope, not tested against it


def test_report_adds_vmaf_when_measured():
    from tvc_ffmpeg.rd.report import envelope_tables

    md = envelope_tables(_envelope_run_points(vmaf=True))
    assert "BD-rate VMAF" in md
    bd = next(line for line in md.splitlines() if line.startswith("| clipA | TVC |") and "%" in line)
    assert bd.count("%") == 4


def test_tvc_eval_rd_renders_the_same_report(tmp_path, caplog):
    from tvc_ffmpeg.cli.eval import main as eval_main

    write_csv(_envelope_run_points(), tmp_path / "in.csv")
    out = tmp_path / "out"
    assert eval_main(["rd", "--from-csv", str(tmp_path / "in.csv"), "--out", str(out), "--no-plots"]) == 0
    md = (out / "rd.md").read_text()
    assert "Command: `tvc eval rd --from-csv" in md
    assert "Against the classic envelope" in md and "below every classic curve" in md
    assert eval_main(["rd", "--clips", "bikes", "--scales", "1", "--out", str(out)]) == 1
    assert "downscale factors >= 2, got 1" in caplog.text


def test_merge_keeps_earlier_curves_not_rerun(tmp_path):
    from tvc_ffmpeg.rd.harness import main as harness_main
    from tvc_ffmpeg.rd.harness import merge

    old = _envelope_run_points()
    new = [_point("clipA", "TVC", "0", 0.001, 25.0, 0.9)]
    other = [_point("clipA", "TVC", "9", 0.5, 40.0, 0.99), _point("clipA", "x264", "floor", 0.01, 30.0, 0.9)]
    merged = merge(new, old, other)
    assert [p for p in merged if p.codec == "TVC"] == new  # the first source of a curve wins
    assert sum(p.codec == "x265 1/2" for p in merged) == len(RATES)
    assert [p.setting for p in merged if p.codec == "x264"] == ["floor"]
    # From the command line: tables from one CSV plus curves from two others, rd.csv rewritten.
    for name, pts in (("a.csv", new), ("b.csv", old), ("c.csv", other)):
        write_csv(pts, tmp_path / name)
    out = tmp_path / "out"
    argv = ["--from-csv", str(tmp_path / "a.csv"), "--merge-csv", str(tmp_path / "b.csv"),
            "--merge-csv", str(tmp_path / "c.csv"), "--out", str(out), "--no-plots"]  # fmt: skip
    assert harness_main(argv) == 0
    assert len(read_csv(out / "rd.csv")) == len(merged)
    assert "Curves merged in from:" in (out / "rd.md").read_text()
