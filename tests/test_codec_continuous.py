"""The continuous substream (kind 2) in the codec: round trips with exact latent values,
the fused decoder changing pixels, the quality ladder, every decoder check on a GoP's
step and payload, and determinism across processes and thread counts. Uses a small
randomly initialised tokenizer and continuous parts (zero-initialised fusion convs made
non-zero, so the latent reaches the pixels): pipeline tests, not quality tests."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import zlib
from dataclasses import replace
from fractions import Fraction

import numpy as np
import pytest
import torch

import tvc_ffmpeg as tvc
from tokenizer_helpers import SMALL
from tvc_ffmpeg.bitstream import SUBSTREAM_CONTINUOUS, SUBSTREAM_DISCRETE, GopPacket, TvcReader, TvcWriter
from tvc_ffmpeg.codec import CodecModel, Decoder, Encoder
from tvc_ffmpeg.codec.continuous import ContinuousCoder, context_of
from tvc_ffmpeg.codec.ratecontrol import RateController
from tvc_ffmpeg.errors import ModelRegistryError
from tvc_ffmpeg.models import CausalVideoTokenizer
from tvc_ffmpeg.models.bundle import ContinuousBundle, ModelBundle, half_state, write_bundle
from tvc_ffmpeg.models.continuous import (ContinuousConfig, ContinuousEncoder, ControlBranch, context_plane_count,
                                          step_plane_value)
from tvc_ffmpeg.models.continuous_ccm import ContinuousCcmConfig, ContinuousContextModel
from tvc_ffmpeg.models.registry import (DEFAULT_CONTINUOUS_LEVELS, DEFAULT_LEVELS, QualityLevel, check_ladder)
from tvc_ffmpeg.settings import EncoderSettings
from tvc_ffmpeg.video import Frame, VideoInfo

CONFIG = ContinuousConfig(channels=4, temporal_factor=2, encoder_width=8, branch_width=8)
FIRST_STEP_LEVEL = 3  # DEFAULT_CONTINUOUS_LEVELS[3]: full size, step code 512


def _continuous_bundle() -> ContinuousBundle:
    torch.manual_seed(1)
    encoder = ContinuousEncoder(CONFIG, SMALL)
    branch = ControlBranch(CONFIG, SMALL)
    for head in branch.heads:  # training would move them off zero; the test must see the fusion
        torch.nn.init.normal_(head.zero.weight, std=0.05)
    with torch.no_grad():  # a latent of a few units at step 2, so values are not all zero
        encoder.head.weight.mul_(40.0)
    ccm_config = ContinuousCcmConfig(channels=CONFIG.channels, context_planes=context_plane_count(SMALL.fsq_levels),
                                     hidden=8)
    ccm = ContinuousContextModel(ccm_config).eval()
    fields = {"channels": ccm_config.channels, "context_planes": ccm_config.context_planes,
              "hidden": ccm_config.hidden, "kernels": list(ccm_config.kernels)}
    return ContinuousBundle(CONFIG.to_dict(), fields, half_state(encoder), half_state(branch),
                            ccm.export_int(), half_state(ccm))


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory):
    torch.manual_seed(0)
    tok = CausalVideoTokenizer(SMALL).eval()
    path = tmp_path_factory.mktemp("w") / "tvc-cont.pt"
    write_bundle(ModelBundle("tvc-cont-test", SMALL, half_state(tok), continuous=_continuous_bundle()), path)
    return path


@pytest.fixture(scope="module")
def model(weights_file):
    return CodecModel.from_file(weights_file, backend="torch")


def clip(w, h, n, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    ch, cw = (h + 1) // 2, (w + 1) // 2
    return [Frame((128 + 70 * np.sin((xx + 2 * i) / 5.0) * np.cos(yy / 4.0) + rng.normal(0, 6, (h, w)))
                  .clip(0, 255).astype(np.uint8), np.full((ch, cw), 118, np.uint8),
                  np.full((ch, cw), 136, np.uint8), pts=10 * i) for i in range(n)]


def encode(model, frames, info, quality, gop=9, mask=0):
    enc = Encoder(info, EncoderSettings(gop_length=gop, quality=quality, mask_pattern=mask), model=model)
    return enc, [p for f in frames for p in enc.encode(f)] + enc.encode(None)


def planes(frames):
    return np.stack([np.concatenate([f.y.ravel(), f.u.ravel(), f.v.ravel()]) for f in frames]).astype(np.int16)


def with_payload(packet, payload):
    """The packet with its kind-2 payload replaced; to_bytes() writes a fresh, valid CRC,
    so what fires on decode is the payload check, not the CRC."""
    subs = tuple((k, payload if k == SUBSTREAM_CONTINUOUS else p) for k, p in packet.substreams)
    return GopPacket.from_bytes(replace(packet, substreams=subs).to_bytes())


# ------------------------------------------------------------------ model and ladder

def test_model_from_a_file_with_the_continuous_component(model):
    assert model.continuous is not None and model.continuous.config == CONFIG
    assert model.quality_levels == DEFAULT_CONTINUOUS_LEVELS
    assert model.quality_scales == (Fraction(1, 2), Fraction(3, 4), Fraction(1), Fraction(1), Fraction(1),
                                    Fraction(1), Fraction(3, 2))
    assert [model.step_code(q) for q in range(7)] == [0, 0, 0, 512, 256, 128, 128]


def test_token_only_weights_keep_the_old_ladder(tmp_path):
    from tvc_ffmpeg.models import export_weights

    path = tmp_path / "t.pt"
    export_weights(CausalVideoTokenizer(SMALL).eval(), "tvc-test", path)
    m = CodecModel.from_file(path, backend="torch")
    assert m.continuous is None and m.continuous_coder() is None
    assert m.quality_levels == DEFAULT_LEVELS
    assert m.quality_scales == (Fraction(1, 2), Fraction(3, 4), Fraction(1), Fraction(3, 2))
    with pytest.raises(tvc.InvalidArgumentError, match="has continuous steps but the model has no continuous"):
        replace(m, quality_levels=DEFAULT_CONTINUOUS_LEVELS)


@pytest.mark.parametrize("levels, message", [
    ((), "ladder is empty"),
    ((QualityLevel(Fraction(1)), QualityLevel(Fraction(1, 2))), "level 1 .* is not better than level 0"),
    ((QualityLevel(Fraction(1), 256), QualityLevel(Fraction(1), 512)), "level 1 .* is not better"),
    ((QualityLevel(Fraction(1), 256), QualityLevel(Fraction(1))), "level 1 .* is not better"),
    ((QualityLevel(Fraction(1)), QualityLevel(Fraction(1))), "level 1 .* is not better"),
])
def test_ladder_must_be_higher_is_better(levels, message):
    with pytest.raises(ModelRegistryError, match=message):
        check_ladder(levels, "m")


def test_quality_level_refuses_bad_fields():
    with pytest.raises(ModelRegistryError, match="step code must be 0..65535"):
        QualityLevel(Fraction(1), 70000)
    with pytest.raises(ModelRegistryError, match="positive Fraction"):
        QualityLevel(Fraction(0))


# ------------------------------------------------------------------ round trips

def test_continuous_round_trip_exact_values_and_fused_pixels(model):
    info = VideoInfo(width=40, height=24, frame_rate=Fraction(25))
    frames = clip(40, 24, 12)
    enc, packets = encode(model, frames, info, FIRST_STEP_LEVEL)
    assert [p.continuous_step for p in packets] == [512, 512]
    # kinds 128.. are ignorable extensions (colour correction), not this test's business
    assert [sorted(k for k, _ in p.substreams if k < 128) for p in packets] == [[1, 2], [1, 2]]
    dec = Decoder(enc.header, model=model)
    out, values = [], []
    for p in packets:
        parsed = GopPacket.from_bytes(p.to_bytes(), enc.header)
        grid = dec.complete(dec.tokens_of(parsed))
        values.append(dec.continuous_values(parsed, grid))
        out += dec.decode(parsed)
    assert len(out) == 12 and [f.pts for f in out] == list(range(9)) + [90, 91, 92]  # GoP first pts + i frame durations
    # T' = 1 + (9 - 1) / 2 = 5 latent frames for both GoPs (the short one is padded to 9)
    assert [v.shape for v in values] == [(4, 5, 2, 3), (4, 5, 2, 3)]
    assert all(v.dtype == np.int32 for v in values) and any(np.abs(v).max() > 0 for v in values)
    # The values decoded are exactly the encoder's: re-derive them the encoder's way.
    from tvc_ffmpeg.models.continuous import quantize

    rgb = enc._source_rgb(frames[:9])  # level 3 codes the source size: no resampling
    x = enc._padded_input(rgb)
    tokens = enc._tokenize(rgb)
    latent = model.continuous_runtime.encode(x, model.runtime.decode(tokens[None]))
    expected = quantize(torch.from_numpy(latent), 2.0, "round")[0].numpy()
    np.testing.assert_array_equal(values[0], expected)
    # The fusion changes pixels: the same tokens decoded without the latent differ.
    token_only = dec.decode(replace(GopPacket.from_bytes(packets[0].to_bytes()), continuous_step=0,
                                    substreams=tuple(s for s in packets[0].substreams if s[0] != 2)))
    assert int(np.abs(planes(out[:9]) - planes(token_only)).max()) > 0


def test_token_only_level_of_a_continuous_model_has_no_kind_2(model):
    info = VideoInfo(width=32, height=32)
    enc, packets = encode(model, clip(32, 32, 9), info, 2)
    assert [(p.continuous_step, [k for k, _ in p.substreams if k < 128]) for p in packets] == [(0, [1])]
    assert len(Decoder(enc.header, model=model).decode(packets[0])) == 9


def test_masked_tokens_context_is_the_filled_grid(model):
    """With dropped tokens the encoder's context must be the grid the decoder completes."""
    info = VideoInfo(width=48, height=32)
    enc, packets = encode(model, clip(48, 32, 17, seed=3), info, 5, gop=17, mask=2)
    assert packets[0].mask_pattern == 2 and packets[0].continuous_step == 128
    assert len(Decoder(enc.header, model=model).decode(GopPacket.from_bytes(packets[0].to_bytes()))) == 17


