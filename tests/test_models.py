import math

import numpy as np
import pytest
import torch

from tokenizer_helpers import TINY, moving_pattern
from tvc_ffmpeg.models.config import ModelConfigError, TokenizerConfig
from tvc_ffmpeg.models.fsq import FSQ
from tvc_ffmpeg.models.gop import reconstruct_clip
from tvc_ffmpeg.models.haar import patchify, unpatchify
from tvc_ffmpeg.models.registry import (
    DEFAULT_MODEL_ID,
    REGISTRY,
    ModelRegistryError,
    export_weights,
    get_entry,
    load_tokenizer,
    load_tokenizer_file,
)
from tvc_ffmpeg.models.tokenizer import CausalVideoTokenizer


@pytest.fixture(scope="module")
def tiny_model():
    torch.manual_seed(0)
    model = CausalVideoTokenizer(TINY).eval()
    # Residual branches start at zero; give them weights so every path is exercised.
    with torch.no_grad():
        for p in model.parameters():
            if p.abs().sum() == 0:
                p.normal_(0, 0.05)
    return model


@pytest.mark.parametrize("levels", [(8, 5, 5, 5), (5, 4, 3), (2, 7), (8, 8, 8, 5, 5, 5)])
def test_fsq_every_index_round_trips(levels):
    fsq = FSQ(levels)
    indices = torch.arange(fsq.codebook_size).view(1, -1)
    codes = fsq.indices_to_codes(indices)
    assert codes.shape == (1, len(levels), fsq.codebook_size)
    assert codes.min() >= -1 and codes.max() <= 1
    assert torch.equal(fsq.codes_to_indices(codes), indices)
    # Distinct indices give distinct code vectors.
    assert torch.unique(codes[0].T, dim=0).shape[0] == fsq.codebook_size


def test_fsq_quantize_hits_the_grid_and_passes_gradients():
    fsq = FSQ((8, 5, 5, 5))
    z = (torch.randn(2, 4, 3, 5, 6) * 3).requires_grad_()
    indices, codes = fsq(z)
    assert indices.shape == (2, 3, 5, 6) and indices.dtype == torch.int64
    assert int(indices.min()) >= 0 and int(indices.max()) < fsq.codebook_size
    assert torch.equal(fsq.indices_to_codes(indices), codes.detach())
    codes.sum().backward()
    assert z.grad is not None and z.grad.abs().sum() > 0


def test_haar_patchify_is_exactly_invertible():
    x = torch.randn(3, 3, 32, 48, dtype=torch.float64)
    y = patchify(x, 2)
    assert y.shape == (3, 48, 8, 12)
    assert torch.allclose(unpatchify(y, 2), x, atol=1e-12)
    # Orthonormal: energy is preserved.
    assert torch.allclose((y**2).sum(), (x**2).sum())


def test_shapes(tiny_model):
    x = torch.rand(2, 3, 17, 32, 48) * 2 - 1
    with torch.no_grad():
        indices, codes = tiny_model.encode(x)
        y = tiny_model.decode(indices)
    assert indices.shape == (2, 3, 2, 3)
    assert codes.shape == (2, 3, 3, 2, 3)
    assert y.shape == x.shape
    assert TINY.latent_frames(33) == 5 and TINY.latent_frames(1) == 1


@pytest.mark.parametrize("frame", [0, 1, 8, 9, 16])
def test_encoder_is_causal(tiny_model, frame):
    """Changing frame t never changes latent frames j with 8j < t; it does change latent ceil(t/8)."""
    torch.manual_seed(1)
    x = torch.rand(1, 3, 17, 32, 32) * 2 - 1
    x2 = x.clone()
    x2[:, :, frame] = torch.rand(3, 32, 32) * 2 - 1
    with torch.no_grad():
        a, b = tiny_model.encoder.latent(x), tiny_model.encoder.latent(x2)
        ia, _ = tiny_model.encoder(x)
        ib, _ = tiny_model.encoder(x2)
    first_affected = math.ceil(frame / 8)
    assert torch.equal(a[:, :, :first_affected], b[:, :, :first_affected])
    assert torch.equal(ia[:, :first_affected], ib[:, :first_affected])
    assert not torch.equal(a[:, :, first_affected], b[:, :, first_affected])


