"""Batch jobs: many inputs to many .tvc files as one job, one Ray task per file.

A file whose task fails is retried, then reported with its error; outputs that are
already complete and valid (a previous run of the same job) are skipped.
"""

from __future__ import annotations

import dataclasses
import glob
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Union

from ..bitstream import Damaged, TvcReader
from ..errors import InvalidArgumentError, TvcError
from ..settings import EncoderSettings
from .cluster import import_ray, ray_session, remote, unwrap
from .work import FileResult, encode_file

# What a directory given as a source contributes: files with these suffixes, at any depth.
VIDEO_SUFFIXES = frozenset({
    ".y4m", ".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".ts", ".mts", ".m2ts",
    ".mpg", ".mpeg", ".flv", ".nut", ".mxf", ".ogv", ".wmv", ".3gp",
})
# Tries after the first for a file whose task raises (worker deaths are Ray's retries).
DEFAULT_RETRIES = 2
# Files in flight per worker: enough to keep workers busy, few enough to cancel quickly.
WINDOW_PER_WORKER = 2


@dataclass(frozen=True)
class BatchJob:
    input: str
    output: str


def jobs_from(sources: Sequence[Union[str, os.PathLike]], out_dir: Union[str, os.PathLike]) -> List[BatchJob]:
    """Jobs for ``sources``, each a directory (its video files, by suffix, at any depth:
    the output keeps the sub-directory), a glob pattern ("clips/*.mp4"), ``@LIST`` (a text
    file naming one input per line; blank lines and lines starting with # are skipped) or
    a file. Outputs are ``out_dir/<name>.tvc``; two inputs that would share one are refused."""
    out = Path(out_dir)
    jobs: List[BatchJob] = []
    for source in map(os.fspath, sources):
        if source.startswith("@"):
            listing = Path(source[1:])
            try:
                lines = listing.read_text().splitlines()
            except OSError as exc:
                raise InvalidArgumentError(f"cannot read the list file {listing}: {exc.strerror}") from None
            for line in lines:
                name = line.strip()
                if name and not name.startswith("#"):
                    jobs.append(BatchJob(name, str(out / (Path(name).stem + ".tvc"))))
        elif os.path.isdir(source):
            root = Path(source)
            for path in sorted(root.rglob("*")):
                if path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES:
                    relative = path.relative_to(root).with_suffix(".tvc")
                    jobs.append(BatchJob(str(path), str(out / relative)))
        elif glob.has_magic(source):
            matches = sorted(p for p in glob.glob(source, recursive=True) if os.path.isfile(p))
            if not matches:
                raise InvalidArgumentError(f"no file matches {source}")
            jobs.extend(BatchJob(p, str(out / (Path(p).stem + ".tvc"))) for p in matches)
        else:
            # A missing file is the job's to report, like any input that fails.
            jobs.append(BatchJob(source, str(out / (Path(source).stem + ".tvc"))))
    owners: Dict[str, str] = {}
    for job in jobs:
        other = owners.setdefault(os.path.abspath(job.output), job.input)
        if other != job.input:
            raise InvalidArgumentError(f"{other} and {job.input} would both be written to {job.output}")
    return jobs


def _complete(job: BatchJob, settings: EncoderSettings) -> Optional[FileResult]:
    """The result of an output that is already there, whole (every record sound, the end
    record agrees) and made as ``settings`` say (GoP length, model id, quality or
    mask pattern when fixed); None when it must be (re)made."""
    if not os.path.isfile(job.output):
        return None
    try:
        reader = TvcReader(job.output)
    except (TvcError, OSError):
        return None
    try:
        h = reader.header
        if h.gop_length != settings.gop_length or (settings.model is not None and h.model_id != settings.model):
            return None
        for item in reader:
            if isinstance(item, Damaged):
                return None
            p = item.packet
            if settings.bitrate is None and p.quality != settings.quality:
                return None
            if isinstance(settings.mask_pattern, int) and p.mask_pattern != settings.mask_pattern:
                return None
    except (TvcError, OSError):
        return None
    finally:
        reader.close()
    if reader.end is None or reader.end.frame_count == 0:
        return None
    fps = h.frame_rate[0] / h.frame_rate[1] if h.frame_rate[0] and h.frame_rate[1] else 25.0
    return FileResult(job.input, job.output, reader.end.frame_count, h.width, h.height, fps,
                      os.path.getsize(job.output), skipped=True)