@pytest.mark.parametrize("chosen", [0, 2])
def test_auto_mask_counts_the_continuous_payload_in_every_candidates_rate(model, monkeypatch, chosen):
    """At a continuous level the rate of each pattern is its packet, continuous payload
    included; whichever pattern wins, the packet is that fixed pattern's packet (the
    payload made while choosing is reused only for pattern 0, whose grid it was made on)."""
    from tvc_ffmpeg.codec import session

    info = VideoInfo(width=48, height=32)
    frames = clip(48, 32, 17, seed=3)
    seen, made = {}, []

    def spy(bits, loss_of, db_per_halving):
        seen["bits"] = list(bits)
        return chosen

    payload = Encoder._continuous_payload

    def counted(self, rgb, tokens, pattern, code):
        made.append(pattern)
        return payload(self, rgb, tokens, pattern, code)

    monkeypatch.setattr(Encoder, "_continuous_payload", counted)
    rule = session.mask_at_equal_rate
    monkeypatch.setattr(session, "mask_at_equal_rate", spy)
    enc, packets = encode(model, frames, info, 5, gop=17, mask="auto")
    assert made == ([0] if chosen == 0 else [0, chosen])  # the whole grid's payload, then the chosen one's
    monkeypatch.setattr(session, "mask_at_equal_rate", rule)
    fixed = {p: encode(model, frames, info, 5, gop=17, mask=p)[1][0] for p in (0, chosen)}
    assert packets[0].mask_pattern == chosen and packets[0].continuous_step == 128
    assert packets[0].to_bytes() == fixed[chosen].to_bytes()
    continuous = len(fixed[0].substream(SUBSTREAM_CONTINUOUS))
    tokens = enc.tokens_of(frames)
    assert seen["bits"] == [8 * (session.AUTO_MASK_PACKET_BYTES + continuous + len(enc._coder.encode(tokens, p)))
                            for p in range(4)]


