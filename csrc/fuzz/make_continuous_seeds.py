"""Writes the seed corpus of csrc/fuzz/fuzz_continuous.cpp to tests/corpus/continuous:
valid streams (the target's 6-byte header: shape, step plane, token seed; then a
stream the coder wrote with the target's own net and the codec's context planes,
codec/continuous.context_of), escapes included, and a few damaged copies.
Run once after changing the target: python3 csrc/fuzz/make_continuous_seeds.py"""

import hashlib
import struct
from pathlib import Path

import numpy as np

from tvc_ffmpeg import _native
from tvc_ffmpeg.codec.continuous import context_of
from tvc_ffmpeg.models.continuous import step_plane_value

LEVELS = (8, 5, 5, 5)
PLANES = len(LEVELS) + 1

OUT = Path(__file__).resolve().parents[2] / "tests" / "corpus" / "continuous"


def fuzz_net(channels: int) -> bytes:
    """The same blob as fuzz_net() in fuzz_continuous.cpp."""
    cin, cout = PLANES + 2 * channels + 2, 2 * channels
    w = np.array([[(o + i) % 3 - 1 for i in range(cin)] for o in range(cout)], np.int8)
    bias = np.array([480 if o < channels else 0 for o in range(cout)], "<i4")
    return b"".join([b"TVCN", struct.pack("<HHHHBB", 1, 1, cin, cout, 1, 0), w.tobytes(), bias.tobytes(),
                     np.ones(cout, "<i4").tobytes(), np.ones(cout, np.uint8).tobytes()])


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    seeds = []
    for k in range(14):
        c, t, h, w = 1 + k % 3, 1 + (k // 3) % 3, 1 + k % 8, 1 + (3 * k) % 8
        code, token_seed = (64, 256, 512, 1024, 4096)[k % 5], (7 * k) % 256
        grid = ((np.arange(t * h * w) * 37 + 101 * token_seed) % 1000).reshape(t, h, w)
        # temporal factor 8: latent frame i reads token frame i, as the target does
        ctx = context_of(grid, LEVELS, t, 8, code)
        latent = np.rint(rng.laplace(0, 1 + k, size=(c, t, h, w))).astype(np.int32)
        if k % 4 == 3:
            latent.flat[0] = 100000  # escape
        coder = _native.ContinuousCheckerboardCoder(fuzz_net(c), c, PLANES)
        stream = coder.encode(latent, ctx)
        assert np.array_equal(coder.decode(stream, ctx, t, h, w), latent)
        step_byte = step_plane_value(code) & 0xFF
        seed = bytes([c - 1, t - 1, h - 1, w - 1, step_byte, token_seed]) + stream
        seeds.append(seed)
        if k % 3 == 0:
            bad = bytearray(seed)
            bad[-1] ^= 0x40
            seeds.append(bytes(bad))
            seeds.append(seed[: len(seed) // 2 * 2 - 2])
    for s in seeds:
        (OUT / hashlib.sha1(s).hexdigest()).write_bytes(s)
    print(f"wrote {len(seeds)} seeds to {OUT}")


if __name__ == "__main__":
    main()
