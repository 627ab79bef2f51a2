"""GoP-parallel encoding on Ray: throughput against the serial encoder, and memory.

1. Throughput, same clip, same run: the serial encoder (this process, torch, --threads
   2) against encode_parallel with 2 local workers at 1 thread each (one GoP per task).
   The workers are warmed up first (model loaded), as they are on a cluster that runs
   jobs all day; the cold time (cluster start + model load) is printed too. From the
   measured per-GoP cost at 1 thread, the expected time on a 16-core machine.
2. Memory: max RSS of the driver and of each worker for a 200- and a 2,000-frame
   input (synthetic Y4M, --mem-size, default 176x144), each job in a fresh process.

Usage: python bench/distributed.py [--input bikes.mp4] [--frames 132] [--mem-size 176x144]
           [--skip-throughput] [--skip-memory]
Default input: bikes.mp4 from the data cache (`tvc demo` fetches it).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path


def _worker_peaks():
    """Peak RSS (MiB, VmHWM) of each live Ray worker process (titled ray::...)."""
    peaks = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
            if not title.startswith("ray::"):
                continue
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks[int(pid)] = int(line.split()[1]) / 1024
        except OSError:
            continue
    return peaks


def child(source: str, gop_length: int) -> None:
    """One parallel job in this fresh process; prints the driver's and workers' peaks."""
    from tvc_ffmpeg.distributed import encode_parallel, ray_session
    from tvc_ffmpeg.settings import EncoderSettings

    settings = EncoderSettings(backend="torch", threads=1, gop_length=gop_length)
    with ray_session(workers=2):
        with tempfile.TemporaryDirectory() as tmp:
            began = time.perf_counter()
            result = encode_parallel(source, os.path.join(tmp, "out.tvc"), settings)
            seconds = time.perf_counter() - began
        workers = _worker_peaks()  # before shutdown: the workers still exist
    driver = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"frames": result.frames, "ranges": result.ranges, "seconds": seconds,
                      "driver_mib": driver, "worker_mib": sorted(workers.values(), reverse=True)}))


def write_y4m(path: Path, frames: int, width: int, height: int) -> None:
    import numpy as np

    from tvc_ffmpeg.video import Frame, VideoInfo, y4m

    yy, xx = np.mgrid[0:height, 0:width]
    ch = ((height + 1) // 2, (width + 1) // 2)
    with open(path, "wb") as f:
        y4m.write_header(f, VideoInfo(width, height))
        for t in range(frames):
            y = (128 + 60 * np.sin((xx + 2 * t) / 9.0) * np.cos((yy - t) / 7.0)).astype(np.uint8)
            y4m.write_frame(f, Frame(y, np.full(ch, 110, np.uint8), np.full(ch, 140, np.uint8), pts=t))


def throughput(path: str, frames: int) -> dict:
    import itertools

    import torch

    from tvc_ffmpeg.codec import Encoder
    from tvc_ffmpeg.distributed import encode_parallel, index_input, ray_session
    from tvc_ffmpeg.settings import EncoderSettings
    from tvc_ffmpeg.video import open_input

    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        serial_settings = EncoderSettings(backend="torch", threads=2)
        model = serial_settings.load_model()
        with open_input(path) as reader:
            clip = list(itertools.islice(reader, frames))
            info = reader.info
        for threads in (2, 1):
            torch.set_num_threads(threads)
            began = time.perf_counter()
            with Encoder(info, EncoderSettings(backend="torch", threads=threads), model=model) as enc:
                gops = [p for f in clip for p in enc.encode(f)] + enc.encode(None)
            out[f"serial_{threads}t_s"] = time.perf_counter() - began
        out["gops"] = len(gops)
        out["per_gop_1t_s"] = out["serial_1t_s"] / len(gops)
        del model
        parallel = EncoderSettings(backend="torch", threads=1)
        index = index_input(path, frames)
        began = time.perf_counter()
        with ray_session(workers=2):
            # Warm-up: every worker loads the model once, as it would on a long-running cluster.
            encode_parallel(index_input(path, 2 * parallel.gop_length), os.path.join(tmp, "w.tvc"),
                            parallel, gops_per_range=1)
            out["cold_start_s"] = time.perf_counter() - began
            began = time.perf_counter()
            encode_parallel(index, os.path.join(tmp, "p.tvc"), parallel, gops_per_range=1)
            out["parallel_2x1t_s"] = time.perf_counter() - began
    out["speedup_vs_serial_2t"] = out["serial_2t_s"] / out["parallel_2x1t_s"]
    # 16 workers x 1 thread: GoPs are independent, so the per-GoP cost divides by 16
    # until the driver (index + writing packets, milliseconds per GoP) or reading the input binds.
    out["projected_16core_s_per_gop"] = out["per_gop_1t_s"] / 16
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--input", default=str(Path.home() / ".cache/tvc_ffmpeg/videos/bikes.mp4"))
    p.add_argument("--frames", type=int, default=132, help="frames of the throughput clip (4 GoPs of 33)")
    p.add_argument("--mem-size", default="176x144", help="picture size of the memory inputs")
    p.add_argument("--skip-throughput", action="store_true")
    p.add_argument("--skip-memory", action="store_true")
    p.add_argument("--child", nargs=2, metavar=("SOURCE", "GOP"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]))
        return 0
    print(f"# {date.today()} {platform.node()} {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, Python {platform.python_version()}")
    if not args.skip_throughput:
        t = throughput(args.input, args.frames)
        print(f"throughput on {Path(args.input).name}, {args.frames} frames ({t['gops']} GoPs of 33):")
        print(f"  serial 2 threads          {t['serial_2t_s']:7.2f} s")
        print(f"  serial 1 thread           {t['serial_1t_s']:7.2f} s  ({t['per_gop_1t_s']:.2f} s per GoP)")
        print(f"  2 workers x 1 thread      {t['parallel_2x1t_s']:7.2f} s  "
              f"({t['speedup_vs_serial_2t']:.2f}x serial at 2 threads)")
        print(f"  cold start (Ray + model)  {t['cold_start_s']:7.2f} s, once per cluster")
        print(f"  16 workers x 1 thread, projected: {t['projected_16core_s_per_gop']:.3f} s per GoP "
              f"({16 / t['per_gop_1t_s'] * 33:.0f} frames/s)")
    if not args.skip_memory:
        width, height = map(int, args.mem_size.split("x"))
        with tempfile.TemporaryDirectory() as tmp:
            for frames in (200, 2000):
                src = Path(tmp) / f"in{frames}.y4m"
                write_y4m(src, frames, width, height)
                run = subprocess.run([sys.executable, __file__, "--child", str(src), "33"],
                                     capture_output=True, text=True, check=True)
                m = json.loads(run.stdout.strip().splitlines()[-1])
                print(f"memory, {frames} frames {width}x{height} ({m['ranges']} ranges, {m['seconds']:.1f} s): "
                      f"driver max RSS {m['driver_mib']:.0f} MiB, workers "
                      + ", ".join(f"{w:.0f}" for w in m["worker_mib"]) + " MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