def test_context_planes_are_digits_and_the_step_plane(model):
    grid = np.array([[[0, 199], [124, 57]]] * 2, np.int64)  # (2, 2, 2): FSQ (8, 5, 5, 5)
    ctx = context_of(grid, SMALL.fsq_levels, 5, 2, 512)
    assert ctx.dtype == np.int32 and ctx.shape == (5, 5, 2, 2)
    # index 0: every digit 0 -> -127; the last plane is floor(16 log2(2)) = 16 everywhere
    assert ctx[:4, 0, 0, 0].tolist() == [-127] * 4
    assert set(ctx[4].ravel().tolist()) == {16} == {step_plane_value(512)}


def test_coder_checks_shapes(model):
    coder = model.continuous_coder()
    ctx = np.zeros((5, 2, 2, 3), np.int32)
    with pytest.raises(tvc.InvalidArgumentError, match=r"must be int32 \(4, 2, 2, 3\)"):
        coder.encode(np.zeros((4, 3, 2, 3), np.int32), ctx)
    with pytest.raises(tvc.InvalidArgumentError, match=r"context must be int32 \(5, T', h, w\)"):
        coder.encode(np.zeros((4, 2, 2, 3), np.int32), ctx[:4])
    data = coder.encode(np.arange(48, dtype=np.int32).reshape(4, 2, 2, 3) - 20, ctx)
    np.testing.assert_array_equal(coder.decode(data, ctx, "GoP 0"),
                                  np.arange(48, dtype=np.int32).reshape(4, 2, 2, 3) - 20)


