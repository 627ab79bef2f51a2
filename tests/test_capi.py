"""libtvc, the C API of tvc.h: built with the package, found through `tvc config`, and the
same codec as the Python API (csrc/capi/, python/tvc_ffmpeg/capi_host.py, docs/capi.md).

A C program that links only libtvc (csrc/tests/capi_roundtrip.c) encodes a synthetic
clip and decodes it again in a process without Python, like ffmpeg: its header, packets
and frames must be byte-identical to the Python API's with the same settings (torch
backend, one thread). The ctypes tests drive libtvc from inside this Python process (the
PyAV case: the library joins the running interpreter)."""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from tvc_ffmpeg import Decoder, DecoderSettings, Encoder, EncoderSettings, Frame, VideoInfo
from tvc_ffmpeg.capi_host import decoder_settings, encoder_settings, error_code
from tvc_ffmpeg.cli.config import install_prefix
from tvc_ffmpeg.errors import (TVC_EBACKEND, TVC_ECRC, TVC_EINTERNAL, TVC_EINVAL, TVC_ENOMEM, BackendError,
                               CrcMismatchError, InvalidArgumentError, ModelRegistryError, TvcMemoryError)

ROOT = Path(__file__).resolve().parents[1]
WIDTH, HEIGHT, GOP = 64, 48, 17
PTS0, TICKS = 5000, 40  # the program's pts: 5000 + 40 i in 1/1000 s at 25 fps


