"""Export the tokenizer's encoder and decoder halves as two ONNX graphs.

We use the dynamo exporter (``torch.onnx.export(..., dynamo=True)``) with symbolic time,
height and width: the legacy TorchScript exporter records the example's shapes in the
reshapes of the Haar transform and the depth-to-space upsampling. Time is declared as
``8k + 1`` and space as ``16m`` so that the exported graph keeps the tokenizer's size rules
as symbolic facts instead of guarding on the example's values.

The batch axis is fixed at 1 (a batch of one is what the codec runs; backends loop over N).
Only the token indices leave the encoder graph: the codes are a function of them, and an
int64 output is what the entropy stage consumes. The entropy coder stays outside both graphs.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Tuple

import torch
from torch import nn

from ..errors import BackendError
from ..models.tokenizer import CausalVideoTokenizer
from .cache import atomic_write, cache_root, model_digest

log = logging.getLogger(__name__)

# Graph I/O names: the ONNX Runtime and TensorRT backends bind by these.
ENCODER_INPUT, ENCODER_OUTPUT = "video", "indices"
DECODER_INPUT, DECODER_OUTPUT = "indices", "video"

# Opset 18 is read by ONNX Runtime >= 1.14 and TensorRT >= 8.6; nothing here needs newer ops.
OPSET = 18
# Bump when the graphs' interface or the export recipe changes, so caches are rebuilt.
EXPORT_FORMAT = 1

_MAX_LATENT_T, _MAX_LATENT_HW = 1024, 1024


@dataclass(frozen=True)
class OnnxFiles:
    encoder: Path
    decoder: Path
    digest: str  # model_digest() of the tokenizer they came from


class _EncoderIndices(nn.Module):
    """The encoder with only its int64 indices as output."""

    def __init__(self, tokenizer: CausalVideoTokenizer) -> None:
        super().__init__()
        self.encoder = tokenizer.encoder

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        return self.encoder(video)[0]


class _Decoder(nn.Module):
    def __init__(self, tokenizer: CausalVideoTokenizer) -> None:
        super().__init__()
        self.decoder = tokenizer.decoder

    def forward(self, indices: torch.Tensor) -> torch.Tensor:
        return self.decoder(indices)


def _check(path: Path) -> None:
    import onnx

    try:
        # A path (not a loaded proto) so that graphs with external data are checked too.
        onnx.checker.check_model(str(path), full_check=True)
    except Exception as exc:  # onnx raises several unrelated types
        raise BackendError(f"exported graph {path} fails onnx.checker: {exc}") from exc


def _annotate(src: Path, path: Path, role: str, tokenizer: CausalVideoTokenizer, digest: str) -> None:
    """Record what the graph is in its metadata, so a file found on disk explains itself;
    written to ``path`` by rename, so a reader never sees a half-written graph."""
    import onnx

    model = onnx.load(str(src))
    props = {
        "tvc.role": role,
        "tvc.model_digest": digest,
        "tvc.tokenizer_config": json.dumps(tokenizer.config.to_dict(), sort_keys=True),
        "tvc.export_format": str(EXPORT_FORMAT),
    }
    onnx.helper.set_model_props(model, {**{p.key: p.value for p in model.metadata_props}, **props})
    atomic_write(path, model.SerializeToString())


def _export(module: nn.Module, example: torch.Tensor, dynamic: dict, path: Path,
            input_name: str, output_name: str, role: str, tokenizer: CausalVideoTokenizer,
            digest: Optional[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.export")
    # The exporter and its optimizer log every rewrite at INFO, and warn about optional ops of
    # packages we do not use (torchvision): noise for a codec user, whose CLI logs at INFO.
    loggers = [logging.getLogger(n) for n in ("torch.onnx", "onnxscript", "onnx_ir")]
    old_levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(module.eval(), (example,), str(tmp), dynamo=True, opset_version=OPSET,
                              input_names=[input_name], output_names=[output_name],
                              dynamic_shapes=(dynamic,), optimize=True, verbose=False)
    except ImportError as exc:
        tmp.unlink(missing_ok=True)
        raise BackendError(f"ONNX export needs onnx and onnxscript: pip install onnx onnxscript ({exc})") from exc
    except Exception as exc:  # the exporter raises many types; all mean "no graph"
        tmp.unlink(missing_ok=True)
        raise BackendError(f"ONNX export of the {role} failed: {exc}") from exc
    finally:
        for lg, level in zip(loggers, old_levels):
            lg.setLevel(level)
    try:
        _annotate(tmp, path, role, tokenizer, digest or model_digest(tokenizer))
    finally:
        tmp.unlink(missing_ok=True)
    _check(path)


def export_encoder(tokenizer: CausalVideoTokenizer, path: os.PathLike, *,
                   example: Tuple[int, int, int] = (17, 64, 64), digest: Optional[str] = None) -> Path:
    """Write the encoder graph: video (1, 3, 8k+1, 16a, 16b) float32 -> indices (1, k+1, a, b) int64.

    ``example`` is (frames, height, width) of the trace input; any valid size runs afterwards.
    """
    from torch.export import Dim

    t, h, w = example
    k = Dim("k", min=0, max=_MAX_LATENT_T - 1)
    a = Dim("latent_h", min=1, max=_MAX_LATENT_HW)
    b = Dim("latent_w", min=1, max=_MAX_LATENT_HW)
    path = Path(path)
    x = torch.zeros(1, tokenizer.config.in_channels, t, h, w).uniform_(-1, 1, generator=torch.Generator().manual_seed(0))
    sf, tf = tokenizer.config.spatial_factor, tokenizer.config.temporal_factor
    _export(_EncoderIndices(tokenizer), x, {2: tf * k + 1, 3: sf * a, 4: sf * b}, path,
            ENCODER_INPUT, ENCODER_OUTPUT, "encoder", tokenizer, digest)
    return path


def export_decoder(tokenizer: CausalVideoTokenizer, path: os.PathLike, *,
                   example: Tuple[int, int, int] = (3, 4, 4), digest: Optional[str] = None) -> Path:
    """Write the decoder graph: indices (1, k+1, a, b) int64 -> video (1, 3, 8k+1, 16a, 16b) float32.

    ``example`` is (latent frames, latent height, latent width) of the trace input.
    """
    from torch.export import Dim

    t, h, w = example
    lt = Dim("latent_t", min=1, max=_MAX_LATENT_T)
    a = Dim("latent_h", min=1, max=_MAX_LATENT_HW)
    b = Dim("latent_w", min=1, max=_MAX_LATENT_HW)
    path = Path(path)
    g = torch.Generator().manual_seed(0)
    idx = torch.randint(0, tokenizer.config.codebook_size, (1, t, h, w), generator=g)
    _export(_Decoder(tokenizer), idx, {1: lt, 2: a, 3: b}, path, DECODER_INPUT, DECODER_OUTPUT,
            "decoder", tokenizer, digest)
    return path


def export_onnx(tokenizer: CausalVideoTokenizer, out_dir: os.PathLike) -> OnnxFiles:
    """Both halves into ``out_dir`` as encoder.onnx and decoder.onnx."""
    out = Path(out_dir)
    digest = model_digest(tokenizer)
    return OnnxFiles(export_encoder(tokenizer, out / "encoder.onnx", digest=digest),
                     export_decoder(tokenizer, out / "decoder.onnx", digest=digest), digest)


def cached_onnx(tokenizer: CausalVideoTokenizer, cache_dir: Optional[os.PathLike] = None) -> OnnxFiles:
    """The two graphs for this tokenizer from the cache, exported on first use.

    Layout: ``<cache>/onnx/<model digest[:32]>-f<EXPORT_FORMAT>/{encoder,decoder}.onnx``.
    """
    digest = model_digest(tokenizer)
    d = cache_root(cache_dir) / "onnx" / f"{digest[:32]}-f{EXPORT_FORMAT}"
    enc, dec = d / "encoder.onnx", d / "decoder.onnx"
    if not enc.exists():
        log.info("exporting the tokenizer encoder to %s (once per model)", enc)
        export_encoder(tokenizer, enc, digest=digest)
    if not dec.exists():
        log.info("exporting the tokenizer decoder to %s (once per model)", dec)
        export_decoder(tokenizer, dec, digest=digest)
    return OnnxFiles(enc, dec, digest)
