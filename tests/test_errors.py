"""One error table: Python classes and native codes agree."""

import pytest

import tvc_ffmpeg as tvc
from tvc_ffmpeg import _native, errors


def test_python_codes_match_native_header():
    for name, value in _native.ERROR_CODES.items():
        assert getattr(errors, name) == value, name


def test_every_error_code_has_one_class_and_a_string():
    codes = [v for k, v in _native.ERROR_CODES.items() if v < -2]
    classes = [errors.error_class(c) for c in codes]
    assert len(set(classes)) == len(codes)
    for c in codes:
        assert errors.error_class(c).code == c
        assert _native.strerror(c) != "unknown error code"
    assert _native.strerror(-999) == "unknown error code"


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
