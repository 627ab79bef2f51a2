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
import time
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


# Train settings a resumed run may change: the step budget and how a session runs (threads,
# logging, validation and checkpoint cadence), none of which changes what is learned.
RESUMABLE_TRAIN_KEYS = ("steps", "threads", "log_every", "val_every", "checkpoint_minutes")


def check_or_write_config(run_dir: Path, current: dict,
                          free_train_keys: Iterable[str] = RESUMABLE_TRAIN_KEYS) -> None:
    """Write ``current`` ({section: dict}) as run_dir/config.json, or, when the run exists,
    refuse with RunMismatchError unless every section matches the stored one. In the
    ``train`` section the ``free_train_keys`` may change on a resume."""
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


def fit_steps_to_budget(step: int, seconds_per_step: float, seconds_left: float, max_steps: int,
                        reserve: float = 0.15) -> int:
    """The step count a session can reach at the measured rate, keeping ``reserve`` of what
    is left for validations and checkpoints; never above ``max_steps``."""
    reachable = step + int(seconds_left * (1.0 - reserve) / max(seconds_per_step, 1e-6))
    return max(step + 1, min(max_steps, reachable))


class SessionSchedule:
    """When one training session validates, saves and stops; shared by the trainers.

    Validation every ``val_every`` steps and at the last step; a checkpoint every
    ``checkpoint_minutes`` and at the last step; with a ``minutes`` budget (counted from
    ``start``, the session's start), the session stops while there is still time to
    validate once more and save, so the same command continues later. ``validated_step``:
    the step a resumed run's best.pt was validated at (-1 when none)."""

    def __init__(self, steps: int, val_every: int, checkpoint_minutes: float, minutes, start: float,
                 validated_step: int) -> None:
        self.steps, self.val_every, self.checkpoint_minutes = steps, val_every, checkpoint_minutes
        self.minutes, self.start = minutes, start
        self.last_val_step = validated_step
        self.last_save = time.monotonic()
        self.time_up = False

    def validate_now(self, step: int, step_time: float, val_seconds: float) -> bool:
        """After ``step``: whether to validate (also decides whether the budget is used up;
        ``val_seconds`` is the last validation's duration, the time the budget keeps back)."""
        if self.minutes is not None:
            left = self.minutes * 60 - (time.monotonic() - self.start)
            self.time_up = left < 1.5 * val_seconds + 2 * step_time + 5.0
        due = step % self.val_every == 0 or step == self.steps or (self.time_up and self.last_val_step != step)
        if due:
            self.last_val_step = step
        return due

    def seconds_left(self) -> float:
        return self.minutes * 60 - (time.monotonic() - self.start) if self.minutes is not None else math.inf

    def save_now(self, step: int) -> bool:
        return time.monotonic() - self.last_save > self.checkpoint_minutes * 60 or step == self.steps or self.time_up

    def saved(self) -> None:
        self.last_save = time.monotonic()

    def stop_message(self, step: int) -> str:
        return (f"time budget of {self.minutes:.1f} min used: stopped at step {step} of {self.steps}; "
                "the same command continues")
