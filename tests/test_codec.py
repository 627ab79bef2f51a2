"""The codec sessions and CLI: exact round trips, odd sizes, refused inputs,
cross-process determinism. Uses a small randomly initialised tokenizer: these
tests are about the pipeline, not about picture quality."""

import json
import os
import subprocess
import sys
import textwrap
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch

import tvc_ffmpeg as tvc
from tvc_ffmpeg.bitstream import GopPacket, TvcReader, TvcWriter
from tvc_ffmpeg.codec import CodecModel, Decoder, Encoder, TokenCoder
from tvc_ffmpeg.codec.session import coded_size
from tvc_ffmpeg.settings import DEFAULT_QUALITY, DecoderSettings, EncoderSettings
from tokenizer_helpers import SMALL
from tvc_ffmpeg.models import CausalVideoTokenizer, export_weights
from tvc_ffmpeg.video import Frame, VideoInfo, open_output



@pytest.fixture(scope="module")
def weights_file(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("w") / "tvc-test.pt"
    export_weights(CausalVideoTokenizer(SMALL).eval(), "tvc-test", path)
    return path


@pytest.fixture(scope="module")
def model(weights_file):
    return CodecModel.from_file(weights_file, backend="torch")


def clip(w, h, n, seed=0):
    rng = np.random.default_rng(seed)
    ch, cw = (h + 1) // 2, (w + 1) // 2
    base = rng.integers(0, 256, (h, w), dtype=np.uint8)
    return [Frame(np.roll(base, i, axis=1), np.full((ch, cw), 120, np.uint8),
                  np.full((ch, cw), 130, np.uint8), pts=1000 + 3 * i) for i in range(n)]


def run_codec(model, frames, info, gop=17, quality=DEFAULT_QUALITY):
    enc = Encoder(info, EncoderSettings(gop_length=gop, quality=quality), model=model)
    packets = [p for f in frames for p in enc.encode(f)] + enc.encode(None)
    dec = Decoder(enc.header, model=model)
    out = [f for p in packets for f in dec.decode(GopPacket.from_bytes(p.to_bytes(), enc.header))]
    return enc, dec, packets, out


@pytest.mark.parametrize("w, h, n, quality", [(177, 99, 18, 2), (32, 32, 1, 2), (64, 48, 17, 2), (40, 24, 35, 2),
                                              (177, 99, 18, 0), (177, 99, 18, 1), (33, 17, 2, 3)])
def test_round_trip_frame_count_size_and_tokens(model, w, h, n, quality):
    info = VideoInfo(width=w, height=h, frame_rate=Fraction(25), time_base=Fraction(1, 75))
    frames = clip(w, h, n)
    enc, dec, packets, out = run_codec(model, frames, info, quality=quality)
    assert all((p.coded_width, p.coded_height) == coded_size(info, quality) for p in packets)
    assert len(out) == n
    assert [p.frame_count for p in packets] == [17] * (n // 17) + ([n % 17] if n % 17 else [])
    assert all(f.y.shape == (h, w) and f.u.shape == ((h + 1) // 2, (w + 1) // 2) for f in out)
    assert [f.pts for f in out] == [1000 + 3 * i for i in range(n)]  # CFR pts carried through
    for i, p in enumerate(packets):
        coded = (p.coded_width, p.coded_height)
        assert np.array_equal(enc.tokens_of(frames[17 * i : 17 * i + 17], coded), dec.tokens_of(p))


def test_token_coder_round_trip_and_raw_rate():
    coder = TokenCoder((8, 5, 5, 5))
    rng = np.random.default_rng(3)
    tokens = rng.integers(0, 1000, size=(3, 7, 11))
    data = coder.encode(tokens)
    assert np.array_equal(coder.decode(data, tokens.shape), tokens)
    assert abs(len(data) * 8 - tokens.size * np.log2(1000)) < 64
    with pytest.raises(tvc.InvalidArgumentError):
        coder.encode(np.array([1000]))
    with pytest.raises(tvc.InvalidDataError):
        coder.decode(data[:-2], tokens.shape)


def test_refuses_bad_gop_length_and_frame_size(model):
    info = VideoInfo(width=32, height=32)
    with pytest.raises(tvc.InvalidArgumentError, match="1 \\+ 8k"):
        Encoder(info, EncoderSettings(gop_length=16), model=model)
    enc = Encoder(info, model=model)
    with pytest.raises(tvc.InvalidArgumentError, match="32x32"):
        enc.encode(clip(48, 32, 1)[0])


def test_refuses_stream_of_another_model(model, weights_file, tmp_path):
    info = VideoInfo(width=32, height=32)
    enc = Encoder(info, model=model)
    torch.manual_seed(1)
    other_path = tmp_path / "other.pt"
    export_weights(CausalVideoTokenizer(SMALL).eval(), "tvc-test", other_path)
    with pytest.raises(tvc.ModelMismatchError):
        Decoder(enc.header, model=CodecModel.from_file(other_path))


def test_damaged_gop_is_skipped_by_cli(model, weights_file, tmp_path):
    info = VideoInfo(width=32, height=32)
    frames = clip(32, 32, 40)
    enc = Encoder(info, EncoderSettings(gop_length=17), model=model)
    path = tmp_path / "s.tvc"
    with TvcWriter(path, enc.header) as w:
        for p in [p for f in frames for p in enc.encode(f)] + enc.encode(None):
            w.write_packet(p)
    data = bytearray(path.read_bytes())
    rec = list(TvcReader(path))[1]  # the second GoP
    data[rec.offset + rec.size - 8] ^= 0xFF
    path.write_bytes(bytes(data))
    from tvc_ffmpeg.cli import decode

    out = tmp_path / "o.y4m"
    assert decode.main([str(path), str(out), "--weights", str(weights_file)]) == 1
    from tvc_ffmpeg.video import open_input

    with open_input(out) as r:
        assert len(list(r)) == 40 - 17  # exactly the damaged GoP is lost


CHILD = textwrap.dedent("""
    import json, sys
    import numpy as np
    import torch
    torch.set_num_threads(int(sys.argv[3]))
    from tvc_ffmpeg.bitstream import TvcReader
    from tvc_ffmpeg.codec import CodecModel, Decoder
    model = CodecModel.from_file(sys.argv[2], backend="torch") if sys.argv[2] != "-" else CodecModel.load(backend="torch")
    r = TvcReader(sys.argv[1])
    dec = Decoder(r.header, model=model)
    tokens, samples = [], []
    for p in (record.packet for record in r):
        tokens.append(dec.tokens_of(p).tolist())
        for f in dec.decode(p):
            samples.append(np.concatenate([f.y.ravel(), f.u.ravel(), f.v.ravel()]))
    np.save(sys.argv[4], np.stack(samples))
    print(json.dumps(tokens))
""")

# docs/codec.md, Determinism: decoded 8-bit samples may differ by this much between
# torch thread counts (float reductions in the pixel decoder run in another order);
# parsed tokens never differ.
THREAD_SAMPLE_BOUND = 1


def _wavy_clip(w, h, n):
    """Smooth moving texture plus noise: enough detail for the shipped model's decoder
    to land some samples on a rounding edge (found with 1 vs 2 threads at 176x144)."""
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:h, 0:w]
    ch, cw = (h + 1) // 2, (w + 1) // 2
    return [Frame((128 + 60 * np.sin((xx + 3 * i) / 9.0) * np.cos(yy / 7.0) + rng.normal(0, 8, (h, w)))
                  .clip(0, 255).astype(np.uint8), np.full((ch, cw), 110, np.uint8),
                  np.full((ch, cw), 140, np.uint8), pts=i) for i in range(n)]


@pytest.mark.parametrize("which", ["small", "shipped"])
def test_cross_process_determinism(model, weights_file, tmp_path, which):
    """Encode here; decode in two fresh interpreters with 1 and 2 torch threads:
    identical parsed tokens (exactly the encoder's), samples within THREAD_SAMPLE_BOUND.
    (Defect: docs promised identical frames; the shipped model differs by one level.)"""
    if which == "small":
        info, frames, weights, gop, quality = VideoInfo(width=48, height=32), clip(48, 32, 20, seed=5), \
            str(weights_file), 17, 1  # quality 1: resampled, 36x24 coded
        used = model
    else:
        info, frames, weights, gop, quality = VideoInfo(width=176, height=144), _wavy_clip(176, 144, 18), \
            "-", 17, 2
        used = CodecModel.load(backend="torch")
    enc = Encoder(info, EncoderSettings(gop_length=gop, quality=quality), model=used)
    path = tmp_path / "d.tvc"
    with TvcWriter(path, enc.header) as w:
        packets = [p for f in frames for p in enc.encode(f)] + enc.encode(None)
        for p in packets:
            w.write_packet(p)
    coded = coded_size(info, quality)
    expected_tokens = [enc.tokens_of(frames[:gop], coded).tolist(), enc.tokens_of(frames[gop:], coded).tolist()]
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    tokens, samples = [], []
    for threads in ("1", "2"):
        out = tmp_path / f"samples{threads}.npy"
        proc = subprocess.run([sys.executable, str(script), str(path), weights, threads, str(out)],
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr[-2000:]
        tokens.append(json.loads(proc.stdout))
        samples.append(np.load(out).astype(np.int16))
    assert tokens[0] == expected_tokens == tokens[1]
    assert samples[0].shape == samples[1].shape == (len(frames), 176 * 144 * 3 // 2 if which == "shipped"
                                                    else 48 * 32 * 3 // 2)
    assert int(np.abs(samples[0] - samples[1]).max()) <= THREAD_SAMPLE_BOUND


def test_cli_encode_decode_y4m_pipe_style(model, weights_file, tmp_path):
    from tvc_ffmpeg.cli import decode, encode

    info = VideoInfo(width=48, height=32, frame_rate=Fraction(30))
    src = tmp_path / "in.y4m"
    with open_output(src, info) as w:
        for f in clip(48, 32, 9):
            w.write(f)
    out_tvc = tmp_path / "x.tvc"
    assert encode.main([str(src), str(out_tvc), "--weights", str(weights_file), "--gop-length", "9"]) == 0
    assert TvcReader(out_tvc).header.gop_length == 9
    out = tmp_path / "x.mkv"
    assert decode.main([str(out_tvc), str(out), "--weights", str(weights_file)]) == 0
    from tvc_ffmpeg.video import open_input

    with open_input(out) as r:
        assert len(list(r)) == 9 and r.info.width == 48


def test_cli_refuses_unreadable_input(weights_file, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "tvc_ffmpeg", "encode", str(tmp_path / "none.mp4"),
                           str(tmp_path / "o.tvc"), "--weights", str(weights_file)],
                          capture_output=True, text=True)
    assert proc.returncode == 1 and "not found" in proc.stderr


def test_open_write_then_read(model, tmp_path):
    info = VideoInfo(width=32, height=32)
    frames = clip(32, 32, 20)
    path = tmp_path / "o.tvc"
    with tvc.open(path, "w", info=info, model=model) as f:
        for frame in frames:
            f.write(frame)
    with tvc.open(path, model=model) as f:
        assert f.info.width == 32
        assert len(list(f)) == 20
    with tvc.open(path, "w", info=info, settings=tvc.EncoderSettings(quality=0), model=model) as f:
        for frame in frames:
            f.write(frame)
    assert {r.packet.coded_width for r in TvcReader(path)} == {16}
    with pytest.raises(tvc.InvalidArgumentError, match="info"):
        tvc.open(path, "w")
    with pytest.raises(tvc.InvalidArgumentError, match="mode"):
        tvc.open(path, "a")


def test_model_with_ccm_codes_tokens_exactly(weights_file, tmp_path):
    from tvc_ffmpeg.codec.model import bundle_weights
    from tvc_ffmpeg.models.ccm import CcmConfig, CheckerboardContextModel

    torch.manual_seed(3)
    blob = CheckerboardContextModel(CcmConfig((8, 5, 5, 5), hidden=8)).eval().export_int()
    path = tmp_path / "with-ccm.pt"
    bundle_weights(weights_file, path, ccm_blob=blob)
    model = CodecModel.from_file(path, backend="torch")
    assert model.ccm_blob == blob
    from tvc_ffmpeg.models.bundle import read_bundle

    renamed = tmp_path / "renamed.pt"
    bundle_weights(path, renamed, model_id="tvc-renamed")  # everything kept, only the id changes
    again = read_bundle(renamed)
    assert (again.model_id, again.ccm_blob) == ("tvc-renamed", blob)
    assert read_bundle(path).model_id != "tvc-renamed"
    info = VideoInfo(width=64, height=48)
    frames = clip(64, 48, 20, seed=9)
    enc, dec, packets, out = run_codec(model, frames, info)
    assert len(out) == 20
    for i, p in enumerate(packets):
        coded = (p.coded_width, p.coded_height)
        assert np.array_equal(enc.tokens_of(frames[17 * i : 17 * i + 17], coded), dec.tokens_of(p))
    # A decoder holding the same tokenizer without the CCM is a different model.
    with pytest.raises(tvc.ModelMismatchError):
        Decoder(enc.header, model=CodecModel.from_file(weights_file))


@pytest.mark.parametrize("pattern", [0, 1, 2, 3])
def test_mask_patterns_round_trip_and_drop_their_share(model, pattern):
    info = VideoInfo(width=64, height=64)  # a 4x4 latent grid: the patterns' shares are exact
    frames = clip(64, 64, 17, seed=11)
    enc, dec, packets, out = run_codec_masked(model, frames, info, pattern)
    assert len(out) == 17
    p = packets[0]
    assert p.quality == DEFAULT_QUALITY and p.mask_pattern == pattern
    sent = enc.tokens_of(frames)
    got = dec.tokens_of(p)
    keep = got >= 0
    assert np.array_equal(got[keep], sent[keep])
    assert keep[0].all() and (1 - keep[1:].mean()) == pytest.approx(0.25 * pattern)


def run_codec_masked(model, frames, info, pattern, quality=DEFAULT_QUALITY):
    enc = Encoder(info, EncoderSettings(gop_length=17, quality=quality, mask_pattern=pattern), model=model)
    packets = [p for f in frames for p in enc.encode(f)] + enc.encode(None)
    dec = Decoder(enc.header, model=model)
    return enc, dec, packets, [f for p in packets for f in dec.decode(p)]


def test_rate_rises_with_quality_and_falls_with_masking(model):
    info = VideoInfo(width=64, height=64)
    frames = clip(64, 64, 17, seed=12)

    def size(quality, pattern):
        return len(run_codec_masked(model, frames, info, pattern, quality)[2][0].to_bytes())

    by_quality = [size(q, 0) for q in (0, 1, 2, 3)]
    assert by_quality == sorted(by_quality) and by_quality[0] < by_quality[3]
    by_pattern = [size(DEFAULT_QUALITY, m) for m in (3, 2, 1, 0)]
    assert by_pattern == sorted(by_pattern) and by_pattern[0] < by_pattern[3]


def test_unknown_mask_pattern_in_a_packet_is_invalid_data(model):
    enc = Encoder(VideoInfo(width=32, height=32), EncoderSettings(gop_length=17), model=model)
    p = [p for f in clip(32, 32, 17) for p in enc.encode(f)][0]
    import dataclasses

    bad = dataclasses.replace(p, mask_pattern=9)
    with pytest.raises(tvc.InvalidDataError, match="mask pattern"):
        Decoder(enc.header, model=model).decode(bad)


def test_copy_previous_fills_every_hole():
    from tvc_ffmpeg.codec.predict import copy_previous

    g = np.array([[[1, 2], [3, 4]], [[-1, 6], [7, -1]], [[-1, -1], [-1, 9]]])
    assert copy_previous(g).tolist() == [[[1, 2], [3, 4]], [[1, 6], [7, 4]], [[1, 6], [7, 9]]]


def test_model_with_predictor_fills_dropped_tokens(weights_file, tmp_path):
    from tvc_ffmpeg.codec.model import bundle_weights
    from tvc_ffmpeg.models.predictor import PredictorConfig, TokenPredictor

    torch.manual_seed(4)
    pred = TokenPredictor(PredictorConfig((8, 5, 5, 5), width=16, depth=1, heads=2)).eval()
    path = tmp_path / "with-pred.pt"
    bundle_weights(weights_file, path, predictor=pred)
    model = CodecModel.from_file(path, backend="torch")
    assert model.predictor is not None
    info = VideoInfo(width=64, height=64)
    frames = clip(64, 64, 17, seed=13)
    enc, dec, packets, out = run_codec_masked(model, frames, info, 3)
    assert len(out) == 17
    grid = dec.tokens_of(packets[0])
    filled = dec.complete(grid)
    assert (filled >= 0).all() and np.array_equal(filled[grid >= 0], grid[grid >= 0])


def test_quality_levels_code_the_documented_picture_sizes():
    info = VideoInfo(width=640, height=272)
    assert [coded_size(info, q) for q in range(4)] == [(320, 136), (480, 204), (640, 272), (960, 408)]
    odd = VideoInfo(width=177, height=99)
    assert [coded_size(odd, q) for q in range(4)] == [(89, 50), (133, 74), (177, 99), (266, 149)]
    assert coded_size(VideoInfo(width=1, height=1), 0) == (1, 1)
    assert coded_size(VideoInfo(width=16384, height=9000), 3) == (16384, 13500)


def test_encoder_refuses_unknown_quality_and_mask_pattern(model):
    info = VideoInfo(width=32, height=32)
    with pytest.raises(tvc.InvalidArgumentError, match="quality"):
        Encoder(info, EncoderSettings(quality=4), model=model)
    with pytest.raises(tvc.InvalidArgumentError, match="mask_pattern"):
        EncoderSettings(mask_pattern=4)


def _auto_rule(bits, losses, db_per_halving=1.5):
    """mask_at_equal_rate on known rates and losses: (pattern, patterns whose loss was asked)."""
    from tvc_ffmpeg.codec.session import mask_at_equal_rate

    asked = []

    def loss_of(pattern):
        asked.append(pattern)
        return losses[pattern]

    return mask_at_equal_rate(bits, loss_of, db_per_halving), asked


def test_auto_mask_rule_keeps_the_largest_margin_at_equal_rate():
    # At 1.5 dB per halving, 1000 -> 250 bits allows 3.0 dB, -> 500 allows 1.5, -> 800 allows 0.48.
    bits = [1000, 800, 500, 250]
    # Pattern 3: margin 3.0 - 1.8 = 1.2; pattern 2 (allows 1.5 > 1.2, so decoded): 1.0;
    # pattern 1 cannot reach 1.2 even without loss and is never decoded.
    assert _auto_rule(bits, {1: 0.1, 2: 0.5, 3: 1.8}) == (3, [3, 2])
    # Pattern 3 loses more than pattern 2 gains: 0.4 against 1.0.
    assert _auto_rule(bits, {1: 0.1, 2: 0.5, 3: 2.6}) == (2, [3, 2])
    # The old 0.5 dB rule took pattern 1 here; at equal rate none pays.
    assert _auto_rule(bits, {1: 0.5, 2: 1.6, 3: 3.1}) == (0, [3, 2, 1])
    # Pattern 3's margin (1.6) beats what pattern 2 could reach: pattern 2 is not decoded.
    assert _auto_rule(bits, {1: 0.1, 2: 0.0, 3: 1.4}) == (3, [3])
    # Pattern 3's margin 1.4 does not: pattern 2 (a negative loss counts as none) wins at 1.5.
    assert _auto_rule(bits, {1: -5.0, 2: -1.0, 3: 1.6}) == (2, [3, 2])


def test_auto_mask_rule_boundaries():
    # 800 -> 400 bits is one halving: exactly the exchange rate is not a gain.
    assert _auto_rule([800, 400, 1000, 800], {1: 1.5}) == (0, [1])
    assert _auto_rule([800, 400, 1000, 800], {1: 1.49}) == (1, [1])
    # A pattern that saves nothing (or costs bits) is never decoded; an exchange rate of 0
    # never drops a token; a steeper one drops more.
    assert _auto_rule([800, 900, 800, 1200], {}) == (0, [])
    assert _auto_rule([1000, 800, 500, 250], {}, db_per_halving=0.0) == (0, [])
    assert _auto_rule([1000, 800, 500, 250], {1: 0.5, 2: 1.6, 3: 3.1}, db_per_halving=3.0)[0] == 3
    for bad in ([], [1000, 0, 500, 250], [-8, 800, 500, 250]):
        with pytest.raises(tvc.InvalidArgumentError, match="positive bit counts"):
            _auto_rule(bad, {})


def test_auto_mask_prices_the_real_coder_and_decodes_what_the_decoder_fills(model, monkeypatch):
    """The encoder gives the rule each pattern's real packet rate and the real loss of the
    grid the decoder completes, and its packet is the fixed-pattern packet of its choice."""
    from tvc_ffmpeg.codec import session

    info = VideoInfo(width=64, height=64)
    frames = clip(64, 64, 17, seed=14)
    # The untrained test tokenizer gives one token everywhere, which any mask predicts
    # exactly; tokens that change from latent frame to latent frame make masks lose.
    grid = np.random.default_rng(5).integers(0, 8 * 5 * 5 * 5, (3, 4, 4))
    monkeypatch.setattr(Encoder, "_tokenize", lambda self, rgb: grid.copy())
    seen = {}

    def spy(bits, loss_of, db_per_halving):
        seen.update(bits=list(bits), loss2=loss_of(2), slope=db_per_halving)
        return 2

    monkeypatch.setattr(session, "mask_at_equal_rate", spy)
    enc, dec, packets, out = run_codec_masked(model, frames, info, "auto")
    assert packets[0].mask_pattern == 2 and len(out) == 17
    tokens = enc.tokens_of(frames)
    coder = model.token_coder()
    assert seen["slope"] == session.AUTO_MASK_DB_PER_HALVING == 1.5
    assert seen["bits"] == [8 * (session.AUTO_MASK_PACKET_BYTES + len(coder.encode(tokens, p))) for p in range(4)]
    assert seen["bits"][0] > seen["bits"][1] > seen["bits"][2] > seen["bits"][3]
    shape = (17, 64, 64)
    rgb = enc._source_rgb(frames)
    full = session._psnr(rgb, session.decode_pixels(model, tokens, shape))
    masked = session._psnr(rgb, session.decode_pixels(model, dec.complete(dec.tokens_of(packets[0])), shape))
    assert seen["loss2"] == pytest.approx(full - masked, abs=1e-9) and seen["loss2"] != 0
    fixed = run_codec_masked(model, frames, info, 2)[2]
    assert packets[0].to_bytes() == fixed[0].to_bytes()


def test_auto_mask_follows_the_exchange_rate(model, monkeypatch):
    from tvc_ffmpeg.codec import session

    info = VideoInfo(width=64, height=64)
    frames = clip(64, 64, 17, seed=14)
    monkeypatch.setattr(session, "AUTO_MASK_DB_PER_HALVING", 1e6)  # any loss is worth a saving
    enc, dec, packets, out = run_codec_masked(model, frames, info, "auto")
    assert packets[0].mask_pattern == 3 and len(out) == 17
    kept = dec.tokens_of(packets[0]) >= 0
    assert np.array_equal(kept, _native_mask_keep(3, kept.shape))
    monkeypatch.setattr(session, "AUTO_MASK_DB_PER_HALVING", 0.0)  # no saving is worth a loss
    assert run_codec_masked(model, frames, info, "auto")[2][0].mask_pattern == 0
    with pytest.raises(tvc.InvalidArgumentError, match="auto"):
        EncoderSettings(mask_pattern="sometimes")


def _native_mask_keep(pattern, shape):
    from tvc_ffmpeg._native import mask_keep

    return mask_keep(pattern, *shape)


def test_cli_mask_pattern_argument():
    from tvc_ffmpeg.cli.encode import _mask_pattern

    assert _mask_pattern("auto") == "auto" and _mask_pattern("2") == 2
    for bad in ("4", "-1", "x"):
        with pytest.raises(Exception, match="mask pattern"):
            _mask_pattern(bad)


def test_sessions_are_context_managers(model):
    info = VideoInfo(width=32, height=32)
    with Encoder(info, EncoderSettings(gop_length=9), model=model) as enc:
        packets = [p for f in clip(32, 32, 9) for p in enc.encode(f)]
    with Decoder(enc.header, model=model) as dec:
        assert len(dec.decode(packets[0])) == 9


# ---------------------------------------------------------------- limits (codec/limits.py)

def test_decoder_refuses_a_header_over_max_pixels_before_loading_anything(model):
    """Defect: a 1.4 KB stream claiming 16384x16384 made the decoder try a 29 GB allocation."""
    from dataclasses import replace

    from tvc_ffmpeg.settings import DEFAULT_MAX_PIXELS

    header = replace(Encoder(VideoInfo(width=32, height=32), model=model).header, width=16384, height=16384)
    with pytest.raises(tvc.LimitExceededError, match="16384x16384.*max_pixels"):
        Decoder(header, model=model)
    assert 4096 * 2160 <= DEFAULT_MAX_PIXELS  # 4K pictures pass the header check
    Decoder(replace(header, width=3840, height=2160), model=model)
    with pytest.raises(tvc.LimitExceededError):
        Decoder(replace(header, width=64, height=64), DecoderSettings(max_pixels=63 * 64), model=model)


def test_decoder_refuses_a_packet_over_the_gop_limit_before_allocating(model):
    """A packet whose coded size or frame count is over the limits is refused from its
    header fields alone (LimitExceededError), whatever its payload."""
    from dataclasses import replace

    info = VideoInfo(width=32, height=32)
    enc = Encoder(info, EncoderSettings(gop_length=9), model=model)
    packet = [p for f in clip(32, 32, 9) for p in enc.encode(f)][0]
    dec = Decoder(enc.header, model=model)
    assert len(dec.decode(packet)) == 9
    with pytest.raises(tvc.LimitExceededError, match="GoP 0 codes a picture of 16384x16384"):
        dec.decode(replace(packet, coded_width=16384, coded_height=16384))
    with pytest.raises(tvc.LimitExceededError, match="max_gop_pixels"):
        dec.tokens_of(replace(packet, coded_width=2048, coded_height=2048, frame_count=1024))
    small = Decoder(enc.header, DecoderSettings(max_gop_pixels=32 * 32 * 9 - 1), model=model)
    with pytest.raises(tvc.LimitExceededError, match="9 frames of 32x32"):
        small.decode(packet)


def test_encoder_refuses_what_the_decoder_would_refuse(model):
    with pytest.raises(tvc.LimitExceededError, match="16384x16384"):
        Encoder(VideoInfo(width=16384, height=16384), model=model)
    # quality 3 codes 1.5x a side: 2880x1620 x 33 frames is over the default GoP limit.
    with pytest.raises(tvc.LimitExceededError, match="quality 3"):
        Encoder(VideoInfo(width=1920, height=1080), EncoderSettings(quality=3), model=model)
    Encoder(VideoInfo(width=1920, height=1080), EncoderSettings(quality=2), model=model)
    # With a target bitrate the levels over the limit are left out, not refused.
    enc = Encoder(VideoInfo(width=1920, height=1080), EncoderSettings(bitrate=10000), model=model)
    assert sorted(enc._rate.levels) == [0, 1, 2]


MEMORY_CHILD = textwrap.dedent("""
    import resource, sys
    from dataclasses import replace
    import numpy as np
    from tvc_ffmpeg import _native
    from tvc_ffmpeg.bitstream import GopPacket, SUBSTREAM_DISCRETE
    from tvc_ffmpeg.codec import CodecModel, Decoder, Encoder
    from tvc_ffmpeg.errors import LimitExceededError
    from tvc_ffmpeg.video import VideoInfo
    model = CodecModel.from_file(sys.argv[1], backend="torch")
    from tvc_ffmpeg.settings import DecoderSettings, EncoderSettings
    enc = Encoder(VideoInfo(width=16384, height=16384),
                  EncoderSettings(gop_length=1017, max_pixels=2**28, max_gop_pixels=2**40), model=model)
    payload = b"\\x00" * 40
    packet = GopPacket(gop_index=0, frame_count=1017, first_pts=0, quality=2, mask_pattern=0,
                       continuous_step=0, coded_width=16384, coded_height=16384,
                       substreams=((SUBSTREAM_DISCRETE, payload),))
    packet = GopPacket.from_bytes(packet.to_bytes(), enc.header)  # what a 151-byte packet parses to
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    refused = []
    for what, call in [
        ("decoder", lambda: Decoder(enc.header, DecoderSettings(max_pixels=2**28), model=model).decode(packet)),
        ("ccm", lambda: _native.CheckerboardCoder(bytes(model.ccm_blob), [8, 5, 5, 5]).decode(payload, 128, 1024, 1024)),
        ("mask", lambda: _native.mask_keep(0, 128, 1024, 1024)),
    ]:
        try:
            call()
        except LimitExceededError as exc:
            refused.append(what)
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    print(",".join(refused), grown // 1024)
""")


def test_a_packet_claiming_a_huge_gop_is_refused_for_little_memory(tmp_path):
    """Defect: a 151-byte packet was refused only after 2.37 GB; the Python decoder and
    the native CCM entry now both check the grid size before allocating."""
    from tvc_ffmpeg.codec.model import bundle_weights
    from tvc_ffmpeg.models.registry import get_entry

    # The shipped CCM blob (levels 8, 5, 5, 5) on the small test tokenizer.
    torch.manual_seed(0)
    tok = tmp_path / "tok.pt"
    export_weights(CausalVideoTokenizer(SMALL).eval(), "tvc-test", tok)
    weights = tmp_path / "w.pt"
    bundle_weights(tok, weights, ccm_blob=CodecModel.load().ccm_blob)
    script = tmp_path / "child.py"
    script.write_text(MEMORY_CHILD)
    proc = subprocess.run([sys.executable, str(script), str(weights)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    refused, grown_mb = proc.stdout.split()
    assert refused == "decoder,ccm,mask"
    assert int(grown_mb) < 200


def test_unknown_model_id_in_a_stream_is_a_model_mismatch(model):
    """Defect: the Python Decoder raised InvalidArgumentError; docs/bitstream.md's table
    names TVC_EMODEL_MISMATCH for a stream of another model."""
    from dataclasses import replace

    header = replace(Encoder(VideoInfo(width=32, height=32), model=model).header, model_id="tvc-from-elsewhere")
    with pytest.raises(tvc.ModelMismatchError, match="'tvc-from-elsewhere'.*installed: tvc-s-v3"):
        Decoder(header)
