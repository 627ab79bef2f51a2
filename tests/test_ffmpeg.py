"""FFmpeg with TVC grafted in: ``-c:v libtvc``, the .tvc (de)muxer, MKV/NUT/MPEG-TS carriage,
ffprobe, agreement with the ``tvc`` CLI, damage, and the graft on FFmpeg 5.1 and 7.1.

The build comes from the session fixture ``ffmpeg_build`` (tests/conftest.py), cached per
machine. Clips are tiny (64x48 .. 177x99); streams whose bytes are compared are made with
the torch backend on one thread, the CLI's deterministic setting.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import zlib
from pathlib import Path

import pytest

from tvc_ffmpeg.cli import main as tvc_main

pytestmark = pytest.mark.ffmpeg

DETERMINISTIC = "backend=torch:threads=1"
REPO = Path(__file__).resolve().parents[1]


def run(cmd, ok=True, timeout=300):
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout)
    if ok and proc.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc


@pytest.fixture(scope="module")
def ff(ffmpeg_build):
    return ffmpeg_build


def make_clip(ff, path: Path, frames: int, size: str = "64x48", rate: int = 25) -> Path:
    # testsrc, not testsrc2: testsrc2 rounds odd sizes down to even ones for 4:2:0.
    run([ff.ffmpeg, "-v", "error", "-f", "lavfi", "-i", f"testsrc=size={size}:rate={rate}",
         "-frames:v", frames, "-pix_fmt", "yuv420p", "-y", path])
    return path


def encode(ff, src: Path, out: Path, *opts, params: str = DETERMINISTIC, ok=True):
    return run([ff.ffmpeg, "-v", "error", "-i", src, "-c:v", "libtvc", *opts, "-tvc-params", params,
                "-y", out], ok=ok)


def framemd5(ff, src: Path, *opts, ok=True):
    """(dts, pts, duration, md5) per decoded frame, in the input stream's time base."""
    # passthrough: a lost GoP must show as missing frames, not be papered over by duplicates.
    proc = run([ff.ffmpeg, "-v", "error", *opts, "-i", src, "-map", "0:v", "-fps_mode", "passthrough",
                "-f", "framemd5", "-"], ok=ok)
    rows = [line.split(",") for line in proc.stdout.splitlines() if line and not line.startswith("#")]
    return [(int(r[1]), int(r[2]), int(r[3]), r[5].strip()) for r in rows], proc


def info(path: Path, capsys) -> dict:
    capsys.readouterr()
    tvc_main(["info", "--json", str(path)])
    return json.loads(capsys.readouterr().out)


# ------------------------------------------------------------------ .tvc round trips


@pytest.mark.parametrize("frames", [1, 17, 33, 34, 100])
def test_frame_counts_survive_a_tvc_round_trip(ff, tmp_path, frames):
    clip = make_clip(ff, tmp_path / "in.y4m", frames)
    encode(ff, clip, tmp_path / "out.tvc", "-g", "17")
    decoded, _ = framemd5(ff, tmp_path / "out.tvc")
    assert len(decoded) == frames
    # pts of frame i is i (time base 1/25 from the Y4M input): none lost, none doubled.
    assert [row[1] for row in decoded] == list(range(frames))


def frame_pts(ff, src: Path):
    """pts of every decoded frame as ffprobe sees them (no shifting by the ffmpeg CLI)."""
    out = run([ff.ffprobe, "-v", "error", "-select_streams", "v", "-show_entries", "frame=pts", "-of", "csv=p=0",
               src]).stdout
    return [int(line) for line in out.split()]


def test_odd_size_and_pts_offset(ff, tmp_path):
    clip = make_clip(ff, tmp_path / "in.y4m", 20, size="177x99")
    # Input shifted to start at 2 s (pts 50 at 25 fps): the pts must come out where they went in.
    run([ff.ffmpeg, "-v", "error", "-itsoffset", "2", "-i", clip, "-c:v", "libtvc", "-g", "9", "-tvc-params",
         DETERMINISTIC, "-y", tmp_path / "out.tvc"])
    assert frame_pts(ff, tmp_path / "out.tvc") == [50 + i for i in range(20)]
    probe = json.loads(run([ff.ffprobe, "-v", "error", "-show_streams", "-of", "json", tmp_path / "out.tvc"]).stdout)
    assert (probe["streams"][0]["width"], probe["streams"][0]["height"]) == (177, 99)
    decoded, _ = framemd5(ff, tmp_path / "out.tvc")
    assert len(decoded) == 20 and {row[2] for row in decoded} == {1}


