"""Writes the seed corpus of csrc/fuzz/fuzz_ccm.cpp to tests/corpus/ccm:
token-stream inputs (the target's 4-byte header: frames / K / heads, height,
width, mask pattern; then a stream the coder wrote with the target's own model)
for every K and heads setting, damaged and truncated copies, and model-blob
inputs (first byte 0x80: the target's v2 models, a v1 blob, and broken ones).
Run once after changing the target: python3 csrc/fuzz/make_ccm_seeds.py"""

import hashlib
import struct
from pathlib import Path

import numpy as np

from tvc_ffmpeg import _native

LEVELS = (8, 5, 5)
FEATURES = 4

OUT = Path(__file__).resolve().parents[2] / "tests" / "corpus" / "ccm"


def _params(cin: int, cout: int) -> bytes:
    """put_params() of fuzz_ccm.cpp: weights ((o * 7 + i) % 5) - 2, bias 0, multiplier 1, shift 1."""
    w = np.array([[(o * 7 + i) % 5 - 2 for i in range(cin)] for o in range(cout)], np.int8)
    return w.tobytes() + np.zeros(cout, "<i4").tobytes() + np.ones(cout, "<i4").tobytes() + np.ones(cout, np.uint8).tobytes()


def fuzz_model(prev_frames: int, heads: bool) -> bytes:
    """The same blob as fuzz_model() in fuzz_ccm.cpp."""
    dims = len(LEVELS)
    cin = prev_frames * (dims + 1) + dims + 1
    cout = FEATURES if heads else sum(LEVELS)
    trunk = b"TVCN" + struct.pack("<HHHHBB", 1, 1, cin, cout, 1, int(heads)) + _params(cin, cout)
    parts = [b"TVCM", struct.pack("<HBBI", 2, prev_frames, int(heads), len(trunk)), trunk]
    head_in = FEATURES
    for level in LEVELS if heads else ():
        parts += [struct.pack("<HH", head_in, level), _params(head_in, level)]
        head_in += level
    return b"".join(parts)


def stream_seeds(rng: np.random.Generator) -> list:
    seeds = []
    for k in range(16):
        t, prev_frames, heads = 1 + k % 3, 1 + (k // 3) % 2, bool((k // 2) % 2)
        h, w, pattern = 1 + (5 * k) % 6, 1 + (3 * k + 2) % 6, k % _native.NUM_MASK_PATTERNS
        coder = _native.CheckerboardCoder(fuzz_model(prev_frames, heads), list(LEVELS))
        assert coder.prev_frames == prev_frames and coder.digit_heads == heads
        # Smooth grids (what a trained model sees) and random ones.
        digits = np.stack([rng.integers(0, lv, size=(t, h, w)) for lv in LEVELS], -1).astype(np.int32)
        if k % 2:
            digits[...] = digits[:1, :1, :1]
        stream = coder.encode(digits, pattern)
        keep = _native.mask_keep(pattern, t, h, w)
        assert np.array_equal(coder.decode(stream, t, h, w, pattern)[keep], digits[keep])
        mode = (t - 1) | (prev_frames - 1) << 2 | int(heads) << 3
        seed = bytes([mode, h - 1, w - 1, pattern]) + stream
        seeds.append(seed)
        if k % 3 == 0:
            bad = bytearray(seed)
            bad[-1] ^= 0x21
            seeds.append(bytes(bad))
            seeds.append(seed[: max(4, len(seed) // 2)])
    return seeds


def blob_seeds() -> list:
    v2 = [fuzz_model(k, heads) for k in (1, 2) for heads in (False, True)]
    v1 = v2[0][12:]  # the K = 1 trunk without heads is a v1 model
    broken = [v2[3][:-1], v2[3] + b"\0", v2[3][:6] + b"\3" + v2[3][7:], v2[1][:7] + b"\1" + v2[1][8:]]
    return [b"\x80" + b for b in [*v2, v1, *broken]]


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    seeds = stream_seeds(np.random.default_rng(0)) + blob_seeds()
    for s in seeds:
        (OUT / hashlib.sha1(s).hexdigest()).write_bytes(s)
    print(f"wrote {len(seeds)} seeds to {OUT}")


if __name__ == "__main__":
    main()
