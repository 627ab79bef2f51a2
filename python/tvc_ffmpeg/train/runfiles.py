"""The files of a training run directory, shared by every resumable trainer.

A run directory holds config.json (what the run is; a resume must match it), checkpoint.pt
(atomically replaced), best.pt and CSV logs. These helpers are the one home of the rules
for writing them: atomic replacement, CSV appends with a header, dropping log rows a killed
run wrote after its last checkpoint, the config check, and the cosine learning-rate schedule.
"""

from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path
from typing import Iterable

import torch

from ..errors import RunMismatchError


def atomic_save(obj: dict, path: Path) -> None:
    """torch.save through a temporary file, so a killed run never leaves half a checkpoint."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def append_csv(path: Path, row: dict) -> None:
    new = not path.exists()
    with open(path, "a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(row))
        if new:
            writer.writeheader()
        writer.writerow(row)


def drop_rows_after(path: Path, step: int) -> None:
    """Forget log rows written after the checkpoint a resumed run restarts from."""
    if not path.exists():
        return
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return
    kept = [r for r in rows if int(r["step"]) <= step]
    if len(kept) != len(rows):
        with open(path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(kept)


def cosine_lr(step: int, cfg) -> float:
    """Linear warm-up over ``cfg.warmup_steps``, then cosine decay from ``cfg.lr`` to
    ``cfg.min_lr_fraction * cfg.lr`` at ``cfg.steps`` (any config with those four fields)."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = min(1.0, (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps))
    floor = cfg.min_lr_fraction
    return cfg.lr * (floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress)))


def check_or_write_config(run_dir: Path, current: dict, free_train_keys: Iterable[str] = ("steps",)) -> None:
    """Write ``current`` ({section: dict}) as run_dir/config.json, or, when the run exists,
    refuse with RunMismatchError unless every section matches the stored one. In the
    ``train`` section the ``free_train_keys`` (the step budget) may change on a resume."""
    path = run_dir / "config.json"
    current = json.loads(json.dumps(current))  # tuples -> lists, as stored
    if path.exists():
        stored = json.loads(path.read_text())
        free = set(free_train_keys)
        for section, value in current.items():
            old = stored.get(section)
            if section == "train" and isinstance(old, dict):
                old = {k: v for k, v in old.items() if k not in free}
                value = {k: v for k, v in value.items() if k not in free}
            if old != value:
                raise RunMismatchError(f"{path}: {section} config differs from the stored run "
                                       f"({old} vs {value}); use a new --run-dir")
    path.write_text(json.dumps(current, indent=2))