def test_decoder_is_causal(tiny_model):
    """Frames up to 8j - 8 do not depend on latent frame j."""
    x = torch.rand(1, 3, 25, 32, 32) * 2 - 1
    with torch.no_grad():
        indices, _ = tiny_model.encoder(x)
        changed = indices.clone()
        changed[:, 2] = (changed[:, 2] + 7) % TINY.codebook_size
        ya, yb = tiny_model.decoder(indices), tiny_model.decoder(changed)
    assert torch.equal(ya[:, :, :9], yb[:, :, :9])
    assert not torch.equal(ya[:, :, 9:17], yb[:, :, 9:17])


def test_bad_inputs_fail_clearly(tiny_model):
    with pytest.raises(ModelConfigError):
        tiny_model.encode(torch.zeros(1, 3, 16, 32, 32))
    with pytest.raises(ModelConfigError):
        tiny_model.encode(torch.zeros(1, 3, 17, 30, 32))
    with pytest.raises(ModelConfigError):
        TokenizerConfig(fsq_levels=(8, 1))
    with pytest.raises(ModelConfigError):
        TokenizerConfig.from_dict({**TINY.to_dict(), "fsq_level": [8]})
    with pytest.raises(TypeError):
        TokenizerConfig(fsq_level=(8,))  # a typo fails, not silently ignored


def test_checkpoints_hold_only_learned_weights(tiny_model):
    params = {name for name, _ in tiny_model.named_parameters()}
    assert set(tiny_model.state_dict()) == params


def test_config_dict_round_trip_and_rate():
    cfg = TokenizerConfig()
    assert TokenizerConfig.from_dict(cfg.to_dict()) == cfg
    # 17 frames of 640x272: 3 x 17 x 40 tokens of log2(1000) bits.
    expected = 3 * 17 * 40 * math.log2(cfg.codebook_size) / (17 * 272 * 640)
    assert cfg.raw_token_bpp(17, 272, 640) == pytest.approx(expected)


def test_encoder_and_decoder_trace_on_their_own(tiny_model):
    """Each half runs alone as a TorchScript graph (the form Cosmos ships its halves in)."""
    x = torch.rand(1, 3, 9, 32, 32) * 2 - 1
    enc = torch.jit.trace(tiny_model.encoder, x)
    indices, _ = enc(x)
    dec = torch.jit.trace(tiny_model.decoder, indices)
    assert torch.allclose(dec(indices), tiny_model.decoder(indices), atol=1e-5)


def test_reconstruct_clip_pads_last_gop_and_counts_tokens(tiny_model):
    rgb = moving_pattern(20, 32, 48).astype(np.float32) / 255.0
    rec = reconstruct_clip(tiny_model, rgb, gop_frames=9)
    assert rec.rgb.shape == rgb.shape
    # GoPs of 9, 9 and 2 frames (padded to 9): 3 x 2 latent frames of 2 x 3 tokens.
    assert rec.num_tokens == 3 * 2 * 2 * 3
    assert rec.raw_bpp() == pytest.approx(36 * math.log2(TINY.codebook_size) / (20 * 32 * 48))


def test_export_and_load_weights_file(tiny_model, tmp_path):
    path = tmp_path / "w.pt"
    digest = export_weights(tiny_model, "tiny-test", path)
    assert len(digest) == 64
    loaded = load_tokenizer_file(path)
    x = torch.rand(1, 3, 9, 32, 32) * 2 - 1
    with torch.no_grad():
        # float16 storage: outputs agree to fp16 precision.
        assert torch.allclose(loaded(x), tiny_model(x), atol=2e-2)


def test_registry_rejects_unknown_ids():
    with pytest.raises(ModelRegistryError):
        get_entry("tvc-does-not-exist")
    assert DEFAULT_MODEL_ID in REGISTRY


