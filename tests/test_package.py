"""The package face: ``import tvc_ffmpeg`` and the container tools stay light,
and every public name still resolves.

The import checks run in a fresh interpreter: this test process has long since
imported torch for other tests, so its own ``sys.modules`` proves nothing.
"""

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

import tvc_ffmpeg
from tvc_ffmpeg.bitstream import GopPacket, SequenceHeader, TvcWriter

ROOT = Path(__file__).resolve().parents[1]

# What a container tool must not pay for: the nets (torch), video IO (PyAV) and
# numpy (the C++ core takes buffers, so reading headers needs none of it).
HEAVY = ("torch", "av", "numpy", "onnxruntime", "tensorrt")

# The public names; a lazy face must keep exactly this set (issue 9 added the settings
# types and the reader's Damaged / EndOfStream items).
PUBLIC_NAMES = {
    "__version__", "BackendError", "CdfTable", "CodecModel", "CrcMismatchError", "Damaged",
    "Decoder", "DecoderSettings", "EncoderSettings", "EndOfStream",
    "Encoder", "Frame", "GopPacket", "InternalError", "InvalidArgumentError",
    "InvalidDataError", "LimitExceededError", "ModelMismatchError", "RansDecoder",
    "RansEncoder", "Record", "SequenceHeader", "TruncatedDataError", "TvcError",
    "TvcMemoryError", "TvcReader", "TvcWriter", "UnsupportedVersionError", "VideoInfo",
    "logits_to_cdf", "open", "open_input", "open_output", "pmf_to_cdf", "read_header",
}


def _heavy_modules_after(code: str) -> list:
    """Run ``code`` in a fresh interpreter; return the heavy top-level modules it loaded."""
    probe = code + (
        "\nimport sys, json\n"
        f"print('HEAVY=' + json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("HEAVY=")][-1]
    return ast.literal_eval(line[len("HEAVY="):])


def test_import_loads_no_heavy_module_per_importtime():
    # The check the issue names: -X importtime lists every module imported.
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", "import tvc_ffmpeg"],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    imported = [ln.rsplit("|", 1)[-1].strip() for ln in proc.stderr.splitlines()
                if ln.startswith("import time:") and "|" in ln]
    assert "tvc_ffmpeg" in imported
    loaded_heavy = sorted({m.split(".")[0] for m in imported} & set(HEAVY))
    assert loaded_heavy == []


def test_import_and_errors_load_no_heavy_module():
    assert _heavy_modules_after("import tvc_ffmpeg; tvc_ffmpeg.TvcError; tvc_ffmpeg.__version__") == []


def test_tvc_help_loads_no_heavy_module():
    code = ("import contextlib, io\nfrom tvc_ffmpeg.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
            "    assert main(['--help']) == 0\n"
            "assert 'usage: tvc' in out.getvalue()\n")
    assert _heavy_modules_after(code) == []


def test_tvc_config_loads_no_heavy_module():
    # The FFmpeg build runs `tvc config`: it must stay as light as `tvc info`.
    code = ("import contextlib, io\nfrom tvc_ffmpeg.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
            "    assert main(['config', '--cflags', '--libs', '--pkg-config-path']) == 0\n"
            "assert '-ltvc' in out.getvalue(), out.getvalue()\n")
    assert _heavy_modules_after(code) == []


def _small_stream(path: Path) -> None:
    header = SequenceHeader(model_id="tvc-s-v3", weights_sha256=bytes(32), width=64, height=48,
                            gop_length=17, frame_rate=(25, 1), time_base=(1, 25))
    with TvcWriter(path, header) as w:
        for i in range(3):
            w.write_packet(GopPacket(gop_index=i, frame_count=17, first_pts=17 * i, coded_width=64,
                                     coded_height=48, substreams=((1, b"\x00\x00\x01\x00"),)))


