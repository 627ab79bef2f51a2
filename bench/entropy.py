"""Entropy-coder throughput: tvc_ffmpeg's rANS against constriction, same run.

Two workloads per alphabet size (8, 64, 1024 symbols):

  (a) table   - each position picks one of 64 fixed CDFs by index
                (ours: CdfTable + encode_indexed; constriction: the same
                probabilities gathered per position, Categorical model family)
  (b) vectors - each position has its own probability vector
                (ours: integer counts -> CDF in C++ per position;
                constriction: float probabilities per position)

Symbols/s count only the coder calls (drawing random data and building the
inputs is excluded), single thread, best of --repeat runs. Prints a Markdown
table; --json writes the raw numbers.

Usage: python bench/entropy.py [--symbols 10000000] [--repeat 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from datetime import date

import numpy as np

from tvc_ffmpeg.entropy import CdfTable, RansDecoder, RansEncoder, pmf_to_cdf

try:
    import constriction
except ImportError:  # the comparison is the point; say so clearly
    sys.exit("bench/entropy.py needs constriction: pip install 'tvc-ffmpeg[bench]'")

NUM_TABLES = 64
CHUNK_VALUES = 4_000_000  # per-position inputs are generated in chunks of this many numbers


def make_tables(rng, n):
    counts = (rng.gamma(0.3, size=(NUM_TABLES, n)) * 1e6).astype(np.uint32) + 1
    cdfs = pmf_to_cdf(counts)
    probs = counts / counts.sum(axis=1, keepdims=True)
    return cdfs, probs


def sample(rng, probs_rows):
    """One symbol per row of probabilities (inverse-CDF sampling)."""
    c = np.cumsum(probs_rows, axis=1)
    u = rng.random((probs_rows.shape[0], 1)) * c[:, -1:]
    return np.minimum((u > c).sum(axis=1), probs_rows.shape[1] - 1).astype(np.int32)


def chunks(total, n):
    size = max(1, CHUNK_VALUES // n)
    return [min(size, total - s) for s in range(0, total, size)]


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def bench_table(n, count, repeat, with_constriction):
    """with_constriction: how many symbols to give constriction (0 = none)."""
    rng = np.random.default_rng(n)
    cdfs, probs = make_tables(rng, n)
    idx = rng.integers(0, NUM_TABLES, size=count).astype(np.int32)
    # Inverse-CDF sampling from each position's table.
    cum = np.cumsum(probs, axis=1)
    u = rng.random(count)
    symbols = np.empty(count, np.int32)
    for t in range(NUM_TABLES):
        sel = idx == t
        symbols[sel] = np.minimum(np.searchsorted(cum[t], u[sel], side="right"), n - 1)
    table = CdfTable(cdfs, np.full(NUM_TABLES, n, np.int32), np.zeros(NUM_TABLES, np.int32))
    res = {"ours_symbols": count}
    enc_t, dec_t = [], []
    for _ in range(repeat):
        enc = RansEncoder()
        t, stream = timed(lambda: (enc.encode_indexed(symbols, idx, table), enc.finish())[1])
        enc_t.append(t)
        dec = RansDecoder(stream)
        t, out = timed(lambda: dec.decode_indexed(idx, table))
        dec.finish()
        dec_t.append(t)
        assert np.array_equal(out, symbols)
    res.update(ours_enc=count / min(enc_t), ours_dec=count / min(dec_t),
               ours_bits_per_symbol=len(stream) * 8 / count)
    if with_constriction:
        ccount = min(count, with_constriction)
        # constriction has no indexed tables: hand it each position's probabilities.
        family = constriction.stream.model.Categorical(perfect=False)
        sizes = chunks(ccount, n)
        starts = np.cumsum([0] + sizes)
        parts = [(probs[idx[s : s + k]], symbols[s : s + k]) for s, k in zip(starts, sizes)]
        enc_t, dec_t = [], []
        for _ in range(repeat):
            coder = constriction.stream.stack.AnsCoder()
            t0 = time.perf_counter()
            for p, s in reversed(parts):
                coder.encode_reverse(s, family, p)
            enc_t.append(time.perf_counter() - t0)
            comp = coder.get_compressed()
            dec = constriction.stream.stack.AnsCoder(comp)
            t0 = time.perf_counter()
            outs = [dec.decode(family, p) for p, _ in parts]
            dec_t.append(time.perf_counter() - t0)
            assert all(np.array_equal(o, s) for o, (_, s) in zip(outs, parts))
        res.update(constriction_symbols=ccount, constriction_enc=ccount / min(enc_t),
                   constriction_dec=ccount / min(dec_t))
    return res


def bench_vectors(n, count, repeat, with_constriction):
    rng = np.random.default_rng(1000 + n)
    sizes = chunks(count, n)
    parts = []
    for k in sizes:
        counts = (rng.gamma(0.3, size=(k, n)) * 1e6).astype(np.uint32) + 1
        probs = counts / counts.sum(axis=1, keepdims=True)
        parts.append((counts, probs, sample(rng, probs)))
    res = {"ours_symbols": count}
    enc_t, dec_t = [], []
    for _ in range(repeat):
        enc = RansEncoder()
        t0 = time.perf_counter()
        for counts, _, s in parts:
            enc.encode_counts(s, counts)
        stream = enc.finish()
        enc_t.append(time.perf_counter() - t0)
        dec = RansDecoder(stream)
        t0 = time.perf_counter()
        outs = [dec.decode_counts(counts) for counts, _, _ in parts]
        dec_t.append(time.perf_counter() - t0)
        dec.finish()
        assert all(np.array_equal(o, s) for o, (_, _, s) in zip(outs, parts))
    res.update(ours_enc=count / min(enc_t), ours_dec=count / min(dec_t),
               ours_bits_per_symbol=len(stream) * 8 / count)
    if with_constriction:
        ccount = 0
        cparts = []
        for _, p, s in parts:
            if ccount >= with_constriction:
                break
            cparts.append((p, s))
            ccount += len(s)
        family = constriction.stream.model.Categorical(perfect=False)
        enc_t, dec_t = [], []
        for _ in range(repeat):
            coder = constriction.stream.stack.AnsCoder()
            t0 = time.perf_counter()
            for p, s in reversed(cparts):
                coder.encode_reverse(s, family, p)
            enc_t.append(time.perf_counter() - t0)
            dec = constriction.stream.stack.AnsCoder(coder.get_compressed())
            t0 = time.perf_counter()
            outs = [dec.decode(family, p) for p, _ in cparts]
            dec_t.append(time.perf_counter() - t0)
            assert all(np.array_equal(o, s) for o, (_, s) in zip(outs, cparts))
        res.update(constriction_symbols=ccount, constriction_enc=ccount / min(enc_t),
                   constriction_dec=ccount / min(dec_t))
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--symbols", type=int, default=10_000_000, help="symbols per workload (ours)")
    ap.add_argument("--vector-values", type=int, default=100_000_000,
                    help="cap on symbols x alphabet for workload (b), which needs one vector per symbol")
    ap.add_argument("--constriction-symbols", type=int, default=2_000_000,
                    help="cap on symbols given to constriction (0 = skip it)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--alphabets", type=int, nargs="+", default=[8, 64, 1024])
    ap.add_argument("--json", help="also write the raw numbers here")
    args = ap.parse_args(argv)

    rows = []
    for n in args.alphabets:
        vec_count = min(args.symbols, max(1, args.vector_values // n))
        # constriction needs a probability vector per symbol even for tables.
        a = bench_table(n, args.symbols, args.repeat, min(args.constriction_symbols, vec_count))
        b = bench_vectors(n, vec_count, args.repeat, min(args.constriction_symbols, vec_count))
        rows.append(("table", n, a))
        rows.append(("vectors", n, b))
        print(f"done n={n}", file=sys.stderr)

    print(f"Machine: {platform.machine()} {platform.processor() or ''}, Python "
          f"{platform.python_version()}, constriction {getattr(constriction, '__version__', '?')}; "
          f"{date.today()}; single thread; M = million symbols/s")
    print()
    print("| workload | alphabet | symbols (ours / constriction) | ours enc | ours dec | "
          "constriction enc | constriction dec | enc ratio | dec ratio | ours bits/symbol |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for kind, n, r in rows:
        ce, cd = r.get("constriction_enc"), r.get("constriction_dec")
        print(f"| {kind} | {n} | {r['ours_symbols']:,} / {r.get('constriction_symbols', 0):,} | "
              f"{r['ours_enc'] / 1e6:.1f} M | {r['ours_dec'] / 1e6:.1f} M | "
              + (f"{ce / 1e6:.1f} M | {cd / 1e6:.1f} M | {r['ours_enc'] / ce:.1f}x | "
                 f"{r['ours_dec'] / cd:.1f}x | " if ce else "- | - | - | - | ")
              + f"{r['ours_bits_per_symbol']:.3f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump([{"workload": k, "alphabet": n, **r} for k, n, r in rows], f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
