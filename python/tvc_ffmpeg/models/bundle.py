"""A model's weights file: the one reader and the one writer.

A weights file (shipped, or written by ``tvc train ... --bundle``) is a torch
pickle of a dict holding, besides ``model_id``, one entry per component:

=============  ======================================  =========================
component      entry                                   needed
=============  ======================================  =========================
tokenizer      ``config`` + ``state_dict`` (float16)   always
ccm            ``ccm``: the integer CCM blob (uint8)   for context-model coding
predictor      ``predictor``: ``{config, state_dict}``  to fill dropped tokens
continuous     ``continuous``: see below                for the continuous stream
=============  ======================================  =========================

The ``continuous`` entry is a dict: ``config`` (models/continuous.ContinuousConfig),
``ccm_config`` (ContinuousCcmConfig), ``encoder`` and ``branch`` (float16 state dicts of
ContinuousEncoder and ControlBranch), ``ccm`` (the integer continuous CCM blob, uint8, what
the C++ coder runs) and ``ccm_state`` (its float16 training mirror, so training can resume
from a shipped file).

:func:`read_bundle` also takes a training run's ``best.pt`` (``model`` +
``config``) and ``checkpoint.pt`` (``model``; the config is the run's
``config.json``). It reads the file once, checks its sha256 before unpickling
when the caller knows the expected one, unpickles it once (``weights_only``),
and turns every way a file can fail to be a weights file into an
InvalidArgumentError that names the file and what it is not.

The stream header carries the sha256 of the file, so the writer must not change a
byte of a file it did not mean to change: :func:`write_bundle` stores the
entries in the order the shipped files have.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Optional, Tuple

import numpy as np
import torch

from ..errors import InvalidArgumentError, ModelRegistryError
from .config import TokenizerConfig
from .predictor import PredictorConfig, TokenPredictor
from .tokenizer import CausalVideoTokenizer

COMPONENTS = ("tokenizer", "ccm", "predictor", "continuous")

# Model id of weights that do not name one (a training run's best.pt or checkpoint.pt).
DEV_MODEL_ID = "tvc-dev"


@dataclass(frozen=True)
class ContinuousBundle:
    """The continuous stream's parts of a weights file (tensors as stored: float16)."""

    config: dict  # ContinuousConfig.to_dict()
    ccm_config: dict  # ContinuousCcmConfig fields
    encoder_state: Dict[str, torch.Tensor] = field(repr=False)
    branch_state: Dict[str, torch.Tensor] = field(repr=False)
    ccm_blob: bytes = field(repr=False)
    ccm_state: Dict[str, torch.Tensor] = field(repr=False)

    def to_entry(self) -> dict:
        return {"config": dict(self.config), "ccm_config": dict(self.ccm_config),
                "encoder": self.encoder_state, "branch": self.branch_state,
                "ccm": torch.from_numpy(np.frombuffer(self.ccm_blob, np.uint8).copy()),
                "ccm_state": self.ccm_state}

    def modules(self, tokenizer_config: TokenizerConfig, source: str = ""):
        """(ContinuousEncoder, ControlBranch, ContinuousContextModel) in eval mode, float32."""
        from .continuous import ContinuousConfig, ContinuousEncoder, ControlBranch
        from .continuous_ccm import ContinuousCcmConfig, ContinuousContextModel

        try:
            config = ContinuousConfig.from_dict(self.config)
            ccm_fields = dict(self.ccm_config)
            ccm_fields["kernels"] = tuple(ccm_fields.get("kernels", (3, 3, 1)))
            ccm_config = ContinuousCcmConfig(**ccm_fields)
        except (InvalidArgumentError, TypeError) as exc:
            raise ModelRegistryError(f"{source}: its continuous config is not valid: {exc}") from None
        encoder = ContinuousEncoder(config, tokenizer_config)
        branch = ControlBranch(config, tokenizer_config)
        ccm = ContinuousContextModel(ccm_config)
        for module, state, what in ((encoder, self.encoder_state, "continuous encoder"),
                                    (branch, self.branch_state, "control branch"),
                                    (ccm, self.ccm_state, "continuous CCM")):
            _load_state(module, state, source, what)
        return encoder.eval(), branch.eval(), ccm.eval()


