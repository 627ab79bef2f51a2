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

CCM v2 (docs/ccm.md) adds two optional features: ``prev_frames = 2`` (the two
previous latent frames as context) and ``digit_heads`` (the net ends in a hidden
trunk and one 1x1 logit head per FSQ digit, fed the trunk's features and the
one-hot of the position's earlier digits). A v1 config (one previous frame, no
heads) exports the bare "TVCN" blob, byte for byte as before; anything else
exports the "TVCM" container.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InvalidArgumentError, InvalidDataError
from .config import ModelConfigError

LOGIT_SCALE = 16.0  # integer logit units per nat (entropy.LOGIT_FRAC_BITS = 4)
INPUT_SCALE = 1.0 / 127.0
ONE_HOT = 127  # integer value of a set one-hot entry in a digit head's input
_BLOB_MAGIC = b"TVCN"
_BLOB_VERSION = 1
_CONTAINER_MAGIC = b"TVCM"
_CONTAINER_VERSION = 2
_MAX_CHANNELS = 512  # per layer, as the C++ IntNet parser
_MAX_FAN_IN = 4096


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
    kernels: kernel size per trunk layer (without digit heads the last is the logit
    layer; with them every trunk layer is hidden and the 1x1 heads follow);
    prev_frames: previous latent frames in the context (1 or 2);
    digit_heads: one logit head per digit, conditioned on the earlier digits."""

    levels: Tuple[int, ...]
    hidden: int = 32
    kernels: Tuple[int, ...] = (3, 3, 1)
    prev_frames: int = 1
    digit_heads: bool = False

    def __post_init__(self) -> None:
        if not self.levels or any(l < 2 or l > 256 for l in self.levels):
            raise ModelConfigError(f"FSQ levels must be 2..256, got {self.levels}")
        check_layer_shape(self.kernels, self.hidden)
        if self.prev_frames not in (1, 2):
            raise ModelConfigError(f"prev_frames must be 1 or 2, got {self.prev_frames}")
        if not isinstance(self.digit_heads, bool):
            raise ModelConfigError(f"digit_heads must be True or False, got {self.digit_heads!r}")
        if self.context_channels > _MAX_CHANNELS or self.context_channels * self.kernels[0] ** 2 > _MAX_FAN_IN:
            raise ModelConfigError(f"{self.context_channels} context channels exceed the integer net's "
                                   f"limits ({_MAX_CHANNELS} channels, fan-in {_MAX_FAN_IN})")
        if self.digit_heads and self.head_inputs(len(self.levels) - 1) > _MAX_CHANNELS:
            raise ModelConfigError(f"the last digit head would take {self.head_inputs(len(self.levels) - 1)} "
                                   f"inputs (hidden + earlier levels), over {_MAX_CHANNELS}")

    @property
    def context_channels(self) -> int:
        # For each previous frame D digit planes and a flag, then D anchor planes and a flag.
        return (self.prev_frames + 1) * (len(self.levels) + 1)

    @property
    def is_v1(self) -> bool:
        """The original model (one previous frame, no heads): exported as a bare TVCN blob."""
        return self.prev_frames == 1 and not self.digit_heads

    def head_inputs(self, digit: int) -> int:
        """Input channels of digit head ``digit``: the trunk's features, then one-hots of the earlier digits."""
        return self.hidden + int(sum(self.levels[:digit]))

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


def fake_quant_layers(in_channels: int, hidden: int, out_channels: int, kernels,
                      last_hidden: bool = False) -> nn.ModuleList:
    """The integer net's layer stack in float with fake quantisation: ``len(kernels)`` convs
    (kernel sizes ``kernels``), ``hidden`` channels between them, ReLU-clamped hidden layers.
    Both context models (discrete here, continuous in continuous_ccm.py) are such a stack.
    The last layer is the logit layer unless ``last_hidden`` (a trunk that digit heads follow)."""
    chans = [in_channels] + [hidden] * (len(kernels) - 1) + [out_channels]
    return nn.ModuleList(
        _FakeQuantConv(chans[i], chans[i + 1], k, hidden=last_hidden or i + 1 < len(kernels))
        for i, k in enumerate(kernels)
    )


