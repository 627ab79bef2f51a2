"""Colour: the cast metrics (metrics.py) and the closed-loop DC correction, substream kind 128
(codec/colour.py and its hooks in the sessions)."""

import dataclasses
import logging
import math
from fractions import Fraction

import numpy as np
import pytest

import tvc_ffmpeg as tvc
from tokenizer_helpers import small_codec_model
from tvc_ffmpeg.bitstream import SUBSTREAM_COLOUR, SUBSTREAM_DISCRETE, GopPacket
from tvc_ffmpeg.codec import Decoder, Encoder
from tvc_ffmpeg.codec.colour import (
    MAX_OFFSET,
    ColourCorrection,
    apply_correction,
    correction_of,
    measure_correction,
    shift_plane,
    with_correction,
)
from tvc_ffmpeg.metrics import Yuv420Clip, clip_quality, colour_cast, psnr_u, psnr_v, worst_gop_cast
from tvc_ffmpeg.settings import EncoderSettings
from tvc_ffmpeg.video import Frame, VideoInfo
from tvc_ffmpeg.video.frames import RANGE_FULL, RANGE_LIMITED


def flat_clip(n, y=100, u=128, v=128, h=32, w=32):
    return Yuv420Clip(np.full((n, h, w), y, np.uint8), np.full((n, h // 2, w // 2), u, np.uint8),
                      np.full((n, h // 2, w // 2), v, np.uint8))


# ---------------------------------------------------------------- metrics


def test_colour_cast_is_the_signed_chroma_mean_shift_over_the_clip():
    ref = flat_clip(4)
    dist = flat_clip(4, y=90, u=130, v=127)
    dist.u[3] = 134  # one frame of four off by 4 more: +1 on the clip mean
    cast = colour_cast(ref, dist)
    assert (cast.cast_u, cast.cast_v) == (3.0, -1.0)
    assert cast.magnitude == 3.0  # Y's shift of -10 is no colour cast
    assert psnr_u(ref, dist) == pytest.approx(10 * math.log10(255**2 / ((3 * 4 + 36) / 4)))
    assert psnr_v(ref, dist) == pytest.approx(10 * math.log10(255**2 / 1))
    q = clip_quality(ref, dist)
    assert (q.psnr_u, q.psnr_v, q.colour_cast, q.cast.cast_u) == (psnr_u(ref, dist), psnr_v(ref, dist), 3.0, 3.0)


def test_worst_gop_cast_sees_a_cast_that_averages_out_over_the_clip():
    ref = flat_clip(5)
    dist = flat_clip(5)
    dist.v[:2] = 131  # GoP 0 (frames 0, 1): +3
    dist.v[2:4] = 125  # GoP 1 (frames 2, 3): -3
    dist.u[4] = 126  # GoP 2, short (frame 4): -2
    assert colour_cast(ref, dist).cast_v == 0.0
    assert worst_gop_cast(ref, dist, 2) == 3.0
    assert worst_gop_cast(ref, dist, 5) == pytest.approx(0.4)
    with pytest.raises(ValueError, match="gop_length"):
        worst_gop_cast(ref, dist, 0)


# ---------------------------------------------------------------- payload


def test_payload_is_three_zigzag_leb128_values():
    c = ColourCorrection(0, -5, 9)
    assert c.to_payload() == bytes([0, 9, 18])
    assert ColourCorrection.from_payload(bytes([0, 9, 18])) == c
    big = ColourCorrection(MAX_OFFSET, -MAX_OFFSET, 64)
    assert big.to_payload() == bytes([0xF8, 0x0F, 0xF7, 0x0F, 0x80, 0x01])
    assert ColourCorrection.from_payload(big.to_payload()) == big
    assert c.code_values() == (0.0, -1.25, 2.25)


@pytest.mark.parametrize("payload, match", [
    (b"", "ends inside its y value"),
    (bytes([0, 9]), "ends inside its v value"),
    (bytes([0, 9, 18, 0]), "1 bytes after its three values"),
    (bytes([0xFA, 0x0F, 0, 0]), "y = 1021 is outside"),
    (bytes([0, 0x80, 0x80, 0x01, 0]), "u value is longer than 2 bytes"),
])
def test_malformed_payload_is_invalid_data(payload, match):
    with pytest.raises(tvc.InvalidDataError, match=match):
        ColourCorrection.from_payload(payload)


def test_offsets_out_of_range_are_refused():
    with pytest.raises(tvc.InvalidDataError, match=r"u must be an integer in \[-1020, 1020\]"):
        ColourCorrection(0, 1021, 0)
    with pytest.raises(tvc.InvalidDataError, match="v must be an integer"):
        ColourCorrection(0, 0, 0.5)


# ---------------------------------------------------------------- applying offsets


@pytest.mark.parametrize("quarters, mean", [(6, 101.5), (-3, 99.25), (4, 101.0), (1, 100.25), (0, 100.0)])
def test_a_quarter_offset_moves_the_mean_exactly(quarters, mean):
    plane = np.full((6, 8), 100, np.uint8)
    out = shift_plane(plane, quarters, 16, 240)
    assert out.mean() == mean
    assert out.max() - out.min() <= 1  # a +-1 ripple, nothing more
    # Every 2x2 block carries the whole offset, so the mean holds locally, not just overall.
    blocks = out.astype(float).reshape(3, 2, 4, 2).mean(axis=(1, 3))
    assert np.all(blocks == mean)


def test_shift_clips_to_the_colour_range():
    plane = np.array([[17, 234], [20, 236]], np.uint8)
    assert shift_plane(plane, -8, *(16, 235)).tolist() == [[16, 232], [18, 234]]
    assert shift_plane(plane, 8, 0, 255).tolist() == [[19, 236], [22, 238]]


def frames_of(clip, pts0=0):
    return [Frame(clip.y[i].copy(), clip.u[i].copy(), clip.v[i].copy(), pts=pts0 + i) for i in range(clip.num_frames)]


def test_measure_correction_finds_the_offsets_exactly():
    rng = np.random.default_rng(1)
    decoded = Yuv420Clip(rng.integers(60, 180, (3, 8, 8), dtype=np.uint8),
                         rng.integers(60, 180, (3, 4, 4), dtype=np.uint8),
                         rng.integers(60, 180, (3, 4, 4), dtype=np.uint8))
    want = ColourCorrection(-7, 10, 3)  # -1.75, +2.5, +0.75 code values
    source = apply_correction(frames_of(decoded), want, RANGE_LIMITED)
    assert measure_correction(source, frames_of(decoded), RANGE_LIMITED) == want


def test_measure_correction_makes_up_for_clipping():
    # Half of U sits at the limit 240: asking for +2 moves only the other half, so the encoder
    # asks for more until the decoder's clipped result has the source's mean.
    u = np.array([[[240, 240], [200, 200]]], np.uint8)
    decoded = Yuv420Clip(np.full((1, 4, 4), 100, np.uint8), u, np.full((1, 2, 2), 128, np.uint8))
    source = Yuv420Clip(decoded.y, np.array([[[240, 240], [204, 204]]], np.uint8), decoded.v)
    c = measure_correction(frames_of(source), frames_of(decoded), RANGE_LIMITED)
    assert (c.y, c.v) == (0, 0) and c.u == 16  # +4 code values on the unclipped half = +2 on the mean
    fixed = apply_correction(frames_of(decoded), c, RANGE_LIMITED)
    assert fixed[0].u.tolist() == [[240, 240], [204, 204]]


def test_apply_keeps_pts_and_zero_is_a_no_op():
    frames = frames_of(flat_clip(2), pts0=40)
    assert apply_correction(frames, ColourCorrection(), RANGE_FULL) == frames
    out = apply_correction(frames, ColourCorrection(4, -4, 8), RANGE_FULL)
    assert [f.pts for f in out] == [40, 41]
    assert (out[0].y[0, 0], out[0].u[0, 0], out[0].v[0, 0]) == (101, 127, 130)


# ---------------------------------------------------------------- in the codec


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return small_codec_model(tmp_path_factory.mktemp("w"))


def coloured_clip(n=9, w=48, h=32):
    """A textured clip with saturated chroma: a random tokenizer misses its colour by far."""
    yy, xx = np.mgrid[0:h, 0:w]
    cy, cx = np.mgrid[0 : h // 2, 0 : w // 2]
    return [Frame(((3 * xx + 5 * yy + 7 * i) % 200 + 30).astype(np.uint8),
                  (90 + (cx + i) % 20).astype(np.uint8), (170 - cy % 15).astype(np.uint8), pts=i)
            for i in range(n)]


def encode(model, frames, correct, gop=9):
    info = VideoInfo(width=frames[0].width, height=frames[0].height, frame_rate=Fraction(25),
                     time_base=Fraction(1, 25))
    enc = Encoder(info, EncoderSettings(gop_length=gop, quality=2, colour_correction=correct), model=model)
    packets = [p for f in frames for p in enc.encode(f)] + enc.encode(None)
    return enc, [GopPacket.from_bytes(p.to_bytes(), enc.header) for p in packets]


def as_clip(frames):
    return Yuv420Clip(*(np.stack([getattr(f, n) for f in frames]) for n in "yuv"))


@pytest.fixture(scope="module")
def coded(model):
    frames = coloured_clip(13)
    enc_on, on = encode(model, frames, True)
    enc_off, off = encode(model, frames, False)
    return frames, enc_on.header, on, off


def test_correction_removes_the_cast_and_costs_only_its_substream(model, coded):
    frames, header, on, off = coded
    dec = Decoder(header, model=model)
    before = colour_cast(as_clip(frames), as_clip([f for p in off for f in dec.decode(p)]))
    after = colour_cast(as_clip(frames), as_clip([f for p in on for f in dec.decode(p)]))
    assert before.magnitude > 2.0  # the fixture really has a cast to remove
    assert after.magnitude <= 0.5
    for p_on, p_off in zip(on, off):
        # The token stream is untouched: only the kind-128 substream was added.
        assert p_on.substream(SUBSTREAM_DISCRETE) == p_off.substream(SUBSTREAM_DISCRETE)
        assert p_off.substream(SUBSTREAM_COLOUR) is None
        assert [k for k, _ in p_on.substreams] == [k for k, _ in p_off.substreams] + [SUBSTREAM_COLOUR]
        assert len(p_on.to_bytes()) - len(p_off.to_bytes()) <= 2 + 6


def test_decoder_adds_the_offsets_and_old_packets_decode_as_before(model, coded):
    frames, header, on, off = coded
    dec = Decoder(header, model=model)
    packet = on[0]
    correction = correction_of(packet)
    assert correction is not None and not correction.is_zero
    stripped = dataclasses.replace(packet, substreams=tuple(s for s in packet.substreams if s[0] != SUBSTREAM_COLOUR))
    plain = dec.decode(stripped)
    assert all(np.array_equal(a.u, b.u) for a, b in zip(plain, dec.decode(off[0])))  # an old-style packet
    expected = apply_correction(plain, correction, header.color_range)
    got = dec.decode(packet)
    assert all(np.array_equal(getattr(a, n), getattr(b, n)) for a, b in zip(got, expected) for n in "yuv")


def test_damaged_correction_payload_is_ignored_with_a_warning(model, coded, caplog):
    frames, header, on, off = coded
    bad = dataclasses.replace(off[0], substreams=off[0].substreams + ((SUBSTREAM_COLOUR, b"\x01\x02"),))
    reparsed = GopPacket.from_bytes(bad.to_bytes(), header)  # a valid CRC: the payload itself is bad
    dec = Decoder(header, model=model)
    with caplog.at_level(logging.WARNING, logger="tvc_ffmpeg.codec.colour"):
        out = dec.decode(reparsed)
    assert "GoP 0: colour correction ignored: colour correction payload ends inside its v value" in caplog.text
    assert all(np.array_equal(a.v, b.v) for a, b in zip(out, dec.decode(off[0])))


def test_with_correction_replaces_and_zero_adds_nothing(coded):
    _, _, _, off = coded
    assert with_correction(off[0], ColourCorrection()) is off[0]
    once = with_correction(off[0], ColourCorrection(1, 2, 3))
    twice = with_correction(once, ColourCorrection(4, 5, 6))
    assert [k for k, _ in twice.substreams].count(SUBSTREAM_COLOUR) == 1
    assert correction_of(twice) == ColourCorrection(4, 5, 6)


def test_colour_correction_setting_must_be_a_bool():
    with pytest.raises(tvc.InvalidArgumentError, match="colour_correction must be True or False, got 1"):
        EncoderSettings(colour_correction=1)


def test_tvc_eval_codec_prints_the_cast_with_and_without_correction(tmp_path, capsys):
    from tvc_ffmpeg.cli import eval as eval_cli
    from tvc_ffmpeg.video import open_output

    path = tmp_path / "coloured.y4m"
    frames = coloured_clip(9, w=64, h=48)
    with open_output(path, VideoInfo(width=64, height=48)) as out:
        for f in frames:
            out.write(f)
    assert eval_cli.main(["codec", "--clips", str(path), "--frames", "9", "--gop", "9", "--quality", "0",
                          "--colour", "both", "--threads", "1"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines() if line.startswith("coloured ")]
    assert [(r[1], r[2]) for r in rows] == [("0", "off"), ("0", "on")]
    cast = {r[2]: float(r[-3]) for r in rows}  # columns: ... cast U, cast V, cast, GoP cast, enc s
    assert cast["off"] > 1.0 and cast["on"] <= 0.5
    assert 0 < int(rows[1][3]) - int(rows[0][3]) <= 8  # the correction's bytes


def test_tvc_eval_codec_names_a_missing_clip():
    from tvc_ffmpeg.cli import eval as eval_cli

    with pytest.raises(tvc.TvcError, match="'nowhere.mp4' is neither a known clip"):
        eval_cli.main(["codec", "--clips", "nowhere.mp4"])


def test_bitrate_mode_keeps_room_for_the_correction(model):
    # Rate control fits each GoP with room for the largest correction and charges the real one,
    # so the stream stays within the target with the corrections appended.
    frames = coloured_clip(36)
    info = VideoInfo(width=48, height=32, frame_rate=Fraction(10), time_base=Fraction(1, 10))
    seconds = len(frames) / 10

    def encode(**kw):
        enc = Encoder(info, EncoderSettings(gop_length=9, **kw), model=model)
        return [p for f in frames for p in enc.encode(f)] + enc.encode(None)

    sizes = {q: 8 * sum(len(p.to_bytes()) for p in encode(quality=q)) for q in (1, 2)}
    target = (sizes[1] + sizes[2]) / 2 / seconds
    packets = encode(bitrate=target)
    assert 8 * sum(len(p.to_bytes()) for p in packets) <= target * seconds
    assert all(correction_of(p) is not None for p in packets)


def test_the_encoders_own_decode_uses_the_encoders_limits(model):
    # An encoder allowed larger pictures than a default decoder must not have its own
    # correction decode refuse the GoPs it just coded.
    frames = coloured_clip(9)
    info = VideoInfo(width=frames[0].width, height=frames[0].height, frame_rate=Fraction(25),
                     time_base=Fraction(1, 25))
    settings = EncoderSettings(gop_length=9, quality=2, max_pixels=2**27, max_gop_pixels=2**33)
    enc = Encoder(info, settings, model=model)
    packets = [p for f in frames for p in enc.encode(f)] + enc.encode(None)
    assert len(packets) == 1 and packets[0].substream(SUBSTREAM_COLOUR) is not None
    own = enc._own_decoder
    assert (own.max_pixels, own.max_gop_pixels) == (2**27, 2**33)
