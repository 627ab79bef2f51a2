"""Pick the torch thread count that is fastest right now.

On a small machine shared with other work (a compile, a fuzzer), two OpenMP threads that
must share one free core are several times slower than one thread, because each parallel
region waits for the descheduled thread. The tuner keeps a running step time for the
current setting and, every ``probe_every`` steps, tries the other setting for ``probe_len``
steps (and once at step 10, and whenever three steps in a row take over twice the usual
time), keeping whichever was faster. Thread count does not change what is computed beyond
floating-point summation order.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import Deque, Tuple

import torch

log = logging.getLogger(__name__)


class ThreadTuner:
    def __init__(self, max_threads: int, probe_every: int = 100, probe_len: int = 6) -> None:
        self.choices: Tuple[int, ...] = tuple(sorted({1, max(1, max_threads)}))
        self.current = max(self.choices)
        self.probe_every = probe_every
        self.probe_len = probe_len
        self.recent: Deque[float] = deque(maxlen=20)
        self.probe: list = []
        self.probing = False
        self.steps = 0
        self.slow_streak = 0
        torch.set_num_threads(self.current)

    def _other(self) -> int:
        return next(c for c in self.choices if c != self.current)

    def record(self, seconds: float) -> None:
        """Call once per training step with its duration."""
        self.steps += 1
        if len(self.choices) == 1:
            return
        if self.probing:
            self.probe.append(seconds)
            if len(self.probe) >= self.probe_len:
                # Skip the first probe step: it pays for re-creating the thread pool.
                probe_time = sorted(self.probe[1:])[len(self.probe[1:]) // 2]
                # Compare with the steps just before the probe: the load may have changed.
                last = list(self.recent)[-5:]
                base = sorted(last)[len(last) // 2] if last else float("inf")
                other = self._other()
                if probe_time < 0.9 * base:
                    log.info("threads %d -> %d (step %.2fs vs %.2fs)", self.current, other, probe_time, base)
                    self.current = other
                    self.recent.clear()
                    self.recent.extend(self.probe[1:])
                torch.set_num_threads(self.current)
                self.probing = False
                self.probe = []
            return
        median = sorted(self.recent)[len(self.recent) // 2] if self.recent else seconds
        # A run of steps much slower than usual means the machine's load changed: re-probe now.
        self.slow_streak = self.slow_streak + 1 if seconds > 2.0 * median else 0
        self.recent.append(seconds)
        # Probe early (step 10), every probe_every steps, and after 3 unusually slow steps.
        due = self.steps == 10 or self.steps % self.probe_every == 0 or self.slow_streak >= 3
        if due and len(self.recent) >= 5:
            self.slow_streak = 0
            self.probing = True
            torch.set_num_threads(self._other())
