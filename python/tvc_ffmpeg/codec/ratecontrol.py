"""Target-bitrate mode: chooses each GoP's quality level from the bits already spent.

Bits are known exactly once a GoP is entropy coded, so the controller works on
facts, not on a rate model alone: it predicts each level's size from the last
GoP (bits scale with the number of token positions per latent frame, which is
what the levels change), picks the best level that fits the GoP's budget, and the encoder
re-codes one level lower whenever the real size overshoots. Savings carry over
to later GoPs, capped at one GoP's budget so that a static opening cannot pay
for a burst later; overshoot (only possible at the lowest level) is paid back.
"""

from __future__ import annotations

from typing import Callable, Dict, TypeVar

from ..errors import InvalidArgumentError

T = TypeVar("T")

# Bits per token position and frame assumed before the first GoP is measured:
# about 8 bits a token, 5 latent frames per 33 frames (the shipped model on
# bikes at GoP 33 spends 1.29).
PRIOR_BITS_PER_POSITION_FRAME = 1.3


class RateController:
    def __init__(self, bits_per_frame: float, positions: Dict[int, int]) -> None:
        """``positions``: token positions per latent frame at each quality level."""
        if not bits_per_frame > 0:
            raise InvalidArgumentError(f"target bitrate must be positive, got {bits_per_frame} bits per frame")
        self.bits_per_frame = bits_per_frame
        self._positions = dict(positions)
        self._bits_per_position_frame = PRIOR_BITS_PER_POSITION_FRAME
        self._reserve = 0.0  # bits saved (> 0) or overspent (< 0) so far

    @property
    def levels(self):
        return self._positions.keys()

    def budget(self, frames: int) -> float:
        """Bits the next GoP of ``frames`` frames may spend."""
        return self.bits_per_frame * frames + self._reserve

    def predict(self, level: int, frames: int) -> float:
        return self._bits_per_position_frame * self._positions[level] * frames

    def choose(self, frames: int) -> int:
        """The highest level predicted to fit the budget (the lowest if none does)."""
        budget = self.budget(frames)
        fitting = [q for q in self._positions if self.predict(q, frames) <= budget]
        return max(fitting) if fitting else min(self._positions)

    def fits(self, bits: int, frames: int) -> bool:
        return bits <= self.budget(frames)

    def update(self, level: int, frames: int, bits: int) -> None:
        """Records a coded GoP (the one kept, after any re-coding)."""
        self._bits_per_position_frame = bits / (self._positions[level] * frames)
        cap = self.bits_per_frame * frames
        self._reserve = min(cap, self.budget(frames) - bits)


def code_within_budget(controller: RateController, frames: int, code: Callable[[int], T]) -> T:
    """Codes a GoP (``code(level)`` returns a packet) at the chosen level, stepping
    down while it overshoots the budget; returns the packet kept."""
    levels = sorted(controller.levels)
    level = controller.choose(frames)
    packet = code(level)
    bits = 8 * len(packet.to_bytes())
    while not controller.fits(bits, frames) and level > levels[0]:
        level = levels[levels.index(level) - 1]
        packet = code(level)
        bits = 8 * len(packet.to_bytes())
    controller.update(level, frames, bits)
    return packet
