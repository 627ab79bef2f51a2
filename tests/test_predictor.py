"""The token predictor: shapes, attention only to kept tokens, learning, filling."""

import numpy as np
import pytest
import torch

from tvc_ffmpeg import _native
from tvc_ffmpeg.models.config import ModelConfigError
from tvc_ffmpeg.models.predictor import PredictorConfig, TokenPredictor

LEVELS = (8, 5, 5, 5)


def small():
    torch.manual_seed(0)
    return TokenPredictor(PredictorConfig(LEVELS, width=32, depth=2, heads=2))


def test_fill_keeps_known_tokens_and_fills_holes():
    m = small()
    g = torch.randint(0, 1000, (2, 3, 4, 6))
    keep = torch.from_numpy(_native.mask_keep(2, 3, 4, 6))
    holes = torch.where(keep, g, torch.full_like(g, -1))
    for steps in (1, 3):
        out = m.fill(holes, steps=steps)
        assert (out >= 0).all() and (out < 1000).all()
        assert torch.equal(out[:, keep], g[:, keep])


def test_predictions_depend_on_kept_neighbours():
    m = small().eval()
    g = torch.randint(0, 1000, (1, 2, 4, 4))
    a = g.clone()
    a[0, 1, 1, 1] = -1
    b = a.clone()
    b[0, 1, 1, 2] = (b[0, 1, 1, 2] + 1) % 1000  # change one kept neighbour
    with torch.no_grad():
        la = m.logits(a)[0][0, 4 * 4 + 1 * 4 + 1]
        lb = m.logits(b)[0][0, 4 * 4 + 1 * 4 + 1]
    assert not torch.allclose(la, lb)


def test_learns_a_copy_rule_beyond_chance():
    """Later latent frames copy the first: the predictor must learn to copy."""
    m = small()
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    rng = np.random.default_rng(0)
    keep = torch.from_numpy(_native.mask_keep(3, 2, 4, 4))
    for _ in range(150):
        first = torch.from_numpy(rng.integers(0, 1000, (8, 1, 4, 4)))
        g = first.repeat(1, 2, 1, 1)
        holes = torch.where(keep, g, torch.full_like(g, -1))
        loss = m.loss(holes, g)
        opt.zero_grad()
        loss.backward()
        opt.step()
    first = torch.from_numpy(rng.integers(0, 1000, (16, 1, 4, 4)))
    g = first.repeat(1, 2, 1, 1)
    out = m.eval().fill(torch.where(keep, g, torch.full_like(g, -1)))
    acc = (out[:, ~keep] == g[:, ~keep]).float().mean().item()
    assert acc > 0.5  # chance is 1/1000


def test_refuses_grids_beyond_its_positions():
    m = small()
    with pytest.raises(ModelConfigError):
        m.logits(torch.zeros(1, 17, 2, 2, dtype=torch.long))