def _continuous_entry(path: Path, entry: object) -> ContinuousBundle:
    keys = ("config", "ccm_config", "encoder", "branch", "ccm", "ccm_state")
    if not isinstance(entry, dict) or any(k not in entry for k in keys):
        raise _not_weights(path, f"its 'continuous' entry lacks one of {', '.join(keys)}")
    if not isinstance(entry["config"], dict) or not isinstance(entry["ccm_config"], dict):
        raise _not_weights(path, "its continuous configs are not dicts")
    if not isinstance(entry["ccm"], torch.Tensor) or entry["ccm"].dtype != torch.uint8:
        raise _not_weights(path, "its continuous 'ccm' entry is not a byte tensor")
    return ContinuousBundle(entry["config"], entry["ccm_config"],
                            _state_dict(path, entry["encoder"], "continuous encoder"),
                            _state_dict(path, entry["branch"], "continuous branch"),
                            bytes(entry["ccm"].numpy().tobytes()),
                            _state_dict(path, entry["ccm_state"], "continuous ccm_state"))


@dataclass(frozen=True)
class ModelBundle:
    """Everything one weights file holds, as read (tensors as stored: float16)."""

    model_id: str
    tokenizer_config: TokenizerConfig
    tokenizer_state: Dict[str, torch.Tensor] = field(repr=False)
    ccm_blob: Optional[bytes] = field(default=None, repr=False)
    predictor_config: Optional[PredictorConfig] = None
    predictor_state: Optional[Dict[str, torch.Tensor]] = field(default=None, repr=False)
    sha256: str = ""  # hex sha256 of the file it came from ("" when built in memory)
    source: str = ""  # the path it came from, for error messages
    form: str = "shipped"  # or "run-best" / "run-checkpoint": a training run's file
    continuous: Optional[ContinuousBundle] = None

    @property
    def components(self) -> Tuple[str, ...]:
        """The components this bundle carries (a subset of COMPONENTS, in that order)."""
        present = {"tokenizer": True, "ccm": self.ccm_blob is not None,
                   "predictor": self.predictor_state is not None, "continuous": self.continuous is not None}
        return tuple(name for name in COMPONENTS if present[name])

    def tokenizer(self) -> CausalVideoTokenizer:
        """The tokenizer in eval mode, weights widened to float32."""
        model = CausalVideoTokenizer(self.tokenizer_config)
        _load_state(model, self.tokenizer_state, self.source, "tokenizer")
        return model.eval()

    def predictor(self) -> Optional[TokenPredictor]:
        """The token predictor in eval mode, or None when the bundle has none."""
        if self.predictor_config is None or self.predictor_state is None:
            return None
        model = TokenPredictor(self.predictor_config)
        _load_state(model, self.predictor_state, self.source, "predictor")
        return model.eval()


def _not_weights(path: Path, why: str) -> InvalidArgumentError:
    return ModelRegistryError(f"{path}: not a tvc weights file ({why})")


def _load_state(module: torch.nn.Module, state: Dict[str, torch.Tensor], source: str, what: str) -> None:
    try:
        module.load_state_dict({k: v.float() for k, v in state.items()})
    except (RuntimeError, AttributeError, TypeError) as exc:
        # load_state_dict lists every missing key and shape mismatch; the first line says enough.
        first = str(exc).strip().splitlines()
        detail = " ".join(line.strip() for line in first[:3])[:300]
        raise ModelRegistryError(f"{source}: its {what} weights do not fit its config ({detail})") from None


def _unpickle(path: Path, data: bytes) -> dict:
    try:
        blob = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many types for a foreign file
        kind = type(exc).__name__
        raise _not_weights(path, f"torch cannot read it as a checkpoint: {kind}: {str(exc)[:120]}") from None
    if not isinstance(blob, dict):
        raise _not_weights(path, f"it holds a {type(blob).__name__}, not a dict of weights")
    return blob


def _state_dict(path: Path, value: object, key: str) -> Dict[str, torch.Tensor]:
    if not isinstance(value, dict) or not all(isinstance(v, torch.Tensor) for v in value.values()):
        raise _not_weights(path, f"its {key!r} entry is not a dict of tensors")
    return value


def _tokenizer_config(path: Path, value: object) -> TokenizerConfig:
    if not isinstance(value, dict):
        raise _not_weights(path, "its 'config' entry is not a dict")
    try:
        return TokenizerConfig.from_dict(value)
    except (InvalidArgumentError, TypeError) as exc:
        raise _not_weights(path, f"its tokenizer config is not valid: {exc}") from None