# Token-only reconstruction of the synthetic test pattern by the shipped weights, measured
# when the weights were exported (docs/models.md); a regression of more than 0.5 dB fails.
SHIPPED_PSNR_FLOOR_DB = 29.37  # tvc-s-v6's tokenizer (tvc-s-v3's: 25.22)


@pytest.mark.skipif(REGISTRY[DEFAULT_MODEL_ID].sha256 is None, reason="no trained weights shipped yet")
def test_shipped_weights_load_and_reconstruct():
    from tvc_ffmpeg.metrics import psnr_y, rgb_to_yuv420

    model = load_tokenizer(DEFAULT_MODEL_ID)
    rgb = moving_pattern(17, 64, 96).astype(np.float32) / 255.0
    torch.set_num_threads(2)
    rec = reconstruct_clip(model, rgb, gop_frames=17)
    score = psnr_y(rgb_to_yuv420(rgb), rgb_to_yuv420(rec.rgb))
    assert SHIPPED_PSNR_FLOOR_DB is not None
    assert score > SHIPPED_PSNR_FLOOR_DB - 0.5


@pytest.mark.slow
def test_encoder_and_decoder_export_with_dynamic_time_height_width(tiny_model):
    """torch.export (the front end of the dynamo ONNX exporter) handles each half on its own."""
    t = torch.export.Dim("latent_t", min=1, max=64)
    h = torch.export.Dim("latent_h", min=1, max=256)
    w = torch.export.Dim("latent_w", min=1, max=256)
    x = torch.rand(1, 3, 17, 32, 48) * 2 - 1
    enc = torch.export.export(tiny_model.encoder, (x,), dynamic_shapes={"x": {2: 8 * t + 1, 3: 16 * h, 4: 16 * w}})
    x2 = torch.rand(1, 3, 25, 48, 32) * 2 - 1
    indices, _ = enc.module()(x2)
    assert torch.equal(indices, tiny_model.encoder(x2)[0])
    dec = torch.export.export(tiny_model.decoder, (indices,), dynamic_shapes={"indices": {1: t + 1, 2: h, 3: w}})
    assert torch.allclose(dec.module()(indices), tiny_model.decoder(indices), atol=1e-5)


# ---------------------------------------------------------------- weights files (models/bundle.py)

def _zip_file(path):
    import zipfile

    with zipfile.ZipFile(path, "w") as z:
        z.writestr("readme.txt", "not a checkpoint")


@pytest.mark.parametrize("make, says", [
    (lambda p: p.write_bytes(np.random.default_rng(0).bytes(4096)), "torch cannot read it"),
    (lambda p: p.write_text("just some text\n" * 20), "torch cannot read it"),
    (lambda p: p.write_bytes(b"YUV4MPEG2 W4 H4 F25:1 C420\nFRAME\n" + bytes(24)), "torch cannot read it"),
    (_zip_file, "torch cannot read it"),
    (lambda p: torch.save([1, 2, 3], p), "holds a list"),
    (lambda p: torch.save({"optimizer": {}}, p), "no tokenizer weights"),
])
def test_a_file_that_is_not_weights_is_a_clear_error(tmp_path, make, says):
    """Defect: --weights given such a file ended in ``KeyError: 101`` or a torch traceback."""
    from tvc_ffmpeg.codec import CodecModel
    from tvc_ffmpeg.errors import InvalidArgumentError

    path = tmp_path / "weights.pt"
    make(path)
    with pytest.raises(InvalidArgumentError, match=f"{path}: not a tvc weights file .*{says}"):
        CodecModel.from_file(path)