class CheckerboardContextModel(nn.Module):
    """Context planes (N, C, H, W), integer-valued (C = config.context_channels) -> logits in nats
    (N, sum(levels), H, W). With digit heads the logits of digit d depend on the position's digits
    0..d-1, so ``forward`` needs the true digits (teacher forcing: in training all are known, and the
    decoder has decoded them before it needs digit d's logits)."""

    def __init__(self, config: CcmConfig) -> None:
        super().__init__()
        self.config = config
        if config.digit_heads:
            self.layers = fake_quant_layers(config.context_channels, config.hidden, config.hidden, config.kernels,
                                            last_hidden=True)
            self.heads = nn.ModuleList(_FakeQuantConv(config.head_inputs(d), n, 1, hidden=False)
                                       for d, n in enumerate(config.levels))
        else:
            self.layers = fake_quant_layers(config.context_channels, config.hidden, config.logit_channels,
                                            config.kernels)

    def trunk(self, planes: torch.Tensor) -> torch.Tensor:
        x = planes * INPUT_SCALE
        for layer in self.layers:
            x = layer(x)
        return x

    def forward(self, planes: torch.Tensor, digits: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Logits (N, sum(levels), H, W); ``digits`` (N, D, H, W), the true digits, is needed with heads."""
        x = self.trunk(planes)
        if not self.config.digit_heads:
            return x
        if digits is None:
            raise InvalidArgumentError("a context model with digit heads needs the digits (teacher forcing)")
        # A set one-hot entry is the integer ONE_HOT in the head's input, which shares the trunk
        # features' int8 scale (act_max / 127): in float it is worth act_max.
        one = self.layers[-1].act_max.to(x.dtype)
        inputs, out = [x], []
        for d, (n, head) in enumerate(zip(self.config.levels, self.heads)):
            out.append(head(torch.cat(inputs, dim=1)))
            onehot = F.one_hot(digits[:, d].long(), n).permute(0, 3, 1, 2).to(x.dtype)
            inputs.append(onehot * one)
        return torch.cat(out, dim=1)

    def bits(self, planes: torch.Tensor, digits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Code length in bits of ``digits`` (N, D, H, W) at positions where mask (N, H, W) is 1."""
        logits = self(planes, digits)
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
        """The integer blob that csrc/core/ccm.cpp runs (formats: docs/ccm.md): a bare TVCN
        network for a v1 config, else the TVCM container (trunk and digit heads)."""
        trunk = int_net_blob(self.layers)
        if self.config.is_v1:
            return trunk
        out = [_CONTAINER_MAGIC, struct.pack("<HBB", _CONTAINER_VERSION, self.config.prev_frames,
                                             int(self.config.digit_heads)),
               struct.pack("<I", len(trunk)), trunk]
        if self.config.digit_heads:
            s_in = self.layers[-1].act_scale()  # the heads' input is the trunk's int8 output
            for head in self.heads:
                cout, cin = head.conv.weight.shape[:2]
                out.append(struct.pack("<HH", cin, cout))
                out.append(_int_layer_arrays(head, s_in)[0])
        return b"".join(out)


def _int_layer_arrays(layer: _FakeQuantConv, s_in: float) -> Tuple[bytes, float]:
    """One layer's integer weights, bias, multiplier and shift (in blob order), and its output scale."""
    conv = layer.conv
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
    data = b"".join([w_int.astype(np.int8).tobytes(), b_int.astype("<i4").tobytes(),
                     np.array(mult, "<i4").tobytes(), np.array(shift, np.uint8).tobytes()])
    return data, s_out


def int_net_blob(layers: Sequence[_FakeQuantConv]) -> bytes:
    """The TVCN integer network blob of a fake-quantised layer stack (its input: planes / 127)."""
    out = [_BLOB_MAGIC, struct.pack("<HH", _BLOB_VERSION, len(layers))]
    s_in = INPUT_SCALE
    for layer in layers:
        cout, cin, k, _ = layer.conv.weight.shape
        out.append(struct.pack("<HHBB", cin, cout, k, 1 if layer.hidden else 0))
        data, s_in = _int_layer_arrays(layer, s_in)
        out.append(data)
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


def _read(blob: bytes, fmt: str, pos: int, field: str) -> tuple:
    try:
        return struct.unpack_from(fmt, blob, pos)
    except struct.error:
        raise InvalidDataError(f"context model blob: {field} truncated at byte {pos}") from None


def _read_layer_arrays(blob: bytes, pos: int, cin: int, cout: int, k: int, field: str) -> Tuple[dict, int]:
    nw = cout * cin * k * k
    if pos + nw + 9 * cout > len(blob):
        raise InvalidDataError(f"context model blob: {field} truncated at byte {pos}")
    w = np.frombuffer(blob, np.int8, nw, pos).reshape(cout, cin, k, k).astype(np.int64)
    if (w == -128).any():
        raise InvalidDataError(f"context model blob: {field} has a weight of -128")
    pos += nw
    b = np.frombuffer(blob, "<i4", cout, pos).astype(np.int64)
    m = np.frombuffer(blob, "<i4", cout, pos + 4 * cout).astype(np.int64)
    s = np.frombuffer(blob, np.uint8, cout, pos + 8 * cout).astype(np.int64)
    return dict(weight=w, bias=b, mult=m, shift=s, kernel=k), pos + 9 * cout


def parse_int_blob(blob: bytes) -> List[dict]:
    """The layers of an integer network blob, as numpy arrays (for the reference forward)."""
    if blob[:4] != _BLOB_MAGIC:
        raise InvalidDataError("not an integer network blob (magic is not TVCN)")
    version, count = _read(blob, "<HH", 4, "header")
    pos, layers = 8, []
    for i in range(count):
        cin, cout, k, relu = _read(blob, "<HHBB", pos, f"layer {i} shape")
        layer, pos = _read_layer_arrays(blob, pos + 6, cin, cout, k, f"layer {i}")
        layer["relu"] = bool(relu)
        layers.append(layer)
    return layers


@dataclass(frozen=True)
class CcmBlob:
    """A parsed context-model blob: prev_frames, digit_heads, the trunk (a TVCN blob) and the
    digit heads' layers (numpy arrays, as parse_int_blob's; empty without heads)."""

    prev_frames: int
    digit_heads: bool
    trunk: bytes
    heads: Tuple[dict, ...]


def parse_ccm_blob(blob: bytes, levels: Sequence[int]) -> CcmBlob:
    """A v1 (bare TVCN) or v2 (TVCM container) blob, checked as far as the numpy reference needs:
    the C++ parser (csrc/core/ccm.cpp) is the one that checks every limit."""
    if blob[:4] == _BLOB_MAGIC:
        return CcmBlob(1, False, bytes(blob), ())
    if blob[:4] != _CONTAINER_MAGIC:
        raise InvalidDataError("context model blob: magic is neither TVCN nor TVCM")
    version, prev_frames, heads_flag, trunk_len = _read(blob, "<HBBI", 4, "header")
    if version != _CONTAINER_VERSION:
        raise InvalidDataError(f"context model blob: version {version} (expected {_CONTAINER_VERSION})")
    if prev_frames not in (1, 2):
        raise InvalidDataError(f"context model blob: prev_frames {prev_frames} (expected 1 or 2)")
    if heads_flag not in (0, 1):
        raise InvalidDataError(f"context model blob: digit_heads flag {heads_flag} (expected 0 or 1)")
    pos = 12
    if pos + trunk_len > len(blob):
        raise InvalidDataError("context model blob: trunk truncated")
    trunk = bytes(blob[pos : pos + trunk_len])
    pos += trunk_len
    heads = []
    if heads_flag:
        features = parse_int_blob(trunk)[-1]["weight"].shape[0]
        for d, n in enumerate(levels):
            cin, cout = _read(blob, "<HH", pos, f"digit head {d} shape")
            if cin != features + sum(levels[:d]) or cout != n:
                raise InvalidDataError(f"context model blob: digit head {d} is {cin}->{cout}, expected "
                                       f"{features + sum(levels[:d])}->{n} for levels {tuple(levels)}")
            layer, pos = _read_layer_arrays(blob, pos + 4, cin, cout, 1, f"digit head {d}")
            layer["relu"] = False
            heads.append(layer)
    if pos != len(blob):
        raise InvalidDataError(f"context model blob: {len(blob) - pos} trailing bytes")
    return CcmBlob(prev_frames, bool(heads_flag), trunk, tuple(heads))


def _int_layer_reference(layer: dict, x: np.ndarray) -> np.ndarray:
    """One IntNet layer on int64 planes (C, H, W): conv with zero padding, rescale, clamp."""
    k, r = layer["kernel"], layer["kernel"] // 2
    c, h, w = x.shape
    padded = np.pad(x, ((0, 0), (r, r), (r, r)))
    acc = np.broadcast_to(layer["bias"][:, None, None], (layer["weight"].shape[0], h, w)).copy()
    for dy in range(k):
        for dx in range(k):
            acc += np.einsum("oi,ihw->ohw", layer["weight"][:, :, dy, dx], padded[:, dy : dy + h, dx : dx + w])
    half = np.left_shift(1, layer["shift"] - 1)[:, None, None]
    v = (acc * layer["mult"][:, None, None] + half) >> layer["shift"][:, None, None]
    return np.clip(v, 0, 127) if layer["relu"] else np.clip(v, -(1 << 20), 1 << 20)


def int_forward_reference(blob: bytes, planes: np.ndarray) -> np.ndarray:
    """numpy re-implementation of IntNet::run, used to test the C++ bit for bit."""
    x = planes.astype(np.int64)
    for layer in parse_int_blob(blob):
        x = _int_layer_reference(layer, x)
    return x.astype(np.int32)


def ccm_logits_reference(blob: bytes, levels: Sequence[int], planes: np.ndarray, digits: np.ndarray) -> np.ndarray:
    """Integer logits (sum(levels), H, W) of a v1 or v2 blob at every position of one pass's planes
    (C, H, W): the trunk, then (with heads) head d fed the trunk's features and ONE_HOT at the index
    of each earlier digit in ``digits`` (H, W, D), the position's coded digits."""
    parsed = parse_ccm_blob(blob, levels)
    x = int_forward_reference(parsed.trunk, planes).astype(np.int64)
    if not parsed.digit_heads:
        return x.astype(np.int32)
    inputs, out = [x], []
    for d, (n, head) in enumerate(zip(levels, parsed.heads)):
        out.append(_int_layer_reference(head, np.concatenate(inputs)))
        inputs.append(np.moveaxis(np.eye(n, dtype=np.int64)[digits[..., d]], -1, 0) * ONE_HOT)
    return np.concatenate(out).astype(np.int32)