def read_bundle(path: os.PathLike, expected_sha256: Optional[str] = None) -> ModelBundle:
    """Read a weights file (or a run's best.pt/checkpoint.pt) once. With
    ``expected_sha256`` the file's hash is checked before anything is unpickled."""
    p = Path(path)
    if not p.is_file():
        raise ModelRegistryError(f"weights file not found: {p}" if not p.exists() else f"{p}: not a file")
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ModelRegistryError(f"{p}: cannot read: {exc.strerror or exc}") from None
    digest = hashlib.sha256(data).hexdigest()
    if expected_sha256 is not None and digest != expected_sha256:
        raise ModelRegistryError(f"{p}: sha256 {digest} does not match the registry ({expected_sha256})")
    blob = _unpickle(p, data)
    model_id = blob.get("model_id", DEV_MODEL_ID)
    if not isinstance(model_id, str):
        raise _not_weights(p, "its 'model_id' entry is not a string")
    form = "shipped"
    if "state_dict" in blob and "config" in blob:
        config, state = _tokenizer_config(p, blob["config"]), _state_dict(p, blob["state_dict"], "state_dict")
    elif "model" in blob and "config" in blob:
        form = "run-best"
        config, state = _tokenizer_config(p, blob["config"]), _state_dict(p, blob["model"], "model")
    elif "model" in blob:  # checkpoint.pt: the config sits next to it
        form = "run-checkpoint"
        config_path = p.parent / "config.json"
        try:
            run_config = json.loads(config_path.read_text())["model"]
        except (OSError, ValueError, KeyError, TypeError):
            raise ModelRegistryError(f"{p}: a training checkpoint needs the run's {config_path} "
                                     f"with a 'model' entry") from None
        config, state = _tokenizer_config(config_path, run_config), _state_dict(p, blob["model"], "model")
    else:
        keys = ", ".join(sorted(map(str, blob))[:6]) or "none"
        raise _not_weights(p, f"it has no tokenizer weights; its keys: {keys}")
    ccm = None
    if "ccm" in blob:
        if not isinstance(blob["ccm"], torch.Tensor) or blob["ccm"].dtype != torch.uint8:
            raise _not_weights(p, "its 'ccm' entry is not a byte tensor")
        ccm = bytes(blob["ccm"].numpy().tobytes())
    pred_config = pred_state = None
    if "predictor" in blob:
        entry = blob["predictor"]
        if not isinstance(entry, dict) or "config" not in entry or "state_dict" not in entry:
            raise _not_weights(p, "its 'predictor' entry lacks config or state_dict")
        try:
            pred_config = PredictorConfig.from_dict(entry["config"])
        except (InvalidArgumentError, TypeError, KeyError) as exc:
            raise _not_weights(p, f"its predictor config is not valid: {exc}") from None
        pred_state = _state_dict(p, entry["state_dict"], "predictor state_dict")
    continuous = _continuous_entry(p, blob["continuous"]) if "continuous" in blob else None
    return ModelBundle(model_id, config, state, ccm, pred_config, pred_state, digest, str(p), form, continuous)


def write_bundle(bundle: ModelBundle, out: os.PathLike) -> str:
    """Write ``bundle`` as a shipped-format weights file; returns its hex sha256.

    Tensors are written as given (callers pass float16 learned tensors only).
    """
    blob: dict = {"model_id": bundle.model_id, "config": bundle.tokenizer_config.to_dict(),
                  "state_dict": bundle.tokenizer_state}
    if bundle.ccm_blob is not None:
        blob["ccm"] = torch.from_numpy(np.frombuffer(bundle.ccm_blob, np.uint8).copy())
    if bundle.predictor_state is not None:
        blob["predictor"] = {"config": bundle.predictor_config.to_dict(), "state_dict": bundle.predictor_state}
    if bundle.continuous is not None:
        blob["continuous"] = bundle.continuous.to_entry()
    torch.save(blob, out)
    return hashlib.sha256(Path(out).read_bytes()).hexdigest()


def half_state(module: torch.nn.Module) -> Dict[str, torch.Tensor]:
    """A module's learned tensors as float16, the form weights files store."""
    return {k: v.detach().to(torch.float16).contiguous() for k, v in module.state_dict().items()}