# ------------------------------------------------------------------ decoder checks

@pytest.fixture(scope="module")
def coded(model):
    info = VideoInfo(width=32, height=32)
    enc, packets = encode(model, clip(32, 32, 9, seed=7), info, FIRST_STEP_LEVEL)
    return enc.header, packets[0]


def test_step_without_kind_2_is_invalid_data(model, coded):
    header, packet = coded
    bad = GopPacket.from_bytes(replace(packet, substreams=(packet.substreams[0],)).to_bytes())
    with pytest.raises(tvc.InvalidDataError, match="GoP 0 signals continuous_step 512 but has no continuous"):
        Decoder(header, model=model).decode(bad)


def test_kind_2_with_step_0_is_invalid_data(model, coded):
    header, packet = coded
    bad = GopPacket.from_bytes(replace(packet, continuous_step=0).to_bytes())
    with pytest.raises(tvc.InvalidDataError, match=r"GoP 0 has a continuous substream \(kind 2\) but continuous_step 0"):
        Decoder(header, model=model).decode(bad)


def test_step_for_a_model_without_continuous_part_is_invalid_data(coded, tmp_path):
    from tvc_ffmpeg.models import export_weights

    header, packet = coded
    path = tmp_path / "tok.pt"
    sha = export_weights(CausalVideoTokenizer(SMALL).eval(), "tvc-tok", path)
    plain = CodecModel.from_file(path, backend="torch")
    h = replace(header, model_id="tvc-tok", weights_sha256=bytes.fromhex(sha))
    with pytest.raises(tvc.InvalidDataError, match="signals continuous_step 512, but model tvc-tok has no continuous"):
        Decoder(h, model=plain).decode(packet)


@pytest.mark.parametrize("damage", ["truncate", "flip_last", "flip_first", "append"])
def test_damaged_kind_2_payload_is_invalid_data(model, coded, damage):
    header, packet = coded
    payload = bytearray(packet.substream(SUBSTREAM_CONTINUOUS))
    if damage == "truncate":
        payload = payload[:-3]
    elif damage == "flip_last":
        payload[-1] ^= 0x5A
    elif damage == "flip_first":
        payload[0] ^= 0x01
    else:
        payload += b"\0"
    bad = with_payload(packet, bytes(payload))
    with pytest.raises(tvc.InvalidDataError, match="GoP 0: continuous substream is damaged"):
        Decoder(header, model=model).decode(bad)


def test_damaged_kind_2_costs_exactly_its_gop(model, weights_file, tmp_path):
    info = VideoInfo(width=32, height=32)
    enc, packets = encode(model, clip(32, 32, 27, seed=9), info, FIRST_STEP_LEVEL)
    payload = bytearray(packets[1].substream(SUBSTREAM_CONTINUOUS))
    payload[-1] ^= 0xFF
    packets[1] = with_payload(packets[1], bytes(payload))
    path = tmp_path / "s.tvc"
    with TvcWriter(path, enc.header) as w:
        for p in packets:
            w.write_packet(p)
    from tvc_ffmpeg.cli import decode
    from tvc_ffmpeg.video import open_input

    out = tmp_path / "o.y4m"
    assert decode.main([str(path), str(out), "--weights", str(weights_file), "--backend", "torch"]) == 1
    with open_input(out) as r:
        assert len(list(r)) == 27 - 9


def test_step_0_gops_are_unchanged_by_a_continuous_model_ladder(model):
    """Level 2 of the continuous ladder is level 2 of the token-only one: same bytes."""
    info = VideoInfo(width=32, height=32)
    token_model = replace(model, quality_levels=DEFAULT_LEVELS)
    a = encode(model, clip(32, 32, 9), info, 2)[1][0].to_bytes()
    b = encode(token_model, clip(32, 32, 9), info, 2)[1][0].to_bytes()
    assert a == b


# ------------------------------------------------------------------ rate control