def test_a_checkpoint_of_another_shape_is_a_clear_error(tmp_path):
    from tvc_ffmpeg.codec import CodecModel
    from tvc_ffmpeg.errors import InvalidArgumentError

    path = tmp_path / "w.pt"
    export_weights(CausalVideoTokenizer(TINY).eval(), "tiny", path)
    blob = torch.load(path, weights_only=True)
    blob["config"]["encoder_widths"] = [16, 16, 16, 16]  # the tensors no longer fit the config
    torch.save(blob, path)
    with pytest.raises(InvalidArgumentError, match=r"w\.pt: its tokenizer weights do not fit its config"):
        CodecModel.from_file(path)
    with pytest.raises(InvalidArgumentError, match="weights file not found"):
        CodecModel.from_file(tmp_path / "missing.pt")


def test_cli_weights_that_are_not_weights_exit_with_a_message(tmp_path, capsys):
    from tvc_ffmpeg.cli import main

    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"\x65" * 300)  # the byte that used to end in KeyError: 101
    rc = main(["encode", str(tmp_path / "in.y4m"), str(tmp_path / "out.tvc"), "--weights", str(bad)])
    assert rc != 0
    assert "not a tvc weights file" in capsys.readouterr().err


def test_shipped_weights_round_trip_byte_identical_through_the_bundle(tmp_path):
    """One reader and one writer: reading the shipped file and writing it again gives
    the same bytes, so the weights hash in every stream header stays valid."""
    from tvc_ffmpeg.models.bundle import write_bundle
    from tvc_ffmpeg.models.registry import REGISTRY, load_bundle

    assert REGISTRY[DEFAULT_MODEL_ID].components == ("tokenizer", "ccm", "continuous")
    for model_id, entry in REGISTRY.items():
        bundle = load_bundle(model_id)
        assert bundle.components == entry.components
        assert write_bundle(bundle, tmp_path / entry.weights_file) == entry.sha256


def test_a_shipped_file_with_a_wrong_hash_is_refused_before_unpickling(tmp_path, monkeypatch):
    from tvc_ffmpeg.models import bundle as bundle_mod
    from tvc_ffmpeg.models.bundle import read_bundle

    path = tmp_path / "w.pt"
    export_weights(CausalVideoTokenizer(TINY).eval(), "tiny", path)
    monkeypatch.setattr(bundle_mod, "_unpickle", lambda *a: pytest.fail("unpickled a file of the wrong hash"))
    with pytest.raises(ModelRegistryError, match="does not match the registry"):
        read_bundle(path, expected_sha256="0" * 64)


def test_fsq_index_digit_pair_numpy_and_torch():
    """The one home of the index <-> digit conversion, checked against FSQ's codes."""
    from tvc_ffmpeg.models.fsq import digits_to_indices, indices_to_digits

    levels = (8, 5, 5, 5)
    idx = np.arange(1000).reshape(10, 10, 10)
    digits = indices_to_digits(idx, levels)
    assert digits.shape == (10, 10, 10, 4) and digits.dtype == np.int64
    assert digits[0, 0, 9].tolist() == [1, 1, 0, 0]  # 9 = 1 + 1 * 8
    assert np.array_equal(digits_to_indices(digits, levels), idx)
    t_digits = indices_to_digits(torch.from_numpy(idx), levels)
    assert isinstance(t_digits, torch.Tensor) and np.array_equal(t_digits.numpy(), digits)
    assert torch.equal(digits_to_indices(t_digits, levels), torch.from_numpy(idx))
    codes = FSQ(levels).indices_to_codes(torch.from_numpy(idx)[None])  # (1, D, ...)
    half = np.array([4, 2, 2, 2])
    assert np.allclose(np.moveaxis(codes[0].numpy(), 0, -1), (digits - half) / half)


def test_valid_length_is_the_tokenizers_clip_length():
    from tvc_ffmpeg.models.gop import latent_frames, pad_to_valid_length, valid_length

    assert [valid_length(n, 8) for n in (1, 2, 9, 10, 33, 34)] == [1, 9, 9, 17, 33, 41]
    assert [latent_frames(n, 8) for n in (1, 2, 9, 33)] == [1, 2, 2, 5]
    padded = pad_to_valid_length(np.arange(11)[:, None], 8)
    assert padded[:, 0].tolist() == list(range(11)) + [10] * 6