def _tvc_config(*flags: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "tvc_ffmpeg", "config", *flags], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def _clip(frames: int):
    """A deterministic moving gradient, 8-bit 4:2:0."""
    x, y = np.arange(WIDTH)[None, :], np.arange(HEIGHT)[:, None]
    out = []
    for t in range(frames):
        luma = ((x * 3 + y * 2 + t * 4) % 256).astype(np.uint8)
        u = np.full(((HEIGHT + 1) // 2, (WIDTH + 1) // 2), 100 + t, np.uint8)
        out.append((luma, u, np.full_like(u, 150 - t)))
    return out


@pytest.fixture(scope="module")
def roundtrip_program(tmp_path_factory):
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    assert cc, "a C compiler is needed"
    exe = tmp_path_factory.mktemp("capi") / "capi_roundtrip"
    flags = _tvc_config("--cflags", "--libs").split()
    proc = subprocess.run([cc, "-std=c99", "-pedantic", "-Wall", "-Wextra", "-Werror",
                           str(ROOT / "csrc" / "tests" / "capi_roundtrip.c"), *flags, "-o", str(exe)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return exe


@pytest.fixture(scope="module")
def model():
    return EncoderSettings(backend="torch", threads=1).load_model()


def _run_program(exe: Path, tmp_path: Path, frames: int) -> Path:
    clip = tmp_path / "clip.yuv"
    clip.write_bytes(b"".join(p.tobytes() for f in _clip(frames) for p in f))
    out = tmp_path / "out"
    out.mkdir()
    # No PYTHONPATH/PYTHONHOME: libtvc must find its interpreter and package by itself.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    proc = subprocess.run([str(exe), str(clip), str(WIDTH), str(HEIGHT), str(frames), str(GOP), str(out)],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out


def _checks(out: Path) -> dict:
    checks: dict = {"packet": []}
    for line in (out / "checks.txt").read_text().splitlines():
        name, *values = line.split()
        if name == "packet":
            checks["packet"].append(tuple(int(v) for v in values[1:]))
        else:
            checks[name] = values[0] if len(values) == 1 else values
    return checks


@pytest.mark.parametrize("frames", [1, 17, 34])
def test_c_program_round_trip_equals_python_api(roundtrip_program, model, tmp_path, frames):
    out = _run_program(roundtrip_program, tmp_path, frames)
    checks = _checks(out)
    assert checks["done"] == "1"

    info = VideoInfo(WIDTH, HEIGHT, frame_rate=Fraction(25), time_base=Fraction(1, 1000))
    encoder = Encoder(info, EncoderSettings(backend="torch", threads=1, gop_length=GOP), model=model)
    packets = []
    for i, (y, u, v) in enumerate(_clip(frames)):
        packets += encoder.encode(Frame(y, u, v, pts=PTS0 + TICKS * i))
    packets += encoder.encode(None)

    # Same bytes as the Python API: sequence header and every GoP packet.
    assert (out / "header.bin").read_bytes() == encoder.header.to_bytes()
    assert (out / "packets.bin").read_bytes() == b"".join(p.to_bytes() for p in packets)
    # pts = first frame's, duration = frames x 40 ticks, every packet a keyframe.
    assert checks["packet"] == [(len(p.to_bytes()), p.first_pts, p.frame_count * TICKS, 1) for p in packets]
    assert [p[1] for p in checks["packet"]] == [PTS0 + TICKS * GOP * k for k in range(len(packets))]

    # Same frames as tvc_ffmpeg.Decoder, exact count, pts carried through.
    decoder = Decoder(encoder.header, DecoderSettings(backend="torch", threads=1), model=model)
    expected = [f for p in packets for f in decoder.decode(p)]
    assert len(expected) == frames
    assert (out / "frames.yuv").read_bytes() == b"".join(
        f.y.tobytes() + f.u.tobytes() + f.v.tobytes() for f in expected)
    assert [int(t) for t in (out / "frames.txt").read_text().split()] == [PTS0 + TICKS * i for i in range(frames)]

    assert checks["info"] == [str(WIDTH), str(HEIGHT), "25/1", "1/1000"]
    assert int(checks["api_version"]) == 2
    assert int(checks["send_after_flush_rc"]) == TVC_EINVAL
    assert int(checks["receive_after_flush_rc"]) == -2  # TVC_EOF
    assert int(checks["bad_backend_rc"]) == TVC_EINVAL and checks["bad_backend_enc_null"] == "1"
    assert int(checks["bad_header_rc"]) < 0
    log = (out / "log.txt").read_text()
    assert "0 InvalidArgumentError: backend must be one of" in log
    assert "encoder already flushed" in log


def test_c_program_damaged_packet_costs_only_its_gop(roundtrip_program, tmp_path):
    checks = _checks(_run_program(roundtrip_program, tmp_path, 2 * GOP))
    assert int(checks["damaged_rc"]) == TVC_ECRC and checks["damaged_frames"] == "0"
    assert checks["next_rc"] == "0" and checks["next_frames"] == str(GOP)
    # A repeated GoP is dropped with one warning, as the .tvc reader does.
    assert checks["repeat_rc"] == "0" and checks["repeat_frames"] == "0" and checks["repeat_warnings"] == "1"
    # tvc_decoder_flush (a seek) forgets the order: GoP 0 decodes again.
    assert checks["flush_rc"] == "0" and checks["after_flush_rc"] == "0" and checks["after_flush_frames"] == str(GOP)


def test_pkg_config_file_is_relocatable(tmp_path):
    if not shutil.which("pkg-config"):
        pytest.skip("pkg-config is not installed")
    copy = tmp_path / "moved"
    shutil.copytree(install_prefix() / "lib", copy / "lib", symlinks=True)
    shutil.copytree(install_prefix() / "include", copy / "include")
    env = dict(os.environ, PKG_CONFIG_PATH=str(copy / "lib" / "pkgconfig"))
    proc = subprocess.run(["pkg-config", "--cflags", "--libs", "tvc"], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    flags = proc.stdout.split()
    includes = [Path(f[2:]).resolve() for f in flags if f.startswith("-I")]
    assert includes == [(copy / "include").resolve()]
    assert [Path(f[2:]).resolve() for f in flags if f.startswith("-L")] == [(copy / "lib").resolve()]
    assert "-ltvc" in flags


def test_tvc_config_points_at_the_installed_library():
    prefix = Path(_tvc_config("--prefix"))
    assert (prefix / "include" / "tvc" / "tvc.h").is_file()
    assert Path(_tvc_config("--pkg-config-path"), "tvc.pc").is_file()
    assert (Path(_tvc_config("--libdir")) / "libtvc.so").is_file()
    assert _tvc_config("--cflags") == f"-I{prefix / 'include'}"
    # The FFmpeg-side sources travel in the package for `tvc ffmpeg build`.
    assert (prefix / "ffmpeg_filter").is_dir()
    readelf = shutil.which("readelf")
    if readelf:
        dyn = subprocess.run([readelf, "-d", str(prefix / "lib" / "libtvc.so")], capture_output=True, text=True).stdout
        assert "Library soname: [libtvc.so.0]" in dyn
        assert "libpython" in dyn and ("RUNPATH" in dyn or "RPATH" in dyn)


# ---------------------------------------------------------------- the Python side, in process

def test_error_table_maps_through_code_attribute():
    assert error_code(CrcMismatchError("x")) == TVC_ECRC
    assert error_code(ModelRegistryError("x")) == TVC_EINVAL  # a narrower class keeps its base's code
    assert error_code(BackendError("x")) == TVC_EBACKEND
    assert error_code(TvcMemoryError("x")) == TVC_ENOMEM
    assert error_code(MemoryError()) == TVC_ENOMEM
    assert error_code(KeyError("x")) == TVC_EINTERNAL


def _c_encoder_settings(**changes):
    c = {"model": None, "weights_path": None, "backend": None, "quality": -1, "bitrate": 0, "gop_length": 0,
         "mask_pattern": 0, "threads": 0, "max_pixels": 0, "max_gop_pixels": 0, "colour_correction": -1}
    c.update(changes)
    return c


def test_c_unset_values_mean_the_python_defaults():
    assert encoder_settings(_c_encoder_settings()) == EncoderSettings()
    assert encoder_settings(_c_encoder_settings(mask_pattern=-1)).mask_pattern == "auto"
    assert encoder_settings(_c_encoder_settings(colour_correction=0)).colour_correction is False
    assert encoder_settings(_c_encoder_settings(colour_correction=1)).colour_correction is True
    with pytest.raises(InvalidArgumentError, match="colour_correction must be True or False, got 2"):
        encoder_settings(_c_encoder_settings(colour_correction=2))
    got = encoder_settings(_c_encoder_settings(backend="torch", quality=1, bitrate=20000, gop_length=17, threads=2))
    assert got == EncoderSettings(backend="torch", quality=1, bitrate=20000, gop_length=17, threads=2)
    dc = {"model": None, "weights_path": None, "backend": None, "threads": 0, "max_pixels": 0, "max_gop_pixels": 0}
    assert decoder_settings(dc) == DecoderSettings()
    with pytest.raises(InvalidArgumentError, match="quality must be"):
        encoder_settings(_c_encoder_settings(quality=-2))


LOG_CALLBACK = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p)


def test_ctypes_host_joins_the_running_interpreter():
    lib = ctypes.CDLL(str(install_prefix() / "lib" / "libtvc.so"))
    lib.tvc_strerror.restype = ctypes.c_char_p
    assert lib.tvc_strerror(TVC_ECRC) == b"CRC mismatch (damaged packet)"
    lines = []
    callback = LOG_CALLBACK(lambda opaque, level, message: lines.append((level, message.decode())))
    # TvcDecoderSettings, field for field (tvc.h).
    class DecoderSettingsC(ctypes.Structure):
        _fields_ = [("model", ctypes.c_char_p), ("weights_path", ctypes.c_char_p), ("backend", ctypes.c_char_p),
                    ("threads", ctypes.c_int), ("max_pixels", ctypes.c_int64), ("max_gop_pixels", ctypes.c_int64),
                    ("log_callback", LOG_CALLBACK), ("log_opaque", ctypes.c_void_p), ("log_level", ctypes.c_int),
                    ("reserved", ctypes.c_uint8 * 64)]
    settings = DecoderSettingsC()
    lib.tvc_decoder_default_settings(ctypes.byref(settings))
    settings.log_callback = callback
    settings.backend = b"abacus"
    decoder = ctypes.c_void_p()
    header = (ctypes.c_uint8 * 8)(1, 2, 3)
    rc = lib.tvc_decoder_open(ctypes.byref(decoder), ctypes.byref(settings), header, ctypes.c_size_t(8))
    assert rc == TVC_EINVAL and decoder.value is None
    assert lines and lines[-1][0] == 0 and "backend must be one of" in lines[-1][1]
    settings.backend = None
    rc = lib.tvc_decoder_open(ctypes.byref(decoder), ctypes.byref(settings), header, ctypes.c_size_t(8))
    assert rc < 0 and rc != TVC_EINTERNAL, (rc, lines[-1])
    assert decoder.value is None
