"""EncoderSettings / DecoderSettings: one settings type per session kind, mirroring tvc.h."""

import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

import tvc_ffmpeg as tvc
from tvc_ffmpeg.settings import (
    BACKENDS,
    DEFAULT_BACKEND,
    DEFAULT_GOP_LENGTH,
    DEFAULT_MAX_GOP_PIXELS,
    DEFAULT_MAX_PIXELS,
    DEFAULT_QUALITY,
    DecoderSettings,
    EncoderSettings,
)

HEADER = Path(__file__).resolve().parents[1] / "csrc" / "include" / "tvc" / "tvc.h"
# Fields of the C structs that Python keeps elsewhere: the picture's properties are a
# VideoInfo, logging goes through the logging module, reserved is ABI padding.
C_ONLY = {"video", "log_callback", "log_opaque", "log_level", "reserved"}


def _c_fields(struct: str) -> list:
    """Member names of ``struct`` in tvc.h, in order."""
    body = re.search(r"typedef struct %s \{(.*?)\} %s;" % (struct, struct), HEADER.read_text(), re.S).group(1)
    body = re.sub(r"/\*.*?\*/", "", body, flags=re.S)
    return [re.search(r"(\w+)\s*(\[\d+\])?$", decl.strip()).group(1) for decl in body.split(";") if decl.strip()]


@pytest.mark.parametrize("struct, settings", [("TvcEncoderSettings", EncoderSettings),
                                              ("TvcDecoderSettings", DecoderSettings)])
def test_settings_mirror_the_c_structs(struct, settings):
    c = [f for f in _c_fields(struct) if f not in C_ONLY]
    py = list(settings.__dataclass_fields__)
    assert sorted(c) == sorted(py), f"{struct} and {settings.__name__} disagree"


def test_one_default_backend_everywhere():
    assert DEFAULT_BACKEND == "auto" == EncoderSettings().backend == DecoderSettings().backend
    assert '"auto", "torch", "onnxruntime", "tensorrt"; NULL = "auto"' in HEADER.read_text()
    from tvc_ffmpeg.codec.model import CodecModel
    from tvc_ffmpeg.runtime import CHOICES

    assert CHOICES == BACKENDS
    assert CodecModel.__dataclass_fields__["backend"].default == DEFAULT_BACKEND


def test_defaults():
    s = EncoderSettings()
    assert (s.quality, s.gop_length, s.mask_pattern, s.bitrate, s.threads) == (DEFAULT_QUALITY, DEFAULT_GOP_LENGTH,
                                                                               0, None, 0)
    assert (s.max_pixels, s.max_gop_pixels) == (DEFAULT_MAX_PIXELS, DEFAULT_MAX_GOP_PIXELS)
    assert 3840 * 2160 <= DEFAULT_MAX_PIXELS


@pytest.mark.parametrize("kwargs, match", [
    (dict(quality=-1), "quality"),
    (dict(quality=1.5), "quality"),
    (dict(bitrate=math.inf), "bitrate"),
    (dict(bitrate=math.nan), "bitrate"),
    (dict(bitrate=0), "bitrate"),
    (dict(bitrate="6k"), "bitrate"),
    (dict(gop_length=0), "gop_length"),
    (dict(gop_length=2000), "gop_length"),
    (dict(mask_pattern=7), "mask_pattern"),
    (dict(mask_pattern="sometimes"), "mask_pattern"),
    (dict(backend="cuda"), "backend"),
    (dict(threads=-1), "threads"),
    (dict(max_pixels=0), "max_pixels"),
    (dict(max_gop_pixels=-5), "max_gop_pixels"),
    (dict(model="tvc-s-v3", weights_path="w.pt"), "not both"),
])
def test_bad_encoder_settings_name_the_field(kwargs, match):
    with pytest.raises(tvc.InvalidArgumentError, match=match):
        EncoderSettings(**kwargs)


def test_bad_decoder_settings_name_the_field():
    with pytest.raises(tvc.InvalidArgumentError, match="max_pixels"):
        DecoderSettings(max_pixels=0)
    with pytest.raises(tvc.InvalidArgumentError, match="backend"):
        DecoderSettings(backend="gpu")
    with pytest.raises(TypeError):
        EncoderSettings(qualty=2)  # a typo fails: no **kwargs pass through


def test_settings_are_frozen():
    with pytest.raises(AttributeError):
        EncoderSettings().quality = 3  # type: ignore[misc]


def test_building_settings_imports_no_torch():
    code = ("import sys; from tvc_ffmpeg.settings import EncoderSettings, DecoderSettings; "
            "EncoderSettings(quality=1, bitrate=6000); DecoderSettings(max_pixels=100); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_open_takes_the_settings_of_its_mode(tmp_path):
    info = tvc.VideoInfo(width=32, height=32)
    with pytest.raises(tvc.InvalidArgumentError, match="EncoderSettings"):
        tvc.open(tmp_path / "x.tvc", "w", info=info, settings=DecoderSettings())
    with pytest.raises(tvc.InvalidArgumentError, match="DecoderSettings"):
        tvc.open(tmp_path / "x.tvc", "r", settings=EncoderSettings())
    assert not (tmp_path / "x.tvc").exists()


def _y4m(path: Path, width: int = 32, height: int = 32, frames: int = 9) -> Path:
    import numpy as np

    rng = np.random.default_rng(0)
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{width} H{height} F25:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            f.write(b"FRAME\n" + rng.integers(0, 256, width * height * 3 // 2, dtype=np.uint8).tobytes())
    return path


def test_cli_limit_options_reach_encoder_and_decoder(tmp_path, capsys):
    from tvc_ffmpeg.cli import main

    src = _y4m(tmp_path / "in.y4m")
    stream = tmp_path / "s.tvc"
    assert main(["encode", str(src), str(stream), "--max-pixels", "1000", "--backend", "torch"]) == 1
    assert "over the limit of 1000" in capsys.readouterr().err and not stream.exists()
    assert main(["encode", str(src), str(stream), "--backend", "torch"]) == 0
    capsys.readouterr()
    out = tmp_path / "out.y4m"
    assert main(["decode", str(stream), str(out), "--max-pixels", "1000", "--backend", "torch"]) == 1
    err = capsys.readouterr().err
    assert "over the limit of 1000" in err and "Traceback" not in err
    assert main(["decode", str(stream), str(out), "--max-gop-pixels", str(32 * 32 * 9), "--backend", "torch"]) == 0