def test_bytes_and_frames_equal_the_cli(ff, tmp_path):
    clip = make_clip(ff, tmp_path / "in.y4m", 34)
    encode(ff, clip, tmp_path / "ff.tvc", "-q:v", "2", "-g", "17")
    assert tvc_main(["encode", str(clip), str(tmp_path / "cli.tvc"), "--quality", "2", "--gop-length", "17",
                     "--backend", "torch", "--threads", "1"]) == 0
    assert (tmp_path / "ff.tvc").read_bytes() == (tmp_path / "cli.tvc").read_bytes()

    # ...and ffmpeg's decode of it equals tvc decode's, frame for frame.
    assert tvc_main(["decode", str(tmp_path / "cli.tvc"), str(tmp_path / "cli.y4m"), "--backend", "torch",
                     "--threads", "1"]) == 0
    run([ff.ffmpeg, "-v", "error", "-tvc-params", DETERMINISTIC, "-i", tmp_path / "cli.tvc", "-f", "rawvideo",
         "-y", tmp_path / "ff.yuv"])
    cli_frames, _ = framemd5(ff, tmp_path / "cli.y4m")
    run([ff.ffmpeg, "-v", "error", "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", "64x48", "-i",
         tmp_path / "ff.yuv", "-f", "framemd5", "-y", tmp_path / "ff.md5"])
    ff_md5 = [line.split(",")[5].strip() for line in (tmp_path / "ff.md5").read_text().splitlines()
              if line and not line.startswith("#")]
    assert ff_md5 == [row[3] for row in cli_frames]


def test_continuous_level_and_colour_switch_equal_the_cli(ff, tmp_path):
    # -q:v 4 codes the continuous substream (kind 2) through libtvc; colour_correction=0
    # leaves out kind 128. Both give the CLI's bytes with the same options.
    clip = make_clip(ff, tmp_path / "in.y4m", 18)
    encode(ff, clip, tmp_path / "ff.tvc", "-q:v", "4", "-g", "9", params=DETERMINISTIC + ":colour_correction=0")
    assert tvc_main(["encode", str(clip), str(tmp_path / "cli.tvc"), "--quality", "4", "--gop-length", "9",
                     "--backend", "torch", "--threads", "1", "--no-colour-correction"]) == 0
    assert (tmp_path / "ff.tvc").read_bytes() == (tmp_path / "cli.tvc").read_bytes()
    with_correction = tmp_path / "on.tvc"
    assert tvc_main(["encode", str(clip), str(with_correction), "--quality", "4", "--gop-length", "9",
                     "--backend", "torch", "--threads", "1"]) == 0
    assert with_correction.read_bytes() != (tmp_path / "cli.tvc").read_bytes()
    proc = encode(ff, clip, tmp_path / "bad.tvc", params="colour_correction=2", ok=False)
    assert proc.returncode != 0 and "colour_correction" in proc.stderr


def test_options_reach_the_stream(ff, tmp_path, capsys):
    clip = make_clip(ff, tmp_path / "in.y4m", 20)
    encode(ff, clip, tmp_path / "q.tvc", "-q:v", "1", "-g", "10", params=DETERMINISTIC + ":mask_pattern=2")
    doc = info(tmp_path / "q.tvc", capsys)
    assert doc["header"]["gop_length"] == 9  # -g 10 rounded to 1 + 8k
    assert {g["quality"] for g in doc["gops"]} == {1}
    assert {g["mask_pattern"] for g in doc["gops"]} == {2}

    low = encode(ff, clip, tmp_path / "b.tvc", "-b:v", "1000", "-g", "9")
    assert low.returncode == 0
    high_doc, low_doc = info(tmp_path / "q.tvc", capsys), info(tmp_path / "b.tvc", capsys)
    assert max(g["quality"] for g in low_doc["gops"]) <= min(g["quality"] for g in high_doc["gops"])


