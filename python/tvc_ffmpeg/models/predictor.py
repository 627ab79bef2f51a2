"""Spatio-temporal token predictor: fills the tokens a mask pattern dropped.

A transformer over the GoP's token grid (latent frame x row x column). Kept
tokens enter as the sum of their FSQ-digit embeddings, dropped ones as a
learned [MASK] vector plus the embedding of their *copy hint*: the latest kept
token at the same position in an earlier latent frame (what the copy-previous
rule would output). The network starts from that guess and learns where to
change it, instead of rediscovering it. Learned frame/row/column embeddings
give positions.
Attention is restricted so that every position reads only kept tokens (and
itself): no prediction ever conditions on another prediction within a step.
With ``steps > 1`` the most confident predictions of a step are accepted as
known for the next (parallel iterative decoding), otherwise one step fills all.

Output: logits per FSQ digit. The predictor runs only at the decoder, after
parsing; what it produces goes to the pixel decoder, never into the entropy
coder, so float differences between machines change pixels slightly but
never desynchronise a stream.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import List, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelConfigError
from .fsq import digits_to_indices, indices_to_digits


@dataclass(frozen=True)
class PredictorConfig:
    levels: Tuple[int, ...]
    width: int = 128
    depth: int = 4
    heads: int = 4
    max_frames: int = 16
    max_side: int = 128  # latent rows/columns: 2048 pixels at 16x

    def __post_init__(self) -> None:
        if self.width % self.heads:
            raise ModelConfigError("predictor width must be a multiple of heads")
        if not self.levels:
            raise ModelConfigError("predictor needs FSQ levels")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "PredictorConfig":
        d = dict(d)
        d["levels"] = tuple(d["levels"])
        return cls(**d)


def copy_hint(grid: torch.Tensor) -> torch.Tensor:
    """(N, T, H, W) with -1 at unknown positions -> the same grid with each unknown
    position set to the latest known token at that position in an earlier latent
    frame (-1 where there is none): the copy-previous guess."""
    frames = list(grid.unbind(1))
    for t in range(1, len(frames)):
        frames[t] = torch.where(frames[t] >= 0, frames[t], frames[t - 1])
    return torch.stack(frames, 1)


class _Block(nn.Module):
    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.norm2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor) -> torch.Tensor:
        h = self.norm1(x)
        x = x + self.attn(h, h, h, attn_mask=attn_mask, need_weights=False)[0]
        return x + self.mlp(self.norm2(x))


class TokenPredictor(nn.Module):
    def __init__(self, config: PredictorConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.digit_embed = nn.ModuleList(nn.Embedding(n, c.width) for n in c.levels)
        self.mask_embed = nn.Parameter(torch.zeros(c.width))
        self.frame_embed = nn.Embedding(c.max_frames, c.width)
        self.row_embed = nn.Embedding(c.max_side, c.width)
        self.col_embed = nn.Embedding(c.max_side, c.width)
        self.blocks = nn.ModuleList(_Block(c.width, c.heads) for _ in range(c.depth))
        self.norm = nn.LayerNorm(c.width)
        self.heads = nn.ModuleList(nn.Linear(c.width, n) for n in c.levels)

    def _check(self, grid: torch.Tensor) -> None:
        if grid.ndim != 4:
            raise ModelConfigError(f"token grids are (N, T, H, W), got {tuple(grid.shape)}")
        _, t, h, w = grid.shape
        if t > self.config.max_frames or h > self.config.max_side or w > self.config.max_side:
            raise ModelConfigError(f"token grid {t}x{h}x{w} exceeds the predictor's positions")

    def _embed(self, tokens: torch.Tensor) -> torch.Tensor:
        digits = indices_to_digits(tokens.clamp_min(0), self.config.levels)
        return sum(emb(digits[..., d]) for d, emb in enumerate(self.digit_embed))

    def logits(self, grid: torch.Tensor) -> List[torch.Tensor]:
        """grid (N, T, H, W) int64 with -1 at unknown positions -> per-digit logits (N, T*H*W, L_d)."""
        self._check(grid)
        n, t, h, w = grid.shape
        flat = grid.reshape(n, -1)
        known = flat >= 0
        x = self._embed(flat)
        hint = copy_hint(grid).reshape(n, -1)
        hinted = self.mask_embed + torch.where((hint >= 0).unsqueeze(-1), self._embed(hint), 0.0)
        x = torch.where(known.unsqueeze(-1), x, hinted)
        ft = torch.arange(t).view(t, 1, 1).expand(t, h, w).reshape(-1)
        fy = torch.arange(h).view(1, h, 1).expand(t, h, w).reshape(-1)
        fx = torch.arange(w).view(1, 1, w).expand(t, h, w).reshape(-1)
        x = x + self.frame_embed(ft) + self.row_embed(fy) + self.col_embed(fx)
        # Each query attends to known keys and to itself (True = blocked).
        eye = torch.eye(flat.shape[1], dtype=torch.bool)
        blocked = ~(known.unsqueeze(1) | eye)
        attn_mask = blocked.repeat_interleave(self.config.heads, dim=0)
        for block in self.blocks:
            x = block(x, attn_mask)
        x = self.norm(x)
        return [head(x) for head in self.heads]

    def loss(self, grid: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy (nats per digit) of the true tokens at the unknown positions."""
        logits = self.logits(grid)
        hole = (grid.reshape(grid.shape[0], -1) < 0)
        t = target.reshape(target.shape[0], -1)
        digits = indices_to_digits(t, self.config.levels)
        losses = [F.cross_entropy(lg[hole], digits[..., d][hole]) for d, lg in enumerate(logits)]
        return sum(losses) / len(losses)

    @torch.no_grad()
    def fill(self, grid: torch.Tensor, steps: int = 1) -> torch.Tensor:
        """Complete a grid: predicts every -1 position (argmax per digit)."""
        out = grid.clone()
        n = out.shape[0]
        for step in range(steps):
            holes = (out.reshape(n, -1) < 0)
            if not holes.any():
                break
            logits = self.logits(out)
            probs = [F.softmax(lg, -1) for lg in logits]
            pred = digits_to_indices(torch.stack([p.argmax(-1) for p in probs], -1), self.config.levels)
            conf = torch.stack([p.amax(-1) for p in probs]).prod(0)
            flat = out.reshape(n, -1)
            if step == steps - 1:
                accept = holes
            else:
                # Accept the most confident share of the remaining holes.
                share = 1.0 / (steps - step)
                k = (holes.sum(1).float() * share).ceil().long()
                conf = conf.masked_fill(~holes, -1.0)
                order = conf.argsort(dim=1, descending=True)
                rank = torch.empty_like(order)
                rank.scatter_(1, order, torch.arange(order.shape[1]).expand_as(order))
                accept = holes & (rank < k.unsqueeze(1))
            flat[accept] = pred[accept]
            out = flat.reshape(out.shape)
        return out
