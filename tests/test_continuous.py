"""The continuous stream's modules (models/continuous.py): shapes for every temporal factor,
the quantiser's rules, a fusion that starts exactly at the plain decoder and learns from
there with the tokenizer frozen, the rate term, and ONNX export of the fused decoder."""

import math

import pytest
import torch

from tvc_ffmpeg.errors import ModelConfigError
from tvc_ffmpeg.models.config import TokenizerConfig
from tvc_ffmpeg.models.continuous import (
    ContinuousConfig, ContinuousEncoder, ControlBranch, FusedDecoder, align_codes, dequantize, freeze,
    latent_bits, quantize, rate_distortion_loss)
from tvc_ffmpeg.models.continuous_ccm import ContinuousCcmConfig, ContinuousContextModel
from tvc_ffmpeg.models.tokenizer import CausalVideoTokenizer

TOK = TokenizerConfig(encoder_widths=(8, 8, 12, 12), encoder_blocks=(0, 1, 1, 1),
                      decoder_widths=(8, 10, 12, 16), decoder_blocks=(1, 1, 1, 1))
FRAMES, H, W = 17, 32, 48


def tokenizer() -> CausalVideoTokenizer:
    """A tiny tokenizer whose every weight is random (the zero-initialised ResBlock convs
    too), so each decoder stage changes its input and a misplaced residual would show."""
    torch.manual_seed(0)
    tok = CausalVideoTokenizer(TOK)
    with torch.no_grad():
        for p in tok.parameters():
            p.normal_(0.0, 0.2)
    return tok.eval()


def build(factor: int = 2, use_codes: bool = True):
    torch.manual_seed(1)
    config = ContinuousConfig(channels=3, temporal_factor=factor, encoder_width=8, branch_width=8,
                              use_codes=use_codes)
    tok = tokenizer()
    return config, tok, ContinuousEncoder(config, TOK), FusedDecoder(tok.decoder, ControlBranch(config, TOK))


def clip(seed: int = 2) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand((1, 3, FRAMES, H, W), generator=g) * 2 - 1


