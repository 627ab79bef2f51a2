"""Writes the seed inputs of the fuzz corpora (tests/corpus/{packet,rans}).

Run once after changing the bitstream or the fuzz targets' input layout, then
grow the corpus with libFuzzer (docs/fuzzing.md) and commit the merged result.
Usage: python csrc/fuzz/make_seeds.py [OUT_DIR]
"""

import sys
from pathlib import Path

import numpy as np

from tvc_ffmpeg import _native
from tvc_ffmpeg.bitstream import FILE_SIGNATURE, EndOfStream, GopPacket, SequenceHeader
from tvc_ffmpeg.entropy import CdfTable, RansEncoder


def packet_seeds():
    hdr = SequenceHeader(model_id="tvc-s-v1", weights_sha256=bytes(range(32)), width=640,
                         height=272, gop_length=17, frame_rate=(25, 1), time_base=(1, 25))
    h = hdr.to_bytes()
    gops = [
        GopPacket(gop_index=i, frame_count=17 - i, first_pts=17 * i - 3, quality=i,
                  mask_pattern=i % 3, continuous_step=256 * i, coded_width=640 // (1 + i % 2),
                  coded_height=272 // (1 + i % 2),
                  substreams=tuple((k, bytes([i]) * (4 + 2 * i)) for k in (1, 2)[: i % 3]))
        .to_bytes()
        for i in range(4)
    ]
    end = EndOfStream(gop_count=4, frame_count=17 + 16 + 15 + 14).to_bytes()
    file = FILE_SIGNATURE + b"".join(_native.write_record(p) for p in [h, *gops, end])
    seeds = {"header": h, "file": file, "file_truncated": file[:-7], "end": end}
    for i, g in enumerate(gops):
        seeds[f"gop{i}"] = g
    damaged = bytearray(file)
    damaged[len(FILE_SIGNATURE) + len(h) + 8] ^= 0x55
    seeds["file_damaged"] = bytes(damaged)
    return seeds


def rans_seeds():
    rng = np.random.default_rng(7)
    cdfs = np.array([[0, 30000, 50000, 60000, 65536], [0, 1, 2, 3, 65536]], np.int32)
    table = CdfTable(cdfs, np.array([4, 4], np.int32), np.array([-1, 7], np.int32), escape=True)
    seeds = {}
    for count in (1, 5, 33, 64):
        idx = (np.arange(count) % 2).astype(np.int32)
        values = rng.integers(-20, 20, size=count).astype(np.int32)
        enc = RansEncoder()
        enc.encode_indexed(values, idx, table)
        seeds[f"indexed{count}"] = bytes([0, count - 1]) + enc.finish()

        k = np.arange(count * 7, dtype=np.uint64)
        counts = ((k * 2654435761) % 2**32).astype(np.uint32).reshape(count, 7)
        enc.encode_counts(rng.integers(0, 7, size=count).astype(np.int32), counts)
        seeds[f"counts{count}"] = bytes([1, count - 1]) + enc.finish()

        k = np.arange(count * 300, dtype=np.int64)
        logits = ((k * 40503) % 1000 - 500).astype(np.int32).reshape(count, 300)
        enc.encode_logits(rng.integers(0, 300, size=count).astype(np.int32), logits)
        seeds[f"logits{count}"] = bytes([2, count - 1]) + enc.finish()

        for j in range(count):
            nbits = j % 33
            enc.encode_bits(np.array([rng.integers(0, 2**nbits)], np.uint32), nbits)
        seeds[f"bits{count}"] = bytes([3, count - 1]) + enc.finish()
    return seeds


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parents[2] / "tests" / "corpus"
    for target, seeds in (("packet", packet_seeds()), ("rans", rans_seeds())):
        d = out / target
        d.mkdir(parents=True, exist_ok=True)
        for name, data in seeds.items():
            (d / f"seed-{name}").write_bytes(data)
        print(f"{d}: {len(seeds)} seeds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
