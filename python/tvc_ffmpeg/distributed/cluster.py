"""Ray, kept at arm's length: connecting, the remote tasks, and running them in order.

Ray is an optional dependency (``pip install "tvc-ffmpeg[ray]"``); nothing else in the
package imports it. Tasks are retried by Ray when their worker process dies (a node
lost, a process killed), and their work is deterministic, so a retried task gives the
same bytes.
"""

from __future__ import annotations

import collections
import contextlib
import os
from typing import Any, Callable, Deque, Iterable, Iterator, Optional, Tuple

from ..errors import ClusterError, InvalidArgumentError, TvcError

# Ray re-runs a task whose worker process died this many times before giving up.
TASK_RETRIES = 3


def import_ray():
    try:
        import ray
    except ImportError:
        raise ClusterError('parallel encoding needs Ray: pip install "tvc-ffmpeg[ray]"') from None
    return ray


@contextlib.contextmanager
def ray_session(workers: Optional[int] = None, address: Optional[str] = None) -> Iterator[int]:
    """Ray for the length of a ``with`` block; yields the number of CPUs it offers.

    ``address``: a running cluster ("auto" finds the local node's, "ray://host:10001" a
    remote one through Ray Client). Otherwise a private local cluster of ``workers``
    processes (default: one per CPU), shut down at the end. When this process already
    called ray.init() that connection is used as it is and left open."""
    ray = import_ray()
    if workers is not None and workers < 1:
        raise InvalidArgumentError(f"workers must be at least 1, got {workers}")
    if ray.is_initialized():
        yield _cpus(ray, workers)
        return
    try:
        if address is not None:
            ray.init(address=address, logging_level="warning", log_to_driver=False)
        else:
            # Workers' own logs stay in Ray's session directory: what fails reaches the
            # driver as the task's exception.
            ray.init(num_cpus=workers or os.cpu_count() or 1, include_dashboard=False,
                     logging_level="warning", log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = f"the Ray cluster at {address}" if address else "a local Ray cluster"
        raise ClusterError(f"cannot start or reach {where}: {exc}") from None
    try:
        yield _cpus(ray, workers)
    finally:
        ray.shutdown()


def _cpus(ray, workers: Optional[int]) -> int:
    cpus = int(ray.cluster_resources().get("CPU", 1))
    return max(1, min(cpus, workers) if workers else cpus)


_REMOTES: dict = {}


def remote(function: Callable, *, retry_errors: bool = False):
    """``function`` as a Ray task of one CPU, retried when its worker dies; exceptions it
    raises itself are not retried here (``retry_errors``: Ray retries them too)."""
    ray = import_ray()
    key = (function, retry_errors)
    if key not in _REMOTES:
        _REMOTES[key] = ray.remote(num_cpus=1, max_retries=TASK_RETRIES,
                                   retry_exceptions=retry_errors)(function)
    return _REMOTES[key]


def unwrap(exc: BaseException) -> BaseException:
    """The error a task raised, without Ray's wrapper (whose text repeats the worker's
    traceback); worker deaths past their retries become a ClusterError."""
    ray = import_ray()
    if isinstance(exc, ray.exceptions.RayTaskError):
        cause = getattr(exc, "cause", None)
        if isinstance(cause, BaseException):
            return cause
    if isinstance(exc, ray.exceptions.RayError) and not isinstance(exc, TvcError):
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return ClusterError(f"a task failed after {TASK_RETRIES} retries: {first}")
    return exc


def run_in_order(function: Callable, calls: Iterable[Tuple[Any, ...]], window: int) -> Iterator[Any]:
    """Runs ``function(*args)`` as Ray tasks for each ``args`` of ``calls`` and yields
    the results in the order of ``calls``, with at most ``window`` tasks submitted and
    not yet consumed (so results wait in memory only that many at a time). On an error,
    or when the caller stops early, the tasks still queued are cancelled."""
    ray = import_ray()
    task = remote(function)
    pending: Deque[Any] = collections.deque()
    calls = iter(calls)
    try:
        while True:
            while len(pending) < max(1, window):
                args = next(calls, None)
                if args is None:
                    break
                pending.append(task.remote(*args))
            if not pending:
                return
            ref = pending.popleft()
            try:
                result = ray.get(ref)
            except Exception as exc:  # Ray's errors: the task's own, or its worker's death
                raise unwrap(exc) from None
            yield result
    finally:
        for ref in pending:
            ray.cancel(ref, force=False)
