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
SHIPPED_PSNR_FLOOR_DB = 25.22  # printed by tools/export_tokenizer.py for tvc-s-v3


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