def test_unknown_tvc_params_key_is_refused(ff, tmp_path):
    clip = make_clip(ff, tmp_path / "in.y4m", 3)
    proc = encode(ff, clip, tmp_path / "x.tvc", params="frobnicate=1", ok=False)
    assert proc.returncode != 0
    assert "unknown key 'frobnicate'" in proc.stderr


def test_ffprobe_shows_codec_size_rate_colour_and_packets(ff, tmp_path):
    clip = make_clip(ff, tmp_path / "in.y4m", 34)
    # setparams tags the frames (what FFmpeg 7.1 takes the encoder's colour from), the options
    # the encoder (what 5.1 takes).
    run([ff.ffmpeg, "-v", "error", "-i", clip, "-c:v", "libtvc", "-g", "17", "-tvc-params", DETERMINISTIC,
         "-vf", "setparams=color_primaries=bt709:color_trc=bt709:colorspace=bt709:range=tv",
         "-color_primaries", "bt709", "-color_trc", "bt709", "-colorspace", "bt709", "-color_range", "tv",
         "-y", tmp_path / "out.tvc"])
    probe = json.loads(run([ff.ffprobe, "-v", "error", "-show_streams", "-show_packets", "-of", "json",
                            tmp_path / "out.tvc"]).stdout)
    s = probe["streams"][0]
    assert (s["codec_name"], s["width"], s["height"], s["r_frame_rate"]) == ("tvc", 64, 48, "25/1")
    assert (s["color_primaries"], s["color_transfer"], s["color_space"], s["color_range"]) == \
        ("bt709", "bt709", "bt709", "tv")
    packets = probe["packets"]
    assert len(packets) == 2 and all(int(p["size"]) > 0 for p in packets)
    assert [p["flags"][0] for p in packets] == ["K", "K"]


# ------------------------------------------------------------------ carriage


@pytest.mark.parametrize("ext", ["mkv", "nut", "ts"])
def test_container_round_trip(ff, tmp_path, ext):
    clip = make_clip(ff, tmp_path / "in.y4m", 34)
    encode(ff, clip, tmp_path / f"out.{ext}", "-g", "17")
    decoded, _ = framemd5(ff, tmp_path / f"out.{ext}")
    assert len(decoded) == 34
    # The same stream remuxed into .tvc is the same as one encoded straight to .tvc.
    run([ff.ffmpeg, "-v", "error", "-i", tmp_path / f"out.{ext}", "-c", "copy", "-y", tmp_path / "remux.tvc"])
    encode(ff, clip, tmp_path / "direct.tvc", "-g", "17")
    assert (tmp_path / "remux.tvc").read_bytes() == (tmp_path / "direct.tvc").read_bytes()


def _records(data: bytes):
    """(offset of the packet, size) of each record after the signature."""
    pos, out = 8, []
    while pos < len(data):
        assert data[pos:pos + 2] == b"TV"
        pos += 2
        size, shift = 0, 0
        while True:
            b = data[pos]
            pos += 1
            size |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        out.append((pos, size))
        pos += size
    return out