def test_rate_controller_predicts_continuous_bits_per_step():
    rc = RateController(1000.0, {0: 100, 1: 100, 2: 100}, {1: 512, 2: 256})
    assert rc.predict(0, 10) == pytest.approx(1.3 * 1000)
    assert rc.predict(1, 10) == pytest.approx((1.3 + 0.5) * 1000)
    assert rc.predict(2, 10) == pytest.approx((1.3 + 1.0) * 1000)
    rc.update(1, 10, 3000, continuous_bits=2000)  # tokens 1.0, continuous 2.0 per position frame
    assert rc.predict(0, 10) == pytest.approx(1000)
    assert rc.predict(1, 10) == pytest.approx(3000)
    assert rc.predict(2, 10) == pytest.approx(2000)  # step 1 not measured yet: the prior


def test_target_bitrate_uses_the_continuous_levels(model):
    info = VideoInfo(width=32, height=32, frame_rate=Fraction(10))
    frames = clip(32, 32, 27, seed=4)
    enc = Encoder(info, EncoderSettings(gop_length=9, bitrate=100_000), model=model)
    packets = [p for f in frames for p in enc.encode(f)] + enc.encode(None)
    assert [p.quality for p in packets] == [6, 6, 6]  # a generous target: the top level
    assert all(p.continuous_step == 128 for p in packets)
    dec = Decoder(enc.header, model=model)
    assert sum(len(dec.decode(p)) for p in packets) == 27


# ------------------------------------------------------------------ determinism

CHILD = textwrap.dedent("""
    import json, sys
    import numpy as np
    import torch
    torch.set_num_threads(int(sys.argv[3]))
    from tvc_ffmpeg.bitstream import TvcReader
    from tvc_ffmpeg.codec import CodecModel, Decoder
    model = CodecModel.from_file(sys.argv[2], backend="torch")
    r = TvcReader(sys.argv[1])
    dec = Decoder(r.header, model=model)
    values, samples = [], []
    for p in (record.packet for record in r):
        grid = dec.complete(dec.tokens_of(p))
        values.append([grid.tolist(), dec.continuous_values(p, grid).tolist()])
        for f in dec.decode(p):
            samples.append(np.concatenate([f.y.ravel(), f.u.ravel(), f.v.ravel()]))
    np.save(sys.argv[4], np.stack(samples))
    print(json.dumps(values))
""")

# As tests/test_codec.py: samples may differ by one level between torch thread counts.
THREAD_SAMPLE_BOUND = 1


def test_cross_process_determinism_of_the_continuous_substream(model, weights_file, tmp_path):
    info = VideoInfo(width=48, height=32)
    frames = clip(48, 32, 14, seed=5)
    enc, packets = encode(model, frames, info, 4)
    path = tmp_path / "d.tvc"
    with TvcWriter(path, enc.header) as w:
        for p in packets:
            w.write_packet(p)
    dec = Decoder(enc.header, model=model)
    expected = []
    for p in packets:
        grid = dec.complete(dec.tokens_of(p))
        expected.append([grid.tolist(), dec.continuous_values(p, grid).tolist()])
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    got, samples = [], []
    for threads in ("1", "2"):
        out = tmp_path / f"s{threads}.npy"
        proc = subprocess.run([sys.executable, str(script), str(path), str(weights_file), threads, str(out)],
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr[-2000:]
        got.append(json.loads(proc.stdout))
        samples.append(np.load(out).astype(np.int16))
    assert got[0] == expected == got[1]
    assert samples[0].shape == samples[1].shape == (14, 48 * 32 * 3 // 2)
    assert int(np.abs(samples[0] - samples[1]).max()) <= THREAD_SAMPLE_BOUND


def test_info_shows_continuous_bytes_and_step(model, tmp_path, capsys):
    info = VideoInfo(width=32, height=32)
    enc, packets = encode(model, clip(32, 32, 9), info, FIRST_STEP_LEVEL)
    path = tmp_path / "i.tvc"
    with TvcWriter(path, enc.header) as w:
        w.write_packet(packets[0])
    from tvc_ffmpeg.cli import info as info_cli

    assert info_cli.main([str(path)]) == 0
    text = capsys.readouterr().out
    cont = len(packets[0].substream(SUBSTREAM_CONTINUOUS))
    row = [line for line in text.splitlines() if line.split()[:1] == ["0"]][0]
    assert row.split()[-2:] == ["2.000", str(cont)]