def random_indices(seed: int = 3) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, TOK.codebook_size, (1, TOK.latent_frames(FRAMES), H // 16, W // 16), generator=g)


@pytest.mark.parametrize("factor", [1, 2, 4, 8])
def test_shapes_for_every_temporal_factor(factor):
    config, tok, enc, fused = build(factor)
    x = clip()
    with torch.no_grad():
        indices, codes = tok.encode(x)
        latent = enc(x, tok.decoder(indices))
        assert latent.shape == (1, 3, 1 + (FRAMES - 1) // factor, H // 16, W // 16)
        assert config.latent_frames(FRAMES) == latent.shape[2]
        out = fused(indices, dequantize(quantize(latent, 0.5, "round"), 0.5))
    assert out.shape == x.shape


def test_codes_align_to_the_token_frame_holding_each_latent_frame():
    codes = torch.arange(3.0).reshape(1, 1, 3, 1, 1)  # token frames 0, 1 (frames 1-8), 2 (frames 9-16)
    assert align_codes(codes, 9, 2).flatten().tolist() == [0, 1, 1, 1, 1, 2, 2, 2, 2]
    assert align_codes(codes, 17, 1).flatten().tolist() == [0] + [1] * 8 + [2] * 8
    assert align_codes(codes, 3, 8).flatten().tolist() == [0, 1, 2]


def test_quantiser_rounds_half_up_to_int32_and_passes_gradients_straight_through():
    y = torch.tensor([0.25, 0.5, -0.5, 1.25, -1.3, 2.6])  # / 0.5 -> 0.5, 1, -1, 2.5, -2.6, 5.2
    q = quantize(y, 0.5, "round")
    assert q.dtype == torch.int32 and q.tolist() == [1, 1, -1, 3, -3, 5]
    assert torch.equal(dequantize(q, 0.5), torch.tensor([0.5, 0.5, -0.5, 1.5, -1.5, 2.5]))
    y = y.clone().requires_grad_(True)
    ste = quantize(y, 0.5, "ste")
    assert torch.equal(ste.detach(), q.float())
    ste.sum().backward()
    assert torch.equal(y.grad, torch.full_like(y, 2.0))  # d(y / step)/dy
    torch.manual_seed(0)
    noisy = quantize(torch.zeros(1000), 1.0, "noise")
    assert noisy.abs().max() <= 0.5 and noisy.std() > 0.2


@pytest.mark.parametrize("step, mode, fragment", [(0.0, "round", "step must be > 0"),
                                                  (-1.0, "ste", "step must be > 0"),
                                                  (1.0, "floor", "mode must be one of")])
def test_quantiser_refuses_bad_step_or_mode(step, mode, fragment):
    with pytest.raises(ModelConfigError, match=fragment):
        quantize(torch.zeros(2), step, mode)


def test_config_and_branch_refuse_what_they_cannot_build():
    with pytest.raises(ModelConfigError, match="temporal_factor must be 1, 2, 4 or 8"):
        ContinuousConfig(temporal_factor=3)
    with pytest.raises(ModelConfigError, match="channels must be 1..256"):
        ContinuousConfig(channels=0)
    with pytest.raises(ModelConfigError, match="1 \\+ 8k"):
        ContinuousConfig().latent_frames(12)
    _, _, _, fused = build()
    with pytest.raises(ModelConfigError, match="pass the FSQ codes"):
        fused.branch(torch.zeros(1, 3, 9, 2, 3))


@pytest.mark.parametrize("use_codes", [True, False])
def test_untrained_fusion_equals_the_plain_decoder_exactly(use_codes):
    _, tok, _, fused = build(use_codes=use_codes)
    indices = random_indices()
    g = torch.Generator().manual_seed(4)
    latent = torch.randn((1, 3, 9, H // 16, W // 16), generator=g) * 5
    with torch.no_grad():
        plain = tok.decoder(indices)
        out = fused(indices, latent)
        residuals = fused.branch(latent, tok.decoder.fsq.indices_to_codes(indices))
    assert len(residuals) == 4 and all(torch.equal(r, torch.zeros_like(r)) for r in residuals)
    assert torch.equal(out, plain)
    assert plain.abs().max() > 0.01  # the decoder does something, so equality means something


def test_one_step_trains_the_branch_and_leaves_the_tokenizer_frozen():
    config, tok, enc, fused = build()
    freeze(tok)
    ccm = ContinuousContextModel(ContinuousCcmConfig(config.channels, hidden=8))
    before = {k: v.clone() for k, v in tok.state_dict().items()}
    x = clip()
    with torch.no_grad():
        indices, _ = tok.encode(x)
        recon = tok.decoder(indices)
        plain = fused(indices, torch.zeros(1, 3, 9, H // 16, W // 16))
    trainable = [p for m in (enc, fused.branch, ccm) for p in m.parameters()]
    opt = torch.optim.Adam(trainable, lr=1e-2)
    values = quantize(enc(x, recon), 0.5, "ste")
    out = fused(indices, dequantize(values, 0.5))
    loss, d, r = rate_distortion_loss(x, out, latent_bits(ccm, values), lam=0.01)
    assert math.isfinite(loss.item()) and d.item() > 0 and r.item() > 0
    opt.zero_grad()
    loss.backward()
    opt.step()
    assert all(not p.requires_grad and p.grad is None for p in tok.parameters())
    assert all(torch.equal(before[k], v) for k, v in tok.state_dict().items())
    zero_weights = [head.zero.weight for head in fused.branch.heads]
    assert all(w.abs().max() > 0 for w in zero_weights)  # the zero connections learned
    with torch.no_grad():
        after = fused(indices, dequantize(quantize(enc(x, recon), 0.5, "round"), 0.5))
    assert not torch.equal(after, plain)
    assert enc.head.weight.grad is not None and enc.head.weight.grad.abs().max() > 0  # via the rate


def test_rate_is_finite_and_smaller_for_an_all_zero_latent():
    torch.manual_seed(5)
    ccm = ContinuousContextModel(ContinuousCcmConfig(3, context_planes=2, hidden=8)).eval()
    g = torch.Generator().manual_seed(6)
    busy = torch.randint(-6, 7, (1, 3, 5, 4, 6), generator=g).float()
    context = torch.randint(-127, 128, (1, 2, 5, 4, 6), generator=g).float()
    with torch.no_grad():
        r_busy = latent_bits(ccm, busy, context)
        r_zero = latent_bits(ccm, torch.zeros_like(busy), context)
    assert math.isfinite(r_busy.item()) and math.isfinite(r_zero.item())
    assert 0 <= r_zero.item() < r_busy.item()
    with pytest.raises(ModelConfigError, match="latent has 2 channels"):
        latent_bits(ccm, busy[:, :2])


def test_fused_decoder_exports_with_the_dynamo_exporter(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    _, _, _, fused = build()
    torch.manual_seed(7)
    with torch.no_grad():  # trained-looking zero connections, so the residual path is in the graph
        for head in fused.branch.heads:
            head.zero.weight.normal_(0.0, 0.1)
    indices = random_indices()
    latent = torch.randn(1, 3, 9, H // 16, W // 16)
    path = tmp_path / "fused.onnx"
    torch.onnx.export(fused.eval(), (indices, latent), str(path), dynamo=True,
                      input_names=["indices", "latent"], output_names=["video"])
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {"indices": indices.numpy(), "latent": latent.numpy()})
    with torch.no_grad():
        want = fused(indices, latent)
    assert got.shape == tuple(want.shape)
    assert float(abs(torch.from_numpy(got) - want).max()) < 1e-4
