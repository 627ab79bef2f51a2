"""Discrete checkerboard context model: the float training mirror and its export.

The codec runs the context model as an integer network in the C++ core
(csrc/core/intnet.hpp, csrc/core/ccm.hpp), so CDFs are identical everywhere.
This module trains the same network in PyTorch with fake quantisation and
exports the integers:

- inputs are the integer context planes of ``CheckerboardCoder.context``
  (values in [-127, 127]), fed to the float net as ``planes / 127``;
- weights: symmetric int8 per output channel (scale = max|w| / 127);
- hidden activations: ReLU, then int8 in [0, 127] with a per-layer scale
  tracked as a running maximum during training;
- output: logits in nats, quantised to 1/16 nat (the coder's logit unit).

Each layer's rescale ``s_w * s_in / s_out`` becomes an integer multiplier and
shift (``M / 2^S``); biases become int32 in accumulator units.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import List, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelConfigError

LOGIT_SCALE = 16.0  # integer logit units per nat (entropy.LOGIT_FRAC_BITS = 4)
INPUT_SCALE = 1.0 / 127.0
_BLOB_MAGIC = b"TVCN"
_BLOB_VERSION = 1


def check_layer_shape(kernels, hidden: int) -> None:
    """The layer stack both context models share (fake_quant_layers): 1x1 or 3x3 kernels,
    1..512 hidden channels."""
    if not kernels or any(k not in (1, 3) for k in kernels):
        raise ModelConfigError(f"kernels must be 1 or 3, got {kernels}")
    if not 1 <= hidden <= 512:
        raise ModelConfigError(f"hidden channels must be 1..512, got {hidden}")


@dataclass(frozen=True)
class CcmConfig:
    """levels: the tokenizer's FSQ levels; hidden: channels of the hidden layers;
    kernels: kernel size per layer (the last is the logit layer)."""

    levels: Tuple[int, ...]
    hidden: int = 32
    kernels: Tuple[int, ...] = (3, 3, 1)

    def __post_init__(self) -> None:
        if not self.levels or any(l < 2 or l > 256 for l in self.levels):
            raise ModelConfigError(f"FSQ levels must be 2..256, got {self.levels}")
        check_layer_shape(self.kernels, self.hidden)

    @property
    def context_channels(self) -> int:
        return 2 * len(self.levels) + 2

    @property
    def logit_channels(self) -> int:
        return int(sum(self.levels))


def _round_ste(x: torch.Tensor) -> torch.Tensor:
    return x + (torch.round(x) - x).detach()


class _FakeQuantConv(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int, hidden: bool) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, padding=kernel // 2)
        self.hidden = hidden
        # Running maximum of the activation (hidden layers): sets the int8 scale.
        self.register_buffer("act_max", torch.tensor(1.0))

    def weight_scale(self) -> torch.Tensor:
        return self.conv.weight.detach().abs().amax(dim=(1, 2, 3)).clamp_min(1e-8) / 127.0

    def act_scale(self) -> float:
        return float(self.act_max) / 127.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.weight_scale().view(-1, 1, 1, 1)
        w = _round_ste(self.conv.weight / s).clamp(-127, 127) * s
        y = F.conv2d(x, w, self.conv.bias, padding=self.conv.padding)
        if not self.hidden:
            return _round_ste(y * LOGIT_SCALE) / LOGIT_SCALE
        y = F.relu(y)
        if self.training:
            with torch.no_grad():
                self.act_max.copy_(torch.maximum(self.act_max * 0.999, y.detach().amax()))
        sa = self.act_scale()
        return _round_ste(y / sa).clamp(0, 127) * sa


def fake_quant_layers(in_channels: int, hidden: int, out_channels: int, kernels) -> nn.ModuleList:
    """The integer net's layer stack in float with fake quantisation: ``len(kernels)`` convs
    (kernel sizes ``kernels``), ``hidden`` channels between them, ReLU-clamped hidden layers.
    Both context models (discrete here, continuous in continuous_ccm.py) are such a stack."""
    chans = [in_channels] + [hidden] * (len(kernels) - 1) + [out_channels]
    return nn.ModuleList(
        _FakeQuantConv(chans[i], chans[i + 1], k, hidden=i + 1 < len(kernels)) for i, k in enumerate(kernels)
    )


class CheckerboardContextModel(nn.Module):
    """Context planes (N, 2D+2, H, W), integer-valued -> logits in nats (N, sum(levels), H, W)."""

    def __init__(self, config: CcmConfig) -> None:
        super().__init__()
        self.config = config
        self.layers = fake_quant_layers(config.context_channels, config.hidden, config.logit_channels, config.kernels)

    def forward(self, planes: torch.Tensor) -> torch.Tensor:
        x = planes * INPUT_SCALE
        for layer in self.layers:
            x = layer(x)
        return x

    def bits(self, planes: torch.Tensor, digits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Code length in bits of ``digits`` (N, D, H, W) at positions where mask (N, H, W) is 1."""
        logits = self(planes)
        total = logits.new_zeros(())
        start = 0
        for d, n in enumerate(self.config.levels):
            logp = F.log_softmax(logits[:, start : start + n], dim=1)
            picked = logp.gather(1, digits[:, d : d + 1].long()).squeeze(1)
            total = total - (picked * mask).sum()
            start += n
        return total / math.log(2.0)

    # ------------------------------------------------------------ export
    def export_int(self) -> bytes:
        """The integer network blob that csrc/core/intnet.cpp runs (format: docs/ccm.md)."""
        out = [_BLOB_MAGIC, struct.pack("<HH", _BLOB_VERSION, len(self.layers))]
        s_in = INPUT_SCALE
        for layer in self.layers:
            conv = layer.conv
            cout, cin, k, _ = conv.weight.shape
            s_w = layer.weight_scale().double().numpy()
            w_int = np.clip(np.rint(conv.weight.detach().double().numpy() / s_w[:, None, None, None]), -127, 127)
            acc_scale = s_w * s_in  # real value of one accumulator unit, per output channel
            b_int = np.rint(conv.bias.detach().double().numpy() / acc_scale)
            b_int = np.clip(b_int, -(1 << 30), 1 << 30)
            if layer.hidden:
                s_out = layer.act_scale()
                real_mult = acc_scale / s_out
            else:
                s_out = 1.0 / LOGIT_SCALE
                real_mult = acc_scale * LOGIT_SCALE
            mult, shift = zip(*(quantize_multiplier(r) for r in real_mult))
            out.append(struct.pack("<HHBB", cin, cout, k, 1 if layer.hidden else 0))
            out.append(w_int.astype(np.int8).tobytes())
            out.append(b_int.astype("<i4").tobytes())
            out.append(np.array(mult, "<i4").tobytes())
            out.append(np.array(shift, np.uint8).tobytes())
            s_in = s_out
        return b"".join(out)