def test_tvc_info_loads_no_heavy_module(tmp_path):
    stream = tmp_path / "three_gops.tvc"
    _small_stream(stream)
    code = ("import contextlib, io\nfrom tvc_ffmpeg.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
            f"    rc = main(['info', {str(stream)!r}])\n"
            "assert rc == 0, rc\n"
            "assert '3 GoPs, 51 frames' in out.getvalue(), out.getvalue()\n")
    assert _heavy_modules_after(code) == []


def test_all_is_the_public_set_and_every_name_resolves():
    assert set(tvc_ffmpeg.__all__) == PUBLIC_NAMES
    assert len(tvc_ffmpeg.__all__) == len(PUBLIC_NAMES)
    for name in tvc_ffmpeg.__all__:
        assert getattr(tvc_ffmpeg, name) is not None, name
    assert PUBLIC_NAMES <= set(dir(tvc_ffmpeg))


def test_lazy_names_are_the_defining_modules_objects():
    from tvc_ffmpeg import Encoder, open as tvc_open
    from tvc_ffmpeg.codec.session import Encoder as session_encoder
    from tvc_ffmpeg.errors import TvcError
    from tvc_ffmpeg.files import open as files_open

    assert Encoder is session_encoder and tvc_ffmpeg.Encoder is session_encoder
    assert tvc_open is files_open
    assert tvc_ffmpeg.TvcError is TvcError


def test_type_checking_imports_match_the_lazy_table():
    # Type checkers read the `if TYPE_CHECKING:` imports; the run time reads _LAZY_NAMES.
    tree = ast.parse((ROOT / "python" / "tvc_ffmpeg" / "__init__.py").read_text())
    guarded = [n for n in tree.body if isinstance(n, ast.If) and getattr(n.test, "id", None) == "TYPE_CHECKING"]
    assert len(guarded) == 1
    seen = {alias.name: "." + node.module for node in guarded[0].body if isinstance(node, ast.ImportFrom)
            for alias in node.names}
    assert seen == tvc_ffmpeg._LAZY_NAMES


def test_star_import_gives_every_public_name():
    namespace: dict = {}
    exec("from tvc_ffmpeg import *", namespace)
    assert PUBLIC_NAMES <= set(namespace)


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'NoSuchThing'"):
        tvc_ffmpeg.NoSuchThing  # noqa: B018
    assert not hasattr(tvc_ffmpeg, "encode_video")


def test_python_m_tvc_ffmpeg_version_loads_no_heavy_module():
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "tvc_ffmpeg", "--version"],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.startswith("tvc ")
    imported = {ln.rsplit("|", 1)[-1].strip().split(".")[0] for ln in proc.stderr.splitlines()
                if ln.startswith("import time:")}
    assert imported & set(HEAVY) == set()


# ---------------------------------------------------------------- docs that match the tree

def _readme_layout_paths() -> set:
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]
    paths = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            first_cell = line.split("|")[1]
            paths |= {p.rstrip("/") for p in re.findall(r"`([^`]+)`", first_cell)}
    return paths


def test_readme_layout_lists_every_folder_and_subpackage():
    listed = _readme_layout_paths()
    assert {p for p in listed if not (ROOT / p).exists()} == set(), "README Layout names paths that do not exist"
    proc = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip("not a git checkout: the tracked top-level folders are unknown")
    top_level = {f.split("/", 1)[0] for f in proc.stdout.splitlines() if "/" in f}
    subpackages = {str(p.parent.relative_to(ROOT)) for p in (ROOT / "python" / "tvc_ffmpeg").glob("*/__init__.py")}
    covered = lambda path: any(p == path or p.startswith(path + "/") for p in listed)  # noqa: E731
    assert sorted(d for d in top_level if not covered(d)) == []
    assert sorted(p for p in subpackages if p not in listed) == []


def test_paths_named_in_the_public_header_exist():
    header = (ROOT / "csrc" / "include" / "tvc" / "tvc.h").read_text()
    named = set(re.findall(r"\b((?:docs|csrc|python|tests|ffmpeg_filter)/[\w./-]*\w)", header))
    assert "docs/ffmpeg.md" in named
    assert sorted(p for p in named if not (ROOT / p).exists()) == []