def stream_is_complete(path: Union[str, os.PathLike], settings: Optional[EncoderSettings] = None) -> bool:
    """Whether ``path`` is a whole, undamaged .tvc stream made as ``settings`` say."""
    job = BatchJob("", os.fspath(path))
    return _complete(job, settings if settings is not None else EncoderSettings()) is not None


def _remove_leftovers(output: str) -> None:
    """Temporary files of tasks that died while writing ``output`` (TvcWriter names them
    .<name>.<pid>.<random>.part); none of its tasks runs any more when this is called."""
    directory, name = os.path.split(os.path.abspath(output))
    for leftover in glob.glob(os.path.join(glob.escape(directory), f".{glob.escape(name)}.*.part")):
        try:
            os.unlink(leftover)
        except OSError:
            pass


def encode_batch(jobs: Sequence[BatchJob], settings: Optional[EncoderSettings] = None, *,
                 workers: Optional[int] = None, address: Optional[str] = None,
                 retries: int = DEFAULT_RETRIES, overwrite: bool = False,
                 progress: Optional[Callable[[int], object]] = None) -> List[FileResult]:
    """Encodes every job on Ray workers, one task per file; returns one FileResult per
    job, in the jobs' order. Inputs and outputs must be paths every worker can reach
    (docs/distributed.md). A file that fails is tried ``retries`` more times, then its
    error is reported in its result; outputs already complete are skipped unless
    ``overwrite``. ``progress(1)`` is called as each file is finished."""
    s = settings if settings is not None else EncoderSettings()
    if retries < 0:
        raise InvalidArgumentError(f"retries must be >= 0, got {retries}")
    results: Dict[int, FileResult] = {}
    todo: List[int] = []
    for i, job in enumerate(jobs):
        done = None if overwrite else _complete(job, s)
        if done is not None:
            results[i] = done
            if progress is not None:
                progress(1)
        else:
            todo.append(i)
    if not todo:
        return [results[i] for i in range(len(jobs))]
    with ray_session(workers, address) as cpus:
        ray = import_ray()
        task = remote(encode_file)
        attempts = {i: 0 for i in todo}
        running: Dict[object, int] = {}
        queue = list(reversed(todo))

        def submit(i: int) -> None:
            job = jobs[i]
            Path(job.output).parent.mkdir(parents=True, exist_ok=True)
            attempts[i] += 1
            running[task.remote(job.input, job.output, s)] = i

        try:
            while queue or running:
                while queue and len(running) < cpus * WINDOW_PER_WORKER:
                    submit(queue.pop())
                ready, _ = ray.wait(list(running), num_returns=1)
                i = running.pop(ready[0])
                try:
                    result = ray.get(ready[0])
                except Exception as exc:  # the task's error, or its worker's death past Ray's retries
                    if attempts[i] <= retries:
                        queue.append(i)  # next in line
                        continue
                    error = unwrap(exc)
                    results[i] = FileResult(jobs[i].input, jobs[i].output, attempts=attempts[i],
                                            error=f"{type(error).__name__}: {error}")
                else:
                    results[i] = dataclasses.replace(result, attempts=attempts[i])
                _remove_leftovers(jobs[i].output)
                if progress is not None:
                    progress(1)
        finally:
            for ref in running:
                ray.cancel(ref, force=False)
    return [results[i] for i in range(len(jobs))]
