"""Writes the seed corpus of csrc/fuzz/fuzz_continuous.cpp to tests/corpus/continuous:
valid streams (the target's 4-byte shape header + a stream the coder wrote
with the target's own net), escapes included, and a few damaged copies.
Run once after changing the target: python3 csrc/fuzz/make_continuous_seeds.py"""

import hashlib
import struct
from pathlib import Path

import numpy as np

from tvc_ffmpeg import _native

OUT = Path(__file__).resolve().parents[2] / "tests" / "corpus" / "continuous"


def fuzz_net(channels: int) -> bytes:
    """The same blob as fuzz_net() in fuzz_continuous.cpp."""
    cin, cout = 1 + 2 * channels + 2, 2 * channels
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
        ctx = (np.arange(t * h * w) * 37 % 255 - 127).astype(np.int32).reshape(1, t, h, w)
        latent = np.rint(rng.laplace(0, 1 + k, size=(c, t, h, w))).astype(np.int32)
        if k % 4 == 3:
            latent.flat[0] = 100000  # escape
        coder = _native.ContinuousCheckerboardCoder(fuzz_net(c), c, 1)
        stream = coder.encode(latent, ctx)
        assert np.array_equal(coder.decode(stream, ctx, t, h, w), latent)
        seed = bytes([c - 1, t - 1, h - 1, w - 1]) + stream
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
