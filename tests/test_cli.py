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
