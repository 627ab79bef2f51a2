"""Target-bitrate mode: chooses each GoP's quality level from the bits already spent.

Bits are known exactly once a GoP is entropy coded, so the controller works on
facts, not on a rate model alone: it predicts each level's size from the last
GoP (bits scale with the number of token positions per latent frame, which is
what the picture scale of a level changes), plus, for levels that carry the
continuous substream, that substream's bits per position and frame as last
measured at the level's step (levels of one picture size differ only in it),
picks the best level that fits the GoP's budget, and the encoder
re-codes one level lower whenever the real size overshoots. Savings carry over
to later GoPs, capped at one GoP's budget so that a static opening cannot pay
for a burst later; overshoot (only possible at the lowest level) is paid back.
"""

from __future__ import annotations

from typing import Callable, Dict, Optional, TypeVar

from ..bitstream import SUBSTREAM_CONTINUOUS
from ..errors import InvalidArgumentError

T = TypeVar("T")

# Bits per token position and frame assumed before the first GoP is measured:
# about 8 bits a token, 5 latent frames per 33 frames (the shipped model on
# bikes at GoP 33 spends 1.29).
PRIOR_BITS_PER_POSITION_FRAME = 1.3
# Continuous-substream bits per token position and frame assumed for a step before a GoP
# at it is measured: this at step 1 (code 256), doubling with each halving of the step.
# The calibration spent about 0.6 (low rate) to 2.3 (high rate).
PRIOR_CONTINUOUS_BITS_AT_STEP_1 = 1.0
STEP_1_CODE = 256


class RateController:
    def __init__(self, bits_per_frame: float, positions: Dict[int, int],
                 steps: Optional[Dict[int, int]] = None) -> None:
        """``positions``: token positions per latent frame at each quality level;
        ``steps``: each level's continuous step code (absent or 0: tokens only)."""
        if not bits_per_frame > 0:
            raise InvalidArgumentError(f"target bitrate must be positive, got {bits_per_frame} bits per frame")
        self.bits_per_frame = bits_per_frame
        self._positions = dict(positions)
        self._steps = {q: code for q, code in (steps or {}).items() if code}
        self._bits_per_position_frame = PRIOR_BITS_PER_POSITION_FRAME  # the tokens (and packet overhead)
        self._continuous_rate: Dict[int, float] = {}  # step code -> measured bits per position and frame
        self._reserve = 0.0  # bits saved (> 0) or overspent (< 0) so far

    @property
    def levels(self):
        return self._positions.keys()

    def budget(self, frames: int) -> float:
        """Bits the next GoP of ``frames`` frames may spend."""
        return self.bits_per_frame * frames + self._reserve

    def continuous_rate(self, level: int) -> float:
        """Predicted continuous bits per position and frame at ``level`` (0 for tokens only)."""
        code = self._steps.get(level, 0)
        if not code:
            return 0.0
        return self._continuous_rate.get(code, PRIOR_CONTINUOUS_BITS_AT_STEP_1 * STEP_1_CODE / code)

    def predict(self, level: int, frames: int) -> float:
        return (self._bits_per_position_frame + self.continuous_rate(level)) * self._positions[level] * frames

    def choose(self, frames: int) -> int:
        """The highest level predicted to fit the budget (the lowest if none does)."""
        budget = self.budget(frames)
        fitting = [q for q in self._positions if self.predict(q, frames) <= budget]
        return max(fitting) if fitting else min(self._positions)

    def fits(self, bits: int, frames: int) -> bool:
        return bits <= self.budget(frames)

    def update(self, level: int, frames: int, bits: int, continuous_bits: int = 0) -> None:
        """Records a coded GoP (the one kept, after any re-coding): ``bits`` in all, of which
        ``continuous_bits`` are its continuous substream's."""
        area = self._positions[level] * frames
        self._bits_per_position_frame = (bits - continuous_bits) / area
        if level in self._steps:
            self._continuous_rate[self._steps[level]] = continuous_bits / area
        cap = self.bits_per_frame * frames
        self._reserve = min(cap, self.budget(frames) - bits)

    def charge(self, bits: int) -> None:
        """Bits added to the last GoP after it was recorded (its colour correction)."""
        self._reserve -= bits


def code_within_budget(controller: RateController, frames: int, code: Callable[[int], T],
                       appended_bits: int = 0) -> T:
    """Codes a GoP (``code(level)`` returns a packet) at the chosen level, stepping
    down while it overshoots the budget; returns the packet kept. ``appended_bits``: the
    most the caller may add to the packet afterwards (the colour correction): a level fits
    only with room for it; the caller charges what it did add (RateController.charge)."""
    levels = sorted(controller.levels)
    level = controller.choose(frames)
    packet = code(level)
    bits = 8 * len(packet.to_bytes())
    while not controller.fits(bits + appended_bits, frames) and level > levels[0]:
        level = levels[levels.index(level) - 1]
        packet = code(level)
        bits = 8 * len(packet.to_bytes())
    controller.update(level, frames, bits, _continuous_bits(packet))
    return packet


def _continuous_bits(packet) -> int:
    # Anything with to_bytes() is a packet here; only a GopPacket has substreams to split.
    substream = getattr(packet, "substream", None)
    payload = substream(SUBSTREAM_CONTINUOUS) if substream is not None else None
    return 8 * len(payload) if payload is not None else 0