def test_damaged_packet_in_tvc_loses_only_its_gop(ff, tmp_path):
    clip = make_clip(ff, tmp_path / "in.y4m", 34)
    encode(ff, clip, tmp_path / "out.tvc", "-g", "9")  # 4 GoPs: 9, 9, 9, 7
    data = bytearray((tmp_path / "out.tvc").read_bytes())
    offset, size = _records(bytes(data))[2]  # the second GoP
    data[offset + size // 2] ^= 0xFF
    (tmp_path / "bad.tvc").write_bytes(bytes(data))
    decoded, proc = framemd5(ff, tmp_path / "bad.tvc")
    assert [row[1] for row in decoded] == list(range(9)) + list(range(18, 34))
    assert "CRC" in proc.stderr


def _damage_size_field(data: bytearray, records, case: str) -> None:
    """Damages the size field of the second GoP's record (records[2]) in one of three ways."""
    (packet, size), (next_packet, next_size) = records[2], records[3]
    assert size < 128 and next_size < 128  # one-byte sizes: the tiny clip's GoPs are small
    if case == "too-long":
        # Ends inside the next GoP's record: trusting it, a reader loses that GoP as well.
        data[packet - 1] = size + (next_packet - packet) // 2 + 2
        assert data[packet - 1] < 128
    elif case == "past-eof":
        # Two bytes of size (the first payload byte with it): a record longer than the file.
        data[packet - 1:packet + 1] = b"\xff\x7f"
    else:
        # Out of range (0), and a fake sync in the payload whose record would end inside
        # the next GoP: a scan that trusts the first "TV" it meets latches onto it.
        data[packet - 1] = 0
        data[packet + 10:packet + 13] = b"TV" + bytes([next_packet - (packet + 13) + 20])


@pytest.mark.parametrize("case", ["too-long", "past-eof", "fake-sync"])
def test_damaged_record_size_loses_only_its_gop(ff, tmp_path, case):
    clip = make_clip(ff, tmp_path / "in.y4m", 34)
    encode(ff, clip, tmp_path / "out.tvc", "-g", "9")  # 4 GoPs: 9, 9, 9, 7
    data = bytearray((tmp_path / "out.tvc").read_bytes())
    records = _records(bytes(data))
    _damage_size_field(data, records, case)
    (tmp_path / "bad.tvc").write_bytes(bytes(data))
    # Each record: "TV", one size byte, the packet.
    bad, good = records[2][0] - 3, records[3][0] - 3

    decoded, proc = framemd5(ff, tmp_path / "bad.tvc", "-v", "warning", "-tvc-params", DETERMINISTIC)
    assert [row[1] for row in decoded] == list(range(9)) + list(range(18, 34))
    # The demuxer warns once for the damaged stretch, naming what it skipped.
    assert proc.stderr.count(f"skipped {good - bad} damaged bytes from byte {bad}; "
                             f"resumed at the valid record at byte {good}") == 1

    # tvc decode resyncs the same way: the same frames come out.
    rc = tvc_main(["decode", str(tmp_path / "bad.tvc"), str(tmp_path / "cli.y4m"), "--backend", "torch",
                   "--threads", "1"])
    cli_frames, _ = framemd5(ff, tmp_path / "cli.y4m")
    assert rc == 1  # tvc decode's status for a stream that lost frames
    assert [row[3] for row in cli_frames] == [row[3] for row in decoded]


def test_damaged_ts_packet_loses_only_its_gop(ff, tmp_path):
    clip = make_clip(ff, tmp_path / "in.y4m", 34)
    encode(ff, clip, tmp_path / "out.ts", "-g", "9")
    data = bytearray((tmp_path / "out.ts").read_bytes())
    # TS packets (188 bytes) whose payload starts a PES of our video PID (0x100): one per GoP.
    starts = [i for i in range(0, len(data), 188)
              if ((data[i + 1] & 0x1F) << 8 | data[i + 2]) == 0x100 and data[i + 1] & 0x40]
    assert len(starts) == 4
    data[starts[1] + 188 - 20] ^= 0xFF  # inside the second GoP's packet
    (tmp_path / "bad.ts").write_bytes(bytes(data))
    decoded, _ = framemd5(ff, tmp_path / "bad.ts", ok=False)
    assert len(decoded) == 34 - 9


def test_stream_of_another_model_is_refused(ff, tmp_path):
    clip = make_clip(ff, tmp_path / "in.y4m", 3)
    encode(ff, clip, tmp_path / "out.tvc")
    data = bytearray((tmp_path / "out.tvc").read_bytes())
    offset, size = _records(bytes(data))[0]
    # weights_sha256 (after type, header_size, version and model id) changed, CRC kept valid:
    # the stream now claims other weights of the same model id.
    sha = offset + 1 + 1 + 2 + 32
    data[sha] ^= 0xFF
    data[offset + size - 4:offset + size] = zlib.crc32(bytes(data[offset:offset + size - 4])).to_bytes(4, "little")
    (tmp_path / "other.tvc").write_bytes(bytes(data))
    proc = run([ff.ffmpeg, "-v", "error", "-i", tmp_path / "other.tvc", "-f", "null", "-"], ok=False)
    assert proc.returncode != 0
    assert "cannot open the TVC decoder for this stream" in proc.stderr
    assert "model" in proc.stderr.lower()


def test_udp_mpegts_broadcast_on_localhost(ff, tmp_path):
    clip = make_clip(ff, tmp_path / "in.y4m", 34)
    port = 23000 + (hash(str(tmp_path)) % 2000)
    # At a few kbit/s FFmpeg's default probing (5 MB / 5 s) would wait for ages: name the
    # format and probe little (docs/ffmpeg.md). The receiver stops 3 s after the last datagram.
    receiver = subprocess.Popen([str(ff.ffmpeg), "-v", "error", "-f", "mpegts", "-probesize", "8192",
                                 "-analyzeduration", "0", "-i", f"udp://127.0.0.1:{port}?timeout=3000000",
                                 "-fps_mode", "passthrough", "-f", "framemd5", str(tmp_path / "rx.md5")],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        import time

        time.sleep(1.0)  # the receiver binds first
        run([ff.ffmpeg, "-v", "error", "-re", "-i", clip, "-c:v", "libtvc", "-g", "17", "-tvc-params", DETERMINISTIC,
             "-f", "mpegts", f"udp://127.0.0.1:{port}?pkt_size=1316"])
        receiver.wait(timeout=60)
    finally:
        if receiver.poll() is None:
            receiver.kill()
    frames = [line for line in (tmp_path / "rx.md5").read_text().splitlines() if line and not line.startswith("#")]
    assert len(frames) == 34


# ------------------------------------------------------------------ the graft


def _pristine_targets(suite: str, dest: Path, graft) -> Path:
    """The files the graft edits, straight from the cached upstream tarball (the cached tree
    itself is already grafted by the build)."""
    import tarfile

    from tvc_ffmpeg.ffmpeg_build import cache_dir

    tarball = next(t for t in sorted((cache_dir() / "debian" / suite / "src").glob("ffmpeg_*.orig.tar.*"))
                   if not t.name.endswith(".asc"))
    wanted = {edit.path for edit in graft.EDITS} | {"RELEASE"}
    with tarfile.open(tarball) as tar:
        for member in tar.getmembers():
            rel = member.name.split("/", 1)[-1]
            if rel in wanted:
                (dest / rel).parent.mkdir(parents=True, exist_ok=True)
                (dest / rel).write_bytes(tar.extractfile(member).read())
    return dest


@pytest.mark.parametrize("suite,version", [("bookworm", "5.1"), ("trixie", "7.1")])
def test_graft_applies_once_to_debian_trees(tmp_path, suite, version):
    from tvc_ffmpeg.ffmpeg_build import fetch_debian_source, load_graft

    graft = load_graft()
    try:
        tree = fetch_debian_source(suite, progress=lambda m: None)
    except Exception as exc:  # no apt / no network: the graft cannot be tried here
        pytest.skip(f"cannot fetch FFmpeg's {suite} source: {exc}")
    assert graft.ffmpeg_version(tree).startswith(version)
    copy = _pristine_targets(suite, tmp_path / "tree", graft)
    assert graft.ffmpeg_version(copy).startswith(version)
    changed = graft.graft(copy)
    assert len(changed) == len({e.path for e in graft.EDITS}) + len(graft.COPIED)
    assert "AV_CODEC_ID_TVC," in (copy / "libavcodec/codec_id.h").read_text()
    assert graft.graft(copy) == []  # idempotent


def test_graft_refuses_a_tree_it_does_not_know(tmp_path):
    from tvc_ffmpeg.ffmpeg_build import load_graft

    graft = load_graft()
    tree = tmp_path / "tree"
    (tree / "libavcodec").mkdir(parents=True)
    (tree / "configure").write_text("#!/bin/sh\n")
    with pytest.raises(graft.GraftError, match=r"configure: anchor line .*libdav1d.* not found"):
        graft.graft(tree)
    assert (tree / "configure").read_text() == "#!/bin/sh\n"  # nothing written


# ------------------------------------------------------------------ the command


def test_build_command_reuses_the_cached_build(ff, capsys):
    import os

    suite = os.environ.get("TVC_FFMPEG_SUITE")
    assert tvc_main(["ffmpeg", "build", *(["--suite", suite] if suite else [])]) == 0
    captured = capsys.readouterr()
    assert f"ffmpeg:  {ff.ffmpeg}" in captured.out and f"ffprobe: {ff.ffprobe}" in captured.out
    assert "(reused)" in captured.out and "already built" in captured.err


def test_build_command_refuses_zero_jobs(capsys):
    assert tvc_main(["ffmpeg", "build", "--jobs", "0"]) == 2
    assert "--jobs must be at least 1" in capsys.readouterr().err