def quantize_multiplier(real: float) -> Tuple[int, int]:
    """real > 0 -> (M, S) with M / 2^S ~= real, M < 2^31, 1 <= S <= 62."""
    if not real > 0:
        return 0, 1
    shift = 30 - math.floor(math.log2(real))
    shift = max(1, min(62, shift))
    mult = int(round(real * (1 << shift)))
    while mult >= 1 << 31 and shift > 1:
        shift -= 1
        mult = int(round(real * (1 << shift)))
    return min(mult, (1 << 31) - 1), shift


def parse_int_blob(blob: bytes) -> List[dict]:
    """The layers of an integer network blob, as numpy arrays (for the reference forward)."""
    if blob[:4] != _BLOB_MAGIC:
        raise ValueError("not an integer network blob")
    version, count = struct.unpack_from("<HH", blob, 4)
    pos, layers = 8, []
    for _ in range(count):
        cin, cout, k, relu = struct.unpack_from("<HHBB", blob, pos)
        pos += 6
        nw = cout * cin * k * k
        w = np.frombuffer(blob, np.int8, nw, pos).reshape(cout, cin, k, k).astype(np.int64)
        pos += nw
        b = np.frombuffer(blob, "<i4", cout, pos).astype(np.int64)
        m = np.frombuffer(blob, "<i4", cout, pos + 4 * cout).astype(np.int64)
        s = np.frombuffer(blob, np.uint8, cout, pos + 8 * cout).astype(np.int64)
        pos += 9 * cout
        layers.append(dict(weight=w, bias=b, mult=m, shift=s, relu=bool(relu), kernel=k))
    return layers


def int_forward_reference(blob: bytes, planes: np.ndarray) -> np.ndarray:
    """numpy re-implementation of IntNet::run, used to test the C++ bit for bit."""
    x = planes.astype(np.int64)
    for L in parse_int_blob(blob):
        k, r = L["kernel"], L["kernel"] // 2
        c, h, w = x.shape
        padded = np.pad(x, ((0, 0), (r, r), (r, r)))
        acc = np.broadcast_to(L["bias"][:, None, None], (L["weight"].shape[0], h, w)).copy()
        for dy in range(k):
            for dx in range(k):
                acc += np.einsum("oi,ihw->ohw", L["weight"][:, :, dy, dx], padded[:, dy : dy + h, dx : dx + w])
        half = np.left_shift(1, L["shift"] - 1)[:, None, None]
        v = (acc * L["mult"][:, None, None] + half) >> L["shift"][:, None, None]
        x = np.clip(v, 0, 127) if L["relu"] else np.clip(v, -(1 << 20), 1 << 20)
    return x.astype(np.int32)
