"""tvc_ffmpeg.distributed: GoP ranges and batch jobs on a local Ray cluster (2 CPUs).

Every parallel stream is compared with the serial encoder's, byte for byte (fixed
quality) or against the target (bitrate); frame counts are exact everywhere."""

import os
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from tvc_ffmpeg.bitstream import Damaged, TvcReader
from tvc_ffmpeg.cli import main
from tvc_ffmpeg.codec import Encoder
from tvc_ffmpeg.errors import ClusterError, InvalidArgumentError, InvalidDataError
from tvc_ffmpeg.settings import EncoderSettings
from tvc_ffmpeg.video import Frame, VideoInfo, open_input, y4m

ray = pytest.importorskip("ray")

from tvc_ffmpeg import distributed  # noqa: E402  (after the skip: it is Ray's API)
from tvc_ffmpeg.distributed import work  # noqa: E402

GOP = 9
FRAMES = 41  # 4 whole GoPs and a short one of 5
SETTINGS = EncoderSettings(gop_length=GOP, backend="torch", threads=1)
CLI_SETTINGS = ["--gop-length", str(GOP), "--backend", "torch", "--threads", "1"]


def _planes(n, width=64, height=48, phase=0):
    yy, xx = np.mgrid[0:height, 0:width]
    ch = ((height + 1) // 2, (width + 1) // 2)
    for t in range(n):
        y = ((xx * 4 + yy * 2 + (t + phase) * 7) % 256).astype(np.uint8)
        yield y, np.full(ch, (100 + t) % 256, np.uint8), np.full(ch, (150 - t) % 256, np.uint8)


def make_y4m(path, frames=FRAMES, **kw):
    with open(path, "wb") as f:
        y4m.write_header(f, VideoInfo(kw.get("width", 64), kw.get("height", 48)))
        for i, (y, u, v) in enumerate(_planes(frames, **kw)):
            y4m.write_frame(f, Frame(y, u, v, pts=i))
    return path


def make_mp4(path, frames=FRAMES, phase=0):
    """H.264 with B-frames and a keyframe every 12 frames: ranges must seek, and start
    between keyframes."""
    import av

    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        s.options = {"g": "12", "bf": "2", "crf": "20"}
        for planes in _planes(frames, phase=phase):
            f = av.VideoFrame(64, 48, "yuv420p")
            for plane, a in zip(f.planes, planes):
                pad = np.pad(a, ((0, 0), (0, plane.line_size - a.shape[1])))
                plane.update(np.ascontiguousarray(pad).tobytes())
            for packet in s.encode(f):
                c.mux(packet)
        for packet in s.encode():
            c.mux(packet)
    return path


def serial_stream(src, out, *extra):
    assert main(["encode", str(src), str(out), *CLI_SETTINGS, *extra]) == 0
    return Path(out).read_bytes()


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    root = tmp_path_factory.mktemp("clips")
    return {"y4m": make_y4m(root / "a.y4m"), "mp4": make_mp4(root / "a.mp4")}


def start_ray():
    ray.init(num_cpus=2, include_dashboard=False, logging_level="warning", log_to_driver=False)


@pytest.fixture(scope="module")
def _ray_for_module():
    yield
    if ray.is_initialized():
        ray.shutdown()


@pytest.fixture
def cluster(_ray_for_module):
    """One local cluster (2 CPUs, no dashboard) shared by the module's tests; started
    again after a test that needed a fresh one."""
    if not ray.is_initialized():
        start_ray()


# ------------------------------------------------------------------ without Ray


def test_encoder_numbers_gops_from_first_gop_index():
    info = VideoInfo(64, 48)
    frames = [Frame(*p, pts=100 + i) for i, p in enumerate(_planes(GOP + 2))]
    with Encoder(info, SETTINGS, first_gop_index=7) as enc:
        packets = [p for f in frames for p in enc.encode(f)] + enc.encode(None)
    assert [(p.gop_index, p.frame_count, p.first_pts) for p in packets] == [(7, GOP, 100), (8, 2, 109)]
    with pytest.raises(InvalidArgumentError, match="first_gop_index"):
        Encoder(info, SETTINGS, first_gop_index=-1)


@pytest.mark.parametrize("kind", ["y4m", "mp4"])
def test_each_range_reads_exactly_the_serial_readers_frames(clips, kind, monkeypatch):
    with open_input(clips[kind]) as reader:
        serial = list(reader)
    index = distributed.index_input(clips[kind])
    assert index.frame_count == FRAMES
    opened = []
    real = work.open_input
    monkeypatch.setattr(work, "open_input", lambda *a, **k: opened.append(k) or real(*a, **k))
    ranges = distributed.plan_ranges(index, GOP, 2)
    assert [(r.start, r.stop, r.first_gop) for r in ranges] == [(0, 18, 0), (18, 36, 2), (36, 41, 4)]
    for r in ranges:
        got = list(distributed.read_range(r))
        want = serial[r.start:r.stop]
        assert [f.pts for f in got] == [f.pts for f in want]
        assert all(np.array_equal(a.y, b.y) and np.array_equal(a.u, b.u) for a, b in zip(got, want))
    # One open per range: the container seeks to the keyframe before each range, no re-decode.
    assert len(opened) == len(ranges)
    if kind == "mp4":
        assert [k["start_pts"] for k in opened] == [index.pts[r.start] for r in ranges]


def test_y4m_range_of_a_truncated_file_fails_like_the_serial_reader(tmp_path):
    src = make_y4m(tmp_path / "t.y4m", frames=20)
    src.write_bytes(src.read_bytes()[:-100])  # the last frame loses 100 bytes
    index = distributed.index_input(src)
    assert index.frame_count == 20
    last = distributed.plan_ranges(index, GOP, 1)[-1]
    with pytest.raises(InvalidDataError, match="frame 19 is truncated"):
        list(distributed.read_range(last))


def test_stdin_cannot_be_split(tmp_path, capsys):
    with pytest.raises(InvalidArgumentError, match="not '-'"):
        distributed.index_input("-")
    assert main(["encode", "-", str(tmp_path / "o.tvc"), "--workers", "2"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("tvc encode: error: parallel encoding needs an input file") and "Traceback" not in err
    assert not (tmp_path / "o.tvc").exists()


def test_without_ray_the_error_names_the_extra(clips, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now raises ImportError
    with pytest.raises(ClusterError, match=r'pip install "tvc-ffmpeg\[ray\]"'):
        distributed.encode_parallel(clips["y4m"], tmp_path / "o.tvc", SETTINGS, workers=2)
    assert not (tmp_path / "o.tvc").exists()


# ------------------------------------------------------------------ on the cluster


@pytest.mark.parametrize("kind", ["y4m", "mp4"])
def test_workers_give_the_serial_stream_byte_for_byte(cluster, clips, kind, tmp_path, capsys):
    want = serial_stream(clips[kind], tmp_path / "serial.tvc")
    out = tmp_path / "parallel.tvc"
    assert main(["encode", str(clips[kind]), str(out), *CLI_SETTINGS, "--workers", "2",
                 "--gops-per-task", "1"]) == 0
    assert out.read_bytes() == want
    assert f"parallel.tvc: {FRAMES} frames 64x48" in capsys.readouterr().out


def test_frames_limit_and_uneven_ranges(cluster, clips, tmp_path):
    want = serial_stream(clips["mp4"], tmp_path / "serial.tvc", "--frames", "30")
    result = distributed.encode_parallel(clips["mp4"], tmp_path / "p.tvc", SETTINGS, max_frames=30,
                                         gops_per_range=3)
    assert (result.frames, result.ranges) == (30, 2)
    assert (tmp_path / "p.tvc").read_bytes() == want


def test_bitrate_mode_keeps_the_whole_stream_within_the_target(cluster, clips, tmp_path):
    serial_bits = 8 * len(serial_stream(clips["y4m"], tmp_path / "q2.tvc"))
    target = 0.6 * serial_bits / (FRAMES / 25)  # bit/s: well under what quality 2 costs
    settings = EncoderSettings(gop_length=GOP, backend="torch", threads=1, bitrate=target)
    distributed.encode_parallel(clips["y4m"], tmp_path / "b.tvc", settings, gops_per_range=2)
    with TvcReader(tmp_path / "b.tvc") as reader:
        items = list(reader)
    assert not [i for i in items if isinstance(i, Damaged)]
    packets = [i.packet for i in items]
    assert [p.gop_index for p in packets] == [0, 1, 2, 3, 4]
    assert sum(p.frame_count for p in packets) == FRAMES
    bits = 8 * sum(len(p.to_bytes()) for p in packets)
    assert bits <= target * FRAMES / 25
    assert min(p.quality for p in packets) < 2  # the budget did bite


def test_batch_encodes_retries_reports_and_skips_on_rerun(cluster, clips, tmp_path, capsys):
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    make_y4m(src / "one.y4m", frames=12)
    make_mp4(src / "sub" / "two.mp4", frames=10, phase=3)
    (src / "broken.mp4").write_bytes(b"not a video at all")
    (src / "notes.txt").write_text("ignored: not a video suffix")
    out = tmp_path / "out"
    args = ["batch", str(src), "-o", str(out), *CLI_SETTINGS, "--retries", "1"]
    assert main(args) == 1  # one file failed
    table = capsys.readouterr().out
    broken_row = next(line for line in table.splitlines() if "broken.mp4" in line)
    assert "FAILED: InvalidDataError" in broken_row and broken_row.split()[5] == "2"  # tried twice
    for name, rel in (("one.y4m", "one.tvc"), ("sub/two.mp4", "sub/two.tvc")):
        want = serial_stream(src / name, tmp_path / "serial.tvc")
        assert (out / rel).read_bytes() == want, name
    assert sorted(p.name for p in out.rglob("*")) == ["one.tvc", "sub", "two.tvc"]  # no .part left

    # Re-run: both complete outputs are skipped; a truncated one is made again.
    (out / "sub" / "two.tvc").write_bytes((out / "sub" / "two.tvc").read_bytes()[:-5])
    jobs = distributed.jobs_from([str(src)], out)
    results = distributed.encode_batch(jobs, SETTINGS, retries=0)
    by_name = {Path(r.input).name: r for r in results}
    assert by_name["one.y4m"].skipped and by_name["one.y4m"].frames == 12
    assert not by_name["two.mp4"].skipped and by_name["two.mp4"].frames == 10
    assert by_name["broken.mp4"].error is not None and by_name["broken.mp4"].attempts == 1
    assert (out / "sub" / "two.tvc").read_bytes() == serial_stream(src / "sub" / "two.mp4", tmp_path / "s2.tvc")


def test_batch_sources_glob_and_list_and_collisions(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for d in ("a", "b"):
        (tmp_path / d / "x.y4m").write_bytes(b"")
    listing = tmp_path / "list.txt"
    listing.write_text(f"# inputs\n{tmp_path / 'a' / 'x.y4m'}\n\n")
    jobs = distributed.jobs_from([f"@{listing}"], tmp_path / "o")
    assert [(j.input, Path(j.output).name) for j in jobs] == [(str(tmp_path / "a" / "x.y4m"), "x.tvc")]
    with pytest.raises(InvalidArgumentError, match="would both be written"):
        distributed.jobs_from([str(tmp_path / "*" / "x.y4m")], tmp_path / "o")
    with pytest.raises(InvalidArgumentError, match="no file matches"):
        distributed.jobs_from([str(tmp_path / "*.mkv")], tmp_path / "o")


# ------------------------------------------------------------------ faults


def _task_processes(name="ray::encode_range"):
    """PIDs of Ray workers running ``name`` now (Ray titles a busy worker ray::<task>)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                title = f.read().split(b"\0")[0].decode(errors="replace")
        except OSError:
            continue
        if title.startswith(name):
            found.append(int(pid))
    return found


def test_a_worker_killed_mid_job_loses_nothing(_ray_for_module, clips, tmp_path):
    """A fresh cluster of its own: its first tasks load the model (seconds), so a worker
    is certainly busy when it is killed; Ray re-runs its range on another process."""
    want = serial_stream(clips["mp4"], tmp_path / "serial.tvc")
    killed = []

    def kill_one():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not killed:
            for pid in _task_processes():
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                return
            time.sleep(0.02)

    if ray.is_initialized():
        ray.shutdown()  # the shared cluster's workers have the model loaded already
    start_ray()
    try:
        killer = threading.Thread(target=kill_one)
        killer.start()
        result = distributed.encode_parallel(clips["mp4"], tmp_path / "p.tvc", SETTINGS, gops_per_range=1)
        killer.join()
    finally:
        ray.shutdown()
    assert len(killed) == 1
    assert result.frames == FRAMES
    assert (tmp_path / "p.tvc").read_bytes() == want
