"""The Cosmos adapter, against small TorchScript modules with Cosmos' interface built here."""

import numpy as np
import pytest
import torch
from torch import nn

from tokenizer_helpers import moving_pattern
from tvc_ffmpeg.models.cosmos import COSMOS_DV_FSQ_LEVELS, CosmosCheckpointError, CosmosTokenizer
from tvc_ffmpeg.models.fsq import FSQ
from tvc_ffmpeg.models.gop import reconstruct_clip


class FakeCosmosEncoder(nn.Module):
    """(N, 3, 1 + 8k, H, W) -> (indices (N, 1 + k, H/16, W/16), codes (N, 6, 1 + k, H/16, W/16))."""

    def __init__(self) -> None:
        super().__init__()
        self.fsq = FSQ(COSMOS_DV_FSQ_LEVELS)
        self.proj = nn.Conv3d(3, 6, 1)

    def forward(self, x: torch.Tensor):
        keyframes = x[:, :, ::8]  # frames 0, 8, 16, ...: causal, one per latent frame
        pooled = nn.functional.avg_pool3d(keyframes, (1, 16, 16))
        return self.fsq(self.proj(pooled) * 3.0)


class FakeCosmosDecoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fsq = FSQ(COSMOS_DV_FSQ_LEVELS)
        self.proj = nn.Conv3d(6, 3, 1)

    def forward(self, indices: torch.Tensor) -> torch.Tensor:
        codes = self.fsq.indices_to_codes(indices)
        frames = torch.tanh(self.proj(codes))
        up = frames.repeat_interleave(8, dim=2)[:, :, 7:]  # 1 + k latent -> 1 + 8k frames
        return up.repeat_interleave(16, dim=3).repeat_interleave(16, dim=4)


@pytest.fixture(scope="module")
def cosmos_dir(tmp_path_factory):
    torch.manual_seed(0)
    d = tmp_path_factory.mktemp("cosmos")
    x = torch.rand(1, 3, 17, 32, 48) * 2 - 1
    enc = FakeCosmosEncoder().eval()
    with torch.no_grad():
        indices, _ = enc(x)
        torch.jit.trace(enc, x).save(str(d / "encoder.jit"))
        torch.jit.trace(FakeCosmosDecoder().eval(), indices).save(str(d / "decoder.jit"))
    return d


def test_adapter_encode_decode_shapes(cosmos_dir):
    tok = CosmosTokenizer.from_directory(cosmos_dir)
    assert tok.codebook_size == 64000 and tok.temporal_factor == 8 and tok.spatial_factor == 16
    x = torch.rand(2, 3, 25, 32, 64) * 2 - 1
    indices, codes = tok.encode(x)
    assert indices.shape == (2, 4, 2, 4) and indices.dtype == torch.int64
    assert codes.shape == (2, 6, 4, 2, 4)
    assert tok.decode(indices).shape == x.shape


def test_adapter_runs_through_the_gop_pipeline(cosmos_dir):
    tok = CosmosTokenizer.from_directory(cosmos_dir)
    rgb = moving_pattern(20, 32, 48).astype(np.float32) / 255.0
    rec = reconstruct_clip(tok, rgb, gop_frames=17)
    assert rec.rgb.shape == rgb.shape
    assert rec.num_tokens == (3 + 2) * 2 * 3  # GoP of 17 -> 3 latents; last 3 frames, padded to 9 -> 2
    assert rec.bits_per_token == pytest.approx(np.log2(64000))


def test_adapter_rejects_bad_input_and_missing_files(cosmos_dir, tmp_path):
    tok = CosmosTokenizer.from_directory(cosmos_dir)
    with pytest.raises(CosmosCheckpointError):
        tok.encode(torch.zeros(1, 3, 16, 32, 32))
    with pytest.raises(CosmosCheckpointError):
        tok.encode(torch.zeros(1, 3, 17, 24, 32))
    with pytest.raises(CosmosCheckpointError):
        tok.decode(torch.full((1, 1, 2, 2), 64000))
    with pytest.raises(CosmosCheckpointError):
        CosmosTokenizer.from_directory(tmp_path)


def test_adapter_rejects_a_module_with_the_wrong_interface(cosmos_dir, tmp_path):
    class OneOutput(nn.Module):
        def forward(self, x):
            return x[:, :1, ::8, ::16, ::16]

    x = torch.zeros(1, 3, 9, 32, 32)
    torch.jit.trace(OneOutput(), x).save(str(tmp_path / "encoder.jit"))
    (tmp_path / "decoder.jit").write_bytes((cosmos_dir / "decoder.jit").read_bytes())
    tok = CosmosTokenizer.from_directory(tmp_path)
    with pytest.raises(CosmosCheckpointError):
        tok.encode(x)
