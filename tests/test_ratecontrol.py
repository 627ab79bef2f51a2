"""Target-bitrate mode: the controller's budget arithmetic and the encoder using it."""

from fractions import Fraction

import numpy as np
import pytest

import tvc_ffmpeg as tvc
from tokenizer_helpers import SMALL
from tvc_ffmpeg.codec.ratecontrol import RateController, code_within_budget
from tvc_ffmpeg.settings import EncoderSettings

AREAS = {0: 100, 1: 225, 2: 400, 3: 900}


class FakePacket:
    def __init__(self, nbytes: int) -> None:
        self.nbytes = nbytes

    def to_bytes(self) -> bytes:
        return bytes(self.nbytes)


def run(controller, gops, bytes_per_area_frame, frames=10):
    """Codes ``gops`` GoPs whose size is exactly proportional to the coded area."""
    chosen, spent = [], 0
    for _ in range(gops):
        tried = []

        def code(level):
            tried.append(level)
            return FakePacket(round(bytes_per_area_frame * AREAS[level] * frames))

        packet = code_within_budget(controller, frames, code)
        chosen.append(tried[-1])
        spent += 8 * packet.nbytes
    return chosen, spent


def test_stays_within_the_target_and_spends_what_it_saves():
    # Level 2 costs 8 * 0.02 * 400 = 64 bits a frame, level 3 144: a target of 100 sits between.
    rc = RateController(100.0, AREAS)
    chosen, spent = run(rc, 20, 0.02)
    assert 0.9 * 100.0 * 10 * 20 <= spent <= 100.0 * 10 * 20
    assert chosen[0] == 0  # the prior (in bits per position and frame) is far above this fake
    assert set(chosen[1:]) == {2, 3}  # level 3 whenever the savings of level-2 GoPs pay for it


def test_overshoot_is_recoded_one_level_lower():
    rc = RateController(100.0, AREAS)
    rc._bits_per_position_frame = 1e-9  # a wildly optimistic estimate picks level 3 first
    tried = []

    def code(level):
        tried.append(level)
        return FakePacket(round(0.02 * AREAS[level] * 10))

    code_within_budget(rc, 10, code)
    assert tried == [3, 2]  # 1440 bits did not fit the 1000-bit budget; 640 did


def test_savings_carry_over_but_are_capped_at_one_gop():
    rc = RateController(100.0, AREAS)
    rc.update(0, 10, 0)  # an empty GoP saves 1000 bits ...
    rc.update(0, 10, 0)  # ... twice, but the reserve stops at one GoP's budget
    assert rc.budget(10) == pytest.approx(2000.0)


def test_lowest_level_overshoot_is_paid_back():
    rc = RateController(10.0, AREAS)  # below even level 0 (16 bits a frame)
    chosen, spent = run(rc, 5, 0.02)
    assert chosen == [0] * 5
    assert rc.budget(10) < 100.0  # the debt lowers the next budget


def test_refuses_a_non_positive_target():
    with pytest.raises(tvc.InvalidArgumentError, match="positive"):
        RateController(0.0, AREAS)


@pytest.fixture(scope="module")
def tiny_codec_model(tmp_path_factory):
    import torch

    from tvc_ffmpeg.codec import CodecModel
    from tvc_ffmpeg.models import CausalVideoTokenizer, export_weights

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("w") / "tvc-test.pt"
    export_weights(CausalVideoTokenizer(SMALL).eval(), "tvc-test", path)
    return CodecModel.from_file(path, backend="torch")


def test_encoder_meets_a_target_bitrate(tiny_codec_model):
    from tvc_ffmpeg.codec import Encoder
    from tvc_ffmpeg.video import Frame, VideoInfo

    info = VideoInfo(width=64, height=48, frame_rate=Fraction(10))
    rng = np.random.default_rng(0)
    frames = [Frame(rng.integers(0, 256, (48, 64), dtype=np.uint8), np.full((24, 32), 128, np.uint8),
                    np.full((24, 32), 128, np.uint8), pts=i) for i in range(9 * 6)]

    def encode(**kw):
        # Without the colour correction: its reserve is tested in test_colour.py.
        enc = Encoder(info, EncoderSettings(gop_length=9, colour_correction=False, **kw), model=tiny_codec_model)
        return [p for f in frames for p in enc.encode(f)] + enc.encode(None)

    sizes = {q: 8 * sum(len(p.to_bytes()) for p in encode(quality=q)) for q in range(4)}
    seconds = len(frames) / 10
    target = (sizes[1] + sizes[2]) / 2 / seconds  # between two levels
    packets = encode(bitrate=target)
    assert 8 * sum(len(p.to_bytes()) for p in packets) <= target * seconds
    assert {p.quality for p in packets} <= {1, 2} and 2 in {p.quality for p in packets}
    low = encode(bitrate=sizes[0] / seconds / 4)  # below the lowest level: all at level 0
    assert {p.quality for p in low} == {0}


def test_cli_bitrate_option(tmp_path, capsys):
    from tvc_ffmpeg.cli import encode

    with pytest.raises(SystemExit):
        encode.main(["in.mp4", "out.tvc", "--bitrate", "fast"])
    with pytest.raises(SystemExit):
        encode.main(["in.mp4", "out.tvc", "--bitrate", "-5k"])
    with pytest.raises(SystemExit):
        encode.main(["in.mp4", "out.tvc", "--bitrate", "6k", "--quality", "1"])
    assert encode._bitrate("6k") == 6000 and encode._bitrate("0.5M") == 500000
