"""One error table: Python classes, the public C header and the native module agree,
and every exception class of the package lives in errors.py."""

import ast
import builtins
import re
from pathlib import Path

import pytest

import tvc_ffmpeg as tvc
from tvc_ffmpeg import _native, errors

ROOT = Path(__file__).resolve().parents[1]
HEADER = ROOT / "csrc" / "include" / "tvc" / "tvc.h"
PACKAGE = ROOT / "python" / "tvc_ffmpeg"
GENERIC_STRERROR = _native.strerror(-999)


def header_error_enum() -> dict:
    """enum tvc_error of tvc.h as {name: value}, read from the header text itself."""
    text = HEADER.read_text()
    body = re.search(r"enum\s+tvc_error\s*\{(.*?)\};", text, re.S)
    assert body, f"{HEADER} has no enum tvc_error"
    no_comments = re.sub(r"/\*.*?\*/", "", body.group(1), flags=re.S)
    entries = [e.strip() for e in no_comments.split(",") if e.strip()]
    table = {}
    for entry in entries:
        m = re.fullmatch(r"(TVC_\w+)\s*=\s*(-?\d+)", entry)
        assert m, f"tvc.h enum entry {entry!r} is not NAME = integer"
        table[m.group(1)] = int(m.group(2))
    return table


def test_header_enum_parser_reads_every_entry():
    table = header_error_enum()
    assert table["TVC_OK"] == 0 and table["TVC_EINTERNAL"] == -12
    assert len(table) == 13


def test_python_table_matches_header_both_ways():
    header = header_error_enum()
    python = errors.ERROR_CODES
    assert {k: v for k, v in header.items() if python.get(k) != v} == {}, "in tvc.h, not (or other) in errors.py"
    assert {k: v for k, v in python.items() if header.get(k) != v} == {}, "in errors.py, not (or other) in tvc.h"
    assert len(set(python.values())) == len(python), "two names share a code"
    for name, value in python.items():
        assert getattr(errors, name) == value


def test_every_code_has_a_specific_native_string():
    strings = {}
    for name, code in errors.ERROR_CODES.items():
        text = _native.strerror(code)
        assert text and text != GENERIC_STRERROR, f"{name} has no string of its own in tvc_strerror()"
        strings[text] = name
    assert len(strings) == len(errors.ERROR_CODES), "two codes share a tvc_strerror() string"
    assert GENERIC_STRERROR == "unknown error code"


def test_every_error_code_has_one_class():
    failures = {n: c for n, c in errors.ERROR_CODES.items() if c < errors.TVC_EOF}
    classes = [errors.error_class(c) for c in failures.values()]
    assert len(set(classes)) == len(failures)
    for name, code in failures.items():
        assert errors.error_class(code).code == code, name
    assert errors.error_class(-999) is errors.InternalError


def _exception_classes_in_errors() -> list:
    return [v for v in vars(errors).values() if isinstance(v, type) and issubclass(v, BaseException)]


# `tvc data` failures (a download, a Debian package) never cross the C API, so they
# keep TvcError's default code instead of claiming a codec category.
NO_NATIVE_CATEGORY = {"TvcError", "DataAssemblyError", "PackagedClipError", "FFmpegBuildError"}


def test_narrower_classes_carry_their_base_code():
    for cls in _exception_classes_in_errors():
        if cls.__name__ in NO_NATIVE_CATEGORY:
            assert cls.code == errors.TvcError.code
            continue
        assert issubclass(cls, errors.TvcError), cls
        assert issubclass(cls, errors.error_class(cls.code)), cls


def test_every_exception_class_is_defined_in_errors_py():
    exception_names = {n for n, v in vars(builtins).items() if isinstance(v, type) and issubclass(v, BaseException)}
    exception_names |= {cls.__name__ for cls in _exception_classes_in_errors()}
    stray = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "errors.py" and path.parent == PACKAGE:
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if not isinstance(node, ast.ClassDef):
                continue
            bases = {b.id if isinstance(b, ast.Name) else getattr(b, "attr", None) for b in node.bases}
            if bases & exception_names or node.name.endswith("Error"):
                stray.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}")
    assert stray == [], "exception classes outside errors.py"


@pytest.mark.parametrize("module, name", [
    ("tvc_ffmpeg.train.loop", "RunMismatchError"),
    ("tvc_ffmpeg.models.config", "ModelConfigError"),
    ("tvc_ffmpeg.models.registry", "ModelRegistryError"),
    ("tvc_ffmpeg.models.cosmos", "CosmosCheckpointError"),
    ("tvc_ffmpeg.cli.eval", "EvalArgumentError"),
    ("tvc_ffmpeg.cli.train", "TrainArgumentError"),
    ("tvc_ffmpeg.data.packaged_clips", "PackagedClipError"),
    ("tvc_ffmpeg.data.assemble", "DataAssemblyError"),
])
def test_moved_classes_are_still_importable_where_they_were(module, name):
    import importlib

    assert getattr(importlib.import_module(module), name) is getattr(errors, name)


def test_a_packaged_clip_failure_is_a_data_assembly_failure():
    # tvc data reports DataAssemblyError as one clean line; a clip failure is one of those.
    assert issubclass(errors.PackagedClipError, errors.DataAssemblyError)
    assert issubclass(errors.DataAssemblyError, RuntimeError)


@pytest.mark.parametrize("cls, builtin", [
    (tvc.InvalidArgumentError, ValueError),
    (tvc.InvalidDataError, ValueError),
    (tvc.CrcMismatchError, tvc.InvalidDataError),
    (tvc.TvcMemoryError, MemoryError),
    (tvc.BackendError, RuntimeError),
])
def test_errors_inherit_matching_builtins(cls, builtin):
    assert issubclass(cls, tvc.TvcError) and issubclass(cls, builtin)


def test_native_errors_arrive_as_tvc_errors():
    with pytest.raises(tvc.TruncatedDataError, match="4-byte"):
        tvc.RansDecoder(b"\x01")
